"""Hostile or odd input never yields a traceback or a false pass.

Bodies that do not decode, JSON nested past Python's recursion limit, non-finite
numbers, a shared TRUEDIGEST_OUTPUT that fits only some commands, report files
that cannot be written, and a bug in our own code: one `error:` line each, and an
exit code that is never 0 or 1 for "could not check".
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from tests.support.respx_registry import (
    MANIFEST,
    MANIFEST_URL,
    REF,
    FakeRegistry,
    digest_of,
    manifest_response,
)


def assert_one_error(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error:"), result.stderr
    assert "Traceback" not in result.output


def test_a_body_that_does_not_decode_is_exit_3(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(
            200,
            headers={
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Content-Encoding": "gzip",
            },
            stream=httpx.ByteStream(b"this is not gzip"),  # decoded only when read
        )
    )
    result = registry.run(["resolve", REF])
    assert_one_error(result, 3)
    assert "Content-Encoding" in result.stderr


def test_json_nested_past_the_recursion_limit_is_exit_3(registry: FakeRegistry) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    registry.router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "text/plain"}, content=body)
    )
    assert_one_error(registry.run(["resolve", REF]), 3)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e309", "abc"])
def test_timeout_must_be_a_finite_number(registry: FakeRegistry, value: str) -> None:
    result = registry.run(["resolve", REF], env={"TRUEDIGEST_TIMEOUT": value})
    assert_one_error(result, 2)
    assert registry.router.calls.call_count == 0


@pytest.mark.parametrize("flag", ["--wait", "--interval"])
def test_wait_and_interval_must_be_finite(registry: FakeRegistry, flag: str) -> None:
    assert_one_error(registry.run(["verify", "--image", REF, flag, "inf"]), 2)
    assert registry.router.calls.call_count == 0


@pytest.mark.parametrize("shared", ["table", "markdown", "TABLE"])
def test_shared_output_env_that_fits_another_command_is_ignored(
    registry: FakeRegistry, shared: str
) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", REF], env={"TRUEDIGEST_OUTPUT": shared})
    assert result.exit_code == 0, result.output
    assert result.stdout == digest_of(MANIFEST) + "\n"


def test_text_and_table_stand_for_each_other_on_the_flag(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", REF, "-o", "table"])
    assert result.exit_code == 0, result.output
    assert result.stdout == digest_of(MANIFEST) + "\n"


def test_an_output_flag_that_fits_nothing_is_a_usage_error(registry: FakeRegistry) -> None:
    assert_one_error(registry.run(["resolve", REF, "-o", "markdown"]), 2)


def test_json_env_still_applies(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", REF], env={"TRUEDIGEST_OUTPUT": "json"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["digest"] == digest_of(MANIFEST)


@pytest.mark.parametrize("flag", ["--summary-file", "--github-output"])
def test_unwritable_report_file_is_refused_before_any_request(
    registry: FakeRegistry, tmp_path: Path, flag: str
) -> None:
    target = tmp_path / "no-such-dir" / "out.txt"
    result = registry.run(["verify", "--image", REF, flag, str(target)])
    assert_one_error(result, 2)
    assert registry.router.calls.call_count == 0


def test_verbose_request_count_follows_the_error_line(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=httpx.Response(404))
    result = registry.run(["resolve", "-v", REF])
    assert result.exit_code == 10, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error:")
    assert "requests: 1 (reg.example: 1)" in lines


def test_a_bug_is_one_error_line_and_exit_3(
    registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr("truedigest.oci.registry.RegistryClient.resolve", broken)
    result = registry.run(["resolve", REF])
    assert_one_error(result, 3)
    assert "internal error: RuntimeError" in result.stderr
    assert "boom" not in result.output  # exception text can carry URLs; -vv shows it
    assert "Traceback" in registry.run(["resolve", "-vv", REF]).stderr
