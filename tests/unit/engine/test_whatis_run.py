"""`whatis` over an in-memory registry: every kind, request budgets, partial answers."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest

from tests.support.images import OCI_INDEX, Image, build_image, canonical_json, sha256_digest
from tests.support.memory_registry import REG, REPO, MemoryRegistry, repo, seed
from truedigest.core.classify import Kind
from truedigest.core.shortdigest import DigestPrefix, parse_digest_or_prefix
from truedigest.engine.whatis_run import whatis
from truedigest.errors import (
    AmbiguousDigestError,
    DigestMismatchError,
    ExitCode,
    InvalidDigestError,
    NotFoundError,
    RegistryError,
)
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

    # GET the digest, list tags, GET each tag; the platform comes from the index entry;
    # then its config (no revision annotation: the revision label is looked for)
    assert fake.calls[:2] == [
        f"GET /v2/{REPO}/manifests/{s.arm64.digest}",
        f"GET /v2/{REPO}/tags/list",
    ]
    assert sorted(fake.calls[2:-1]) == sorted(f"GET /v2/{REPO}/manifests/{t}" for t in fake.tags)
    assert fake.calls[-1] == f"GET /v2/{REPO}/blobs/{s.arm64.config_digest}"


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
    piped, tty, no_color = io.StringIO(), _Tty(), _Tty()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")

    print_tree(whatis_tree(result), piped)
    print_tree(whatis_tree(result), tty)
    monkeypatch.setenv("NO_COLOR", "1")
    print_tree(whatis_tree(result), no_color)

    assert piped.getvalue() == render_plain(whatis_tree(result))
    assert piped.getvalue().startswith(f"{s.arm64.digest}  manifest  in {REG}/{REPO}\n")
    assert "  platform: linux/arm64/v8\n" in piped.getvalue()
    assert "\x1b" not in piped.getvalue()
    assert "├── " in tty.getvalue()
    assert s.arm64.digest in tty.getvalue()
    assert "\x1b" not in no_color.getvalue()
    assert "├" not in no_color.getvalue()
    assert "  platform: linux/arm64/v8\n" in no_color.getvalue()


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


# -- issue 11: a short digest (a unique hex prefix of at least 12 characters) -------------

# Two layer bodies whose sha256 digests share their first 12 hex characters, found
# offline by a birthday search over `truedigest short digest <n>`; the test below
# recomputes both digests and checks the shared prefix.
TWINS = (b"truedigest short digest 11764710", b"truedigest short digest 30903001")


def twin_image(base: Image, layer: bytes) -> Image:
    """`base` with `layer` as its only layer (new manifest bytes, new digest)."""
    doc = json.loads(base.manifest)
    layer_digest = sha256_digest(layer)
    doc["layers"] = [
        {"mediaType": base.layer_media_type, "digest": layer_digest, "size": len(layer)}
    ]
    body = canonical_json(doc)
    return replace(
        base,
        layers=(layer,),
        layer_digests=(layer_digest,),
        manifest=body,
        digest=sha256_digest(body),
    )


def short(digest: str, n: int = 12) -> str:
    algorithm, hex_part = digest.split(":")
    return f"{algorithm}:{hex_part[:n]}"


def ask(client: RegistryClient, text: str) -> Any:
    return whatis(client, repo(), parse_digest_or_prefix(text))


def test_a_short_digest_is_parsed_as_a_prefix_and_a_full_one_as_a_digest() -> None:
    full = sha256_digest(b"x")
    assert parse_digest_or_prefix(full) == Digest.parse(full)
    assert parse_digest_or_prefix(full.removeprefix("sha256:")) == Digest.parse(full)
    assert parse_digest_or_prefix(short(full)) == DigestPrefix("sha256", full[7:19])
    assert parse_digest_or_prefix(full[7:20]) == DigestPrefix(None, full[7:20])
    for bad in (
        "sha256:1234",
        full[7:18],
        "sha256:" + full[7:18],
        "md5:" + full[7:30],
        "ABCDEF012345",
    ):
        with pytest.raises(InvalidDigestError) as caught:
            parse_digest_or_prefix(bad)
        assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("form", ["prefixed", "bare", "longer"])
def test_a_short_digest_answers_as_the_full_one(
    fake: MemoryRegistry, client: RegistryClient, form: str
) -> None:
    s = seed(fake)
    text = {
        "prefixed": short(s.arm64.digest),
        "bare": s.arm64.digest[7:19],
        "longer": short(s.arm64.digest, 30),
    }[form]

    by_prefix = ask(client, text)
    budget = len(fake.calls)
    by_digest = classify(client, s.arm64.digest)

    assert whatis_document(by_prefix) == whatis_document(by_digest)
    assert by_prefix.kind is Kind.MANIFEST
    assert str(by_prefix.platform) == "linux/arm64/v8"
    # the listing, one GET per tag, the child named by the prefix, its config (the
    # revision label): nothing twice
    assert budget == 1 + len(fake.tags) + 1 + 1


def test_a_short_digest_finds_configs_layers_and_indexes(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)

    index = ask(client, short(s.index_digest))
    fake.calls.clear()
    config = ask(client, short(s.arm64.config_digest))
    config_calls = list(fake.calls)
    layer = ask(client, short(s.single.layer_digests[0]))

    assert (index.kind, str(index.digest)) == (Kind.INDEX, s.index_digest)
    assert (config.kind, str(config.digest)) == (Kind.CONFIG, s.arm64.config_digest)
    assert str(config.platform) == "linux/arm64/v8"
    assert (layer.kind, str(layer.digest), layer.tags) == (
        Kind.LAYER,
        s.single.layer_digests[0],
        ("single",),
    )
    # a config named by a prefix is known as a blob: no GET as a manifest, no HEAD
    assert not any(s.arm64.config_digest in call for call in config_calls)


def test_an_ambiguous_short_digest_lists_its_candidates(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    first, second = (sha256_digest(t) for t in TWINS)
    assert first != second
    assert short(first) == short(second)  # the twins share 12 hex characters
    for i, twin in enumerate(TWINS):
        image = twin_image(build_image(REPO, salt=f"twin-{i}"), twin)
        fake.add_image(image, f"twin-{i}")

    with pytest.raises(AmbiguousDigestError) as caught:
        ask(client, short(first))
    unique = ask(client, short(second, 13))

    assert caught.value.exit_code == ExitCode.USAGE
    assert f"short digest {short(first)} is ambiguous" in caught.value.message
    assert f"{first} (layer, tags twin-0)" in caught.value.message
    assert f"{second} (layer, tags twin-1)" in caught.value.message
    assert (unique.kind, str(unique.digest), unique.tags) == (Kind.LAYER, second, ("twin-1",))


def test_an_ambiguous_list_is_bounded(fake: MemoryRegistry, client: RegistryClient) -> None:
    """Every digest starts with `sha256:` + some hex; a bare prefix of 12 equal
    characters is never ambiguous by chance, so the bound is checked on the rule."""
    from truedigest.core.shortdigest import SHOWN_CANDIDATES, Candidate, Role, ambiguous

    found = [Candidate(Digest.of_bytes(bytes([i])), Role.MANIFEST) for i in range(12)]
    error = ambiguous(DigestPrefix("sha256", "0" * 12), "reg.example/team/app", found)

    assert error.message.count("sha256:") == 1 + SHOWN_CANDIDATES
    assert error.message.endswith(f"; and {12 - SHOWN_CANDIDATES} more")


def test_a_short_digest_nothing_starts_with_is_absent(
    fake: MemoryRegistry, client: RegistryClient
) -> None:
    s = seed(fake)
    nothing = "sha256:" + "f" * 12
    assert not any(d.startswith(nothing) for d in [*fake.manifests, *fake.blobs])

    with pytest.raises(NotFoundError) as caught:
        ask(client, nothing)

    assert caught.value.exit_code == ExitCode.ABSENT
    assert f"starts with {nothing}" in caught.value.message
    # the walk widened to every child before it gave up
    assert f"GET /v2/{REPO}/manifests/{s.attestation.digest}" in fake.calls
