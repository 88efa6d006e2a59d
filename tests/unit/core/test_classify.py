"""The `whatis` rules on a tag graph built by hand: no registry, no requests.

The engine fills a TagGraph from the registry; here it is filled from exact bytes
(digests computed from them), so each rule is checked on its own: which manifest
needs its config read, which blob needs its bytes, and what the answer says.
"""

from __future__ import annotations

import json

from tests.support.images import Image, Index, build_attestation, build_image, build_index
from tests.support.memory_registry import REPO, as_manifest, repo
from truedigest.core.classify import (
    Kind,
    classify_blob,
    classify_manifest,
    needs_blob_body,
    needs_config_platform,
    sniff,
)
from truedigest.core.taggraph import TagGraph, WalkError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest, Platform


def _index_manifest(index: Index) -> Manifest:
    return Manifest(REPO, index.media_type, index.body, Digest.parse(index.digest))


def _graph() -> tuple[TagGraph, Index, Image, Image, Image, Image]:
    """v1 → index(amd64, arm64, attestation of amd64); `single` → a lone docker image."""
    amd64 = build_image(REPO, salt="c")
    arm64 = build_image(REPO, arch="arm64", variant="v8", salt="c")
    att = build_attestation(amd64, repo_hint=REPO)
    index = build_index([amd64, arm64], [att])
    single = build_image(REPO, salt="lone", docker=True)
    graph = TagGraph(repo(), tag_count=2)
    graph.add_tag("v1", Digest.parse(index.digest), _index_manifest(index))
    graph.add_tag("single", Digest.parse(single.digest), as_manifest(single))
    assert graph.expand() == []  # no nested index to fetch
    return graph, index, amd64, arm64, att, single


def test_a_platform_child_takes_its_platform_and_tags_from_the_index() -> None:
    graph, index, _, arm64, _, _ = _graph()
    manifest = as_manifest(arm64)

    assert not needs_config_platform(graph, manifest)  # the index entry names it
    result = classify_manifest(graph, manifest)

    assert result.kind is Kind.MANIFEST
    assert str(result.platform) == "linux/arm64/v8"
    assert result.tags == ("v1",)
    assert [str(p) for p in result.parents] == [index.digest]
    assert result.detail == (
        f"the linux/arm64/v8 platform manifest of index {index.digest}; tags through its index: v1"
    )
    assert result.tags_checked == 2


def test_only_a_lone_image_needs_its_config_for_a_platform() -> None:
    graph, index, _, _, att, single = _graph()
    manifest = as_manifest(single)
    config = json.loads(single.config)

    assert needs_config_platform(graph, manifest)
    assert not needs_config_platform(graph, as_manifest(att))
    assert not needs_config_platform(graph, _index_manifest(index))
    result = classify_manifest(graph, manifest, config_platform=Platform.from_json(config))
    assert str(result.platform) == "linux/amd64"
    assert result.detail == "a single-platform linux/amd64 manifest; tagged single"


def test_an_attestation_names_what_it_attests_and_an_index_what_it_holds() -> None:
    graph, index, amd64, _, att, _ = _graph()

    attestation = classify_manifest(graph, as_manifest(att))
    whole = classify_manifest(graph, _index_manifest(index))

    assert attestation.kind is Kind.ATTESTATION
    assert str(attestation.attests) == amd64.digest
    assert f"for the linux/amd64 manifest {amd64.digest}" in attestation.detail
    assert whole.kind is Kind.INDEX
    assert whole.detail == "an image index (linux/amd64, linux/arm64/v8 + 1 attestation); tagged v1"


def test_blob_rules_read_bytes_only_when_nothing_else_tells() -> None:
    graph, index, amd64, _, _, _ = _graph()
    graph.add_manifest(Digest.parse(amd64.digest), as_manifest(amd64))
    config = Digest.parse(amd64.config_digest)
    layer = Digest.parse(amd64.layer_digests[0])

    config_uses = graph.uses(config)
    assert not needs_blob_body(graph, config_uses)  # the index entry gives the platform
    as_config = classify_blob(graph, config, config_uses)
    as_layer = classify_blob(graph, layer, graph.uses(layer))
    unknown = Digest.of_bytes(b"an orphan")

    assert (as_config.kind, str(as_config.platform)) == (Kind.CONFIG, "linux/amd64")
    assert [str(i) for i in as_config.indexes] == [index.digest]
    assert as_config.tags == ("v1",)
    assert as_layer.kind is Kind.LAYER
    assert needs_blob_body(graph, graph.uses(unknown))
    orphan = classify_blob(graph, unknown, [], json.loads(amd64.config))
    assert (orphan.kind, str(orphan.platform)) == (Kind.CONFIG, "linux/amd64")
    assert classify_blob(graph, unknown, [], None).kind is Kind.LAYER


def test_sniff_needs_a_json_object_that_looks_like_a_config() -> None:
    assert sniff({"architecture": "arm64", "os": "linux"})[0] is Kind.CONFIG
    assert sniff({"rootfs": {}}) == (Kind.CONFIG, None)
    assert sniff([{"architecture": "arm64"}]) == (Kind.LAYER, None)
    assert sniff(None) == (Kind.LAYER, None)


def test_expand_names_nested_indexes_once_and_unreadable_ones_as_errors() -> None:
    graph, index, *_ = _graph()
    inner = Digest.parse(index.digest)
    outer_body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": index.media_type,
            "manifests": [
                {"mediaType": index.media_type, "digest": index.digest, "size": index.size},
                {"mediaType": index.media_type, "digest": str(Digest.of_bytes(b"x")), "size": 1},
            ],
        }
    ).encode()
    outer = Manifest(REPO, index.media_type, outer_body, Digest.of_bytes(outer_body))
    broken_body = b'{"schemaVersion": 2, "mediaType": "%s", "manifests": 1}' % (
        index.media_type.encode()
    )
    broken = Manifest(REPO, index.media_type, broken_body, Digest.of_bytes(broken_body))
    graph.add_tag("outer", outer.digest, outer)
    graph.add_tag("broken", broken.digest, broken)

    nested = graph.expand()

    assert nested == [Digest.of_bytes(b"x")]  # the inner index is already known
    assert graph.missing([*nested, *nested, inner]) == [Digest.of_bytes(b"x")]
    assert graph.ancestors(Digest.parse(index.manifests[0].digest)) == [inner, outer.digest]
    assert [(e.tag, e.digest) for e in graph.errors] == [(None, broken.digest)]
    assert isinstance(graph.errors[0], WalkError)
    assert graph.expand() == []  # each index is expanded once
