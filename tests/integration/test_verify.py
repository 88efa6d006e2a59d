"""`truedigest verify` against a real registry and real CP servers (DESIGN §2 to §5).

The registry (Debian's docker-registry) is seeded once per module with images built
as exact bytes by `tests.support.images`; every expected digest is sha256 of bytes
this module pushed (or, for the dangling pin, of bytes it deliberately never
pushed). The control planes are `tests.support.cpserver.CPServer` instances on
loopback whose pin rows each test sets.

Most cases run in process through `truedigest.engine.verify_run.run_verify` (fast, and the
client exposes request counts); a representative set runs the real
`python -m truedigest verify` in subprocesses for exit codes, stdout JSON, stderr
text, workflow annotations and build-source files.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.cli import (
    CliResult,
    cli_env,
    registry_credentials,
    run_cli,
    run_cli_many,
    transport_flags,
)
from tests.support.cpserver import CPServer, PinRow, RecordedRequest, make_pin
from tests.support.images import (
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    push_image,
    push_index,
)
from tests.support.registry import RegistryServer, TokenServer
from truedigest.core.plan import VerifyPlan
from truedigest.cp.client import CPTarget
from truedigest.engine.verify_run import run_verify
from truedigest.model.observation import Report
from truedigest.oci.auth import CredentialStore
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render.verify_report import verdict_line
from truedigest.sources.build.build_claim import BuildClaim
from truedigest.sources.build.literal_digest import from_digest

PusherFor = Callable[[RegistryEndpoint], Pusher]

# A commit SHA (not a digest): the tag `sha-<7>` and the pin rows' git_sha derive from it.
GIT_SHA = hashlib.sha256(b"truedigest verify acceptance").hexdigest()[:40]
SHA_TAG = f"sha-{GIT_SHA[:7]}"
TEMPLATE = "app"
REPORT_KEYS = frozenset({"schema", "verdict", "exit_code", "truth", "sources"})
SOURCE_KEYS = frozenset({"id", "kind", "digest", "status", "relation", "detail"})
CP_ROW_KEYS = frozenset({"image_ref", "git_sha", "promoted_at", "promoted_by", "notes"})


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """What the module pushed to one registry, all as exact bytes."""

    server: RegistryServer
    repo: str
    current: Image  # tagged SHA_TAG: what should run
    old: Image  # tagged "old": yesterday's build, still served (a stale pin names it)
    newer: Image  # tagged "latest": a build that moved past SHA_TAG
    index: Index  # tagged "multi": linux/amd64, linux/arm64/v8, an attestation of amd64
    never: Image  # built, never pushed anywhere: a dangling pin names it
    other_repo: str  # another repository on the same registry

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"

    def ref(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    @property
    def amd64(self) -> Image:
        return self.index.images[0]

    @property
    def attestation(self) -> Image:
        return self.index.manifests[-1]

    def pin(self, digest: str, **kwargs: Any) -> PinRow:
        kwargs.setdefault("registry_repo", self.name)
        return make_pin(TEMPLATE, digest, **kwargs)


def _seed(server: RegistryServer, pusher: Pusher) -> World:
    repo = f"verify/{server.variant}/app"
    # Built from GIT_SHA, as its tag and the pin rows say: verify compares them with the
    # image's revision (an annotation: read from the manifest, no extra request).
    current = build_image(
        repo,
        salt="current",
        label=GIT_SHA,
        annotations={"org.opencontainers.image.revision": GIT_SHA},
    )
    old = build_image(repo, salt="old")
    newer = build_image(repo, salt="newer")
    index = build_platform_index(repo, "multi")
    never = build_image(repo, salt="never pushed")
    assert push_image(pusher, repo, current, SHA_TAG) == current.digest
    assert push_image(pusher, repo, old, "old") == old.digest
    assert push_image(pusher, repo, newer, "latest") == newer.digest
    assert push_index(pusher, repo, index, tag="multi") == index.digest
    other_repo = f"verify/{server.variant}/other"
    assert push_image(pusher, other_repo, current, SHA_TAG) == current.digest
    digests = {current.digest, old.digest, newer.digest, index.digest, never.digest}
    assert len(digests) == 5, "the seeds must be distinct images"
    assert pusher.get_manifest(repo, never.digest).status_code == 404
    return World(server, repo, current, old, newer, index, never, other_repo)


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    return _seed(registry_plain, pusher_for(registry_plain))


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def _cp_servers(token: str) -> Iterator[tuple[CPServer, CPServer]]:
    with CPServer.start(token=token) as prod, CPServer.start(token=token) as staging:
        yield prod, staging


@pytest.fixture
def prod(_cp_servers: tuple[CPServer, CPServer]) -> CPServer:
    """The prod CP, with no rows and the normal shape at the start of each test."""
    _cp_servers[0].set_pins([])
    return _cp_servers[0]


@pytest.fixture
def staging(_cp_servers: tuple[CPServer, CPServer]) -> CPServer:
    _cp_servers[1].set_pins([])
    return _cp_servers[1]


# --------------------------------------------------------------------------- in process


@dataclass
class Run:
    doc: dict[str, Any]
    client: RegistryClient
    report: Report

    @property
    def code(self) -> int:
        return int(self.doc["exit_code"])

    def source(self, source_id: str) -> dict[str, Any]:
        found = [s for s in self.doc["sources"] if s["id"] == source_id]
        assert len(found) == 1, (source_id, self.doc)
        source: dict[str, Any] = found[0]
        return source


def verify(
    world: World,
    home: Path,
    *,
    tags: Sequence[str] = (SHA_TAG,),
    cps: Mapping[str, CPServer] | None = None,
    token: str | None = None,
    build: BuildClaim | None = None,
    pin_files: Sequence[Path] = (),
    platform: str | None = None,
    git_sha: str | None = None,
    wait: float = 0.0,
    interval: float = 5.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    server: RegistryServer | None = None,
    password: str | None = None,
) -> Run:
    """run_verify with a fresh client (no ~/.docker) and the CPs' token in its env."""
    server = server or world.server
    store_env = {"HOME": str(home), **registry_credentials(server, password)}
    options = ClientOptions(plain_http=server.scheme == "http", timeout=10.0, retries=1)
    plan = VerifyPlan(
        images=[parse_reference(f"{server.host}/{world.repo}:{tag}") for tag in tags],
        platform=Platform.parse(platform) if platform else None,
        cps=[CPTarget(name, cp.url) for name, cp in (cps or {}).items()],
        template=TEMPLATE,
        git_sha=git_sha,
        build=build.observation() if build is not None else None,
        pin_files=pin_files,
        wait=wait,
        interval=interval,
    )
    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    if clock is not None:
        kwargs["clock"] = clock
    env = {"CP_ADMIN_API_TOKEN": token} if token else {}
    with RegistryClient(options, credentials=CredentialStore(env=store_env)) as client:
        report = run_verify(plan, client, env=env, **kwargs)
    # Through real JSON: what a script reading stdout gets.
    doc = json.loads(json.dumps(report.to_json()))
    return Run(doc, client, report)


