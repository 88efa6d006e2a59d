"""Shared values in models: the verdict's exit code, short media-type names, Manifest.json."""

from __future__ import annotations

import pytest

from truedigest.errors import ExitCode, RegistryError
from truedigest.model.observation import Report, Verdict
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    short_media_type,
)


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.AGREE, 0),
        (Verdict.MISMATCH, 1),
        (Verdict.UNAVAILABLE, 3),
        (Verdict.ABSENT, 10),
    ],
)
def test_verdict_exit_code(verdict: Verdict, code: int) -> None:
    assert verdict.exit_code == code
    assert isinstance(verdict.exit_code, ExitCode)
    report = Report(verdict, None, ())
    assert report.exit_code == code
    assert report.to_json()["exit_code"] == code


@pytest.mark.parametrize(
    ("media_type", "short"),
    [
        (OCI_INDEX, "OCI index"),
        (OCI_MANIFEST, "OCI manifest"),
        (DOCKER_LIST, "Docker manifest list"),
        (DOCKER_MANIFEST, "Docker manifest"),
        ("application/vnd.oci.image.config.v1+json", None),
        ("", None),
    ],
)
def test_short_media_type(media_type: str, short: str | None) -> None:
    assert short_media_type(media_type) == short


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 200_000 + b"]" * 200_000, id="nested-past-recursion-limit"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="not-an-object"),
    ],
)
def test_manifest_json_failures_are_registry_errors(body: bytes) -> None:
    manifest = Manifest("r/app", OCI_MANIFEST, body, Digest.of_bytes(body))
    with pytest.raises(RegistryError, match=str(manifest.digest)):
        _ = manifest.json
