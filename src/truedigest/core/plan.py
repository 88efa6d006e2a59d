"""What one `verify` run is asked to compare (pure: no I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from truedigest.model.observation import Observation
from truedigest.oci.reference import ImageRef

if TYPE_CHECKING:
    from truedigest.cp.client import CPTarget
    from truedigest.oci.manifest import Platform

__all__ = ["VerifyPlan"]

_SHA_TAG = re.compile(r"^sha-([0-9a-f]{7,40})\Z")


@dataclass(frozen=True, slots=True)
class VerifyPlan:
    """The images (the first is the truth), CPs, build output and pin files of a run.

    `build` is the build output already read (it does not change while we wait);
    pin files are read when the run starts.
    """

    images: Sequence[ImageRef]
    platform: Platform | None = None
    cps: Sequence[CPTarget] = ()
    template: str | None = None
    region: str = "global"
    git_sha: str | None = None
    build: Observation | None = None
    pin_files: Sequence[Path] = ()
    wait: float = 0.0
    interval: float = 5.0
    require_revision: bool = False
    """--require-revision: an image that records no commit fails (exit 1)."""
    require_attestations: Sequence[str] = ()
    """--require-attestation provenance|sbom|signature: each must sit on the truth digest."""

    @property
    def compares_nothing(self) -> bool:
        """One image and no CP, build output, pin file or commit check: nothing to compare."""
        return (
            len(set(self.images)) < 2
            and not self.cps
            and self.build is None
            and not self.pin_files
            and not self.git_sha
            and not self.require_revision
            and not self.require_attestations
        )

    @property
    def expected_git_sha(self) -> str | None:
        """--git-sha, else the commit of a `sha-<hex>` tag among the images."""
        if self.git_sha:
            return self.git_sha
        for image in self.images:
            m = _SHA_TAG.match(image.tag or "")
            if m:
                return m.group(1)
        return None
