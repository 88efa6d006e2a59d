"""Real build outputs through truedigest's build sources (issue 9 item 7).

The corpus is `data/build/`: buildx and bake metadata files, `docker push` and
BuildKit logs quoted from docs and issue threads, and podman/buildah/skopeo digest
files, push logs and OCI layouts generated with the Debian tools
(`data/build/generated/generate.sh`). `data/build/PROVENANCE.json` says where each
file comes from, where the file itself records the digest, and what truedigest
must make of it. The expected digest is always read from the file here, never typed.

Two groups:
- every case through the build-source readers (no network);
- the generated images, pushed byte for byte from `generated/layouts/pushed` into a
  real registry, then `truedigest verify --digest-file/--oci-layout` against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, run_cli
from tests.support.images import Pusher, push_layout_tag
from tests.support.registry import RegistryServer, registry_binary
from truedigest.errors import InputFileError
from truedigest.oci.reference import parse_reference
from truedigest.sources.build.build_claim import BuildClaim
from truedigest.sources.build.buildx_metadata import from_metadata
from truedigest.sources.build.digest_file import from_digest_file
from truedigest.sources.build.oci_layout import from_oci_layout
from truedigest.sources.build.push_log import from_push_log

DATA = Path(__file__).resolve().parent / "data" / "build"
GENERATED = DATA / "generated"
PROVENANCE: dict[str, Any] = json.loads((DATA / "PROVENANCE.json").read_text())
CASES: list[dict[str, Any]] = PROVENANCE["cases"]
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
REF_NAME = "org.opencontainers.image.ref.name"


def _params(cases: list[dict[str, Any]]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["id"],
            marks=[pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else [],
        )
        for case in cases
    ]


def recorded_digest(case: dict[str, Any]) -> str:
    """The digest the file itself records, read as PROVENANCE.json says."""
    path = DATA / case["file"]
    records = case["records"]
    if "json" in records:
        node: Any = json.loads(path.read_text())
        for key in records["json"]:
            node = node[key]
        assert isinstance(node, str)
        return node
    if "line" in records:
        line = path.read_text().split("\n")[records["line"] - 1]
        found: list[str] = _SHA256.findall(line)
        assert len(found) == 1, line
        return found[0]
    if records.get("whole_file"):
        return str(path.read_text().strip())
    index = json.loads((path / "index.json").read_text())
    digest: object = index["manifests"][records["index_json"]]["digest"]
    assert isinstance(digest, str)
    return digest


def registry_digests() -> dict[str, str]:
    """tag → `sha256:` + the hex skopeo's raw manifest hashed to, at generation time."""
    pairs = (line.split() for line in (GENERATED / "registry-digests.txt").read_text().splitlines())
    return {tag: f"sha256:{hexdigest}" for tag, hexdigest in pairs}


def read_claim(case: dict[str, Any]) -> BuildClaim:
    path = DATA / case["file"]
    image = parse_reference(case["image"], default_tag=None)
    match case["kind"]:
        case "metadata":
            return from_metadata(path, image=image, target=case.get("target"))
        case "log":
            return from_push_log(path, image=image)
        case "digest-file":
            return from_digest_file(path)
        case "oci-layout":
            return from_oci_layout(path, image=image)
    raise AssertionError(f"unknown kind {case['kind']!r}")


# --- every case through the readers ---------------------------------------------------


@pytest.mark.parametrize("case", _params([c for c in CASES if c["expect"] == "digest"]))
def test_reads_the_digest_the_file_records(case: dict[str, Any]) -> None:
    claim = read_claim(case)
    assert str(claim.digest) == recorded_digest(case)


@pytest.mark.parametrize("case", _params([c for c in CASES if c["expect"] == "error"]))
def test_refuses_with_the_documented_error(case: dict[str, Any]) -> None:
    with pytest.raises(InputFileError) as caught:
        read_claim(case)
    assert case["error"] in caught.value.message
    if "hint_contains" in case:
        assert case["hint_contains"] in (caught.value.instance_hint or "")


@pytest.mark.parametrize("case", _params([c for c in CASES if "registry_tag" in c]))
def test_generated_files_record_what_the_registry_served(case: dict[str, Any]) -> None:
    served = registry_digests()[case["registry_tag"]]
    if case.get("registry_differs"):
        assert recorded_digest(case) != served  # skopeo converted v2s2 to OCI in the layout
    else:
        assert recorded_digest(case) == served


def test_buildkit_before_v0_9_is_read_from_the_last_exporting_line() -> None:
    """The decision for BuildKit before v0.9 (`pushing manifest for REF`, no @sha256):
    read the push step's last `exporting manifest [list] sha256:…` line, which is the
    manifest list after its platform manifests; never one of the platform manifests."""
    [case] = [c for c in CASES if c["id"] == "buildkit-plain-jupyterhub"]
    lines = (DATA / case["file"]).read_text().split("\n")
    exported = [line for line in lines if " exporting manifest " in line]
    claim = read_claim(case)
    assert f"exporting manifest list {claim.digest} done" == exported[-1].removeprefix("#37 ")
    assert all(str(claim.digest) not in line for line in exported[:-1])
    assert (claim.detail or "").startswith(
        f"line {case['records']['line']}: exporting manifest list"
    )
    assert "BuildKit before v0.9" in (claim.detail or "")