def check(
    doc: Mapping[str, Any],
    *,
    verdict: str,
    exit_code: int,
    truth: str | None,
    sources: Mapping[str, tuple[str, str | None]],
) -> None:
    """The DESIGN §4 document: keys, verdict, exit code, truth, and every source's
    (status, relation) — no source more, none less."""
    assert set(doc) >= REPORT_KEYS, doc
    assert doc["schema"] == "truedigest.verify/v1"
    assert (doc["verdict"], doc["exit_code"], doc["truth"]) == (verdict, exit_code, truth), doc
    assert isinstance(doc["sources"], list)
    got = {s["id"]: (s["status"], s["relation"]) for s in doc["sources"]}
    assert len(got) == len(doc["sources"]), "source ids must be unique"
    assert got == dict(sources), json.dumps(doc, indent=2)
    assert doc["sources"][0]["kind"] == "registry", "the truth comes first"
    for source in doc["sources"]:
        assert set(source) >= SOURCE_KEYS, source
        kind = source["id"].split(":", 1)[0]
        assert source["kind"] == kind, source
        assert kind in {"registry", "cp", "build", "file"}, source
        if source["relation"] is not None:
            assert source["digest"] is not None, "a relation needs a digest that was read"
        if source["status"] != "ok":
            assert source["detail"], f"a failing source must say why: {source}"
        if kind == "cp" and source["status"] in {"ok", "mismatch"} and source["digest"]:
            assert set(source) >= CP_ROW_KEYS, source


def reg(world: World, tag: str = SHA_TAG) -> str:
    return f"registry:{world.ref(tag)}"


# --------------------------------------------------------------------------- subprocess


def verify_args(world: World, *extra: str, tags: Sequence[str] = (SHA_TAG,)) -> list[str]:
    args = ["verify", *transport_flags(world.server)]
    for tag in tags:
        args += ["--image", world.ref(tag)]
    return [*args, *extra]


def cp_args(**cps: CPServer) -> list[str]:
    args = [arg for name, cp in cps.items() for arg in ("--cp", f"{name}={cp.url}")]
    return [*args, "--template", TEMPLATE]


def assert_usage_error(result: CliResult) -> None:
    """Exit 2 through the one catch point: `error:` then `hint:`, no traceback."""
    assert result.code == 2, str(result)
    assert result.stdout == "", str(result)
    lines = result.stderr.splitlines()
    assert lines, str(result)
    assert lines[0].startswith("error: "), str(result)
    assert any(line.startswith("hint: ") for line in lines[1:]), str(result)
    assert "Traceback" not in result.stderr, str(result)


# =========================================================================== agree


def test_all_sources_agree(world: World, prod: CPServer, token: str, tmp_path: Path) -> None:
    digest = world.current.digest
    prod.set_pins([world.pin(digest, git_sha=GIT_SHA[:7])])

    run = verify(world, tmp_path, cps={"prod": prod}, token=token, build=from_digest(digest))

    check(
        run.doc,
        verdict="agree",
        exit_code=0,
        truth=digest,
        sources={
            reg(world): ("ok", "identical"),
            "cp:prod": ("ok", "identical"),
            "build:digest": ("ok", "identical"),
        },
    )
    row = run.source("cp:prod")
    assert row["digest"] == digest
    assert row["image_ref"] == f"{world.name}@{digest}"
    assert row["git_sha"] == GIT_SHA[:7]
    assert row["promoted_by"].startswith("api-token-")


