"""The build-source kinds as the CLI offers them (standard library only).

`KINDS` describes each kind (its flag, help, how its value is given) and names the
module that reads it; that module is imported only when a run is given that kind,
so `verify` without a build output loads no build reader (start-up every CI job
pays). A new kind is one module and one entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from truedigest.model.observation import Observation
    from truedigest.sources.build.build_claim import BuildClaim, BuildContext

DIGEST_FLAG = "--build-digest"
METADATA_FLAG = "--build-metadata"
LOG_FLAG = "--build-log"
DIGEST_FILE_FLAG = "--digest-file"
OCI_LAYOUT_FLAG = "--oci-layout"
TARGET_FLAG = "--build-target"
"""Chooses the entry of a kind that has several (`BuildKind.uses_target`): a bake target."""


class BuildKind:
    """One build-source kind as the CLI offers it, and the module whose
    `read(value, ctx)` turns its value into a `BuildClaim`."""

    __slots__ = ("flag", "help", "is_path", "metavar", "module", "stdin", "target_help")

    def __init__(
        self,
        *,
        flag: str,
        help: str,
        module: str,
        metavar: str | None = None,  # None: a path (the CLI shows PATH)
        is_path: bool = True,  # the value names a file or directory
        stdin: bool = False,  # `-` means standard input
        target_help: str | None = None,  # set: --build-target chooses among its entries
    ) -> None:
        self.flag = flag
        self.help = help
        self.module = module
        self.metavar = metavar
        self.is_path = is_path
        self.stdin = stdin
        self.target_help = target_help

    @property
    def uses_target(self) -> bool:
        return self.target_help is not None

    @property
    def param(self) -> str:
        """The option's Python name: `--build-metadata` → `build_metadata`."""
        return self.flag.removeprefix("--").replace("-", "_")

    def claim(self, value: str | Path, ctx: BuildContext) -> BuildClaim:
        name = f"truedigest.sources.build.{self.module}"
        reader = __import__(name, fromlist=["read"])  # here: only the kind given is loaded
        claim: BuildClaim = reader.read(str(value), ctx)
        return claim

    def read(self, value: str | Path, ctx: BuildContext) -> Observation:
        """The build output `value` as a report source; unusable input is InputFileError."""
        return self.claim(value, ctx).observation()

    def __repr__(self) -> str:
        return f"BuildKind({self.flag})"


KINDS: tuple[BuildKind, ...] = (
    BuildKind(
        flag=DIGEST_FLAG,
        metavar="DIGEST",
        is_path=False,
        help="Digest the build says it pushed.",
        module="literal_digest",
    ),
    BuildKind(
        flag=METADATA_FLAG,
        stdin=True,
        target_help="Bake target to read from --build-metadata.",
        help="buildx --metadata-file output (bake files: one entry per target).",
        module="buildx_metadata",
    ),
    BuildKind(
        flag=LOG_FLAG,
        stdin=True,
        help="`docker push` output (line `TAG: digest: sha256:… size: N`).",
        module="push_log",
    ),
    BuildKind(
        flag=DIGEST_FILE_FLAG,
        stdin=True,
        help="podman/buildah --digestfile output.",
        module="digest_file",
    ),
    BuildKind(
        flag=OCI_LAYOUT_FLAG,
        help="OCI image layout directory (index.json, by ref.name).",
        module="oci_layout",
    ),
)
"""Every build-source kind, in the order of the CLI's options and its `--help`."""

__all__ = ["KINDS", "TARGET_FLAG", "BuildKind"]
