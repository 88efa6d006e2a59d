"""What runs, what the registry knows about it, and the judged `running` report.

Shared by `sources.running_inputs` (which turns runtime JSON into RunningRecords),
`core.running_judge` (which judges them) and the engine that fetches the registry
facts in between. Standard library (and truedigest's own lower layers) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, assert_never

from truedigest.errors import ExitCode
from truedigest.oci.digest import Digest


class DigestKind(StrEnum):
    """What the digest a runtime reported is."""

    REPO_DIGEST = "repo-digest"
    """A registry manifest (or index) digest: `repo@sha256:…`, pullable."""
    IMAGE_ID = "image-id"
    """A local image ID: the config digest (or, in Docker's containerd store, the
    digest the image was stored under). Not proof of which manifest ran."""
    NONE = "none"


class ContainerRole(StrEnum):
    CONTAINER = "container"
    INIT = "init"
    EPHEMERAL = "ephemeral"


@dataclass(frozen=True, slots=True)
class RunningRecord:
    """One container as a runtime reported it. Every text field is data from outside:
    it is never sanitised here (rendering does that)."""

    where: str
    """`FILE: items[2].status.containerStatuses[0]`: where in the input it came from."""
    runtime: str
    """`kubernetes`, `docker`, `podman` or `cri`."""
    container: str | None = None
    pod: str | None = None
    namespace: str | None = None
    workload: str | None = None
    """`Deployment/web`, `StatefulSet/db`, `compose:proj/svc` … or None (bare pod)."""
    image: str | None = None
    """The image as asked for (`spec…image`, `.Config.Image`, `ImageName`)."""
    digest: Digest | None = None
    """The best digest the runtime reported: a registry digest, else the image ID."""
    digest_kind: DigestKind = DigestKind.NONE
    digest_repo: str | None = None
    """The repository text that came with a registry digest (`host/path`)."""
    image_id: Digest | None = None
    """The local image ID (config digest) when the runtime reported one too."""
    alternatives: tuple[Digest, ...] = ()
    """Other registry digests of the same local image (RepoDigests, podman ImageDigest)."""
    role: ContainerRole = ContainerRole.CONTAINER
    state: str | None = None
    """`running`, `terminated: Completed`, `waiting: ImagePullBackOff` … when reported."""
    error: str | None = None
    """Set on a malformed entry: it becomes an error row, never a crash or a pass."""

    @property
    def candidates(self) -> tuple[Digest, ...]:
        """Every registry digest that names this container's image, best first."""
        if self.digest_kind is not DigestKind.REPO_DIGEST or self.digest is None:
            return ()
        return (self.digest, *(d for d in self.alternatives if d != self.digest))


# -- what the registry says (gathered by the engine, judged by the core) --------------


@dataclass(frozen=True, slots=True)
class ManifestKnowledge:
    """One manifest of the repository as read: an index with its children, or an
    image manifest with its config digest."""

    digest: Digest
    is_index: bool
    children: Mapping[Digest, str | None] = field(default_factory=dict)
    """Child manifest digest -> platform (`linux/amd64`), for an index; attestation
    manifests are not among them."""
    attestations: frozenset[Digest] = frozenset()
    """The index's attestation manifests (provenance, SBOM): never what a runtime runs."""
    config: Digest | None = None
    """The config blob digest, for an image manifest."""


class TruthState(StrEnum):
    READ = "read"
    ABSENT = "absent"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class RegistryView:
    """Everything the judge may know about the repository of `--image`.

    The engine fills `manifests` with the truth, its children (and, with
    `--platform`, the index the truth came from), every pin's manifest and every
    running registry digest it looked up; `served`/`missing`/`unknown` record the
    answer for each digest it asked about."""

    reference: str
    """The fully qualified `--image` (`host/repo:tag`), for sentences."""
    repository: str
    """`host/path` of the `--image` repository."""
    truth: Digest | None
    state: TruthState = TruthState.READ
    problem: str | None = None
    """Why the truth is absent or unavailable (one line)."""
    platform: str | None = None
    """`--platform`, when the truth is a platform child."""
    manifests: Mapping[Digest, ManifestKnowledge] = field(default_factory=dict)
    served: frozenset[Digest] = frozenset()
    missing: frozenset[Digest] = frozenset()
    unknown: Mapping[Digest, str] = field(default_factory=dict)
    """Digest -> why the registry could not say whether it serves it."""


# -- the judged report ----------------------------------------------------------------


class RowStatus(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    ERROR = "error"
    SKIPPED = "skipped"
    """Another repository's container (a sidecar): listed, not compared."""


class RunningRelation(StrEnum):
    IDENTICAL = "identical"
    PLATFORM_MANIFEST = "platform-manifest"
    INDEX_OF = "index-of"
    CONFIG_DIGEST = "config-digest"
    ATTESTATION = "attestation"
    OTHER_IMAGE = "other-image"
    NOT_IN_REGISTRY = "not-in-registry"
    MIXED = "mixed"
    UNTRACEABLE = "untraceable"


class RunningVerdict(StrEnum):
    AGREE = "agree"
    MISMATCH = "mismatch"
    MIXED = "mixed"
    ABSENT = "absent"
    UNAVAILABLE = "unavailable"

    @property
    def exit_code(self) -> ExitCode:
        match self:
            case RunningVerdict.AGREE:
                return ExitCode.OK
            case RunningVerdict.MISMATCH | RunningVerdict.MIXED:
                return ExitCode.MISMATCH
            case RunningVerdict.ABSENT:
                return ExitCode.ABSENT
            case RunningVerdict.UNAVAILABLE:
                return ExitCode.UNAVAILABLE
            case _:  # pragma: no cover - the enum is closed
                assert_never(self)


@dataclass(frozen=True, slots=True)
class ContainerRow:
    """One row of `containers`: a container, or (relation `mixed`) a workload."""

    pod: str | None
    namespace: str | None
    workload: str | None
    container: str | None
    image: str | None
    digest: Digest | None
    status: RowStatus
    relation: RunningRelation | None
    detail: str | None
    where: str
    digest_kind: DigestKind = DigestKind.NONE
    pods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """For a `mixed` row: digest (or `unknown`) -> the pods (or containers) on it."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "pod": self.pod,
            "namespace": self.namespace,
            "workload": self.workload,
            "container": self.container,
            "image": self.image,
            "digest": str(self.digest) if self.digest else None,
            "digest_kind": str(self.digest_kind),
            "status": str(self.status),
            "relation": str(self.relation) if self.relation else None,
            "detail": self.detail,
            "where": self.where,
        }
        if self.pods:
            doc["pods"] = {k: list(v) for k, v in self.pods.items()}
        return doc


@dataclass(frozen=True, slots=True)
class PinRow:
    """A pin the running digests were also compared with (`cp:NAME`, `file:PATH`)."""

    id: str
    digest: Digest | None
    status: RowStatus
    relation: RunningRelation | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "digest": str(self.digest) if self.digest else None,
            "status": str(self.status),
            "relation": str(self.relation) if self.relation else None,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class RunningReport:
    verdict: RunningVerdict
    truth: Digest | None
    reference: str
    containers: tuple[ContainerRow, ...]
    pins: tuple[PinRow, ...] = ()
    rounds: int = 1

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "truedigest.running/v1",
            "verdict": str(self.verdict),
            "exit_code": int(self.exit_code),
            "truth": str(self.truth) if self.truth else None,
            "reference": self.reference,
            "containers": [row.to_json() for row in self.containers],
            "pins": [pin.to_json() for pin in self.pins],
            "rounds": self.rounds,
        }
