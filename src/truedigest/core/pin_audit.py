"""What `truedigest pins` reports (pure): the audited pins, CP disagreements, the
tracked tags, and the verdict over them.

Judgement (fail closed: docs/exit-codes.md) is in `core.pin_judge`; reading CPs, pin files
and the registry is in `engine.pins_run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from truedigest.model.observation import PROBLEM_STATUSES, Relation, Status, Verdict
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef

if TYPE_CHECKING:
    from truedigest.cp.client import CPTarget
    from truedigest.oci.registry import Resolved

__all__ = [
    "DEFAULT_TRACK",
    "Candidate",
    "Disagreement",
    "PinAudit",
    "PinEntry",
    "PinPlan",
    "TrackedTag",
    "verdict_line",
]

DEFAULT_TRACK = "latest"


@dataclass(frozen=True, slots=True)
class PinPlan:
    cps: Sequence[CPTarget] = ()
    pin_files: Sequence[Path] = ()
    template: str | None = None
    track: str = DEFAULT_TRACK
    repo: ImageRef | None = None  # where rows without image_ref are looked up


@dataclass(frozen=True, slots=True)
class PinEntry:
    """One audited pin (a CP row or a pin-file reference), or a row-less CP entry."""

    source: str  # "cp:<NAME>" or "file:<path>:<line>"
    cp: str | None
    template_name: str | None
    region: str | None
    image_digest: str | None  # as written, even when malformed
    image_ref: str | None
    status: Status
    relation: Relation | None = None
    detail: str | None = None
    repository: str | None = None  # registry/repository the digest was looked up in
    exists: bool | None = None
    tracked: str | None = None  # the tracked tag's digest in that repository
    file: str | None = None
    line: int | None = None
    git_sha: str | None = None  # the CP row's git_sha, as written
    revision: str | None = None
    """The commit the pinned manifest records (its annotation, or a single image's
    config label); None when it records none there or was not read."""
    revision_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cp": self.cp,
            "template_name": self.template_name,
            "region": self.region,
            "image_digest": self.image_digest,
            "image_ref": self.image_ref,
            "status": str(self.status),
            "relation": str(self.relation) if self.relation else None,
            "detail": self.detail,
            "source": self.source,
            "repository": self.repository,
            "exists": self.exists,
            "tracked": self.tracked,
            "file": self.file,
            "line": self.line,
            "git_sha": self.git_sha,
            "revision": self.revision,
            "revision_source": self.revision_source,
        }


@dataclass(frozen=True, slots=True)
class Disagreement:
    template_name: str
    region: str
    digests: dict[str, str]  # CP name -> digest

    def to_json(self) -> dict[str, Any]:
        return {
            "template_name": self.template_name,
            "region": self.region,
            "digests": dict(self.digests),
        }


@dataclass(frozen=True, slots=True)
class TrackedTag:
    """`repo:--track` as the registry serves it (digest), or why it could not be read."""

    repository: str
    tag: str
    digest: Digest | None = None
    error: str | None = None
    absent: bool = False
    resolved: Resolved | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": str(self.digest) if self.digest else None,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PinAudit:
    track: str
    pins: tuple[PinEntry, ...]
    disagreements: tuple[Disagreement, ...]
    tracked: tuple[TrackedTag, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if self.disagreements or any(p.status in PROBLEM_STATUSES for p in self.pins):
            return Verdict.MISMATCH
        if any(p.status is Status.ERROR for p in self.pins):
            return Verdict.UNAVAILABLE
        if any(p.status is not Status.OK for p in self.pins):  # pragma: no cover - defensive
            return Verdict.UNAVAILABLE
        return Verdict.AGREE

    @property
    def exit_code(self) -> int:
        return int(self.verdict.exit_code)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "truedigest.pins/v1",
            "verdict": str(self.verdict),
            "exit_code": self.exit_code,
            "pins": [p.to_json() for p in self.pins],
            "disagreements": [d.to_json() for d in self.disagreements],
            "track": self.track,
            "tracked": [t.to_json() for t in self.tracked],
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pin with its static checks done; `locate` is where its digest should live."""

    entry: PinEntry
    digest: Digest | None
    locate: ImageRef | None
    problems: tuple[str, ...] = ()
    duplicates: int = 1  # rows for this (template, region) in this CP


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def verdict_line(audit: PinAudit) -> str:
    n = len(audit.pins)
    wrong = sum(1 for p in audit.pins if p.status in PROBLEM_STATUSES)
    errors = sum(1 for p in audit.pins if p.status is Status.ERROR)
    parts = [_count(n, "pin"), f"{wrong} wrong", f"{errors} unreadable"]
    if audit.disagreements:
        parts.append(_count(len(audit.disagreements), "CP disagreement"))
    return f"verdict: {audit.verdict} (exit {audit.exit_code}): {', '.join(parts)}"
