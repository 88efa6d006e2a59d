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

Importing this package is cheap: httpx is loaded on the first `resolve`/`verify`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from truedigest.api import resolve, verify
from truedigest.errors import ExitCode, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference, parse_repository
from truedigest.version import __version__

if TYPE_CHECKING:
    from truedigest.model.observation import Report
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


def __getattr__(name: str) -> object:
    # The types of the values resolve() and verify() return, without importing the
    # HTTP stack at `import truedigest`.
    if name == "Report":
        from truedigest.model.observation import Report

        return Report
    if name == "Resolved":
        from truedigest.oci.registry import Resolved

        return Resolved
    raise AttributeError(f"module 'truedigest' has no attribute {name!r}")
