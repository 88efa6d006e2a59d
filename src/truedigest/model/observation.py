"""What a source says about a digest, how it relates to the truth, and the verdict.

These types are shared by every source (registry, CP, build, pin file) and the
pure core that judges them, so they live below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, assert_never

from truedigest.errors import ExitCode
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef


class SourceKind(StrEnum):
    REGISTRY = "registry"
    CP = "cp"
    BUILD = "build"
    FILE = "file"
    ATTESTATION = "attestation"


class Status(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    ABSENT = "absent"
    ERROR = "error"


PROBLEM_STATUSES = frozenset({Status.MISMATCH, Status.MISSING, Status.AMBIGUOUS})
"""Statuses of a source that was checked and is wrong: they make the verdict `mismatch`."""


class Relation(StrEnum):
    IDENTICAL = "identical"
    PLATFORM_MANIFEST = "platform-manifest"
    INDEX_OF = "index-of"
    CONFIG_DIGEST = "config-digest"
    ATTESTATION = "attestation"
    OTHER_IMAGE = "other-image"
    NOT_IN_REGISTRY = "not-in-registry"
    OTHER_COMMIT = "other-commit"
    """The digest is right, but the image was built from another commit than claimed."""


class Verdict(StrEnum):
    AGREE = "agree"
    MISMATCH = "mismatch"
    ABSENT = "absent"
    UNAVAILABLE = "unavailable"

    @property
    def exit_code(self) -> ExitCode:
        """0 agree, 1 mismatch (checked and wrong), 3 unavailable (could not check), 10 absent."""
        match self:
            case Verdict.AGREE:
                return ExitCode.OK
            case Verdict.MISMATCH:
                return ExitCode.MISMATCH
            case Verdict.ABSENT:
                return ExitCode.ABSENT
            case Verdict.UNAVAILABLE:
                return ExitCode.UNAVAILABLE
            case _:  # pragma: no cover - the enum is closed
                assert_never(self)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one source claims, and (after verify) how it relates to the truth.

    `status` before comparison is OK for a source that was read, or one of
    MISSING / AMBIGUOUS / ABSENT / ERROR / MISMATCH (a broken pin row).

    `ref` and `written` are for the code that reads a source, never in the report:
    the image the source names (a pin's reference; a broken pin's repository) and
    that reference as the source wrote it.
    """

    id: str
    kind: SourceKind
    where: str
    digest: Digest | None
    status: Status = Status.OK
    relation: Relation | None = None
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    ref: ImageRef | None = field(default=None, compare=False, hash=False, repr=False)
    written: str | None = field(default=None, compare=False, hash=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "digest": str(self.digest) if self.digest else None,
            "status": str(self.status),
            "relation": str(self.relation) if self.relation else None,
            "detail": self.detail,
            "where": self.where,
        }
        for key, value in self.extra.items():
            doc.setdefault(key, value)
        return doc


@dataclass(frozen=True, slots=True)
class Report:
    verdict: Verdict
    truth: Digest | None
    sources: tuple[Observation, ...]
    rounds: int = 1
    context: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "truedigest.verify/v1",
            "verdict": str(self.verdict),
            "exit_code": int(self.exit_code),
            "truth": str(self.truth) if self.truth else None,
            "sources": [obs.to_json() for obs in self.sources],
            "rounds": self.rounds,
            **{k: v for k, v in self.context.items() if k not in _REPORT_KEYS},
        }


_REPORT_KEYS = frozenset({"schema", "verdict", "exit_code", "truth", "sources", "rounds"})
