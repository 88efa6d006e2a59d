"""`inspect` / `whatis` logic over an in-memory registry behind httpx.MockTransport.

The fake registry serves exact bytes built by `tests.support.images` (every digest
computed from bytes), counts requests, and can misbehave the way real registries
do: 500 for a blob asked for as a manifest (distribution 2.8), a tag that errors,
an index whose child is gone, a referrers API that answers.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    build_attestation,
    build_image,
    build_index,
    canonical_json,
    sha256_digest,
)
from truedigest.cli.main import cli
from truedigest.engine.forensics import (
    Kind,
    inspect,
    looks_like_attestation,
    manifest_facts,
    whatis,
)
from truedigest.errors import DigestMismatchError, ExitCode, NotFoundError, RegistryError
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest
from truedigest.oci.reference import parse_reference, parse_repository
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render.forensics_view import (
    inspect_document,
    inspect_tree,
    print_tree,
    render_plain,
    whatis_document,
    whatis_tree,
)

REG = "reg.example"
REPO = "team/app"
CREATED = "org.opencontainers.image.created"
REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"
_PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": "no"}]})


@dataclass
class FakeRegistry:
    """One repository: manifests by digest, tags, blobs; every request recorded."""

    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    referrers_api: dict[str, bytes] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    """Paths answered with 500."""
    blob_as_manifest_500: bool = True
    """distribution 2.8: GET /manifests/<blob digest> finds the blob, fails to parse: 500."""
    calls: list[str] = field(default_factory=list)

    def add_manifest(self, body: bytes, media_type: str, tag: str | None = None) -> str:
        digest = sha256_digest(body)
        self.manifests[digest] = (media_type, body)
        if tag is not None:
            self.tags[tag] = digest
        return digest

    def add_image(self, image: Image, tag: str | None = None) -> str:
        for blob in image.blobs:
            self.blobs[sha256_digest(blob)] = blob
        return self.add_manifest(image.manifest, image.media_type, tag)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path in self.failing:
            return _error(500, "UNKNOWN")
        if m := _TAGS.match(path):
            return httpx.Response(200, json={"name": m["repo"], "tags": list(self.tags)})
        m = _PATH.match(path)
        if m is None or m["repo"] != REPO:
            return _error(404, "NAME_UNKNOWN")
        ref = m["ref"]
        if m["kind"] == "referrers":
            if ref in self.referrers_api:
                body = self.referrers_api[ref]
                return httpx.Response(200, content=body, headers={"Content-Type": OCI_INDEX})
            return httpx.Response(404, text="404 page not found")
        if m["kind"] == "blobs":
            if ref not in self.blobs:
                return _error(404, "BLOB_UNKNOWN")
            content = b"" if request.method == "HEAD" else self.blobs[ref]
            return httpx.Response(
                200,
                content=content,
                headers={"Content-Length": str(len(self.blobs[ref])), "Docker-Content-Digest": ref},
            )
        digest = self.tags.get(ref, ref)
        if digest not in self.manifests:
            if self.blob_as_manifest_500 and digest in self.blobs:
                return _error(500, "UNKNOWN")
            return _error(404, "MANIFEST_UNKNOWN")
        media_type, body = self.manifests[digest]
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        return httpx.Response(
            200, content=b"" if request.method == "HEAD" else body, headers=headers
        )


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def client(fake: FakeRegistry, tmp_path: Path) -> Iterator[RegistryClient]:
    with RegistryClient(
        ClientOptions(),
        transport=httpx.MockTransport(fake.handler),
        credentials=CredentialStore(env={"HOME": str(tmp_path)}),
        sleep=lambda _s: None,
    ) as c:
        yield c


@dataclass(frozen=True)
class Seeded:
    amd64: Image
    arm64: Image
    attestation: Image
    index_digest: str
    single: Image


def seed(fake: FakeRegistry) -> Seeded:
    amd64 = build_image(REPO, salt="u", layers=2, annotations={REVISION: "from-annotation"})
    arm64 = build_image(REPO, arch="arm64", variant="v8", salt="u")
    att = build_attestation(amd64, repo_hint=REPO)
    index = build_index([amd64, arm64], [att])
    single = build_image(REPO, salt="single", docker=True)
    for image in (amd64, arm64, att):
        fake.add_image(image)
    index_digest = fake.add_manifest(index.body, index.media_type, "v1")
    fake.tags["v1-alias"] = index_digest
    fake.add_image(single, "single")
    return Seeded(amd64, arm64, att, index_digest, single)


def repo() -> Any:
    return parse_repository(f"{REG}/{REPO}")


def as_manifest(image: Image) -> Manifest:
    return Manifest(REPO, image.media_type, image.manifest, Digest.parse(image.digest))


# --------------------------------------------------------------------------- facts


def test_manifest_facts_prefer_annotations_then_labels_then_config_created() -> None:
    image = build_image(REPO, salt="f", layers=3, annotations={CREATED: "2030-01-01T00:00:00Z"})
    config = json.loads(image.config)

    facts = manifest_facts(as_manifest(image), config)

    assert facts.created == "2030-01-01T00:00:00Z"
    assert facts.revision == config["config"]["Labels"][REVISION]
    assert facts.source == config["config"]["Labels"][SOURCE]
    assert str(facts.config_digest) == image.config_digest
    assert facts.layers == 3
    assert facts.layers_size == sum(len(layer) for layer in image.layers)
    assert str(facts.platform) == "linux/amd64"
    plain = manifest_facts(as_manifest(build_image(REPO, salt="g")), json.loads(image.config))
    assert plain.created == config["created"]
    assert manifest_facts(as_manifest(image)).revision is None  # no config, no label


def test_looks_like_attestation() -> None:
    image = build_image(REPO, salt="a")
    att = build_attestation(image)
    artifact = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": image.config_digest,
                "size": 2,
            },
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.size},
        }
    )
    index = build_index([image])

    assert looks_like_attestation(as_manifest(att))
    assert not looks_like_attestation(as_manifest(image))
    assert looks_like_attestation(Manifest(REPO, OCI_MANIFEST, artifact, Digest.of_bytes(artifact)))
    assert not looks_like_attestation(
        Manifest(REPO, OCI_INDEX, index.body, Digest.parse(index.digest))
    )


# --------------------------------------------------------------------------- inspect


def test_inspect_index_fetches_children_configs_and_referrers(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    s = seed(fake)

    result = inspect(client, parse_reference(f"{REG}/{REPO}:v1"))

    assert result.exit_code == ExitCode.OK
    assert [str(c.digest) for c in result.children] == [
        s.amd64.digest,
        s.arm64.digest,
        s.attestation.digest,
    ]
    amd64, arm64, att = result.children
    assert amd64.facts is not None
    assert amd64.facts.revision == "from-annotation"
    assert arm64.facts is not None
    assert str(arm64.facts.platform) == "linux/arm64/v8"
    assert att.attestation
    assert str(att.attests) == s.amd64.digest
    assert att.facts is not None
    assert att.facts.platform is None
    gets = [c for c in fake.calls if "/blobs/" in c]
    assert sorted(gets) == sorted(
        f"GET /v2/{REPO}/blobs/{image.config_digest}" for image in (s.amd64, s.arm64)
    )
    referrer_calls = [c for c in fake.calls if "/referrers/" in c]
    assert len(referrer_calls) == 3  # the index and its two image children
    assert len(fake.calls) == 1 + 3 + 2 + 2 * 3


def test_inspect_uses_the_referrers_api_when_it_answers(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    listing = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": s.attestation.digest,
                    "size": s.attestation.size,
                    "artifactType": "application/vnd.example+json",
                }
            ],
        }
    )
    fake.referrers_api[s.single.digest] = listing

    result = inspect(client, parse_reference(f"{REG}/{REPO}:single"))

    assert [str(r.digest) for r in result.referrers] == [s.attestation.digest]
    assert result.referrers[0].artifact_type == "application/vnd.example+json"
    assert not any("sha256-" in c for c in fake.calls)  # no tag-schema fallback
    assert len(fake.calls) == 3  # manifest, config, referrers API
    doc = inspect_document(result)
    assert doc["children"] == []
    assert doc["layers"] == 1
    assert doc["platform"] == "linux/amd64"


def test_inspect_dangling_child_is_reported_not_raised(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    del fake.manifests[s.arm64.digest]

    result = inspect(client, parse_reference(f"{REG}/{REPO}:v1"))

    assert result.exit_code == ExitCode.UNAVAILABLE
    arm64 = result.children[1]
    assert arm64.facts is None
    assert arm64.error is not None
    assert "not found" in arm64.error
    assert any(s.arm64.digest in e for e in result.errors)
    doc = inspect_document(result)
    assert doc["children"][1]["layers"] is None
    assert doc["children"][1]["error"] == arm64.error
    assert doc["children"][0]["layers"] == 2
    assert "    error: " in render_plain(inspect_tree(result))


def test_inspect_absent_tag_raises(fake: FakeRegistry, client: RegistryClient) -> None:
    seed(fake)
    with pytest.raises(NotFoundError):
        inspect(client, parse_reference(f"{REG}/{REPO}:nope"))


# --------------------------------------------------------------------------- whatis


def classify(client: RegistryClient, digest: str) -> Any:
    return whatis(client, repo(), Digest.parse(digest))


def test_whatis_every_kind(fake: FakeRegistry, client: RegistryClient) -> None:
    s = seed(fake)

    index = classify(client, s.index_digest)
    child = classify(client, s.arm64.digest)
    att = classify(client, s.attestation.digest)
    config = classify(client, s.amd64.config_digest)
    layer = classify(client, s.amd64.layer_digests[1])
    single_config = classify(client, s.single.config_digest)
    absent = classify(client, sha256_digest(b"nothing"))

    assert (index.kind, index.tags, index.parents) == (Kind.INDEX, ("v1", "v1-alias"), ())
    assert child.kind is Kind.MANIFEST
    assert str(child.platform) == "linux/arm64/v8"
    assert child.tags == ("v1", "v1-alias")
    assert [str(p) for p in child.parents] == [s.index_digest]
    assert att.kind is Kind.ATTESTATION
    assert str(att.attests) == s.amd64.digest
    assert config.kind is Kind.CONFIG
    assert str(config.platform) == "linux/amd64"
    assert [str(p) for p in config.parents] == [s.amd64.digest]
    assert [str(i) for i in config.indexes] == [s.index_digest]
    assert layer.kind is Kind.LAYER
    assert [str(p) for p in layer.parents] == [s.amd64.digest]
    assert single_config.kind is Kind.CONFIG
    assert single_config.tags == ("single",)
    assert str(single_config.platform) == "linux/amd64"
    assert absent.kind is Kind.ABSENT
    assert absent.exit_code == ExitCode.ABSENT
    for result in (index, child, att, config, layer, single_config):
        assert result.exit_code == ExitCode.OK
        assert whatis_document(result)["kind"] == str(result.kind)


def test_whatis_manifest_request_budget(fake: FakeRegistry, client: RegistryClient) -> None:
    s = seed(fake)

    classify(client, s.arm64.digest)

    # GET the digest, list tags, GET each tag; the platform comes from the index entry
    assert fake.calls[:2] == [
        f"GET /v2/{REPO}/manifests/{s.arm64.digest}",
        f"GET /v2/{REPO}/tags/list",
    ]
    assert sorted(fake.calls[2:]) == sorted(f"GET /v2/{REPO}/manifests/{t}" for t in fake.tags)


def test_whatis_blob_without_the_500(fake: FakeRegistry, client: RegistryClient) -> None:
    """A registry that answers 404 for a blob asked for as a manifest (most do)."""
    s = seed(fake)
    fake.blob_as_manifest_500 = False

    result = classify(client, s.arm64.config_digest)

    assert result.kind is Kind.CONFIG
    assert str(result.platform) == "linux/arm64/v8"


def test_whatis_5xx_on_a_digest_that_is_no_blob_is_an_error(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    seed(fake)
    missing = sha256_digest(b"missing")
    fake.failing.add(f"/v2/{REPO}/manifests/{missing}")

    with pytest.raises(RegistryError) as caught:
        classify(client, missing)
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_whatis_wrong_bytes_are_not_explained_away(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    media_type, _ = fake.manifests[s.arm64.digest]
    fake.manifests[s.arm64.digest] = (media_type, s.amd64.manifest)

    with pytest.raises(DigestMismatchError):
        classify(client, s.arm64.digest)


def test_whatis_tag_errors_make_the_answer_partial(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    fake.failing.add(f"/v2/{REPO}/manifests/v1-alias")

    result = classify(client, s.arm64.digest)

    assert result.kind is Kind.MANIFEST
    assert result.tags == ("v1",)
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert [(e.tag, e.digest) for e in result.errors] == [("v1-alias", None)]
    assert whatis_document(result)["errors"][0]["tag"] == "v1-alias"


def test_whatis_unreferenced_blobs_are_sniffed(fake: FakeRegistry, client: RegistryClient) -> None:
    seed(fake)
    orphan = build_image(REPO, arch="s390x", salt="orphan")
    fake.blobs[orphan.config_digest] = orphan.config
    big = b"\x1f\x8b" + bytes(2 * 1024 * 1024)
    fake.blobs[sha256_digest(big)] = big

    config = classify(client, orphan.config_digest)
    layer = classify(client, sha256_digest(big))

    assert config.kind is Kind.CONFIG
    assert str(config.platform) == "linux/s390x"
    assert (config.tags, config.parents) == ((), ())
    assert layer.kind is Kind.LAYER
    assert layer.platform is None


def test_whatis_walks_nested_indexes(fake: FakeRegistry, client: RegistryClient) -> None:
    s = seed(fake)
    inner_body = fake.manifests[s.index_digest][1]
    outer = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_INDEX, "digest": s.index_digest, "size": len(inner_body)}
            ],
        }
    )
    del fake.tags["v1"], fake.tags["v1-alias"]
    outer_digest = fake.add_manifest(outer, OCI_INDEX, "outer")

    result = classify(client, s.arm64.digest)

    assert result.tags == ("outer",)
    assert [str(p) for p in result.parents] == [s.index_digest]
    assert [str(i) for i in result.indexes] == [s.index_digest, outer_digest]


# --------------------------------------------------------------------------- rendering


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_print_tree_plain_when_piped_rich_on_a_terminal(
    fake: FakeRegistry, client: RegistryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seed(fake)
    result = classify(client, s.arm64.digest)
    piped, tty = io.StringIO(), _Tty()
    monkeypatch.setenv("NO_COLOR", "1")

    print_tree(whatis_tree(result), piped)
    print_tree(whatis_tree(result), tty)

    assert piped.getvalue() == render_plain(whatis_tree(result))
    assert piped.getvalue().startswith(f"{s.arm64.digest}  manifest  in {REG}/{REPO}\n")
    assert "  platform: linux/arm64/v8\n" in piped.getvalue()
    assert "\x1b" not in piped.getvalue()
    assert "├── " in tty.getvalue()
    assert s.arm64.digest in tty.getvalue()


def test_cli_whatis_usage_errors() -> None:
    runner = CliRunner()
    for args in (
        ["whatis", "sha256:abc", "--repo", f"{REG}/{REPO}"],
        ["whatis", sha256_digest(b"x"), "--repo", f"{REG}/{REPO}:v1"],
        ["whatis", sha256_digest(b"x")],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)


def test_cli_partial_inspect_prints_the_document_and_exits_3(
    fake: FakeRegistry, client: RegistryClient
) -> None:
    from truedigest.cli.wiring import Wiring

    s = seed(fake)
    del fake.manifests[s.arm64.digest]

    result = CliRunner().invoke(
        cli,
        ["inspect", f"{REG}/{REPO}:v1", "-o", "json"],
        obj=Wiring(registry_client=lambda _options: client),
    )

    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    doc = json.loads(result.stdout)
    assert doc["digest"] == s.index_digest
    assert doc["children"][1]["error"] is not None
    assert result.stderr.startswith(f"warning: could not read child {s.arm64.digest}: ")
