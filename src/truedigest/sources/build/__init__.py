"""Build sources: what the publish job says it pushed (stdlib only).

One module per kind of build output, each turning it into a `BuildClaim` and, for
the report, an `Observation`. `KINDS` (`kinds.py`) lists them in the order the CLI
offers them; the CLI's options and its "at most one build source" rule are generated
from it, and a kind's module is imported only when a run is given that kind.

A claim is only a claim: the registry decides what is true. Everything that makes
an input unusable raises `InputFileError` (a usage error, exit 2) naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from truedigest.errors import UsageError
from truedigest.sources.build.kinds import KINDS, TARGET_FLAG, BuildKind

if TYPE_CHECKING:
    from truedigest.model.observation import Observation
    from truedigest.oci.reference import ImageRef

__all__ = [
    "KINDS",
    "TARGET_FLAG",
    "BuildKind",
    "BuildSource",
    "select",
]


class BuildSource(NamedTuple):
    """The one build output a run was given: its kind, the value, and --build-target."""

    kind: BuildKind
    value: str | Path
    target: str | None = None

    def read(self, image: ImageRef) -> Observation:
        """The build output as a report source; `image` is the first `--image`."""
        from truedigest.sources.build.build_claim import BuildContext

        return self.kind.read(self.value, BuildContext(image, self.target))


def select(values: Mapping[str, str | Path | None], target: str | None) -> BuildSource | None:
    """The build source among the CLI's values (keyed by `BuildKind.param`), if any.

    At most one kind may be given, and --build-target only with a kind that takes it:
    anything else is a usage error (exit 2), raised before any input is read.
    """
    given = [(kind, value) for kind in KINDS if (value := values.get(kind.param)) is not None]
    if len(given) > 1:
        flags = ", ".join(kind.flag for kind, _ in given)
        raise UsageError(f"give at most one build source, not {flags}")
    if target is not None and not any(kind.uses_target for kind, _ in given):
        needs = " or ".join(kind.flag for kind in KINDS if kind.uses_target)
        raise UsageError(f"{TARGET_FLAG} needs {needs}")
    if not given:
        return None
    [(kind, value)] = given
    return BuildSource(kind, value, target if kind.uses_target else None)
