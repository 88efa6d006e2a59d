"""Shared values in models: the verdict's exit code, short media-type names."""

from __future__ import annotations

import pytest

from truedigest.errors import ExitCode
from truedigest.models import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Report,
    Verdict,
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
