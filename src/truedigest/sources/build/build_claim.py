"""What every build-source kind shares: the claim it reads and the Observation it
yields (stdlib only). How a kind is described to the CLI is `kinds.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from truedigest.errors import InputFileError, InvalidDigestError, InvalidReferenceError
from truedigest.model.observation import Observation, SourceKind, Status
from truedigest.oci.digest import Digest, clip
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources.reading import listed

__all__ = [
    "BuildClaim",
    "BuildContext",
    "listed_names",
    "parse_digest",
    "try_reference",
]


@dataclass(frozen=True, slots=True)
class BuildClaim:
    """The digest a build output says was pushed, and where it was read."""

    kind: str  # "digest" | "metadata" | "log" | "digest-file" | "oci-layout"
    digest: Digest
    where: str  # the file path, or "--build-digest"
    detail: str | None = None
    media_type: str | None = None
    size: int | None = None

    @property
    def source_id(self) -> str:
        """The report's source id: `build:<kind>`."""
        return f"build:{self.kind}"

    def observation(self) -> Observation:
        """The claim as a report source (the one place a claim becomes an Observation)."""
        extra: dict[str, object] = {}
        if self.media_type:
            extra["media_type"] = self.media_type
        if self.size is not None:
            extra["size"] = self.size
        return Observation(
            self.source_id,
            SourceKind.BUILD,
            self.where,
            self.digest,
            Status.OK,
            detail=self.detail,
            extra=extra,
        )


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a reader may use to choose among several images: the first `--image`
    and `--build-target`."""

    image: ImageRef
    target: str | None = None


def parse_digest(text: str, *, context: str, hint: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigestError as exc:
        raise InputFileError(f"{context}: {exc.message}", hint=hint) from exc


def try_reference(text: str) -> ImageRef | None:
    try:
        return parse_reference(text, default_tag=None)
    except InvalidReferenceError:
        return None


def listed_names(mapping: Mapping[str, object]) -> str:
    return listed(clip(repr(name), 80) for name in sorted(mapping))
