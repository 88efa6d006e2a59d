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
from truedigest.sources.build.literal_digest import from_digest
from truedigest.sources.build.push_log import from_push_log


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


# --- push logs ---------------------------------------------------------------------

REF = "registry.example.com/team/app:v1"


def read_log(tmp_path: Path, text: str, image: str = REF) -> Any:
    path = write(tmp_path, "push.log", text)
    return from_push_log(path, image=parse_reference(image, default_tag=None))


def log_error(tmp_path: Path, text: str) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        read_log(tmp_path, text)
    return caught.value


@pytest.mark.parametrize(
    ("lines", "want", "line"),
    [
        pytest.param(
            [
                "#9 exporting to image",
                f"#9 exporting manifest {D1} done",
                f"#9 exporting config {D4} done",
                "#9 pushing layers 1.0s done",
                f"#9 pushing manifest for {REF}",
                f"#9 pushing manifest for {REF} 0.4s done",
            ],
            D1,
            2,
            id="single-platform",
        ),
        pytest.param(
            [
                f"#37 exporting manifest {D1} done",
                f"#37 exporting config {D4} done",
                f"#37 exporting manifest {D2} done",
                f"#37 exporting manifest list {D3} done",
                "#37 pushing layers",
                "#37 ...",
                "",
                "#38 [auth] team/app:pull,push token for registry.example.com",
                "#38 DONE 0.0s",
                "",
                f"#37 pushing manifest for {REF}",
            ],
            D3,
            4,
            id="manifest-list-after-its-platform-manifests",
        ),
        pytest.param(
            [
                f"#5 exporting manifest {D1} done",
                f"#6 exporting manifest {D2} done",
                "#6 pushing manifest for registry.example.com/team/worker:v1",
                f"#5 pushing manifest for {REF}",
            ],
            D1,
            1,
            id="the-push-step-not-the-last-step",
        ),
        pytest.param(
            [
                " => exporting to image                         4.2s",
                f" => => exporting manifest {D1}               0.0s",
                f" => => exporting manifest list {D3}          0.0s",
                f" => => exporting attestation manifest {D2}   0.0s",
                f" => => pushing manifest for {REF}            2.3s",
            ],
            D3,
            3,
            id="tty-attestation-lines-are-not-the-pushed-manifest",
        ),
        pytest.param(
            [
                f"#9 exporting manifest list {D3} done",
                f"#9 pushing manifest for {REF}@{D1}",
            ],
            D1,
            2,
            id="v0.9-push-line-digest-wins",
        ),
    ],
)
def test_buildkit_before_v0_9(tmp_path: Path, lines: list[str], want: str, line: int) -> None:
    claim = read_log(tmp_path, "\n".join(lines) + "\n")
    assert claim.digest == Digest.parse(want)
    assert claim.detail is not None
    assert claim.detail.startswith(f"line {line}: ")


def test_buildkit_before_v0_9_detail_names_both_lines(tmp_path: Path) -> None:
    claim = read_log(
        tmp_path,
        f"#9 exporting manifest list {D3} done\n#9 pushing layers\n#9 pushing manifest for {REF}\n",
    )
    assert claim.detail == (
        f"line 1: exporting manifest list {D3}; pushed as {REF} at line 3 "
        "(BuildKit before v0.9 prints the digest only on the exporting line)"
    )


def test_buildkit_before_v0_9_without_exporting_line_is_refused(tmp_path: Path) -> None:
    error = log_error(
        tmp_path,
        f"#6 exporting manifest {D1} done\n#9 pushing layers\n#9 pushing manifest for {REF}\n",
    )
    assert f"line 3 pushes {REF} without a digest" in error.message
    assert "no `exporting manifest sha256:…` line of that step precedes it" in error.message


def test_buildkit_before_v0_9_truncated_exporting_digest_is_refused(tmp_path: Path) -> None:
    error = log_error(
        tmp_path, f" => => exporting manifest {D1[:40]}\n => => pushing manifest for {REF}  2.3s\n"
    )
    assert "line 1:" in error.message
    assert "64 lowercase hex" in error.message


CONTAINERS_LOGS = {
    "podman-push": [
        "Getting image source signatures",
        f"Copying blob {D1}",
        f"Copying config {D2}",
        "Writing manifest to image destination",
        "Storing signatures",
    ],
    "podman-manifest-push": [
        "Getting image list signatures",
        "Copying 2 of 2 images in list",
        f"Copying image {D1} (1/2)",
        "Writing manifest list to image destination",
        "Storing list signatures",
    ],
}


@pytest.mark.parametrize("lines", CONTAINERS_LOGS.values(), ids=CONTAINERS_LOGS.keys())
def test_containers_tool_log_hint_names_digest_file(tmp_path: Path, lines: list[str]) -> None:
    error = log_error(tmp_path, "\n".join(lines) + "\n")
    assert "no `<tag>: digest:" in error.message
    hint = error.instance_hint or ""
    assert "--digest-file FILE" in hint
    assert "--digestfile FILE" in hint
    assert "skopeo copy" in hint


def test_podman_build_log_hint_names_image_id_and_digest_file(tmp_path: Path) -> None:
    hexid = D4.removeprefix("sha256:")
    text = f"STEP 1/2: FROM scratch\nSTEP 2/2: COPY a /a\nCOMMIT {REF}\n--> {hexid[:11]}\n{hexid}\n"
    hint = log_error(tmp_path, text).instance_hint or ""
    assert "image ID" in hint
    assert "--digest-file FILE" in hint


def test_other_text_keeps_the_docker_push_hint(tmp_path: Path) -> None:
    hint = log_error(tmp_path, "nothing was pushed\n").instance_hint or ""
    assert "docker push" in hint
    assert "--digest-file" not in hint


# --- --build-digest ----------------------------------------------------------------


def test_bare_64_hex_build_digest_is_called_an_image_id() -> None:
    """`podman build` ends with the image ID as bare hex: never read as a pushed digest."""
    with pytest.raises(InputFileError) as caught:
        from_digest(D4.removeprefix("sha256:"))
    assert "image ID" in caught.value.message
    assert "--digest-file FILE" in (caught.value.instance_hint or "")
