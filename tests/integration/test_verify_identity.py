"""`verify`'s commit checks against a real registry (issue 12 items 1 and 2).

Images record their commit as the revision annotation, as the revision label, only
in a buildx-shaped provenance attestation (SLSA v0.2 and v1), or nowhere. Each claim
about the truth digest — `--git-sha`, a `sha-<7>` tag, a CP row's `git_sha` — is
compared with it: another commit is `other-commit` (exit 1), no revision is
unverifiable (exit 0) unless `--require-revision` (exit 1). Request counts pin what
each check costs, and that the agree path without a commit claim costs nothing more.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, run_cli, transport_flags
from tests.support.cpserver import CPServer, make_pin
from tests.support.identity_images import buildx_index, image_with_revision
from tests.support.images import (
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_platform_index,
    push_image,
    push_index,
)
from tests.support.registry import RegistryServer
from truedigest.core.plan import VerifyPlan
from truedigest.cp.client import CPTarget
from truedigest.engine.verify_run import run_verify
from truedigest.oci.auth import CredentialStore
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.sources.build.literal_digest import from_digest

PusherFor = Callable[[RegistryEndpoint], Pusher]

COMMIT = hashlib.sha1(b"the commit that was built").hexdigest()  # noqa: S324 - a git SHA
OTHER = hashlib.sha1(b"another commit").hexdigest()  # noqa: S324
TEMPLATE = "app"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    images: Mapping[str, Image]  # by tag: "annotation", "label", "none"
    indexes: Mapping[str, Index]  # "prov-v0.2", "prov-v1": the commit only in provenance

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{self.repo}:{tag}"

    def digest(self, tag: str) -> str:
        return self.images[tag].digest if tag in self.images else self.indexes[tag].digest


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    repo = "identity/app"
    images = {
        where: image_with_revision(repo, f"identity-{where}", COMMIT, where)
        for where in ("annotation", "label", "none")
    }
    for tag, image in images.items():
        assert push_image(pusher, repo, image, tag) == image.digest
    # the annotated image, tagged as if another commit had built it
    assert push_image(pusher, repo, images["annotation"], f"sha-{OTHER[:7]}")
    assert push_image(pusher, repo, images["annotation"], f"sha-{COMMIT[:7]}")
    indexes: dict[str, Index] = {
        f"prov-{slsa}": buildx_index(repo, f"identity-{slsa}", COMMIT, slsa=slsa)
        for slsa in ("v0.2", "v1")
    }
    # `buildx --annotation index:org.opencontainers.image.revision=…`: on the index itself
    indexes["index-annotation"] = build_platform_index(
        repo, "identity-index", annotations={"org.opencontainers.image.revision": COMMIT}
    )
    for tag, index in indexes.items():
        assert push_index(pusher, repo, index, tag=tag) == index.digest
    return World(registry_plain, repo, images, indexes)


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def prod(token: str) -> Iterator[CPServer]:
    with CPServer.start(token=token) as cp:
        yield cp


@dataclass
class Run:
    doc: dict[str, Any]
    registry_requests: int

    def source(self, source_id: str) -> dict[str, Any]:
        (found,) = [s for s in self.doc["sources"] if s["id"] == source_id]
        return dict(found)

    @property
    def truth_source(self) -> dict[str, Any]:
        return dict(self.doc["sources"][0])


def verify(
    world: World,
    tag: str,
    *,
    git_sha: str | None = None,
    require_revision: bool = False,
    platform: str | None = None,
    cp: CPServer | None = None,
    token: str | None = None,
    build: str | None = None,
    extra_tags: Sequence[str] = (),
) -> Run:
    options = ClientOptions(plain_http=True, timeout=10.0, retries=1)
    plan = VerifyPlan(
        images=[parse_reference(world.ref(t)) for t in (tag, *extra_tags)],
        platform=Platform.parse(platform) if platform else None,
        cps=[CPTarget("prod", cp.url)] if cp is not None else [],
        template=TEMPLATE,
        git_sha=git_sha,
        build=from_digest(build).observation() if build else None,
        require_revision=require_revision,
    )
    env = {"CP_ADMIN_API_TOKEN": token} if token else {}
    with RegistryClient(options, credentials=CredentialStore(env={})) as client:
        report = run_verify(plan, client, env=env)
    doc = json.loads(json.dumps(report.to_json()))
    return Run(doc, client.transport.stats.by_host.get(world.server.host, 0))


def status(run: Run, source_id: str | None = None) -> tuple[str, str | None]:
    src = run.truth_source if source_id is None else run.source(source_id)
    return src["status"], src["relation"]


# Registry requests with --git-sha: the tag's manifest, then what finding the commit takes.
COSTS = {
    "annotation": 1,  # in the manifest already read
    "label": 2,  # + the config blob
    # the index, then per platform child: its manifest, its config (no label), the
    # attestation manifest and the in-toto layer
    "prov-v0.2": 1 + 2 * 4,
    "prov-v1": 1 + 2 * 4,
    "index-annotation": 1,  # the index's own annotation: no child is read
}
SOURCES = {
    "annotation": "annotation",
    "label": "label",
    "prov-v0.2": "provenance",
    "prov-v1": "provenance",
    "index-annotation": "annotation",
}


@pytest.mark.parametrize("tag", list(COSTS))
def test_the_right_commit_agrees_and_the_revision_is_reported(world: World, tag: str) -> None:
    run = verify(world, tag, git_sha=COMMIT[:7], build=world.digest(tag))

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    truth = run.truth_source
    assert (truth["revision"], truth["revision_source"]) == (COMMIT, SOURCES[tag])
    assert COMMIT in truth["detail"]
    assert run.registry_requests == COSTS[tag]


@pytest.mark.parametrize("tag", list(COSTS))
def test_another_commit_is_other_commit(world: World, tag: str) -> None:
    run = verify(world, tag, git_sha=OTHER, build=world.digest(tag))

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    assert status(run) == ("mismatch", "other-commit")
    detail = run.truth_source["detail"]
    assert f"built from commit {COMMIT} ({SOURCES[tag]}), not {OTHER} (--git-sha)" in detail
    assert status(run, "build:digest") == ("ok", "identical")


def test_the_platform_child_reads_the_provenance_of_its_index(world: World) -> None:
    index = world.indexes["prov-v1"]
    arm64 = index.images[1]

    run = verify(world, "prov-v1", platform="linux/arm64", git_sha=OTHER, build=arm64.digest)

    assert run.doc["truth"] == arm64.digest
    assert status(run) == ("mismatch", "other-commit")
    assert run.truth_source["revision"] == COMMIT
    # index and child (resolve), the child's config, attestation, layer (the index the
    # child was picked from is not fetched again)
    assert run.registry_requests == 5


def test_no_revision_is_unverifiable_not_a_failure(world: World) -> None:
    image = world.images["none"]

    run = verify(world, "none", git_sha=COMMIT, build=image.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    truth = run.truth_source
    assert (truth["revision"], truth["revision_source"]) == (None, None)
    assert f"commit {COMMIT} (--git-sha) is unverifiable" in truth["detail"]


@pytest.mark.parametrize("git_sha", [None, COMMIT])
def test_require_revision_fails_an_image_without_one(world: World, git_sha: str | None) -> None:
    image = world.images["none"]

    run = verify(world, "none", git_sha=git_sha, require_revision=True, build=image.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    assert status(run) == ("mismatch", "identical")
    assert "records no revision (--require-revision)" in run.truth_source["detail"]


@pytest.mark.parametrize("tag", ["label", "prov-v0.2"])
def test_require_revision_passes_an_image_with_one(world: World, tag: str) -> None:
    run = verify(world, tag, require_revision=True, build=world.digest(tag))

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    assert run.truth_source["revision"] == COMMIT


def test_a_cp_row_git_sha_of_another_commit(world: World, prod: CPServer, token: str) -> None:
    digest = world.digest("label")
    prod.set_pins([make_pin(TEMPLATE, digest, git_sha=OTHER[:7])])

    run = verify(world, "label", cp=prod, token=token)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    assert status(run, "cp:prod") == ("mismatch", "other-commit")
    assert f"not {OTHER[:7]} (the row's git_sha)" in run.source("cp:prod")["detail"]
    assert status(run) == ("ok", "identical")


def test_a_cp_row_git_sha_of_the_right_commit(world: World, prod: CPServer, token: str) -> None:
    prod.set_pins([make_pin(TEMPLATE, world.digest("prov-v0.2"), git_sha=COMMIT)])

    run = verify(world, "prov-v0.2", cp=prod, token=token)

    assert run.doc["verdict"] == "agree", run.doc
    assert run.truth_source["revision"] == COMMIT


def test_a_sha_tag_of_another_commit(world: World) -> None:
    image = world.images["annotation"]

    wrong = verify(world, f"sha-{OTHER[:7]}", build=image.digest)
    right = verify(world, f"sha-{COMMIT[:7]}", build=image.digest)

    assert status(wrong) == ("mismatch", "other-commit")
    assert f"not {OTHER[:7]} (the tag :sha-{OTHER[:7]})" in wrong.truth_source["detail"]
    assert right.doc["verdict"] == "agree", right.doc


def test_agree_without_a_commit_claim_costs_one_request_per_source(
    world: World, prod: CPServer, token: str
) -> None:
    """No --git-sha, no sha- tag, a row without git_sha: no identity work at all."""
    digest = world.digest("prov-v0.2")
    prod.set_pins([make_pin(TEMPLATE, digest)])
    before = len(prod.requests)

    run = verify(world, "prov-v0.2", cp=prod, token=token, build=digest)

    assert run.doc["verdict"] == "agree", run.doc
    assert run.registry_requests == 1
    assert len(prod.requests) - before == 1
    assert "revision" not in run.truth_source


# --------------------------------------------------------------------------- the CLI


def test_cli_acceptance(world: World, tmp_path: Path) -> None:
    """The issue's acceptance, through `python -m truedigest verify`."""
    env = cli_env(tmp_path)
    base = ["verify", *transport_flags(world.server)]
    wrong = run_cli([*base, "--image", world.ref("label"), "--git-sha", OTHER, "-o", "json"], env)
    right = run_cli([*base, "--image", world.ref("label"), "--git-sha", COMMIT[:7]], env)
    none = run_cli([*base, "--image", world.ref("none"), "--git-sha", COMMIT[:7]], env)
    required = run_cli([*base, "--image", world.ref("none"), "--require-revision"], env)

    assert wrong.code == 1, str(wrong)
    (truth,) = json.loads(wrong.stdout)["sources"]
    assert (truth["status"], truth["relation"]) == ("mismatch", "other-commit")
    assert right.code == 0, str(right)
    assert f"built from commit {COMMIT} (label)" in right.stdout
    assert none.code == 0, str(none)
    assert "unverifiable" in none.stdout
    assert required.code == 1, str(required)
    assert "records no revision (--require-revision)" in required.stdout
    for result in (wrong, right, none, required):
        assert "Traceback" not in result.stderr
