"""truedigest: which image digest is real? Evidence straight from the registry.

The public API (these names stay; internal modules may move):

- `parse_reference(text) -> ImageRef` and `parse_repository(text) -> ImageRef`:
  the distribution reference grammar, Docker Hub normalised; `ImageRef` has
  `registry`, `repository`, `tag`, `digest`, and `str()` is fully qualified;
- `resolve(ref, …) -> Resolved`: the digest of the bytes the registry serves;
- `verify(images, …) -> Report`: the registry, CP pins, build output and pin files
  cross-checked; a mismatch is in the report, not an exception;
- `TruedigestError` (with `exit_code` and `hint`) and `ExitCode`;
- `Digest`, `Report`, `Resolved` (types of the values above).

Importing this package is cheap: each name is loaded from its module on first use
(PEP 562), and the request path on the first `resolve`/`verify`. The command line imports
`truedigest.cli.main`, which runs this file first: nothing here may cost start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from truedigest.version import __version__

if TYPE_CHECKING:
    from truedigest.api import resolve, verify
    from truedigest.errors import ExitCode, TruedigestError
    from truedigest.model.observation import Report
    from truedigest.oci.digest import Digest
    from truedigest.oci.reference import ImageRef, parse_reference, parse_repository
    from truedigest.oci.registry import Resolved

__all__ = [
    "Digest",
    "ExitCode",
    "ImageRef",
    "Report",
    "Resolved",
    "TruedigestError",
    "__version__",
    "parse_reference",
    "parse_repository",
    "resolve",
    "verify",
]

# Where each public name lives (imported when first asked for).
_HOMES = {
    "resolve": "truedigest.api",
    "verify": "truedigest.api",
    "ExitCode": "truedigest.errors",
    "TruedigestError": "truedigest.errors",
    "Digest": "truedigest.oci.digest",
    "ImageRef": "truedigest.oci.reference",
    "parse_reference": "truedigest.oci.reference",
    "parse_repository": "truedigest.oci.reference",
    "Report": "truedigest.model.observation",
    "Resolved": "truedigest.oci.registry",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'truedigest' has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