def test_agree_costs_one_registry_request_and_one_get_per_cp(
    world: World, token: str, tmp_path: Path
) -> None:
    digest = world.current.digest
    with (
        CPServer.start(token=token, pins=[world.pin(digest)]) as prod,
        CPServer.start(token=token, pins=[world.pin(digest)]) as staging,
    ):
        run = verify(world, tmp_path, cps={"prod": prod, "staging": staging}, token=token)

        assert run.doc["verdict"] == "agree", run.doc
        stats = run.client.transport.stats.by_host
        assert stats[world.server.host] == 1, stats
        for cp in (prod, staging):
            assert [(r.method, r.path) for r in cp.requests] == [("GET", "/cp/admin/runtime-image")]
            assert cp.requests[0].headers["authorization"] == f"Bearer {token}"
            assert cp.requests[0].headers["accept"] == "application/json"


def test_token_auth_registry_agrees_with_credentials_from_env(
    registry_token: RegistryServer,
    token_server: TokenServer,
    pusher_for: PusherFor,
    world: World,
    prod: CPServer,
    token: str,
    tmp_path: Path,
) -> None:
    seeded = _seed(registry_token, pusher_for(registry_token))
    digest = seeded.current.digest
    prod.set_pins([seeded.pin(digest)])
    assert registry_token.username is not None
    assert registry_token.password is not None
    env = cli_env(
        tmp_path,
        CP_ADMIN_API_TOKEN=token,
        TRUEDIGEST_REGISTRY_USERNAME=registry_token.username,
        TRUEDIGEST_REGISTRY_PASSWORD=registry_token.password,
    )

    result = run_cli(
        [*verify_args(seeded, *cp_args(prod=prod)), "--build-digest", digest, "-o", "json"], env
    )

    assert result.code == 0, str(result)
    check(
        result.report(),
        verdict="agree",
        exit_code=0,
        truth=digest,
        sources={
            reg(seeded): ("ok", "identical"),
            "cp:prod": ("ok", "identical"),
            "build:digest": ("ok", "identical"),
        },
    )
    assert token_server.token_requests >= 1
    for secret in (registry_token.password, token):
        assert secret not in result.stdout + result.stderr


# =========================================================================== pins that disagree


@pytest.mark.parametrize(
    ("pinned", "relation", "words"),
    [
        pytest.param(lambda w: w.old.digest, "other-image", "stale pin", id="stale"),
        pytest.param(lambda w: w.never.digest, "not-in-registry", "dangling pin", id="dangling"),
        pytest.param(
            lambda w: w.current.config_digest, "config-digest", "config digest", id="config"
        ),
    ],
)
def test_pin_disagreeing_with_the_tag(
    world: World,
    prod: CPServer,
    token: str,
    tmp_path: Path,
    pinned: Callable[[World], str],
    relation: str,
    words: str,
) -> None:
    digest = pinned(world)
    prod.set_pins([world.pin(digest)])

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("mismatch", relation)},
    )
    row = run.source("cp:prod")
    assert row["digest"] == digest
    assert words in row["detail"], row
    assert f"pin {world.current.digest} instead" in row["detail"], row


@pytest.mark.parametrize(
    ("tag", "pinned", "truth", "relation", "named"),
    [
        # No --platform: the truth is the index, the pin its amd64 child's config blob.
        # distribution answers HTTP 500 to a GET of a config blob as a manifest; the
        # diagnosis must go on to the children's configs rather than give up.
        pytest.param(
            "multi",
            lambda w: w.amd64.config_digest,
            lambda w: w.index.digest,
            "config-digest",
            "linux/amd64",
            id="config-of-an-index-child",
        ),
        # A config blob of some other image: not pullable, and not this tag's config.
        pytest.param(
            SHA_TAG,
            lambda w: w.old.config_digest,
            lambda w: w.current.digest,
            "not-in-registry",
            "blob",
            id="another-images-config-is-dangling",
        ),
        pytest.param(
            "multi",
            lambda w: w.attestation.digest,
            lambda w: w.index.digest,
            "attestation",
            "attestation",
            id="attestation-manifest",
        ),
    ],
)
def test_pin_naming_what_is_not_a_runnable_image(
    world: World,
    prod: CPServer,
    token: str,
    tmp_path: Path,
    tag: str,
    pinned: Callable[[World], str],
    truth: Callable[[World], str],
    relation: str,
    named: str,
) -> None:
    assert world.attestation.platform == "unknown/unknown"  # what attestation-manifest pins
    prod.set_pins([world.pin(pinned(world))])

    run = verify(world, tmp_path, tags=[tag], cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=truth(world),
        sources={reg(world, tag): ("ok", "identical"), "cp:prod": ("mismatch", relation)},
    )
    assert named in run.source("cp:prod")["detail"]


def test_build_reported_the_amd64_child_of_an_index(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.index.digest)])

    run = verify(
        world,
        tmp_path,
        tags=["multi"],
        cps={"prod": prod},
        token=token,
        build=from_digest(world.amd64.digest),
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.index.digest,
        sources={
            reg(world, "multi"): ("ok", "identical"),
            "cp:prod": ("ok", "identical"),
            "build:digest": ("mismatch", "platform-manifest"),
        },
    )
    build = run.source("build:digest")
    assert build["digest"] == world.amd64.digest
    assert "linux/amd64" in build["detail"]
    assert "--platform linux/amd64" in build["detail"]


