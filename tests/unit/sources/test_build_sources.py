"""Build sources: each format valid, then its malformed variants, table-driven.

Digests are computed here from bytes (`hashlib`), never typed by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from truedigest.errors import ExitCode, InputFileError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources.build.build_claim import BuildClaim
from truedigest.sources.build.buildx_metadata import from_metadata
from truedigest.sources.build.digest_file import from_digest_file
from truedigest.sources.build.literal_digest import from_digest
from truedigest.sources.build.oci_layout import from_oci_layout
from truedigest.sources.build.push_log import from_push_log
from truedigest.sources.reading import MAX_INPUT_BYTES


def sha(label: str) -> str:
    return f"sha256:{hashlib.sha256(label.encode()).hexdigest()}"


def sha512(label: str) -> str:
    return f"sha512:{hashlib.sha512(label.encode()).hexdigest()}"


D1, D2, D3 = sha("one"), sha("two"), sha("three")
HEX1 = D1.removeprefix("sha256:")
IMAGE = parse_reference("registry.example.com/team/app:v1")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

Content = str | bytes | None  # None: do not create the file


def write(tmp_path: Path, name: str, content: Content) -> Path:
    path = tmp_path / name
    if content is None:
        return path
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def assert_input_error(exc: InputFileError, names: str, *fragments: str) -> None:
    assert exc.exit_code == ExitCode.USAGE
    assert int(exc.exit_code) == 2
    assert names in exc.message
    assert "\n" not in exc.message
    assert exc.instance_hint
    for fragment in fragments:
        assert fragment in exc.message


# --- --build-digest -------------------------------------------------------------------


@pytest.mark.parametrize("text", [D1, f"  {D1}\n", sha512("one")])
def test_from_digest_valid(text: str) -> None:
    claim = from_digest(text)
    assert claim == BuildClaim(kind="digest", digest=Digest.parse(text), where="--build-digest")
    assert claim.source_id == "build:digest"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "malformed"),
        (D1.upper(), "malformed"),
        (D1[:-1], "64 lowercase hex"),
        (D1 + "0", "64 lowercase hex"),
        (f"md5:{HEX1}", "unsupported"),
        (f"registry.example.com/team/app@{D1}", "is a reference"),
    ],
)
def test_from_digest_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InputFileError) as info:
        from_digest(text)
    assert_input_error(info.value, "--build-digest", fragment)


# --- --build-metadata -----------------------------------------------------------------


def single_build(digest: str, **extra: Any) -> dict[str, Any]:
    return {
        "buildx.build.ref": "builder/builder0/0fjb6ubs52xx3vygf6fgdl611",
        "containerimage.config.digest": sha("config"),
        "containerimage.digest": digest,
        **extra,
    }


def descriptor(digest: str, media_type: str = OCI_INDEX, size: int = 1609) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


@pytest.mark.parametrize(
    ("doc", "image", "target", "want", "detail", "media_type", "size"),
    [
        pytest.param(single_build(D1), IMAGE, None, D1, None, None, None, id="build"),
        pytest.param(
            single_build(D1, **{"containerimage.descriptor": descriptor(D1)}),
            IMAGE,
            None,
            D1,
            None,
            OCI_INDEX,
            1609,
            id="build-with-descriptor",
        ),
        pytest.param(
            single_build(D1, **{"image.name": "registry.example.com/other:v9"}),
            IMAGE,
            "app",
            D1,
            None,
            None,
            None,
            id="build-ignores-build-target",
        ),
        pytest.param(
            {
                "buildx.build.warnings": [{"vertex": sha("v"), "level": 1}],
                "lint": {"buildx.build.ref": "builder/builder0/lint"},
                "app": single_build(D2, **{"containerimage.descriptor": descriptor(D2)}),
            },
            IMAGE,
            None,
            D2,
            "target 'app' of a bake metadata file",
            OCI_INDEX,
            1609,
            id="bake-one-target-with-digest",
        ),
        pytest.param(
            {
                "app": single_build(D1, **{"image.name": "registry.example.com/team/app:v1"}),
                "worker": single_build(D2, **{"image.name": "registry.example.com/team/worker:v1"}),
            },
            IMAGE,
            None,
            D1,
            "target 'app' of a bake metadata file",
            None,
            None,
            id="bake-by-image-name",
        ),
        pytest.param(
            {
                "app": single_build(
                    D1,
                    **{"image.name": "not a ref,registry.example.com/team/app:v1,UPPER/x"},
                ),
                "worker": single_build(D2, **{"image.name": "ghcr.io/team/app:v1"}),
            },
            IMAGE,
            None,
            D1,
            "target 'app' of a bake metadata file",
            None,
            None,
            id="bake-by-image-name-list-with-junk-and-other-registry",
        ),
        pytest.param(
            {
                "amd64": single_build(D1, **{"image.name": "registry.example.com/team/app:v1"}),
                "arm64": single_build(
                    D2, **{"image.name": "registry.example.com/team/app:v1-arm64"}
                ),
            },
            IMAGE,
            None,
            D1,
            "target 'amd64' of a bake metadata file",
            None,
            None,
            id="bake-same-repository-narrowed-by-tag",
        ),
        pytest.param(
            {
                "web": single_build(D1, **{"image.name": "docker.io/library/nginx:1.27"}),
                "api": single_build(D2, **{"image.name": "team/api:1"}),
            },
            parse_reference("nginx:1.27"),
            None,
            D1,
            "target 'web' of a bake metadata file",
            None,
            None,
            id="bake-docker-hub-normalised",
        ),
        pytest.param(
            {
                "app": single_build(D1, **{"image.name": "registry.example.com/team/app:v1"}),
                "app-debug": single_build(D2, **{"image.name": "registry.example.com/team/app:v1"}),
            },
            IMAGE,
            "app-debug",
            D2,
            "target 'app-debug' of a bake metadata file",
            None,
            None,
            id="bake-by-build-target",
        ),
    ],
)
def test_from_metadata_valid(
    tmp_path: Path,
    doc: dict[str, Any],
    image: ImageRef,
    target: str | None,
    want: str,
    detail: str | None,
    media_type: str | None,
    size: int | None,
) -> None:
    path = write(tmp_path, "metadata.json", json.dumps(doc, indent=2))
    claim = from_metadata(path, image=image, target=target)
    assert claim == BuildClaim(
        kind="metadata",
        digest=Digest.parse(want),
        where=str(path),
        detail=detail,
        media_type=media_type,
        size=size,
    )
    assert claim.source_id == "build:metadata"


def _bake_two_same_repo() -> dict[str, Any]:
    name = "registry.example.com/team/app:v1"
    return {
        "app": single_build(D1, **{"image.name": name}),
        "app-debug": single_build(D2, **{"image.name": name}),
    }


@pytest.mark.parametrize(
    ("content", "target", "fragments"),
    [
        pytest.param(None, None, ["no such file"], id="missing"),
        pytest.param("", None, ["is empty"], id="empty"),
        pytest.param(" \n\t\n", None, ["is empty"], id="blank"),
        pytest.param("{'containerimage.digest': 1", None, ["not JSON"], id="not-json"),
        pytest.param(b"\x00\x01{}", None, ["binary"], id="binary"),
        pytest.param(b'{"a": "\xff"}', None, ["not UTF-8"], id="not-utf8"),
        pytest.param("[" * 100_000, None, ["JSON"], id="deeply-nested"),
        pytest.param(json.dumps([D1]), None, ["array, not an object"], id="array"),
        pytest.param(json.dumps({}), None, ["no 'containerimage.digest'"], id="empty-object"),
        pytest.param(
            json.dumps({"buildx.build.ref": "b/b0/x"}),
            None,
            ["no 'containerimage.digest'"],
            id="build-without-image",
        ),
        pytest.param(
            json.dumps({"containerimage.digest": 42}),
            None,
            ["number, not a string"],
            id="digest-not-string",
        ),
        pytest.param(
            json.dumps({"containerimage.digest": D1[:-2]}),
            None,
            ["'containerimage.digest'", "64 lowercase hex"],
            id="digest-short",
        ),
        pytest.param(
            json.dumps({"containerimage.digest": D1.upper()}),
            None,
            ["malformed"],
            id="digest-uppercase",
        ),
        pytest.param(
            json.dumps(single_build(D1, **{"containerimage.descriptor": descriptor(D2)})),
            None,
            ["disagrees", D1, D2],
            id="descriptor-disagrees",
        ),
        pytest.param(
            json.dumps(single_build(D1, **{"containerimage.descriptor": [D1]})),
            None,
            ["'containerimage.descriptor' is a JSON array"],
            id="descriptor-not-object",
        ),
        pytest.param(
            json.dumps(single_build(D1, **{"containerimage.descriptor": descriptor("sha256:x")})),
            None,
            ["'containerimage.descriptor' digest"],
            id="descriptor-digest-malformed",
        ),
        pytest.param(
            json.dumps({"lint": {"buildx.build.ref": "b/b0/x"}}),
            None,
            ["no bake target has", "'lint'"],
            id="bake-no-digest",
        ),
        pytest.param(
            json.dumps(
                {
                    "app": {"containerimage.digest": D1, "image.name": "ghcr.io/x/app:v1"},
                    "worker": {"containerimage.digest": D2, "image.name": "ghcr.io/x/w:v1"},
                }
            ),
            None,
            ["2 bake targets", "none name registry.example.com/team/app", "'app', 'worker'"],
            id="bake-no-target-names-image",
        ),
        pytest.param(
            json.dumps(
                {
                    "app": {"containerimage.digest": D1},
                    "worker": {"containerimage.digest": D2},
                }
            ),
            None,
            ["none name", "'app', 'worker'"],
            id="bake-without-image-names",
        ),
        pytest.param(
            json.dumps(_bake_two_same_repo()),
            None,
            ["several name registry.example.com/team/app", "'app', 'app-debug'"],
            id="bake-several-targets-name-image",
        ),
        pytest.param(
            json.dumps(_bake_two_same_repo()),
            "web",
            ["no bake target 'web'", "'app', 'app-debug'"],
            id="bake-unknown-target",
        ),
        pytest.param(
            json.dumps({"lint": {"buildx.build.ref": "b"}, "app": {"containerimage.digest": D1}}),
            "lint",
            ["bake target 'lint' has no 'containerimage.digest'"],
            id="bake-target-without-digest",
        ),
        pytest.param(
            json.dumps({"app": {"containerimage.digest": "sha256:abc"}}),
            None,
            ["(target 'app')", "64 lowercase hex"],
            id="bake-target-digest-malformed",
        ),
    ],
)
def test_from_metadata_invalid(
    tmp_path: Path, content: Content, target: str | None, fragments: list[str]
) -> None:
    path = write(tmp_path, "metadata.json", content)
    with pytest.raises(InputFileError) as info:
        from_metadata(path, image=IMAGE, target=target)
    assert_input_error(info.value, str(path), *fragments)


def test_from_metadata_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        from_metadata(tmp_path, image=IMAGE, target=None)
    assert_input_error(info.value, str(tmp_path), "is a directory")


def test_from_metadata_too_large_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(MAX_INPUT_BYTES + 1)  # sparse: no 16 MiB written or read
    with pytest.raises(InputFileError) as info:
        from_metadata(path, image=IMAGE, target=None)
    assert_input_error(info.value, str(path), "16 MiB")


def test_from_metadata_accepts_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", b"\xef\xbb\xbf" + json.dumps(single_build(D1)).encode())
    assert from_metadata(path, image=IMAGE, target=None).digest == Digest.parse(D1)


# --- --build-log ----------------------------------------------------------------------


def push_lines(repo: str, *entries: tuple[str, str, int]) -> str:
    out = [f"The push refers to repository [{repo}]"]
    out += [f"{sha('layer')[7:19]}: Pushed", "latest: Pushed"]
    out += [f"{tag}: digest: {digest} size: {size}" for tag, digest, size in entries]
    return "\n".join(out) + "\n"


REPO = "registry.example.com/team/app"


@pytest.mark.parametrize(
    ("log", "image", "want", "size", "line"),
    [
        pytest.param(push_lines(REPO, ("v1", D1, 1234)), IMAGE, D1, 1234, 4, id="docker-push"),
        pytest.param(
            f"2024-05-01T12:00:00.1234567Z v1: digest: {D1} size: 528\n",
            IMAGE,
            D1,
            528,
            1,
            id="ci-timestamp-prefix",
        ),
        pytest.param(
            f"#12 v1: digest: {D1} size: 528\r\n#12 DONE 0.4s\r\n",
            IMAGE,
            D1,
            528,
            1,
            id="buildkit-prefix-crlf",
        ),
        pytest.param(
            f"\x1b[36m2024-05-01T12:00:00Z\x1b[0m \x1b[1mv1\x1b[0m: digest: {D1} size: 6\n",
            IMAGE,
            D1,
            6,
            1,
            id="ansi-colour",
        ),
        pytest.param(
            f"abc: Pushing [=>  ]\rabc: Pushing [==>]\rabc: Pushed\nv1: digest: {D1} size: 6\n",
            IMAGE,
            D1,
            6,
            2,
            id="tty-carriage-returns-keep-line-numbers",
        ),
        pytest.param(
            push_lines(REPO, ("latest", D2, 1), ("v1", D1, 2), ("sha-1a2b3c4", D3, 3)),
            IMAGE,
            D1,
            2,
            5,
            id="several-tags-pick-by-tag",
        ),
        pytest.param(
            push_lines(REPO, ("latest", D2, 10)),
            IMAGE,
            D2,
            10,
            4,
            id="single-entry-other-tag",
        ),
        pytest.param(
            push_lines(REPO, ("latest", D2, 10)) + push_lines(REPO, ("latest", D2, 10)),
            IMAGE,
            D2,
            10,
            8,
            id="same-entry-twice",
        ),
        pytest.param(
            push_lines(REPO, ("v1", D2, 10)) + push_lines(REPO, ("v1", D1, 11)),
            IMAGE,
            D1,
            11,
            8,
            id="tag-pushed-twice-last-wins",
        ),
        pytest.param(
            push_lines("registry.example.com/team/worker", ("v1", D2, 10))
            + push_lines(REPO, ("v1", D1, 11)),
            IMAGE,
            D1,
            11,
            8,
            id="repository-header-narrows",
        ),
        pytest.param(
            push_lines("127.0.0.1:5000/team/app", ("v1", D1, 11)),
            IMAGE,
            D1,
            11,
            4,
            id="repository-alias-still-used",
        ),
        pytest.param(
            f"#15 pushing manifest for {REPO}:v1@{D1} 0.1s done\n"
            f"#15 pushing manifest for {REPO}:latest@{D1} 0.0s done\n",
            IMAGE,
            D1,
            None,
            1,
            id="buildkit-pushing-manifest",
        ),
        pytest.param(
            f"#15 pushing manifest for registry.example.com/team/worker:v1@{D2} 0.1s done\n"
            f"#16 pushing manifest for {REPO}:v1@{D1} 0.1s done\n",
            IMAGE,
            D1,
            None,
            2,
            id="buildkit-pushing-manifest-by-repository",
        ),
        pytest.param(
            push_lines("docker.io/library/nginx", ("1.27", D1, 7)),
            parse_reference("nginx:1.27"),
            D1,
            7,
            4,
            id="docker-hub",
        ),
        pytest.param(
            f"v1: digest: {sha512('x')} size: 9\n",
            IMAGE,
            sha512("x"),
            9,
            1,
            id="sha512",
        ),
    ],
)
def test_from_push_log_valid(
    tmp_path: Path, log: str, image: ImageRef, want: str, size: int | None, line: int
) -> None:
    path = write(tmp_path, "push.log", log)
    claim = from_push_log(path, image=image)
    assert (claim.kind, claim.digest, claim.where, claim.size) == (
        "log",
        Digest.parse(want),
        str(path),
        size,
    )
    assert claim.detail is not None
    assert claim.detail.startswith(f"line {line}: ")
    assert want in claim.detail
    assert claim.source_id == "build:log"


def test_from_push_log_utf16_powershell(tmp_path: Path) -> None:
    path = write(tmp_path, "push.log", f"v1: digest: {D1} size: 1\r\n".encode("utf-16"))
    assert from_push_log(path, image=IMAGE).digest == Digest.parse(D1)


@pytest.mark.parametrize(
    ("content", "image", "fragments"),
    [
        pytest.param(None, IMAGE, ["no such file"], id="missing"),
        pytest.param("", IMAGE, ["no `<tag>: digest"], id="empty"),
        pytest.param(b"\x00\x00\x00", IMAGE, ["binary"], id="binary"),
        pytest.param(b"v1: \xc3\x28", IMAGE, ["not UTF-8"], id="not-utf8"),
        pytest.param(
            "Using default tag: latest\nlatest: Pushed\nError: denied\n",
            IMAGE,
            ["no `<tag>: digest: sha256:… size: N` line"],
            id="no-entry",
        ),
        pytest.param(
            push_lines(REPO, ("latest", D1, 1), ("v2", D2, 2)),
            IMAGE,
            ["2 pushes", "latest, v2", "tag 'v1'"],
            id="several-tags-none-expected",
        ),
        pytest.param(
            push_lines(REPO, ("latest", D1, 1), ("v2", D2, 2)),
            parse_reference(f"{REPO}@{D3}"),
            ["2 pushes", "latest, v2", "--image has no tag"],
            id="several-tags-image-by-digest",
        ),
        pytest.param(
            f"v1: digest: {D1[:-3]} size: 5\n",
            IMAGE,
            ["line 1", "64 lowercase hex"],
            id="malformed-digest",
        ),
        pytest.param(
            f"ok\nv1: digest: {D1.upper()} size: 5\n",
            IMAGE,
            ["line 2", "malformed"],
            id="uppercase-digest",
        ),
        pytest.param(
            f"#15 pushing manifest for {REPO}:v1@sha256:{'0' * 12} done\n",
            IMAGE,
            ["line 1"],
            id="buildkit-malformed-digest",
        ),
    ],
)
def test_from_push_log_invalid(
    tmp_path: Path, content: Content, image: ImageRef, fragments: list[str]
) -> None:
    path = write(tmp_path, "push.log", content)
    with pytest.raises(InputFileError) as info:
        from_push_log(path, image=image)
    assert_input_error(info.value, str(path), *fragments)


# --- --digest-file --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [D1, f"{D1}\n", f"\n  {D1}  \r\n", sha512("one"), b"\xef\xbb\xbf" + D1.encode()],
)
def test_from_digest_file_valid(tmp_path: Path, content: str | bytes) -> None:
    path = write(tmp_path, "digest", content)
    claim = from_digest_file(path)
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    assert claim == BuildClaim(
        kind="digest-file", digest=Digest.parse(text.strip()), where=str(path)
    )
    assert claim.source_id == "build:digest-file"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(None, ["no such file"], id="missing"),
        pytest.param("", ["is empty"], id="empty"),
        pytest.param("\n\n", ["is empty"], id="blank"),
        pytest.param(f"{D1}\n{D2}\n", ["2 words"], id="two-digests"),
        pytest.param(f"registry.example.com/team/app@{D1}", ["malformed"], id="reference"),
        pytest.param(D1[:-1], ["64 lowercase hex"], id="short"),
        pytest.param(D1.upper(), ["malformed"], id="uppercase"),
        pytest.param(HEX1, ["malformed"], id="no-algorithm"),
        pytest.param(b"\x00" + D1.encode(), ["binary"], id="binary"),
    ],
)
def test_from_digest_file_invalid(tmp_path: Path, content: Content, fragments: list[str]) -> None:
    path = write(tmp_path, "digest", content)
    with pytest.raises(InputFileError) as info:
        from_digest_file(path)
    assert_input_error(info.value, str(path), *fragments)


def test_from_digest_file_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        from_digest_file(tmp_path)
    assert_input_error(info.value, str(tmp_path), "is a directory")


# --- --oci-layout ---------------------------------------------------------------------


def entry(digest: str, ref_name: str | None = None, **annotations: str) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": OCI_INDEX, "digest": digest, "size": len(digest) * 3}
    notes = dict(annotations)
    if ref_name is not None:
        notes["org.opencontainers.image.ref.name"] = ref_name
    if notes:
        desc["annotations"] = notes
    return desc


def make_layout(
    root: Path,
    manifests: object,
    *,
    marker: Content = '{"imageLayoutVersion": "1.0.0"}',
    index: Content | None = None,
) -> Path:
    root.mkdir()
    if marker is not None:
        write(root, "oci-layout", marker)
    if index is None:
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    write(root, "index.json", index)
    (root / "blobs" / "sha256").mkdir(parents=True)
    return root


CONTAINERD = "io.containerd.image.name"


@pytest.mark.parametrize(
    ("manifests", "image", "want", "detail"),
    [
        pytest.param([entry(D1, "v1")], IMAGE, D1, "ref.name v1", id="short-ref-name"),
        pytest.param(
            [entry(D2, "latest"), entry(D1, "v1"), entry(D3, "v2")],
            IMAGE,
            D1,
            "ref.name v1",
            id="several-short-ref-names",
        ),
        pytest.param(
            [entry(D2, f"{REPO}:latest"), entry(D1, f"{REPO}:v1")],
            IMAGE,
            D1,
            f"ref.name {REPO}:v1",
            id="full-ref-names",
        ),
        pytest.param(
            [entry(D2, "ghcr.io/team/app:v1"), entry(D1, f"{REPO}:v1")],
            IMAGE,
            D1,
            f"ref.name {REPO}:v1",
            id="full-ref-name-repository-wins",
        ),
        pytest.param(
            [entry(D2, "latest", **{CONTAINERD: f"{REPO}:latest"}), entry(D1, "v1")],
            IMAGE,
            D1,
            "ref.name v1",
            id="containerd-annotation-present",
        ),
        pytest.param(
            [
                entry(D2, "v1", **{CONTAINERD: "registry.example.com/team/worker:v1"}),
                entry(D1, "v1", **{CONTAINERD: f"{REPO}:v1"}),
            ],
            IMAGE,
            D1,
            "ref.name v1",
            id="containerd-annotation-picks-repository",
        ),
        pytest.param([entry(D1)], IMAGE, D1, "manifests[0]", id="single-without-ref-name"),
        pytest.param([entry(D1, "main")], IMAGE, D1, "ref.name main", id="single-other-tag"),
        pytest.param(
            [entry(D1, "v1"), entry(D1, f"{REPO}:v1")],
            IMAGE,
            D1,
            f"ref.name {REPO}:v1",
            id="same-digest-twice-full-name-first",
        ),
    ],
)
def test_from_oci_layout_valid(
    tmp_path: Path, manifests: list[dict[str, Any]], image: ImageRef, want: str, detail: str
) -> None:
    root = make_layout(tmp_path / "layout", manifests)
    claim = from_oci_layout(root, image=image)
    assert claim == BuildClaim(
        kind="oci-layout",
        digest=Digest.parse(want),
        where=str(root),
        detail=detail,
        media_type=OCI_INDEX,
        size=len(want) * 3,
    )
    assert claim.source_id == "build:oci-layout"


def test_from_oci_layout_manifest_media_type_and_size(tmp_path: Path) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}
    root = make_layout(tmp_path / "layout", [desc])
    claim = from_oci_layout(root, image=IMAGE)
    assert (claim.digest, claim.media_type, claim.size) == (
        Digest.parse(digest),
        OCI_MANIFEST,
        len(body),
    )


LayoutMaker = Callable[[Path], Path]


def _layout(manifests: object, **kw: Any) -> LayoutMaker:
    return lambda root: make_layout(root, manifests, **kw)


def _plain_file(root: Path) -> Path:
    root.write_bytes(b"not a directory")
    return root


@pytest.mark.parametrize(
    ("maker", "names", "fragments"),
    [
        pytest.param(lambda root: root, "layout", ["no such directory"], id="missing"),
        pytest.param(_plain_file, "layout", ["is a file, not a directory"], id="tarball"),
        pytest.param(
            _layout([entry(D1, "v1")], marker=None),
            "layout",
            ["no oci-layout file"],
            id="no-marker",
        ),
        pytest.param(
            _layout([entry(D1, "v1")], marker="{}"),
            "oci-layout",
            ["imageLayoutVersion"],
            id="marker-without-version",
        ),
        pytest.param(
            _layout([entry(D1, "v1")], marker="1.0.0"),
            "oci-layout",
            ["not JSON"],
            id="marker-not-json",
        ),
        pytest.param(_layout([], index="{"), "index.json", ["not JSON"], id="index-not-json"),
        pytest.param(_layout([], index="[]"), "index.json", ["array"], id="index-array"),
        pytest.param(_layout([], index=""), "index.json", ["is empty"], id="index-empty"),
        pytest.param(_layout({"a": 1}), "index.json", ["no manifests list"], id="not-a-list"),
        pytest.param(_layout([]), "index.json", ["manifests is empty"], id="no-manifests"),
        pytest.param(_layout(["x"]), "index.json", ["manifests[0] is not"], id="bad-entry"),
        pytest.param(
            _layout([{"mediaType": OCI_INDEX, "size": 1}]),
            "index.json",
            ["manifests[0] has no digest"],
            id="entry-without-digest",
        ),
        pytest.param(
            _layout([entry(D1, "v1"), entry(D2[:-1], "v2")]),
            "index.json",
            ["manifests[1]", "64 lowercase hex"],
            id="entry-malformed-digest",
        ),
        pytest.param(
            _layout([entry(D1, "latest"), entry(D2, "v2"), entry(D3)]),
            "index.json",
            ["3 manifests", "latest, v2, manifests[2] (no ref.name)", "tag 'v1'"],
            id="several-none-named",
        ),
        pytest.param(
            _layout([entry(D1, "v1"), entry(D2, "v1")]),
            "index.json",
            ["2 manifests named for tag 'v1'"],
            id="same-tag-two-digests",
        ),
    ],
)
def test_from_oci_layout_invalid(
    tmp_path: Path, maker: LayoutMaker, names: str, fragments: list[str]
) -> None:
    root = maker(tmp_path / "layout")
    with pytest.raises(InputFileError) as info:
        from_oci_layout(root, image=IMAGE)
    assert_input_error(info.value, str(tmp_path / "layout"), *fragments)
    assert names in info.value.message


def test_from_oci_layout_index_missing(tmp_path: Path) -> None:
    root = make_layout(tmp_path / "layout", [entry(D1, "v1")])
    (root / "index.json").unlink()
    with pytest.raises(InputFileError) as info:
        from_oci_layout(root, image=IMAGE)
    assert_input_error(info.value, str(root / "index.json"), "no such file")
