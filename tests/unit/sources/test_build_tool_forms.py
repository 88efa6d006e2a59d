"""Build outputs as every tool really writes them (issue 9 item 4).

- `docker buildx imagetools create --metadata-file`: only `containerimage.descriptor`;
- the docker driver's metadata, whose `containerimage.digest` is the image ID;
- podman/buildah/skopeo push logs, which print no digest (the hint names --digest-file);
- BuildKit before v0.9: `pushing manifest for REF` without `@sha256`, the digest only on
  the `exporting manifest [list] sha256:…` lines before it.

Digests are computed here from bytes (`hashlib`), never typed by hand.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from truedigest.errors import InputFileError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_reference
from truedigest.sources.build.buildx_metadata import IMAGE_ID_NOTE, from_metadata


def sha(label: str) -> str:
    return f"sha256:{hashlib.sha256(label.encode()).hexdigest()}"


D1, D2, D3, D4 = sha("one"), sha("two"), sha("three"), sha("four")
IMAGE = parse_reference("registry.example.com/team/app:v1")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def descriptor(digest: object, size: int = 4654) -> dict[str, Any]:
    return {"mediaType": OCI_INDEX, "digest": digest, "size": size}


# --- buildx metadata ---------------------------------------------------------------


def test_imagetools_create_descriptor_only(tmp_path: Path) -> None:
    """`imagetools create --metadata-file` writes the descriptor and image.name only."""
    doc = {"containerimage.descriptor": descriptor(D1), "image.name": "docker.io/user/app"}
    path = write(tmp_path, "md.json", json.dumps(doc, indent=2))
    claim = from_metadata(path, image=IMAGE, target=None)
    assert claim.digest == Digest.parse(D1)
    assert (claim.media_type, claim.size, claim.detail) == (OCI_INDEX, 4654, None)


def test_bake_target_with_descriptor_only_is_chosen(tmp_path: Path) -> None:
    doc = {
        "buildx.build.warnings": [],
        "lint": {"buildx.build.ref": "b/b0/lint"},
        "app": {"containerimage.descriptor": descriptor(D2)},
    }
    path = write(tmp_path, "bake.json", json.dumps(doc))
    claim = from_metadata(path, image=IMAGE, target=None)
    assert claim.digest == Digest.parse(D2)
    assert claim.detail == "target 'app' of a bake metadata file"
    by_target = from_metadata(path, image=IMAGE, target="app")
    assert by_target.digest == Digest.parse(D2)


@pytest.mark.parametrize(
    ("doc", "fragments"),
    [
        pytest.param(
            {"containerimage.descriptor": {"mediaType": OCI_INDEX, "size": 1}},
            ["no 'containerimage.digest' (nor a 'containerimage.descriptor' digest)"],
            id="descriptor-without-digest",
        ),
        pytest.param(
            {"containerimage.descriptor": descriptor(7)},
            ["'containerimage.descriptor' digest is a JSON number, not a string"],
            id="descriptor-digest-number",
        ),
        pytest.param(
            {"containerimage.descriptor": descriptor(D1[:-1])},
            ["'containerimage.descriptor' digest", "64 lowercase hex"],
            id="descriptor-digest-short",
        ),
        pytest.param(
            {"containerimage.digest": D1, "containerimage.descriptor": descriptor(D2)},
            [
                "disagrees",
                f"'containerimage.descriptor' digest {D2}",
                f"'containerimage.digest' {D1}",
            ],
            id="both-disagree-named",
        ),
        pytest.param(
            {"lint": {"buildx.build.ref": "b"}, "app": {"containerimage.descriptor": {}}},
            ["no bake target has 'containerimage.digest' or a 'containerimage.descriptor' digest"],
            id="bake-descriptor-without-digest",
        ),
    ],
)
def test_descriptor_errors(tmp_path: Path, doc: dict[str, Any], fragments: list[str]) -> None:
    path = write(tmp_path, "md.json", json.dumps(doc))
    with pytest.raises(InputFileError) as caught:
        from_metadata(path, image=IMAGE, target=None)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_docker_driver_image_id_is_named(tmp_path: Path) -> None:
    """The docker driver writes the image ID as containerimage.digest (equal to the
    config digest): the claim says so before the registry is asked."""
    doc = {
        "buildx.build.ref": "default/default/x",
        "containerimage.config.digest": D3,
        "containerimage.digest": D3,
        "image.name": "registry.example.com/team/app:v1",
    }
    path = write(tmp_path, "md.json", json.dumps(doc))
    claim = from_metadata(path, image=IMAGE, target=None)
    assert claim.digest == Digest.parse(D3)
    assert claim.detail == IMAGE_ID_NOTE
    assert "image ID" in IMAGE_ID_NOTE


def test_docker_driver_image_id_in_a_bake_target(tmp_path: Path) -> None:
    doc = {"app": {"containerimage.config.digest": D3, "containerimage.digest": D3}}
    path = write(tmp_path, "bake.json", json.dumps(doc))
    claim = from_metadata(path, image=IMAGE, target=None)
    assert claim.detail == f"target 'app' of a bake metadata file; {IMAGE_ID_NOTE}"


def test_a_manifest_digest_beside_its_config_digest_is_not_an_image_id(tmp_path: Path) -> None:
    doc = {"containerimage.config.digest": D3, "containerimage.digest": D1}
    path = write(tmp_path, "md.json", json.dumps(doc))
    assert from_metadata(path, image=IMAGE, target=None).detail is None