def test_with_platform_a_pin_naming_the_index_is_index_of(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.index.digest)])

    run = verify(
        world,
        tmp_path,
        tags=["multi"],
        cps={"prod": prod},
        token=token,
        platform="linux/amd64",
        build=from_digest(world.amd64.digest),
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.amd64.digest,
        sources={
            reg(world, "multi"): ("ok", "identical"),
            "cp:prod": ("mismatch", "index-of"),
            "build:digest": ("ok", "identical"),
        },
    )
    registry = run.source(reg(world, "multi"))
    assert registry["index_digest"] == world.index.digest
    assert registry["platform"] == "linux/amd64"
    assert run.doc["platform"] == "linux/amd64"


def test_with_platform_a_pin_naming_the_sibling_platform_says_so(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    arm64 = world.index.images[1]
    prod.set_pins([world.pin(arm64.digest)])

    run = verify(
        world, tmp_path, tags=["multi"], cps={"prod": prod}, token=token, platform="linux/amd64"
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.amd64.digest,
        sources={reg(world, "multi"): ("ok", "identical"), "cp:prod": ("mismatch", "other-image")},
    )
    detail = run.source("cp:prod")["detail"]
    assert f"the {arm64.platform} image of the same index, not linux/amd64" in detail


def test_build_output_naming_another_image_is_worded_for_a_build(
    world: World, token: str, tmp_path: Path
) -> None:
    run = verify(world, tmp_path, token=token, build=from_digest(world.old.digest))

    detail = run.source("build:digest")["detail"]
    assert run.source("build:digest")["relation"] == "other-image"
    assert "the build pushed another tag" in detail
    assert "stale pin" not in detail
    assert f"downstream jobs should use the registry's {world.current.digest}" in detail


# =========================================================================== broken pin tables


def test_missing_row(world: World, prod: CPServer, token: str, tmp_path: Path) -> None:
    prod.set_pins([make_pin("worker", world.current.digest)])

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("missing", None)},
    )
    assert run.source("cp:prod")["digest"] is None
    assert repr(TEMPLATE) in run.source("cp:prod")["detail"]


@pytest.mark.parametrize(
    ("rows", "status", "named"),
    [
        pytest.param(
            lambda w: [w.pin(w.current.digest, region="eu-west-1")],
            "missing",
            lambda w: "eu-west-1",
            id="row-for-another-region",
        ),
        pytest.param(
            lambda w: [replace(w.pin(w.current.digest), image_ref=f"{w.name}@{w.old.digest}")],
            "mismatch",
            lambda w: w.old.digest,
            id="image-ref-digest-differing-from-the-row",
        ),
    ],
)
def test_row_that_does_not_fit_is_named(
    world: World,
    prod: CPServer,
    token: str,
    tmp_path: Path,
    rows: Callable[[World], list[PinRow]],
    status: str,
    named: Callable[[World], str],
) -> None:
    prod.set_pins(rows(world))

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    assert run.code == 1
    assert run.source("cp:prod")["status"] == status
    assert named(world) in run.source("cp:prod")["detail"]


def test_duplicate_rows_are_ambiguous(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    # Even two rows that agree: which one provisions read is undefined.
    prod.set_pins([world.pin(world.current.digest), world.pin(world.old.digest)])

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("ambiguous", None)},
    )
    detail = run.source("cp:prod")["detail"]
    assert world.current.digest in detail
    assert world.old.digest in detail
    assert len(run.source("cp:prod")["rows"]) == 2


def test_malformed_image_digest_is_a_broken_pin(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    truncated = world.current.digest[:20]
    prod.set_pins([PinRow(TEMPLATE, truncated, image_ref=f"{world.name}@{truncated}")])

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("mismatch", None)},
    )
    row = run.source("cp:prod")
    assert row["digest"] is None
    assert row["image_digest"] == truncated
    assert truncated in row["detail"]


def test_image_ref_naming_another_repository(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    digest = world.current.digest
    other = f"{world.server.host}/{world.other_repo}"
    prod.set_pins([world.pin(digest, registry_repo=other)])

    result = run_cli(
        [*verify_args(world, *cp_args(prod=prod)), "-o", "json"],
        cli_env(tmp_path, CP_ADMIN_API_TOKEN=token),
    )

    # The digest is the right one, but provisions would pull it from another repository.
    assert result.code == 1, str(result)
    doc = result.report()
    check(
        doc,
        verdict="mismatch",
        exit_code=1,
        truth=digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("mismatch", "identical")},
    )
    detail = doc["sources"][1]["detail"]
    assert other in detail
    assert world.name in detail
    # The summary counts the row although its digest is right.
    assert "verdict: mismatch (exit 1): 1 of 2 sources disagree" in result.stderr


@pytest.mark.parametrize("how", ["flag", "sha-tag"])
def test_git_sha_mismatch(
    world: World, prod: CPServer, token: str, tmp_path: Path, how: str
) -> None:
    wrong = hashlib.sha256(b"another commit").hexdigest()[:7]
    prod.set_pins([world.pin(world.current.digest, git_sha=wrong)])

    run = verify(
        world,
        tmp_path,
        cps={"prod": prod},
        token=token,
        git_sha=GIT_SHA if how == "flag" else None,
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        # the row's commit is not the one the image records either: other-commit
        sources={reg(world): ("ok", "identical"), "cp:prod": ("mismatch", "other-commit")},
    )
    detail = run.source("cp:prod")["detail"]
    assert wrong in detail
    assert (GIT_SHA if how == "flag" else GIT_SHA[:7]) in detail


