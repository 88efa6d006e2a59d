"""Build sources: what the publish job says it pushed (stdlib only).

One module per kind of build output, each turning it into a `BuildClaim` and, for
the report, an `Observation`. `KINDS` lists them in the order the CLI offers them;
the CLI's options and its "at most one build source" rule are generated from it, so
a new kind is one module and one line here.

A claim is only a claim: the registry decides what is true. Everything that makes
an input unusable raises `InputFileError` (a usage error, exit 2) naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from truedigest.errors import UsageError
from truedigest.model.observation import Observation
from truedigest.oci.reference import ImageRef
from truedigest.sources.build import (
    buildx_metadata,
    digest_file,
    literal_digest,
    oci_layout,
    push_log,
)
from truedigest.sources.build.build_claim import BuildClaim, BuildContext, BuildKind

__all__ = [
    "KINDS",
    "TARGET_FLAG",
    "BuildClaim",
    "BuildContext",
    "BuildKind",
    "BuildSource",
    "select",
]

KINDS: tuple[BuildKind, ...] = (
    literal_digest.KIND,
    buildx_metadata.KIND,
    push_log.KIND,
    digest_file.KIND,
    oci_layout.KIND,
)
"""Every build-source kind, in the order of the CLI's options and its `--help`."""

TARGET_FLAG = "--build-target"
"""Chooses the entry of a kind that has several (`BuildKind.uses_target`): a bake target."""


@dataclass(frozen=True, slots=True)
class BuildSource:
    """The one build output a run was given: its kind, the value, and --build-target."""

    kind: BuildKind
    value: str | Path
    target: str | None = None

    def read(self, image: ImageRef) -> Observation:
        """The build output as a report source; `image` is the first `--image`."""
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
