"""The registry of build-source kinds: what the CLI's options and checks come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from truedigest.errors import ExitCode, UsageError
from truedigest.model.observation import Observation, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_reference
from truedigest.sources.build import KINDS, TARGET_FLAG, select
from truedigest.sources.build.build_claim import BuildContext

IMAGE = parse_reference("registry.example.com/team/app:v1")
DIGEST = Digest.of_bytes(b'{"schemaVersion":2}')
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def test_kinds_are_the_cli_flags_in_order() -> None:
    assert [k.flag for k in KINDS] == [
        "--build-digest",
        "--build-metadata",
        "--build-log",
        "--digest-file",
        "--oci-layout",
    ]
    assert [k.param for k in KINDS] == [
        "build_digest",
        "build_metadata",
        "build_log",
        "digest_file",
        "oci_layout",
    ]
    assert [k.flag for k in KINDS if k.stdin] == [
        "--build-metadata",
        "--build-log",
        "--digest-file",
    ]
    assert [k.flag for k in KINDS if k.uses_target] == ["--build-metadata"]


def _values(**given: str | Path) -> dict[str, str | Path | None]:
    return {kind.param: given.get(kind.param) for kind in KINDS}


def test_select_none_and_one() -> None:
    assert select(_values(), None) is None
    chosen = select(_values(build_log=Path("push.log")), None)
    assert chosen is not None
    assert (chosen.kind.flag, chosen.value, chosen.target) == (
        "--build-log",
        Path("push.log"),
        None,
    )


def test_select_refuses_two_kinds_naming_both() -> None:
    with pytest.raises(UsageError) as caught:
        select(_values(build_digest=str(DIGEST), digest_file=Path("d")), None)
    assert (
        caught.value.message == "give at most one build source, not --build-digest, --digest-file"
    )
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("given", [{}, {"build_digest": str(DIGEST)}])
def test_select_refuses_a_target_without_a_kind_that_takes_one(given: dict[str, str]) -> None:
    with pytest.raises(UsageError) as caught:
        select(_values(**given), "app")
    assert caught.value.message == f"{TARGET_FLAG} needs --build-metadata"


def test_every_kind_reads_into_a_build_observation(tmp_path: Path) -> None:
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"containerimage.digest": str(DIGEST)}), encoding="utf-8")
    log = tmp_path / "push.log"
    log.write_text(f"v1: digest: {DIGEST} size: 528\n", encoding="utf-8")
    digest_file = tmp_path / "digest"
    digest_file.write_text(f"{DIGEST}\n", encoding="utf-8")
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}', encoding="utf-8")
    entry = {"mediaType": OCI_MANIFEST, "digest": str(DIGEST), "size": 528}
    (layout / "index.json").write_text(json.dumps({"manifests": [entry]}), encoding="utf-8")
    values: dict[str, str | Path] = {
        "--build-digest": str(DIGEST),
        "--build-metadata": metadata,
        "--build-log": log,
        "--digest-file": digest_file,
        "--oci-layout": layout,
    }
    ctx = BuildContext(IMAGE)
    found = {kind.flag: kind.read(values[kind.flag], ctx) for kind in KINDS}
    assert {flag: obs.id for flag, obs in found.items()} == {
        "--build-digest": "build:digest",
        "--build-metadata": "build:metadata",
        "--build-log": "build:log",
        "--digest-file": "build:digest-file",
        "--oci-layout": "build:oci-layout",
    }
    for obs in found.values():
        assert isinstance(obs, Observation)
        assert (obs.kind, obs.digest, obs.status, obs.relation) == (
            SourceKind.BUILD,
            DIGEST,
            Status.OK,
            None,
        )
    assert found["--build-digest"].where == "--build-digest"
    assert found["--build-log"].where == str(log)
    assert found["--build-log"].extra == {"size": 528}
    assert found["--oci-layout"].extra == {
        "media_type": OCI_MANIFEST,
        "size": 528,
    }