def test_corpus_covers_every_build_source_kind() -> None:
    kinds = {c["kind"] for c in CASES}
    assert kinds == {"metadata", "log", "digest-file", "oci-layout"}
    for case in CASES:
        assert (DATA / case["file"]).exists(), case["id"]
        assert case.get("provenance"), case["id"]
    # Every file in the corpus is described by at least one case.
    described = {c["file"] for c in CASES}
    on_disk = {
        str(p.relative_to(DATA))
        for p in [*DATA.glob("metadata/*"), *DATA.glob("logs/*"), *GENERATED.glob("*.digest")]
    }
    assert on_disk <= described


# --- the generated images on a real registry ------------------------------------------


@pytest.fixture(scope="module")
def corpus_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if registry_binary() is None:
        pytest.skip("needs the registry binary (apt-get install docker-registry)")
    with (
        RegistryServer.start("plain", tmp_path_factory.mktemp("realworld-build")) as server,
        Pusher(server) as pusher,
    ):
        for tag in registry_digests():
            push_layout_tag(pusher, GENERATED / "layouts" / "pushed", "corpus/app", tag)
        yield server


def _verify(server: RegistryServer, home: Path, case: dict[str, Any]) -> dict[str, Any]:
    flag = {"digest-file": "--digest-file", "oci-layout": "--oci-layout"}[case["kind"]]
    args = [
        "verify",
        "--plain-http",
        "--image",
        f"{server.host}/corpus/app:{case['registry_tag']}",
        flag,
        str(DATA / case["file"]),
        "-o",
        "json",
    ]
    result = run_cli(args, cli_env(home))
    report = result.report()
    report["_code"] = result.code
    return report


_ON_REGISTRY = [
    c for c in CASES if "registry_tag" in c and c["kind"] in ("digest-file", "oci-layout")
]


@pytest.mark.integration
@pytest.mark.parametrize("case", _params(_ON_REGISTRY))
def test_verify_agrees_on_the_real_registry(
    case: dict[str, Any], corpus_registry: RegistryServer, tmp_path: Path
) -> None:
    report = _verify(corpus_registry, tmp_path, case)
    assert report["truth"] == registry_digests()[case["registry_tag"]]
    [claim] = [s for s in report["sources"] if s["kind"] == "build"]
    assert claim["digest"] == recorded_digest(case)
    if case.get("registry_differs"):
        # The layout holds a converted manifest the registry never saw.
        assert report["_code"] == 1
        assert claim["relation"] == "not-in-registry"
    else:
        assert report["_code"] == 0, report
        assert claim["relation"] == "identical"


def _config_digest_of(tag: str) -> str:
    """The config digest (what `podman images`/`docker image inspect` call the image ID)
    of a pushed single-platform image, read from the manifest bytes in the layout."""
    layout = GENERATED / "layouts" / "pushed"
    index = json.loads((layout / "index.json").read_text())
    [entry] = [m for m in index["manifests"] if m["annotations"][REF_NAME] == tag]
    algorithm, hexdigest = entry["digest"].split(":")
    manifest = json.loads((layout / "blobs" / algorithm / hexdigest).read_bytes())
    digest = manifest["config"]["digest"]
    assert isinstance(digest, str)
    return digest


@pytest.mark.integration
def test_an_image_id_as_build_digest_is_called_an_image_id(
    corpus_registry: RegistryServer, tmp_path: Path
) -> None:
    image_id = _config_digest_of("podman")
    result = run_cli(
        [
            "verify",
            "--plain-http",
            "--image",
            f"{corpus_registry.host}/corpus/app:podman",
            "--build-digest",
            image_id,
            "-o",
            "json",
        ],
        cli_env(tmp_path),
    )
    assert result.code == 1, str(result)
    [claim] = [s for s in result.report()["sources"] if s["kind"] == "build"]
    assert claim["relation"] == "config-digest"
    detail = claim["detail"] or ""
    # In the words a CI author meets: the image ID, where it comes from, what to use.
    assert "image ID" in detail, detail
    assert "docker image inspect --format {{.Id}}" in detail, detail
    assert "the docker driver's `containerimage.digest`" in detail, detail
    assert "not a pullable manifest digest" in detail, detail
    truth = registry_digests()["podman"]
    assert f"use the registry's {truth}" in detail, detail
    assert f"`truedigest resolve {corpus_registry.host}/corpus/app:podman`" in detail, detail


# --- the running-state fixtures (issue 13) use the corpus images' real digests --------


def test_running_fixtures_name_only_real_corpus_digests() -> None:
    running = DATA.parent / "running"
    documented: dict[str, str] = json.loads((running / "PROVENANCE.json").read_text())["digests"]
    blobs = GENERATED / "layouts" / "pushed" / "blobs" / "sha256"
    for digest in documented:
        blob = blobs / digest.removeprefix("sha256:")
        if blob.exists():  # the layer's diff ID is not a blob of the layout
            assert "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest() == digest
    for path in running.rglob("*.json"):
        if path.name == "PROVENANCE.json":
            continue
        for digest in set(_SHA256.findall(path.read_text())):
            assert digest in documented, f"{path.name}: {digest} is not a documented corpus digest"
