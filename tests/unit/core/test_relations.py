"""Every relation of DESIGN §4, worked out by `RegistryDiagnoser` from fake registry answers.

The fake registry serves exact bytes built by `tests.support.images` (every digest is
hashed from them) and counts each request, so the tests also pin how many requests a
diagnosis costs and that concurrent lookups neither serialise nor repeat a fetch.
The relation then goes through `verify.evaluate`, which words the detail.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from tests.support.images import (
    Image,
    Index,
    build_image,
    build_index,
    build_platform_index,
    sha256_digest,
)
from truedigest.core.pin_audit import TrackedTag
from truedigest.core.pin_judge import judge
from truedigest.core.verdicts import RELATION_CAUSE, evaluate, relation_causes
from truedigest.engine.pin_candidates import row_candidate
from truedigest.errors import AuthError, NotFoundError, RegistryError, TruedigestError
from truedigest.model.diagnosis import Diagnosis, RelationUnknown
from truedigest.model.observation import Observation, Relation, SourceKind, Status, Verdict
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest, Platform
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.sources.registry_tag import RegistryDiagnoser

REF = parse_reference("registry.test/team/app:v1")
AMD64 = Platform("linux", "amd64")

Hook = Callable[[str, Digest], None]


@dataclass
class FakeRegistry:
    """Serves manifests and blobs by digest; raises scripted errors; counts every call."""

    manifests: dict[Digest, tuple[str, bytes]] = field(default_factory=dict)
    blobs: set[Digest] = field(default_factory=set)
    errors: dict[Digest, TruedigestError] = field(default_factory=dict)
    calls: Counter[tuple[str, Digest]] = field(default_factory=Counter)
    hook: Hook | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_image(self, image: Image) -> None:
        self.manifests[Digest.parse(image.digest)] = (image.media_type, image.manifest)
        self.blobs.update(Digest.parse(d) for d in (image.config_digest, *image.layer_digests))

    def add_index(self, index: Index) -> None:
        self.manifests[Digest.parse(index.digest)] = (index.media_type, index.body)
        for child in index.manifests:
            self.add_image(child)

    def _called(self, what: str, digest: Digest) -> None:
        with self.lock:
            self.calls[(what, digest)] += 1
        if self.hook is not None:
            self.hook(what, digest)
        if digest in self.errors:
            raise self.errors[digest]

    def get_manifest(self, ref: ImageRef, reference: Any = None) -> Manifest:
        digest = Digest.parse(str(reference))
        self._called("manifest", digest)
        if digest not in self.manifests:
            raise NotFoundError(f"{ref.name}@{digest}: not found in the registry")
        media_type, body = self.manifests[digest]
        return Manifest(ref.repository, media_type, body, Digest.of_bytes(body))

    def blob_exists(self, ref: ImageRef, digest: Digest) -> bool:
        self._called("blob", digest)
        return digest in self.blobs

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def manifest_of(body: bytes, media_type: str) -> Manifest:
    return Manifest(REF.repository, media_type, body, Digest.of_bytes(body))


def truth_image(image: Image) -> Resolved:
    m = manifest_of(image.manifest, image.media_type)
    return Resolved(REF, m.digest, m.media_type, m.size, m.digest, m)


def truth_index(index: Index) -> Resolved:
    m = manifest_of(index.body, index.media_type)
    return Resolved(REF, m.digest, m.media_type, m.size, m.digest, m)


def truth_child(index: Index, child: Image) -> Resolved:
    """What `resolve --platform` answers: the child, with the index it came from."""
    m = manifest_of(child.manifest, child.media_type)
    platform = Platform.parse(child.platform)
    return Resolved(REF, m.digest, m.media_type, m.size, m.digest, m, platform, D(index.digest))


def diagnoser(registry: FakeRegistry, truth: Resolved) -> RegistryDiagnoser:
    return RegistryDiagnoser(cast(RegistryClient, registry), truth)


def D(text: str) -> Digest:
    return Digest.parse(text)


@dataclass(frozen=True)
class World:
    index: Index  # amd64, arm64/v8, attestation of amd64
    amd64: Image
    arm64: Image
    attestation: Image
    single: Image  # a single-platform image the tag may point at
    other: Image  # another image the repository serves (a stale pin)
    other_index: Index  # another index the repository serves, holding `single`
    never_pushed: Image  # bytes never served: a dangling pin

    def registry(self) -> FakeRegistry:
        reg = FakeRegistry()
        reg.add_index(self.index)
        reg.add_image(self.single)
        reg.add_image(self.other)
        reg.add_index(self.other_index)
        return reg


@pytest.fixture(scope="module")
def world() -> World:
    index = build_platform_index("team/app", "current")
    amd64, arm64 = index.images
    single = build_image("team/app", salt="single")
    return World(
        index=index,
        amd64=amd64,
        arm64=arm64,
        attestation=index.manifests[-1],
        single=single,
        other=build_image("team/app", salt="old"),
        other_index=build_index([single, build_image("team/app", arch="s390x", salt="single")]),
        never_pushed=build_image("team/app", salt="never pushed"),
    )


# ----------------------------------------------------------------------- the relations


@dataclass(frozen=True)
class Case:
    name: str
    truth: Callable[[World], Resolved]
    claimed: Callable[[World], str]
    relation: Relation
    platform: str | None = None
    note: str | None = None
    requests: int = 0  # registry requests the diagnosis costs
    phrase: str = ""  # what the detail must say


CASES = [
    Case(
        "platform child of the tag's index",
        lambda w: truth_index(w.index),
        lambda w: w.amd64.digest,
        Relation.PLATFORM_MANIFEST,
        platform="linux/amd64",
        phrase="child manifest of the index",
    ),
    Case(
        "arm64 child, with its variant",
        lambda w: truth_index(w.index),
        lambda w: w.arm64.digest,
        Relation.PLATFORM_MANIFEST,
        platform="linux/arm64/v8",
        phrase="--platform linux/arm64/v8",
    ),
    Case(
        "attestation manifest inside the index",
        lambda w: truth_index(w.index),
        lambda w: w.attestation.digest,
        Relation.ATTESTATION,
        phrase="attestation (provenance/SBOM) manifest",
    ),
    Case(
        "the index the --platform truth came from",
        lambda w: truth_child(w.index, w.amd64),
        lambda w: w.index.digest,
        Relation.INDEX_OF,
        platform="linux/amd64",
        phrase="names an index that contains",
    ),
    Case(
        "another index in the registry that holds the truth",
        lambda w: truth_image(w.single),
        lambda w: w.other_index.digest,
        Relation.INDEX_OF,
        platform="linux/amd64",
        requests=1,
        phrase="names an index that contains",
    ),
    Case(
        "config blob of a single-platform truth",
        lambda w: truth_image(w.single),
        lambda w: w.single.config_digest,
        Relation.CONFIG_DIGEST,
        phrase="image config digest",
    ),
    Case(
        "config blob of the --platform child",
        lambda w: truth_child(w.index, w.amd64),
        lambda w: w.amd64.config_digest,
        Relation.CONFIG_DIGEST,
        platform="linux/amd64",
        phrase="image config digest (linux/amd64)",
    ),
    Case(
        "config blob of one of the index's children",
        lambda w: truth_index(w.index),
        lambda w: w.arm64.config_digest,
        Relation.CONFIG_DIGEST,
        platform="linux/arm64/v8",
        requests=3,  # the claimed digest as a manifest (404), then the two children
        phrase="image config digest (linux/arm64/v8)",
    ),
    Case(
        "another image the repository serves",
        lambda w: truth_image(w.single),
        lambda w: w.other.digest,
        Relation.OTHER_IMAGE,
        requests=1,
        phrase="a stale pin, a rollback or a tag that moved",
    ),
    Case(
        "the sibling platform of the same index under --platform",
        lambda w: truth_child(w.index, w.amd64),
        lambda w: w.arm64.digest,
        Relation.OTHER_IMAGE,
        note="the linux/arm64/v8 image of the same index, not linux/amd64",
        requests=2,  # the claimed manifest, then the index to name the sibling
        phrase="the linux/arm64/v8 image of the same index",
    ),
    Case(
        "a digest the repository does not serve",
        lambda w: truth_image(w.single),
        lambda w: w.never_pushed.digest,
        Relation.NOT_IN_REGISTRY,
        requests=2,  # GET as a manifest (404), HEAD as a blob (404)
        phrase="a dangling pin",
    ),
    Case(
        "a layer's digest: not a manifest, but a blob",
        lambda w: truth_image(w.single),
        lambda w: w.other.layer_digests[0],
        Relation.NOT_IN_REGISTRY,
        note="it does hold a blob with that digest: a config or layer, not a manifest",
        requests=2,
        phrase="a config or layer, not a manifest",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_relation_is_diagnosed(world: World, case: Case) -> None:
    registry = world.registry()
    claimed = D(case.claimed(world))
    got = diagnoser(registry, case.truth(world)).relate(claimed)
    assert got == Diagnosis(case.relation, platform=case.platform, note=case.note)
    assert registry.total == case.requests, registry.calls


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("kind", [SourceKind.CP, SourceKind.BUILD, SourceKind.FILE])
def test_each_relation_reaches_the_report(world: World, case: Case, kind: SourceKind) -> None:
    registry = world.registry()
    truth = case.truth(world)
    claimed = D(case.claimed(world))
    report = evaluate(
        [image_obs(truth), Observation(f"{kind}:x", kind, "x", claimed)],
        oracle=diagnoser(registry, truth),
    )
    head, source = report.sources
    assert (head.status, head.relation) == (Status.OK, Relation.IDENTICAL)
    assert (source.status, source.relation) == (Status.MISMATCH, case.relation)
    assert (report.verdict, report.exit_code, report.truth) == (Verdict.MISMATCH, 1, truth.digest)
    assert source.detail is not None
    if kind is not SourceKind.BUILD or case.relation not in (
        Relation.OTHER_IMAGE,
        Relation.NOT_IN_REGISTRY,
    ):
        assert case.phrase in source.detail
    assert RELATION_CAUSE not in source.extra


def image_obs(truth: Resolved, tag: str = "v1") -> Observation:
    ref = f"{REF.registry}/{REF.repository}:{tag}"
    return Observation(
        f"registry:{ref}", SourceKind.REGISTRY, ref, truth.digest, extra={"reference": ref}
    )


def test_identical_needs_no_diagnosis(world: World) -> None:
    registry = world.registry()
    truth = truth_image(world.single)
    report = evaluate(
        [image_obs(truth), Observation("cp:prod", SourceKind.CP, "prod", truth.digest)],
        oracle=diagnoser(registry, truth),
    )
    assert [(o.status, o.relation) for o in report.sources] == [
        (Status.OK, Relation.IDENTICAL),
        (Status.OK, Relation.IDENTICAL),
    ]
    assert (report.verdict, report.exit_code) == (Verdict.AGREE, 0)
    assert registry.total == 0  # the agree path costs nothing extra


def test_a_second_tag_on_another_image_is_other_image(world: World) -> None:
    registry = world.registry()
    truth = truth_image(world.single)
    other = Observation(
        "registry:latest",
        SourceKind.REGISTRY,
        "registry.test/team/app:latest",
        D(world.other.digest),
        extra={"reference": "registry.test/team/app:latest"},
    )
    report = evaluate([image_obs(truth), other], oracle=diagnoser(registry, truth))
    second = report.sources[1]
    assert (second.status, second.relation) == (Status.MISMATCH, Relation.OTHER_IMAGE)
    assert second.detail is not None
    assert second.detail.startswith(":latest points at")
    assert "one of the tags moved" in second.detail


# ------------------------------------------------------------- unknown, and why


def _rate_limited(digest: Digest) -> RegistryError:
    return RegistryError(
        f"manifest {REF.name}@{digest}: rate limited (HTTP 429) after retries",
        status=429,
        hint="wait and retry, or authenticate to get a higher pull limit",
    )


def _unauthorized(digest: Digest) -> AuthError:
    return AuthError(f"{REF.registry} kept answering 401 for manifest {REF.name}@{digest}")


def _forbidden(digest: Digest) -> AuthError:
    return AuthError(f"{REF.registry} denied access (HTTP 403)", hint="lacks pull permission")


@pytest.mark.parametrize("make_error", [_rate_limited, _unauthorized, _forbidden])
def test_a_refused_lookup_is_unknown_with_its_reason(
    world: World, make_error: Callable[[Digest], TruedigestError]
) -> None:
    registry = world.registry()
    truth = truth_image(world.single)
    claimed = D(world.other.digest)
    error = make_error(claimed)
    registry.errors[claimed] = error
    oracle = diagnoser(registry, truth)

    got = oracle.relate(claimed)

    assert isinstance(got, RelationUnknown)
    assert got.reason == error.message
    assert got.cause is not None
    assert got.cause.startswith(type(error).__name__)
    assert f"hint: {error.instance_hint}" in got.cause
    # Memoised with its reason, not as "no relation": asking again costs nothing.
    assert oracle.relate(claimed) == got
    assert registry.calls[("manifest", claimed)] == 1

    report = evaluate(
        [image_obs(truth), Observation("cp:prod", SourceKind.CP, "prod", claimed)], oracle=oracle
    )
    source = report.sources[1]
    assert (source.status, source.relation) == (Status.MISMATCH, None)
    assert (report.verdict, report.exit_code) == (Verdict.MISMATCH, 1)
    assert source.detail == (
        f"the pin names {claimed}, but :v1 is {truth.digest}; "
        f"how it relates to the truth is unknown: {error.message}"
    )
    assert source.extra[RELATION_CAUSE] == got.cause
    assert relation_causes(report) == [f"cause: cp:prod: relation unknown: {got.cause}"]


def test_an_unreadable_truth_manifest_makes_every_relation_unknown(world: World) -> None:
    registry = world.registry()
    resolved = truth_image(world.single)
    headless = Resolved(REF, resolved.digest, resolved.media_type, resolved.size, None)  # --head
    registry.errors[resolved.digest] = _rate_limited(resolved.digest)
    oracle = diagnoser(registry, headless)
    claims = [D(world.other.digest), D(world.never_pushed.digest)]
    got = [oracle.relate(c) for c in claims]
    assert all(isinstance(g, RelationUnknown) and "HTTP 429" in g.reason for g in got), got
    assert registry.calls[("manifest", resolved.digest)] == 1  # the failure is shared


def test_relations_known_without_a_request_still_work_when_the_registry_refuses(
    world: World,
) -> None:
    registry = world.registry()
    for digest in list(registry.manifests):
        registry.errors[digest] = _unauthorized(digest)
    oracle = diagnoser(registry, truth_index(world.index))
    assert oracle.relate(D(world.amd64.digest)) == Diagnosis(
        Relation.PLATFORM_MANIFEST, platform="linux/amd64"
    )
    assert registry.total == 0


# ------------------------------------------------------------------- concurrency

N = 8


def test_lookups_of_different_digests_are_in_flight_together(world: World) -> None:
    """The lock guards the memo, not the fetch: N lookups on N threads overlap.

    The fake registry's manifest GET waits at a barrier that only opens when N GETs
    are in flight at once; a diagnoser that serialises its lookups breaks it.
    """
    registry = world.registry()
    barrier = threading.Barrier(N, timeout=10)

    def hook(what: str, digest: Digest) -> None:
        if what == "manifest":
            barrier.wait()

    registry.hook = hook
    claims = [D(build_image("team/app", salt=f"pin {i}").digest) for i in range(N)]
    oracle = diagnoser(registry, truth_image(world.single))
    with ThreadPoolExecutor(N) as pool:
        got = list(pool.map(oracle.relate, claims))
    assert got == [Diagnosis(Relation.NOT_IN_REGISTRY)] * N
    assert not barrier.broken
    assert all(registry.calls[("manifest", c)] == 1 for c in claims)


def test_one_digest_asked_by_many_threads_is_fetched_once(world: World) -> None:
    """Callers of a key in flight wait for its answer instead of fetching it again.

    The first GET holds until N GETs have arrived (they never will, if the fetch is
    shared) or a grace period passes; either way exactly one GET may have been made.
    """
    registry = world.registry()
    claimed = D(world.other.digest)
    arrived = threading.Semaphore(0)
    first = threading.Event()

    def hook(what: str, digest: Digest) -> None:
        if what != "manifest" or digest != claimed:
            return
        arrived.release()
        if not first.is_set():
            first.set()
            for _ in range(N - 1):
                if not arrived.acquire(timeout=0.5):
                    return

    registry.hook = hook
    oracle = diagnoser(registry, truth_image(world.single))
    start = threading.Barrier(N)

    def ask(_: int) -> object:
        start.wait()
        return oracle.relate(claimed)

    with ThreadPoolExecutor(N) as pool:
        got = list(pool.map(ask, range(N)))
    assert got == [Diagnosis(Relation.OTHER_IMAGE)] * N
    assert registry.calls[("manifest", claimed)] == 1


def test_shared_fetches_are_made_once_across_lookups(world: World) -> None:
    """The index children's manifests (for config digests) are read once, not per lookup."""
    registry = world.registry()
    claims = [D(build_image("team/app", salt=f"dangling {i}").digest) for i in range(N)]
    oracle = diagnoser(registry, truth_index(world.index))
    with ThreadPoolExecutor(N) as pool:
        got = list(pool.map(oracle.relate, claims))
    assert got == [Diagnosis(Relation.NOT_IN_REGISTRY)] * N
    for child in (world.amd64, world.arm64):
        assert registry.calls[("manifest", D(child.digest))] == 1
    assert registry.calls[("manifest", D(world.attestation.digest))] == 0


def test_digests_in_the_fixtures_are_hashed_from_bytes(world: World) -> None:
    assert world.amd64.digest == sha256_digest(world.amd64.manifest)
    assert world.index.digest == sha256_digest(world.index.body)


def test_pins_say_why_a_relation_is_unknown(world: World) -> None:
    """`pins` judges with the same answers: an unknown relation keeps its reason."""
    truth = D(world.single.digest)
    pinned = D(world.other.digest)
    row = {
        "template_name": "api",
        "image_digest": str(pinned),
        "image_ref": f"{REF.name}@{pinned}",
    }
    candidate = row_candidate("prod", row, repo=None)
    key = (REF.name, pinned)
    error = _rate_limited(pinned)
    entry = judge(
        candidate,
        exists={key: True},
        tracked={REF.name: TrackedTag(REF.name, "latest", truth)},
        relations={key: RelationUnknown.from_error(error)},
    )
    assert (entry.status, entry.relation) == (Status.ERROR, None)
    assert entry.detail == (
        f"differs from {REF.name}:latest ({truth}); "
        f"how it relates to the truth is unknown: {error.message}"
    )
