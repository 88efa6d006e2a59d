"""Build sources: what the publish job says it pushed (stdlib only).

One module per kind of build output, each turning it into a `BuildClaim` and, for
the report, an `Observation`. `KINDS` lists them in the order the CLI offers them;
the CLI's options and its "at most one build source" rule are generated from it, so
a new kind is one module and one line here.

A claim is only a claim: the registry decides what is true. Everything that makes
an input unusable raises `InputFileError` (a usage error, exit 2) naming the file.
"""

from __future__ import annotations

from truedigest.sources.build import (
    buildx_metadata,
    digest_file,
    literal_digest,
    oci_layout,
    push_log,
)
from truedigest.sources.build.build_claim import BuildClaim, BuildContext, BuildKind
from truedigest.sources.build.buildx_metadata import from_metadata
from truedigest.sources.build.digest_file import from_digest_file
from truedigest.sources.build.literal_digest import from_digest
from truedigest.sources.build.oci_layout import from_oci_layout
from truedigest.sources.build.push_log import from_push_log

__all__ = [
    "KINDS",
    "TARGET_FLAG",
    "BuildClaim",
    "BuildContext",
    "BuildKind",
    "from_digest",
    "from_digest_file",
    "from_metadata",
    "from_oci_layout",
    "from_push_log",
    "kind_of",
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
"""Chooses the entry of a kind with several (`uses_target`): a bake target."""


def kind_of(flag: str) -> BuildKind:
    """The kind offered as `flag` (`--build-log`)."""
    for kind in KINDS:
        if kind.flag == flag:
            return kind
    raise KeyError(flag)