def test_git_sha_is_not_checked_without_flag_or_sha_tag(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    """The same row agrees when nothing says which commit to expect (control case)."""
    tagged = verify(world, tmp_path, tags=["old"], cps={"prod": prod}, token=token)
    assert tagged.source("cp:prod")["status"] == "missing"  # no rows yet: the CP was read
    # the old image's own commit (build_image's default revision label): a row's git_sha
    # is always compared with the image's revision
    old_commit = hashlib.sha256(b"old").hexdigest()[:7]
    prod.set_pins([world.pin(world.old.digest, git_sha=old_commit)])

    run = verify(world, tmp_path, tags=["old"], cps={"prod": prod}, token=token)

    assert run.doc["verdict"] == "agree", run.doc


# =========================================================================== CP failures


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ("empty-200", "empty body"),
        ("not-json", "not JSON"),
        ("pins-not-list", "not a list"),
        ("500", "HTTP 500"),
        ("302", "redirect"),
    ],
)
def test_cp_that_cannot_be_read_is_exit_3(
    world: World, prod: CPServer, token: str, tmp_path: Path, shape: str, words: str
) -> None:
    prod.set_shape(shape)

    run = verify(world, tmp_path, cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="unavailable",
        exit_code=3,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("error", None)},
    )
    assert words in run.source("cp:prod")["detail"]
    assert run.source("cp:prod")["digest"] is None


def test_cp_401_names_the_variable_never_the_token(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_shape("401")

    result = run_cli(
        [*verify_args(world, *cp_args(prod=prod)), "-o", "json"],
        cli_env(tmp_path, CP_ADMIN_API_TOKEN=token),
    )

    assert result.code == 3, str(result)
    doc = result.report()
    check(
        doc,
        verdict="unavailable",
        exit_code=3,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("error", None)},
    )
    detail = doc["sources"][1]["detail"]
    assert "401" in detail
    assert "CP_ADMIN_API_TOKEN" in detail
    # What to try, in the JSON and once on stderr after the verdict line.
    hint = "check that CP_ADMIN_API_TOKEN holds a valid admin token for prod"
    assert doc["sources"][1]["hint"] == hint
    assert result.stderr.splitlines()[1:] == [f"hint: {hint}"]
    assert token not in result.stdout
    assert token not in result.stderr
    assert token not in json.dumps(doc)
    assert result.stderr.startswith(
        "verdict: unavailable (exit 3): 1 of 2 sources could not be read\n"
    )
    # The CP did receive the token: the check above is not vacuous.
    assert prod.requests[-1].headers["authorization"] == f"Bearer {token}"


def test_cp_403_with_a_token_from_a_named_variable(
    world: World, prod: CPServer, tmp_path: Path
) -> None:
    wrong = secrets.token_urlsafe(24)
    env = cli_env(tmp_path, PROD_CP_TOKEN=wrong)

    result = run_cli(
        [*verify_args(world, *cp_args(prod=prod)), "--cp-token-env", "prod=PROD_CP_TOKEN"], env
    )

    assert result.code == 3, str(result)
    assert "403" in result.stdout, str(result)
    assert "PROD_CP_TOKEN" in result.stdout, str(result)
    assert wrong not in result.stdout + result.stderr
    assert prod.requests[-1].headers["authorization"] == f"Bearer {wrong}"


def test_cp_token_variable_unset_is_exit_3_and_named(
    world: World, prod: CPServer, tmp_path: Path
) -> None:
    run = verify(world, tmp_path, cps={"prod": prod}, token=None)

    assert run.code == 3
    assert run.source("cp:prod")["status"] == "error"
    assert "CP_ADMIN_API_TOKEN" in run.source("cp:prod")["detail"]


def test_two_cps_disagreeing(
    world: World, prod: CPServer, staging: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.old.digest)])
    staging.set_pins([world.pin(world.current.digest)])

    run = verify(world, tmp_path, cps={"prod": prod, "staging": staging}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={
            reg(world): ("ok", "identical"),
            "cp:prod": ("mismatch", "other-image"),
            "cp:staging": ("ok", "identical"),
        },
    )
    assert run.source("cp:prod")["digest"] == world.old.digest
    assert run.source("cp:staging")["digest"] == world.current.digest
    assert run.source("cp:prod")["url"] == prod.url
    assert run.source("cp:staging")["url"] == staging.url


# =========================================================================== several images


def test_latest_ahead_of_the_sha_tag(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.current.digest)])

    run = verify(world, tmp_path, tags=[SHA_TAG, "latest"], cps={"prod": prod}, token=token)

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={
            reg(world): ("ok", "identical"),
            reg(world, "latest"): ("mismatch", "other-image"),
            "cp:prod": ("ok", "identical"),
        },
    )
    latest = run.source(reg(world, "latest"))
    assert latest["digest"] == world.newer.digest
    assert SHA_TAG in latest["detail"]


