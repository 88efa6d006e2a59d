"""`inspect`, `whatis` and `pins` tell which commit an image was built from (issue 12
item 4), against a real registry with images from `tests.support.identity_images`.

`inspect`: each image's `revision` and `revision_source` (annotation | label |
provenance); each attestation child's `attached_to` (the child it sits on) and
`subject` (the digest its in-toto statement names). `whatis` on a manifest: its
revision. `pins`: each pin's revision beside its `git_sha` (annotation, label or provenance).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.cpserver import CPServer, make_pin
from tests.support.identity_images import build_provenance, buildx_index, image_with_revision
from tests.support.images import (
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_index,
    push_image,
    push_index,
)
from tests.support.jsonschemas import closed, load_schema, validate
from tests.support.registry import RegistryServer
from truedigest.core.pin_audit import PinPlan
from truedigest.cp.client import CPTarget
from truedigest.engine.inspect_run import inspect
from truedigest.engine.pins_run import audit_pins
from truedigest.engine.whatis_run import whatis
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render.audit_view import pins_screen
from truedigest.render.forensics_view import (
    inspect_document,
    inspect_tree,
    render_plain,
    whatis_document,
    whatis_tree,
)

PusherFor = Callable[[RegistryEndpoint], Pusher]
COMMIT = hashlib.sha1(b"forensics: the commit that was built").hexdigest()  # noqa: S324
OTHER = hashlib.sha1(b"forensics: another commit").hexdigest()  # noqa: S324
REPO = "forensics/app"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    images: Mapping[str, Image]
    indexes: Mapping[str, Index]

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{REPO}:{tag}"


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    images = {
        where: image_with_revision(REPO, f"forensics-{where}", COMMIT, where)
        for where in ("annotation", "label", "none")
    }
    for tag, image in images.items():
        assert push_image(pusher, REPO, image, tag) == image.digest
    indexes: dict[str, Index] = {
        f"prov-{slsa}": buildx_index(REPO, f"forensics-{slsa}", COMMIT, slsa=slsa)
        for slsa in ("v0.2", "v1")
    }
    amd64 = build_image(REPO, salt="forensics-plain", no_revision=True)
    arm64 = build_image(REPO, arch="arm64", variant="v8", salt="forensics-plain", no_revision=True)
    # `imagetools create`: a new index of the same images, with no attestation
    indexes["imagetools"] = build_index([amd64, arm64])
    # an attestation attached to amd64 whose statement names arm64
    wrong = build_provenance(amd64, COMMIT, subject_digest=arm64.digest, repo_hint=REPO)
    indexes["bad-subject"] = build_index([amd64, arm64], [wrong])
    for tag, index in indexes.items():
        assert push_index(pusher, REPO, index, tag=tag) == index.digest
    return World(registry_plain, images, indexes)


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(ClientOptions(plain_http=True), credentials=CredentialStore(env={})) as c:
        yield c


def _inspect(client: RegistryClient, world: World, tag: str) -> dict[str, Any]:
    result = inspect(client, parse_reference(world.ref(tag)))
    assert result.errors == (), result.errors
    return inspect_document(result)


@pytest.mark.parametrize(
    ("tag", "revision", "source"),
    [("annotation", COMMIT, "annotation"), ("label", COMMIT, "label"), ("none", None, None)],
)
def test_inspect_single_image_revision_and_source(
    world: World, client: RegistryClient, tag: str, revision: str | None, source: str | None
) -> None:
    doc = _inspect(client, world, tag)
    assert doc["digest"] == world.images[tag].digest
    assert (doc["revision"], doc["revision_source"]) == (revision, source)


@pytest.mark.parametrize("slsa", ["v0.2", "v1"])
def test_inspect_buildx_index_revision_from_provenance(
    world: World, client: RegistryClient, slsa: str
) -> None:
    index = world.indexes[f"prov-{slsa}"]
    result = inspect(client, parse_reference(world.ref(f"prov-{slsa}")))
    assert result.errors == ()
    doc = inspect_document(result)
    children = {c["digest"]: c for c in doc["children"]}
    images = [i for i in index.manifests if i.attests is None]
    attestations = [i for i in index.manifests if i.attests is not None]
    assert len(images) == 2
    assert len(attestations) == 2
    for image in images:
        child = children[image.digest]
        assert (child["revision"], child["revision_source"]) == (COMMIT, "provenance")
        assert child["attached_to"] is None
        assert child["subject"] is None
    for att in attestations:
        child = children[att.digest]
        assert child["attestation"] is True
        assert child["attached_to"] == att.attests
        assert child["subject"] == att.attests
        assert child["revision"] is None
    text = render_plain(inspect_tree(result))
    assert f"revision: {COMMIT} (from the provenance)" in text
    assert "not the digest it is attached to" not in text


def test_inspect_imagetools_index_has_no_revision_and_no_attestation(
    world: World, client: RegistryClient
) -> None:
    doc = _inspect(client, world, "imagetools")
    assert [c["attestation"] for c in doc["children"]] == [False, False]
    assert {(c["revision"], c["revision_source"]) for c in doc["children"]} == {(None, None)}


def test_inspect_statement_naming_another_digest_is_shown(
    world: World, client: RegistryClient
) -> None:
    index = world.indexes["bad-subject"]
    amd64, arm64, wrong = index.manifests
    result = inspect(client, parse_reference(world.ref("bad-subject")))
    doc = inspect_document(result)
    child = {c["digest"]: c for c in doc["children"]}[wrong.digest]
    assert child["attached_to"] == amd64.digest
    assert child["subject"] == arm64.digest
    # the provenance speaks about arm64 only when attached to it: amd64 learns the
    # commit from the attestation attached to it (as buildx reads it)
    text = render_plain(inspect_tree(result))
    assert f"statement subject: {arm64.digest} (not the digest it is attached to)" in text


# =========================================================================== whatis


def _whatis(client: RegistryClient, world: World, digest: str) -> dict[str, Any]:
    result = whatis(client, parse_reference(f"{world.server.host}/{REPO}"), Digest.parse(digest))
    assert result.errors == (), result.errors
    return whatis_document(result)


@pytest.mark.parametrize(
    ("tag", "revision", "source"),
    [("annotation", COMMIT, "annotation"), ("label", COMMIT, "label"), ("none", None, None)],
)
def test_whatis_manifest_revision(
    world: World, client: RegistryClient, tag: str, revision: str | None, source: str | None
) -> None:
    doc = _whatis(client, world, world.images[tag].digest)
    assert doc["kind"] == "manifest"
    assert (doc["revision"], doc["revision_source"]) == (revision, source)


def test_whatis_index_child_revision_from_provenance(world: World, client: RegistryClient) -> None:
    index = world.indexes["prov-v1"]
    child = index.images[1]
    result = whatis(
        client, parse_reference(f"{world.server.host}/{REPO}"), Digest.parse(child.digest)
    )
    doc = whatis_document(result)
    assert (doc["revision"], doc["revision_source"]) == (COMMIT, "provenance")
    assert f"revision: {COMMIT} (from the provenance)" in render_plain(whatis_tree(result))
    # arm64 (no attestation is attached to it): no revision; an attestation: none
    assert _whatis(client, world, world.indexes["imagetools"].images[1].digest)["revision"] is None
    att = next(m for m in index.manifests if m.attests == child.digest)
    assert _whatis(client, world, att.digest)["revision"] is None


# =========================================================================== pins


def test_pins_report_each_pins_revision_beside_its_git_sha(world: World) -> None:
    """Each pin's commit, read as `verify` reads it: the annotation (one GET per distinct
    served digest), the label (+1 config GET), and for an index pin each child's."""
    token = secrets.token_urlsafe(24)
    registry_repo = f"{world.server.host}/{REPO}"
    annotated, labelled = world.images["annotation"], world.images["label"]
    with CPServer.start(token=token) as cp:
        cp.set_pins(
            [
                make_pin("api", annotated.digest, registry_repo=registry_repo, git_sha=COMMIT),
                make_pin("web", labelled.digest, registry_repo=registry_repo, git_sha=COMMIT),
                make_pin("old", annotated.digest, registry_repo=registry_repo, git_sha=OTHER),
                make_pin(
                    "multi",
                    world.indexes["prov-v1"].digest,
                    registry_repo=registry_repo,
                    git_sha=COMMIT,
                ),
                make_pin(
                    "bare",
                    world.indexes["imagetools"].digest,
                    registry_repo=registry_repo,
                    git_sha=COMMIT,
                ),
            ]
        )
        with RegistryClient(
            ClientOptions(plain_http=True), credentials=CredentialStore(env={})
        ) as client:
            audit = audit_pins(
                PinPlan(cps=[CPTarget("prod", cp.url)], track="annotation"),
                client,
                env={"CP_ADMIN_API_TOKEN": token},
            )
    doc = audit.to_json()
    by_template = {p["template_name"]: p for p in doc["pins"]}
    api, web = by_template["api"], by_template["web"]
    assert (api["git_sha"], api["revision"], api["revision_source"]) == (
        COMMIT,
        COMMIT,
        "annotation",
    )
    assert (web["git_sha"], web["revision"], web["revision_source"]) == (
        COMMIT,
        COMMIT,
        "label",
    )
    assert by_template["old"]["revision"] == COMMIT
    multi, bare = by_template["multi"], by_template["bare"]
    assert (multi["revision"], multi["revision_source"]) == (COMMIT, "provenance")
    assert (bare["revision"], bare["revision_source"]) == (None, None)
    assert validate(closed(load_schema("pins")), doc) == []
    assert token not in json.dumps(doc)
    # the table notes the row whose git_sha is not the commit the image records
    notes = [n.text for n in pins_screen(audit).notes]
    assert f"template old in global: git_sha {OTHER}, but the image records {COMMIT}" in notes
    assert not any(f"git_sha {COMMIT}," in n for n in notes)
