"""`whatis` over an in-memory registry: every kind, request budgets, partial answers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support.images import OCI_INDEX, build_image, canonical_json, sha256_digest
from tests.support.memory_registry import REG, REPO, MemoryRegistry, repo, seed
from truedigest.core.classify import Kind
from truedigest.engine.whatis_run import whatis
from truedigest.errors import DigestMismatchError, ExitCode, RegistryError
from truedigest.oci.digest import Digest
from truedigest.oci.registry import RegistryClient
from truedigest.render.forensics_view import print_tree, render_plain, whatis_document, whatis_tree


def classify(client: RegistryClient, digest: str) -> Any:
    return whatis(client, repo(), Digest.parse(digest))


def test_whatis_every_kind(fake: MemoryRegistry, client: RegistryClient) -> None:
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


def test_whatis_manifest_request_budget(fake: MemoryRegistry, client: RegistryClient) -> None:
    s = seed(fake)

    classify(client, s.arm64.digest)

    # GET the digest, list tags, GET each tag; the platform comes from the index entry
    assert fake.calls[:2] == [
        f"GET /v2/{REPO}/manifests/{s.arm64.digest}",
        f"GET /v2/{REPO}/tags/list",
    ]
    assert sorted(fake.calls[2:]) == sorted(f"GET /v2/{REPO}/manifests/{t}" for t in fake.tags)


def test_whatis_blob_without_the_500(fake: MemoryRegistry, client: RegistryClient) -> None:
    """A registry that answers 404 for a blob asked for as a manifest (most do)."""
    s = seed(fake)
    fake.blob_as_manifest_500 = False

    result = classify(client, s.arm64.config_digest)

    assert result.kind is Kind.CONFIG
    assert str(result.platform) == "linux/arm64/v8"


def test_whatis_5xx_on_a_digest_that_is_no_blob_is_an_error(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    seed(fake)
    missing = sha256_digest(b"missing")
    fake.failing.add(f"/v2/{REPO}/manifests/{missing}")

    with pytest.raises(RegistryError) as caught:
        classify(client, missing)
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_whatis_wrong_bytes_are_not_explained_away(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    media_type, _ = fake.manifests[s.arm64.digest]
    fake.manifests[s.arm64.digest] = (media_type, s.amd64.manifest)

    with pytest.raises(DigestMismatchError):
        classify(client, s.arm64.digest)


def test_whatis_tag_errors_make_the_answer_partial(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    fake.failing.add(f"/v2/{REPO}/manifests/v1-alias")

    result = classify(client, s.arm64.digest)

    assert result.kind is Kind.MANIFEST
    assert result.tags == ("v1",)
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert [(e.tag, e.digest) for e in result.errors] == [("v1-alias", None)]
    assert whatis_document(result)["errors"][0]["tag"] == "v1-alias"


def test_whatis_unreferenced_blobs_are_sniffed(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
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


def test_whatis_walks_nested_indexes(fake: MemoryRegistry, client: RegistryClient) -> None:
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
    fake: MemoryRegistry, client: RegistryClient, monkeypatch: pytest.MonkeyPatch
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


# -- issue 9: a config that is gone, and a legacy schema 1 tag beside the rest ------------


def test_whatis_manifest_whose_config_is_gone_is_a_manifest(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    image = build_image(REPO, salt="no-config")
    fake.add_image(image, "broken")
    del fake.blobs[image.config_digest]

    result = classify(client, image.digest)

    assert (result.kind, result.tags, result.exit_code) == (Kind.MANIFEST, ("broken",), ExitCode.OK)
    assert f"config blob {image.config_digest} is missing" in result.detail
    assert result.platform is None


def test_whatis_config_that_cannot_be_read_is_exit_3_with_the_answer(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    image = build_image(REPO, salt="config-500")
    fake.add_image(image, "flaky")
    fake.failing.add(f"/v2/{REPO}/blobs/{image.config_digest}")

    result = classify(client, image.digest)

    assert (result.kind, result.exit_code) == (Kind.MANIFEST, ExitCode.UNAVAILABLE)
    assert [str(e.digest) for e in result.errors] == [image.config_digest]


SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"


def _schema1(arch: str) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 1,
            "name": REPO,
            "tag": "old",
            "architecture": arch,
            "fsLayers": [{"blobSum": sha256_digest(b"legacy layer")}],
            "history": [{"v1Compatibility": '{"os": "linux"}'}],
        }
    )


def test_whatis_in_a_repository_with_a_schema1_tag(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    legacy = fake.add_manifest(_schema1("s390x"), SCHEMA1, "old")
    fake.blobs[sha256_digest(b"legacy layer")] = b"legacy layer"

    index = classify(client, s.index_digest)
    old = classify(client, legacy)
    layer = classify(client, sha256_digest(b"legacy layer"))

    assert (index.kind, index.exit_code, index.errors) == (Kind.INDEX, ExitCode.OK, ())
    assert (old.kind, str(old.platform), old.tags) == (Kind.MANIFEST, "linux/s390x", ("old",))
    assert "legacy Docker schema 1" in old.detail
    assert old.exit_code == ExitCode.OK
    assert (layer.kind, [str(p) for p in layer.parents]) == (Kind.LAYER, [legacy])