def test_first_image_absent_is_exit_10(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.current.digest)])

    result = run_cli(
        [*verify_args(world, *cp_args(prod=prod), tags=["never-pushed"]), "-o", "json"],
        cli_env(tmp_path, CP_ADMIN_API_TOKEN=token),
    )

    assert result.code == 10, str(result)
    check(
        result.report(),
        verdict="absent",
        exit_code=10,
        truth=None,
        sources={reg(world, "never-pushed"): ("absent", None), "cp:prod": ("ok", None)},
    )
    assert result.stderr.splitlines() == [
        f"verdict: absent (exit 10): the registry does not serve {world.ref('never-pushed')}",
        "hint: check the tag was pushed to this registry and repository (`truedigest tags REPO`)",
    ]


def test_second_image_absent_is_exit_10(world: World, tmp_path: Path) -> None:
    run = verify(world, tmp_path, tags=[SHA_TAG, "never-pushed"])

    check(
        run.doc,
        verdict="absent",
        exit_code=10,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), reg(world, "never-pushed"): ("absent", None)},
    )
    assert verdict_line(run.report).endswith(f"does not serve {world.ref('never-pushed')}")


# =========================================================================== registry unreadable


@pytest.fixture
def basic_world(registry_basic: RegistryServer, pusher_for: PusherFor) -> World:
    return _seed(registry_basic, pusher_for(registry_basic))


def test_registry_unreadable_but_cps_read_is_exit_3(
    basic_world: World, prod: CPServer, staging: CPServer, token: str, tmp_path: Path
) -> None:
    digest = basic_world.current.digest
    prod.set_pins([basic_world.pin(digest)])
    staging.set_pins([basic_world.pin(digest)])
    wrong = secrets.token_urlsafe(12)

    run = verify(
        basic_world,
        tmp_path,
        cps={"prod": prod, "staging": staging},
        token=token,
        password=wrong,
        build=from_digest(digest),
    )

    check(
        run.doc,
        verdict="unavailable",
        exit_code=3,
        truth=None,
        sources={
            reg(basic_world): ("error", None),
            "cp:prod": ("ok", None),
            "cp:staging": ("ok", None),
            "build:digest": ("ok", None),
        },
    )
    assert run.source("cp:prod")["digest"] == digest
    assert "rejected the credentials" in run.source(reg(basic_world))["detail"]
    assert "TRUEDIGEST_REGISTRY_PASSWORD" in run.source(reg(basic_world))["hint"]
    assert wrong not in json.dumps(run.doc)
    assert verdict_line(run.report) == (
        "verdict: unavailable (exit 3): 1 of 4 sources could not be read, the registry among "
        "them, so nothing could be compared"
    )


