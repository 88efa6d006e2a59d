"""Where `verify --require-attestation` finds attestations beyond buildx's own index
(issue 12 item 3), on the real registry (distribution 2.8: no referrers API, so every
referrer lookup takes the `sha256-<hex>` tag-schema fallback):

- cosign's tag schema: `sha256-<hex>.att` (DSSE-wrapped in-toto statements, layer
  annotation `predicateType`) and `sha256-<hex>.sig` (a simple-signing payload naming
  the signed digest as `critical.image.docker-manifest-digest`);
- OCI 1.1 referrers: a notation signature artifact, and a sigstore bundle holding a
  DSSE-wrapped SLSA provenance, listed in the fallback index with the annotations
  cosign's bundle spec gives them.

Shapes follow sigstore/cosign specs/ATTESTATION_SPEC.md (commit 539e2170),
specs/SIGNATURE_SPEC.md and specs/BUNDLE_SPEC.md (commit 109caea3); the bytes are built
here and every expected digest is computed from them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.identity_images import PREDICATE_TYPES, cosign_signature
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Pusher,
    RegistryEndpoint,
    build_image,
    canonical_json,
    push_image,
    sha256_digest,
)
from tests.support.jsonschemas import closed, load_schema, validate
from tests.support.registry import RegistryServer
from truedigest.core.plan import VerifyPlan
from truedigest.engine.verify_run import run_verify
from truedigest.oci.auth import CredentialStore
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.sources.build.literal_digest import from_digest

pytestmark = pytest.mark.integration

PusherFor = Callable[[RegistryEndpoint], Pusher]
COMMIT = hashlib.sha1(b"discovered commit").hexdigest()  # noqa: S324 - a git SHA
EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
NOTATION = "application/vnd.cncf.notary.signature"
SLSA_V1 = PREDICATE_TYPES["v1"]


def _statement(subject: str, name: str = "app") -> bytes:
    return canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": SLSA_V1,
            "subject": [{"name": name, "digest": {"sha256": subject.split(":")[1]}}],
            "predicate": {
                "buildDefinition": {
                    "resolvedDependencies": [
                        {"uri": "git+https://example.com/app", "digest": {"gitCommit": COMMIT}}
                    ]
                }
            },
        }
    )


def _dsse(statement: bytes) -> dict[str, Any]:
    return {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "", "sig": "MEUCIQ-placeholder"}],
    }


def _manifest(
    layers: list[tuple[str, bytes, Mapping[str, str] | None]],
    *,
    subject: Image | None = None,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = {"mediaType": EMPTY_TYPE, "digest": sha256_digest(EMPTY), "size": len(EMPTY)}
    doc["layers"] = [
        {
            "mediaType": media_type,
            "digest": sha256_digest(data),
            "size": len(data),
            **({"annotations": dict(notes)} if notes else {}),
        }
        for media_type, data, notes in layers
    ]
    if subject is not None:
        doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.size}
    if annotations:
        doc["annotations"] = dict(annotations)
    return canonical_json(doc)


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    images: dict[str, Image]
    manifests: dict[str, bytes]

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{self.repo}:{tag}"


def _push(pusher: Pusher, repo: str, tag: str, body: bytes, blobs: list[bytes]) -> None:
    for blob in [EMPTY, *blobs]:
        pusher.push_blob(repo, blob)
    pusher.push_manifest(repo, tag, body, OCI_MANIFEST)


def _referrers_index(entries: list[tuple[bytes, str, Mapping[str, str]]]) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": sha256_digest(body),
                    "size": len(body),
                    "artifactType": artifact_type,
                    **({"annotations": dict(notes)} if notes else {}),
                }
                for body, artifact_type, notes in entries
            ],
        }
    )


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    repo = f"discover/app-{secrets.token_hex(4)}"
    images = {
        name: build_image(repo, salt=f"{repo}-{name}")
        for name in ("att", "forged-sig", "notation", "bundle", "wrong-att")
    }
    for name, image in images.items():
        assert push_image(pusher, repo, image, name) == image.digest
    manifests: dict[str, bytes] = {}

    def tag_of(image: Image, suffix: str = "") -> str:
        return image.digest.replace(":", "-") + suffix

    # cosign attest: `.att` with a DSSE layer naming the image
    for name, subject in (("att", images["att"]), ("wrong-att", images["att"])):
        envelope = canonical_json(_dsse(_statement(subject.digest, name)))
        body = _manifest([(DSSE, envelope, {"predicateType": SLSA_V1})])
        manifests[name] = body
        _push(pusher, repo, tag_of(images[name], ".att"), body, [envelope])

    # a `.sig` whose payload signs another digest (copied from another image's tag)
    forged = cosign_signature(images["att"].digest, repo)
    assert push_image(pusher, repo, forged, tag_of(images["forged-sig"], ".sig"))
    manifests["forged-sig"] = forged.manifest

    # notation: an artifact whose subject is the image, listed in the fallback index
    jws = b"notation signature envelope (placeholder)"
    notation = _manifest(
        [("application/jose+json", jws, None)], subject=images["notation"], artifact_type=NOTATION
    )
    _push(pusher, repo, sha256_digest(notation), notation, [jws])
    pusher.push_manifest(
        repo, tag_of(images["notation"]), _referrers_index([(notation, NOTATION, {})]), OCI_INDEX
    )
    manifests["notation"] = notation

    # cosign --new-bundle-format attest: a bundle with a DSSE-wrapped provenance
    bundle = canonical_json(
        {
            "mediaType": BUNDLE,
            "verificationMaterial": {},
            "dsseEnvelope": _dsse(_statement(images["bundle"].digest)),
        }
    )
    notes = {
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": SLSA_V1,
    }
    bundle_manifest = _manifest(
        [(BUNDLE, bundle, None)], subject=images["bundle"], artifact_type=BUNDLE, annotations=notes
    )
    _push(pusher, repo, sha256_digest(bundle_manifest), bundle_manifest, [bundle])
    listing = _referrers_index([(bundle_manifest, BUNDLE, notes)])
    pusher.push_manifest(repo, tag_of(images["bundle"]), listing, OCI_INDEX)
    manifests["bundle"] = bundle_manifest
    return World(registry_plain, repo, images, manifests)


@dataclass
class Run:
    doc: dict[str, Any]
    requests: int

    def row(self, kind: str) -> dict[str, Any]:
        (found,) = [s for s in self.doc["sources"] if s["id"] == f"attestation:{kind}"]
        return dict(found)


def verify(world: World, tag: str, *kinds: str) -> Run:
    plan = VerifyPlan(
        images=[parse_reference(world.ref(tag))],
        build=from_digest(world.images[tag].digest).observation(),
        require_attestations=kinds,
    )
    options = ClientOptions(plain_http=True, timeout=10.0, retries=1)
    with RegistryClient(options, credentials=CredentialStore(env={})) as client:
        report = run_verify(plan, client, env={})
        requests = client.transport.stats.by_host.get(world.server.host, 0)
    doc = json.loads(json.dumps(report.to_json()))
    assert validate(closed(load_schema("verify")), doc) == []
    return Run(doc, requests)


def test_a_cosign_att_tag_carries_the_provenance(world: World) -> None:
    run = verify(world, "att", "provenance")

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    row = run.row("provenance")
    assert row["status"] == "ok"
    assert (row["digest"], row["subject"]) == (
        sha256_digest(world.manifests["att"]),
        world.images["att"].digest,
    )
    # the tag; the .att tag; its DSSE layer
    assert run.requests == 3


def test_a_cosign_att_naming_another_image_is_a_mismatch(world: World) -> None:
    run = verify(world, "wrong-att", "provenance")

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    row = run.row("provenance")
    assert row["subject"] == world.images["att"].digest
    assert f"names {world.images['att'].digest} as its subject" in row["detail"]


def test_a_sig_whose_payload_signs_another_digest_is_a_mismatch(world: World) -> None:
    run = verify(world, "forged-sig", "signature")

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("mismatch", 1), run.doc
    row = run.row("signature")
    assert row["subject"] == world.images["att"].digest
    assert (
        f"the signature {sha256_digest(world.manifests['forged-sig'])} names "
        f"{world.images['att'].digest} as its subject"
    ) in row["detail"]


def test_a_notation_signature_found_through_the_referrers_fallback(world: World) -> None:
    run = verify(world, "notation", "signature")

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    row = run.row("signature")
    assert row["digest"] == sha256_digest(world.manifests["notation"])
    # the tag; the .sig tag (404); the referrers API (404) and its fallback tag
    assert run.requests == 4


def test_a_sigstore_bundle_provenance_through_the_referrers_fallback(world: World) -> None:
    run = verify(world, "bundle", "provenance")

    assert (run.doc["verdict"], run.doc["exit_code"]) == ("agree", 0), run.doc
    row = run.row("provenance")
    assert (row["digest"], row["subject"]) == (
        sha256_digest(world.manifests["bundle"]),
        world.images["bundle"].digest,
    )
    # the tag; .att (404); referrers API (404) + fallback; the bundle manifest and blob
    assert run.requests == 6


def test_a_bundle_is_not_a_signature_nor_a_notation_signature_a_provenance(world: World) -> None:
    assert verify(world, "bundle", "signature").row("signature")["status"] == "mismatch"
    assert verify(world, "notation", "provenance").row("provenance")["status"] == "mismatch"


def test_inspect_shows_cosign_tags_where_they_sit(world: World) -> None:
    """`inspect` lists cosign's `.sig`/`.att` on the digest (JSON `cosign`, and the tree)."""
    from truedigest.engine.inspect_run import inspect
    from truedigest.render.forensics_json import inspect_document
    from truedigest.render.forensics_view import inspect_tree, render_plain

    with RegistryClient(ClientOptions(plain_http=True)) as client:
        signed = inspect(client, parse_reference(world.ref("forged-sig")))
        attested = inspect(client, parse_reference(world.ref("att")))
        plain = inspect(client, parse_reference(world.ref("notation")))

    sig_tag = world.images["forged-sig"].digest.replace(":", "-") + ".sig"
    sig_digest = sha256_digest(world.manifests["forged-sig"])
    assert inspect_document(signed)["cosign"] == [
        {"tag": sig_tag, "digest": sig_digest, "kind": "signature"}
    ]
    att = inspect_document(attested)["cosign"]
    assert [(c["kind"], c["digest"]) for c in att] == [
        ("attestation", sha256_digest(world.manifests["att"]))
    ]
    assert inspect_document(plain)["cosign"] == []
    tree = render_plain(inspect_tree(signed))
    assert f"cosign signature: {sig_tag}  → {sig_digest}" in tree


def test_whatis_names_a_cosign_tag_s_manifest_and_the_digest_it_is_for(world: World) -> None:
    from truedigest.core.classify import Kind
    from truedigest.engine.whatis_run import whatis
    from truedigest.oci.digest import Digest
    from truedigest.oci.reference import parse_repository

    repo = parse_repository(f"{world.server.host}/{world.repo}")
    with RegistryClient(ClientOptions(plain_http=True)) as client:
        sig = whatis(client, repo, Digest.parse(sha256_digest(world.manifests["forged-sig"])))
        att = whatis(client, repo, Digest.parse(sha256_digest(world.manifests["att"])))

    signed_for = world.images["forged-sig"].digest
    assert (sig.kind, str(sig.attests)) == (Kind.ATTESTATION, signed_for)
    assert sig.detail.startswith(f"a cosign signature for {signed_for}")
    assert (att.kind, str(att.attests)) == (Kind.ATTESTATION, world.images["att"].digest)
    assert att.detail.startswith(f"a cosign attestation for {world.images['att'].digest}")
