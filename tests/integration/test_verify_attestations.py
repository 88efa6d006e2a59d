"""`verify --require-attestation` against a real registry (issue 12 item 3).

A buildx-style index carries a provenance (and SBOM) attestation manifest per
platform child; an `imagetools create`-style index lists the same children with no
attestation manifest; cosign pushes `sha256-<hex>.sig`; one provenance names another
digest as its subject. Each required kind is a row `attestation:<kind>`: ok where it
sits on the pinned digest (every child, for an index), else a mismatch (exit 1) that
says where it sits. Request counts pin what each check costs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, run_cli, transport_flags
from tests.support.identity_images import build_provenance, cosign_signature
from tests.support.images import (
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_index,
    push_image,
    push_index,
    sha256_digest,
)
from tests.support.jsonschemas import closed, load_schema, validate
from tests.support.registry import RegistryServer
from truedigest.core.plan import VerifyPlan
from truedigest.engine.verify_run import run_verify
from truedigest.oci.auth import CredentialStore
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.sources.build.literal_digest import from_digest

PusherFor = Callable[[RegistryEndpoint], Pusher]
COMMIT = hashlib.sha1(b"attested commit").hexdigest()  # noqa: S324 - a git SHA
REPO = "attest/app"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    buildx: Index
    imagetools: Index
    wrong_subject: Index
    signed: Image
    unsigned: Image
    signature: Image

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{REPO}:{tag}"


def _platform_images(salt: str) -> list[Image]:
    return [
        build_image(REPO, salt=salt, no_revision=True),
        build_image(REPO, arch="arm64", variant="v8", salt=salt, no_revision=True),
    ]


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    images = _platform_images("attest")
    attestations = [build_provenance(i, COMMIT, repo_hint=REPO, sbom=True) for i in images]
    buildx = build_index(images, attestations)
    imagetools = build_index(images)  # `imagetools create`: the children, no attestations
    other = _platform_images("wrong-subject")
    stranger = sha256_digest(b"a digest nobody pushed")
    wrong = build_index(
        other, [build_provenance(i, COMMIT, repo_hint=REPO, subject_digest=stranger) for i in other]
    )
    assert push_index(pusher, REPO, buildx, tag="buildx") == buildx.digest
    assert push_index(pusher, REPO, imagetools, tag="imagetools") == imagetools.digest
    assert push_index(pusher, REPO, wrong, tag="wrong-subject") == wrong.digest
    signed = build_image(REPO, salt="signed")
    unsigned = build_image(REPO, salt="unsigned")
    signature = cosign_signature(signed.digest, REPO)
    assert push_image(pusher, REPO, signed, "signed") == signed.digest
    assert push_image(pusher, REPO, unsigned, "unsigned") == unsigned.digest
    sig_tag = signed.digest.replace(":", "-") + ".sig"
    assert push_image(pusher, REPO, signature, sig_tag) == signature.digest
    return World(registry_plain, buildx, imagetools, wrong, signed, unsigned, signature)


@dataclass
class Run:
    doc: dict[str, Any]
    registry_requests: int

    def row(self, kind: str) -> dict[str, Any]:
        (found,) = [s for s in self.doc["sources"] if s["id"] == f"attestation:{kind}"]
        return dict(found)


def verify(
    world: World,
    tag: str,
    kinds: Sequence[str],
    *,
    build: str,
    platform: str | None = None,
) -> Run:
    options = ClientOptions(plain_http=True, timeout=10.0, retries=1)
    plan = VerifyPlan(
        images=[parse_reference(world.ref(tag))],
        platform=Platform.parse(platform) if platform else None,
        build=from_digest(build).observation(),
        require_attestations=tuple(kinds),
    )
    with RegistryClient(options, credentials=CredentialStore(env={})) as client:
        report = run_verify(plan, client, env={})
    doc = json.loads(json.dumps(report.to_json()))
    assert validate(closed(load_schema("verify")), doc) == []  # every key documented
    return Run(doc, client.transport.stats.by_host.get(world.server.host, 0))


def _row(run: Run, kind: str) -> Mapping[str, Any]:
    row = run.row(kind)
    assert row["kind"] == "attestation"
    return row


def test_provenance_on_every_child_of_a_buildx_index_passes(world: World) -> None:
    run = verify(world, "buildx", ["provenance"], build=world.buildx.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    row = _row(run, "provenance")
    amd64, _arm64, amd64_att, _ = world.buildx.manifests
    assert (row["status"], row["attached_to"]) == ("ok", "child")
    assert (row["digest"], row["subject"]) == (amd64_att.digest, amd64.digest)
    assert "each of its 2 platform children" in row["detail"]
    # the index; per child: its attestation manifest and the provenance layer
    assert run.registry_requests == 1 + 2 * 2


def test_sbom_and_provenance_together(world: World) -> None:
    run = verify(world, "buildx", ["provenance", "sbom"], build=world.buildx.digest)

    assert run.doc["verdict"] == "agree", run.doc
    assert _row(run, "sbom")["status"] == "ok"
    # attestation manifests read once; both layers of each
    assert run.registry_requests == 1 + 2 * 3


def test_an_imagetools_index_fails_naming_the_child_that_holds_it(world: World) -> None:
    """The acceptance case: the pin names an index made without attestations."""
    run = verify(world, "imagetools", ["provenance"], build=world.imagetools.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    row = _row(run, "provenance")
    amd64, arm64 = world.buildx.manifests[:2]
    assert row["status"] == "mismatch"
    assert f"provenance is attached to the linux/amd64 child {amd64.digest}" in row["detail"]
    assert f"the linux/arm64/v8 child {arm64.digest}" in row["detail"]
    assert "not to the index the pin names" in row["detail"]
    assert row["attached_to"] == "child"


def test_the_platform_child_of_a_buildx_index_passes(world: World) -> None:
    arm64 = world.buildx.manifests[1]

    run = verify(world, "buildx", ["provenance"], build=arm64.digest, platform="linux/arm64")

    assert run.doc["verdict"] == "agree", run.doc
    assert _row(run, "provenance")["subject"] == arm64.digest
    # index and child (resolve), then the child's attestation manifest and its layer:
    # the index the child was picked from is not fetched again
    assert run.registry_requests == 4


def test_a_statement_naming_another_digest_is_a_mismatch(world: World) -> None:
    run = verify(world, "wrong-subject", ["provenance"], build=world.wrong_subject.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    row = _row(run, "provenance")
    stranger = sha256_digest(b"a digest nobody pushed")
    assert row["subject"] == stranger
    assert (
        f"names {stranger} as its subject, but it is attached to the linux/amd64" in (row["detail"])
    )


def test_a_cosign_signature_tag_on_the_pinned_digest(world: World) -> None:
    run = verify(world, "signed", ["signature"], build=world.signed.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    row = _row(run, "signature")
    assert (row["digest"], row["subject"]) == (world.signature.digest, world.signed.digest)
    assert run.registry_requests == 3  # the tag, its .sig tag, the signed payload


def test_an_unsigned_digest_fails(world: World) -> None:
    run = verify(world, "unsigned", ["signature"], build=world.unsigned.digest)

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    row = _row(run, "signature")
    assert (row["digest"], row["attached_to"]) == (None, "none")
    assert "no signature is attached to the pinned digest" in row["detail"]


def test_without_the_flag_no_attestation_work(world: World) -> None:
    run = verify(world, "buildx", [], build=world.buildx.digest)

    assert run.doc["verdict"] == "agree", run.doc
    assert run.registry_requests == 1
    assert not [s for s in run.doc["sources"] if s["kind"] == "attestation"]


def test_cli_acceptance(world: World, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    base = ["verify", *transport_flags(world.server), "--require-attestation", "provenance"]
    good = run_cli([*base, "--image", world.ref("buildx")], env)
    bad = run_cli([*base, "--image", world.ref("imagetools"), "-o", "json"], env)

    assert good.code == 0, str(good)
    assert bad.code == 1, str(bad)
    doc = json.loads(bad.stdout)
    (row,) = [s for s in doc["sources"] if s["id"] == "attestation:provenance"]
    assert "the linux/amd64 child" in row["detail"]
    for result in (good, bad):
        assert "Traceback" not in result.stderr


def test_the_failure_path_cost_is_bounded(world: World) -> None:
    """Missing on the truth: one tag list and at most SCAN_TAGS other tags are read."""
    from truedigest.engine.attestation_run import SCAN_TAGS

    run = verify(world, "imagetools", ["provenance"], build=world.imagetools.digest)

    # the index; per digest (the index and its 2 children) cosign's .att tag and the
    # referrers API + its tag-schema fallback (distribution 2.8 has no API); the tag
    # list; the 4 other tags (not the cosign .sig tag); the buildx index's 2
    # attestation manifests and their provenance layers
    assert run.registry_requests == 1 + 3 * (1 + 2) + 1 + 4 + 2 * 2
    assert run.registry_requests <= 2 + 3 * 3 + SCAN_TAGS + 2 * 2 * SCAN_TAGS