def test_registry_unreadable_and_cps_disagree_is_exit_1(
    basic_world: World, prod: CPServer, staging: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([basic_world.pin(basic_world.old.digest)])
    staging.set_pins([basic_world.pin(basic_world.current.digest)])

    run = verify(
        basic_world,
        tmp_path,
        cps={"prod": prod, "staging": staging},
        token=token,
        password=secrets.token_urlsafe(12),
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=None,
        sources={
            reg(basic_world): ("error", None),
            "cp:prod": ("mismatch", None),
            "cp:staging": ("mismatch", None),
        },
    )
    assert basic_world.current.digest in run.source("cp:prod")["detail"]
    assert verdict_line(run.report) == (
        "verdict: mismatch (exit 1): 2 of 3 sources are wrong or disagree with each other; "
        "the registry could not be read, so which digest is real is unknown"
    )


def test_registry_with_right_credentials_agrees(
    basic_world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    """Control for the two cases above: the same registry, the real password."""
    prod.set_pins([basic_world.pin(basic_world.current.digest)])

    run = verify(basic_world, tmp_path, cps={"prod": prod}, token=token)

    assert run.doc["verdict"] == "agree", run.doc


# =========================================================================== build sources


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _oci_layout(directory: Path, entries: Sequence[tuple[str, Image]]) -> Path:
    _write(directory / "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}))
    manifests = [
        {
            "mediaType": image.media_type,
            "digest": image.digest,
            "size": image.size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }
        for name, image in entries
    ]
    _write(directory / "index.json", json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return directory


def _metadata(image: Image, name: str) -> dict[str, Any]:
    return {
        "buildx.build.ref": f"builder/builder0/{hashlib.sha256(name.encode()).hexdigest()[:25]}",
        "containerimage.config.digest": image.config_digest,
        "containerimage.descriptor": {
            "mediaType": image.media_type,
            "digest": image.digest,
            "size": image.size,
        },
        "containerimage.digest": image.digest,
        "image.name": name,
    }


def test_build_sources_end_to_end(world: World, prod: CPServer, token: str, tmp_path: Path) -> None:
    cur, old = world.current, world.old
    prod.set_pins([world.pin(cur.digest)])
    files = tmp_path / "build"
    bake = {
        "web": _metadata(cur, f"{world.ref(SHA_TAG)},{world.ref('edge')}"),
        "worker": _metadata(old, f"{world.server.host}/verify/worker:{SHA_TAG}"),
    }
    layer_id = hashlib.sha256(cur.layers[0]).hexdigest()[:12]
    log = (
        f"The push refers to repository [{world.name}]\n"
        f"{layer_id}: Pushed\n"
        f"latest: digest: {world.newer.digest} size: {world.newer.size}\n"
        f"{SHA_TAG}: digest: {cur.digest} size: {cur.size}\n"
    )
    sources = {
        "metadata": [
            "--build-metadata",
            str(_write(files / "m.json", json.dumps(_metadata(cur, world.ref(SHA_TAG))))),
        ],
        "bake-by-name": ["--build-metadata", str(_write(files / "bake.json", json.dumps(bake)))],
        "bake-by-target": [
            "--build-metadata",
            str(files / "bake.json"),
            "--build-target",
            "worker",
        ],
        "log": ["--build-log", str(_write(files / "push.log", log))],
        "digest-file": ["--digest-file", str(_write(files / "digest", cur.digest + "\n"))],
        "oci-layout": [
            "--oci-layout",
            str(_oci_layout(files / "layout", [("old", old), (SHA_TAG, cur)])),
        ],
    }
    expected = {
        "metadata": ("build:metadata", cur, "identical"),
        "bake-by-name": ("build:metadata", cur, "identical"),
        "bake-by-target": ("build:metadata", old, "other-image"),
        "log": ("build:log", cur, "identical"),
        "digest-file": ("build:digest-file", cur, "identical"),
        "oci-layout": ("build:oci-layout", cur, "identical"),
    }
    env = cli_env(tmp_path, CP_ADMIN_API_TOKEN=token)
    calls = [
        ([*verify_args(world, *cp_args(prod=prod)), *flags, "-o", "json"], env)
        for flags in sources.values()
    ]

    results = dict(zip(sources, run_cli_many(calls), strict=True))

    for case, result in results.items():
        source_id, image, relation = expected[case]
        agree = relation == "identical"
        assert result.code == (0 if agree else 1), f"{case}: {result}"
        doc = result.report()
        check(
            doc,
            verdict="agree" if agree else "mismatch",
            exit_code=0 if agree else 1,
            truth=cur.digest,
            sources={
                reg(world): ("ok", "identical"),
                "cp:prod": ("ok", "identical"),
                source_id: ("ok" if agree else "mismatch", relation),
            },
        )
        build = next(s for s in doc["sources"] if s["kind"] == "build")
        assert build["digest"] == image.digest, case
    bake_target = next(
        s for s in results["bake-by-target"].report()["sources"] if s["kind"] == "build"
    )
    assert "worker" in bake_target["detail"]
    log_source = next(s for s in results["log"].report()["sources"] if s["kind"] == "build")
    assert "line 4" in log_source["detail"]


def test_malformed_build_sources_are_usage_errors(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.current.digest)])
    files = tmp_path / "bad"
    layout = files / "layout"
    _write(layout / "index.json", json.dumps({"schemaVersion": 2, "manifests": []}))
    bake = {
        "web": _metadata(world.current, world.ref(SHA_TAG)),
        "worker": _metadata(world.old, world.ref("worker")),
    }
    bad_sources = {
        "build-digest": ["--build-digest", world.current.digest[:-1]],
        "metadata-not-json": ["--build-metadata", str(_write(files / "m.json", "{'digest': 1"))],
        "metadata-no-digest": [
            "--build-metadata",
            str(_write(files / "n.json", json.dumps({"image.name": world.ref(SHA_TAG)}))),
        ],
        "bake-unknown-target": [
            "--build-metadata",
            str(_write(files / "bake.json", json.dumps(bake))),
            "--build-target",
            "nope",
        ],
        "log": ["--build-log", str(_write(files / "push.log", "Pushed\nall done\n"))],
        "log-bad-digest": [
            "--build-log",
            str(_write(files / "bad.log", f"{SHA_TAG}: digest: sha256:abc size: 12\n")),
        ],
        "digest-file": ["--digest-file", str(_write(files / "digest", "sha256:XYZ\n"))],
        "digest-file-missing": ["--digest-file", str(files / "absent")],
        "oci-layout": ["--oci-layout", str(layout)],
    }
    env = cli_env(tmp_path, CP_ADMIN_API_TOKEN=token)
    calls = [
        ([*verify_args(world, *cp_args(prod=prod)), *flags, "-o", "json"], env)
        for flags in bad_sources.values()
    ]
    before = len(prod.requests)

    results = run_cli_many(calls)

    for result in results:
        assert_usage_error(result)
    # Bad input is refused before anything is fetched.
    assert len(prod.requests) == before


# =========================================================================== pin files


def test_pin_file_kubernetes_yaml(world: World, tmp_path: Path) -> None:
    def deployment(digest: str) -> str:
        return (
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n  name: app\n"
            "spec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          image: {world.name}@{digest}\n"
            f"        - name: sidecar\n"
            f"          image: {world.server.host}/{world.other_repo}@{world.old.digest}\n"
        )

    right = _write(tmp_path / "right.yaml", deployment(world.current.digest))
    stale = _write(tmp_path / "stale.yaml", deployment(world.old.digest))

    agree = verify(world, tmp_path, pin_files=[right])
    mismatch = verify(world, tmp_path, pin_files=[stale])

    check(
        agree.doc,
        verdict="agree",
        exit_code=0,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), f"file:{right}": ("ok", "identical")},
    )
    check(
        mismatch.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), f"file:{stale}": ("mismatch", "other-image")},
    )
    assert mismatch.source(f"file:{stale}")["lines"] == [10]


# =========================================================================== --wait


class LatePromoteCP(CPServer):
    """A CP whose promote lands after it has answered `stale_answers` requests.

    Counting requests, not seconds: the rounds `--wait` needs are fixed however
    slowly the process starts or the machine runs.
    """

    stale_answers = 0
    promoted: Sequence[PinRow] = ()

    def _answer(self, request: RecordedRequest) -> Any:
        if len(self.requests) > self.stale_answers:  # this request is already recorded
            self.set_pins(self.promoted)
        return super()._answer(request)


def test_wait_until_a_late_promote_lands(world: World, token: str, tmp_path: Path) -> None:
    stale_rounds = 2
    late = LatePromoteCP.start(token=token, pins=[world.pin(world.old.digest)])
    with cast(LatePromoteCP, late) as prod:
        prod.stale_answers = stale_rounds
        prod.promoted = [world.pin(world.current.digest)]
        # --wait is far longer than any run: the promote, not the clock, ends the wait.
        args = [*verify_args(world, *cp_args(prod=prod)), "--wait", "600", "--interval", "0.1"]
        result = run_cli([*args, "-o", "json"], cli_env(tmp_path, CP_ADMIN_API_TOKEN=token))
        served = len(prod.requests)

    assert result.code == 0, str(result)
    doc = result.report()
    check(
        doc,
        verdict="agree",
        exit_code=0,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("ok", "identical")},
    )
    assert doc["rounds"] == stale_rounds + 1
    assert served == doc["rounds"]  # one CP read per round
    waiting = [line for line in result.stderr.splitlines() if line.startswith("round ")]
    assert [line.split(":")[0] for line in waiting] == ["round 1", "round 2"], result.stderr
    assert all("not all sources agree yet" in line for line in waiting), result.stderr


def test_wait_times_out_with_the_mismatch(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.old.digest)])
    before = len(prod.requests)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    run = verify(
        world,
        tmp_path,
        cps={"prod": prod},
        token=token,
        wait=1.0,
        interval=0.3,
        sleep=sleep,
        clock=lambda: now[0],
    )

    check(
        run.doc,
        verdict="mismatch",
        exit_code=1,
        truth=world.current.digest,
        sources={reg(world): ("ok", "identical"), "cp:prod": ("mismatch", "other-image")},
    )
    # Rounds at t=0, .3, .6, .9 and a last one at the deadline itself (1.0).
    assert run.doc["rounds"] == 5
    assert len(prod.requests) - before == 5
    assert now[0] == pytest.approx(1.0)


def test_wait_timing_out_from_the_cli(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.old.digest)])
    args = [*verify_args(world, *cp_args(prod=prod)), "--wait", "0.5", "--interval", "0.2"]

    result = run_cli([*args, "-o", "json"], cli_env(tmp_path, CP_ADMIN_API_TOKEN=token))

    assert result.code == 1, str(result)
    doc = result.report()
    assert doc["sources"][1]["relation"] == "other-image"
    # How many rounds fit in 0.5 s depends on the machine's load (the counted rounds
    # are pinned in process, with a fake clock, above): at least one, and the talk
    # below agrees with the count.
    assert doc["rounds"] >= 1
    assert "verdict: mismatch (exit 1): 1 of 2 sources disagree" in result.stderr
    if doc["rounds"] > 1:
        assert f"after {doc['rounds']} rounds" in result.stderr
    # "waiting" is said before each pause, never after the last round.
    waiting = [line for line in result.stderr.splitlines() if line.startswith("round ")]
    assert len(waiting) == doc["rounds"] - 1, result.stderr


# =========================================================================== CLI output


def test_stale_pin_table_and_annotations(
    world: World, prod: CPServer, token: str, tmp_path: Path
) -> None:
    prod.set_pins([world.pin(world.old.digest)])
    args = verify_args(world, *cp_args(prod=prod))

    plain, annotated = run_cli_many(
        [
            (args, cli_env(tmp_path, CP_ADMIN_API_TOKEN=token)),
            (
                [*args, "-o", "json"],
                cli_env(tmp_path, CP_ADMIN_API_TOKEN=token, GITHUB_ACTIONS="true"),
            ),
        ]
    )

    assert plain.code == 1, str(plain)
    # Piped: one tab-separated line per source, no header; the first five fields hold
    # no whitespace (SOURCE DIGEST STATUS RELATION WHERE), DETAIL is the free last one.
    lines = plain.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [reg(world), "cp:prod"]
    prod_line = lines[1].split("\t")
    assert prod_line[:5] == ["cp:prod", world.old.digest, "mismatch", "other-image", prod.url]
    assert prod_line[:5] == lines[1].split()[:5]
    assert "::error" not in plain.stdout + plain.stderr
    assert plain.stderr.startswith("verdict: mismatch (exit 1): 1 of 2 sources disagree")

    assert annotated.code == 1, str(annotated)
    doc = annotated.report()  # stdout is exactly one JSON document
    assert "::" not in annotated.stdout
    errors = [line for line in annotated.stderr.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1, annotated.stderr
    assert errors[0].startswith("::error title=truedigest cp%3Aprod%3A mismatch::")
    assert "other-image" in errors[0]
    assert doc["sources"][1]["relation"] == "other-image"
