"""`truedigest resolve` through click's CliRunner: exit codes, stdout JSON, stderr text.

The registry is a respx router behind httpx.MockTransport (`tests.support.respx_registry`,
the `registry` fixture): the real RegistryClient runs on it, so no test touches the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from click.testing import Result

from tests.support.respx_registry import (
    INDEX,
    MANIFEST,
    MANIFEST_URL,
    OCI_INDEX,
    OCI_MANIFEST,
    REF,
    REG,
    REPO,
    FakeRegistry,
    digest_of,
    manifest_response,
    run,
)
from truedigest import __version__

PASSWORD = "cli-pa55word-e71b"
SECRET_ECHO = "SECRET-ECHO"
RESOLVE_KEYS = {
    "schema",
    "reference",
    "registry",
    "repository",
    "tag",
    "digest",
    "media_type",
    "schema_version",
    "size",
    "header_digest",
    "platform",
    "index_digest",
}


def assert_usage_error(result: Result) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error:")
    assert any(line.startswith("hint:") for line in result.stderr.splitlines())
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "Ubuntu",
        "ubuntu:",
        "a..b",
        "ghcr.io/Org/app",
        "ubuntu@sha256:abc",
        "ubuntu@sha256:" + "A" * 64,
        "ubuntu\n",
        "bad//path",
        "host:port/x",
        "ubuntu:" + "t" * 129,
    ],
)
def test_malformed_reference_is_usage_error(registry: FakeRegistry, ref: str) -> None:
    result = registry.run(["resolve", ref])
    assert_usage_error(result)
    assert "invalid reference" in result.stderr
    assert registry.options == []  # no client was built


@pytest.mark.parametrize("platform", ["linux", "linux/", "/amd64", "linux/arm64/v8/x", ""])
def test_bad_platform_is_usage_error(registry: FakeRegistry, platform: str) -> None:
    result = registry.run(["resolve", "--platform", platform, REF])
    assert_usage_error(result)
    assert "--platform" in result.stderr


def test_unknown_option_is_usage_error(registry: FakeRegistry) -> None:
    assert_usage_error(registry.run(["resolve", "--nope", REF]))


def test_bad_output_format_is_usage_error(registry: FakeRegistry) -> None:
    assert_usage_error(registry.run(["resolve", "-o", "yaml", REF]))


def test_missing_reference_is_usage_error(registry: FakeRegistry) -> None:
    assert_usage_error(registry.run(["resolve"]))


# -- help and version ---------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag: str) -> None:
    result = run([flag])
    assert result.exit_code == 0
    assert "Usage: truedigest" in result.stdout
    assert "resolve" in result.stdout
    assert result.stderr == ""


def test_resolve_help() -> None:
    result = run(["resolve", "--help"])
    assert result.exit_code == 0
    for option in ("--platform", "--head", "--output", "--plain-http", "--ca-file", "--timeout"):
        assert option in result.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = run([flag])
    assert result.exit_code == 0
    assert result.stdout == f"truedigest, version {__version__}\n"


# -- resolving ------------------------------------------------------------------------------


def test_text_output_is_the_digest_alone(registry: FakeRegistry) -> None:
    route = registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", REF])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == digest_of(MANIFEST) + "\n"
    assert result.stderr == ""
    assert route.call_count == 1


def test_json_output(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", "-o", "json", REF])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == RESOLVE_KEYS
    assert document == {
        "schema": "truedigest.resolve/v1",
        "reference": REF,
        "registry": REG,
        "repository": REPO,
        "tag": "v1",
        "digest": digest_of(MANIFEST),
        "media_type": OCI_MANIFEST,
        "schema_version": 2,
        "size": len(MANIFEST),
        "header_digest": digest_of(MANIFEST),
        "platform": None,
        "index_digest": None,
    }


def test_json_output_for_a_platform_of_an_index(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(INDEX, OCI_INDEX))
    registry.router.get(f"https://{REG}/v2/{REPO}/manifests/{digest_of(MANIFEST)}").mock(
        return_value=manifest_response(MANIFEST)
    )
    result = registry.run(["resolve", "--platform", "linux/amd64", "-o", "json", REF])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == RESOLVE_KEYS
    assert document["digest"] == digest_of(MANIFEST)
    assert document["index_digest"] == digest_of(INDEX)
    assert document["platform"] == "linux/amd64"


def test_json_reference_is_fully_qualified(registry: FakeRegistry) -> None:
    registry.router.get("https://registry-1.docker.io/v2/library/ubuntu/manifests/latest").mock(
        return_value=manifest_response(MANIFEST)
    )
    result = registry.run(["resolve", "-o", "json", "ubuntu"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["reference"] == "registry-1.docker.io/library/ubuntu:latest"
    assert (document["registry"], document["repository"], document["tag"]) == (
        "registry-1.docker.io",
        "library/ubuntu",
        "latest",
    )


def test_output_format_from_environment(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", REF], env={"TRUEDIGEST_OUTPUT": "json"})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "truedigest.resolve/v1"


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--plain-http"], None), ([], {"TRUEDIGEST_PLAIN_HTTP": "1"})],
)
def test_plain_http(registry: FakeRegistry, args: list[str], env: dict[str, str] | None) -> None:
    ref = f"localhost:5000/{REPO}:v1"
    registry.router.get(f"http://localhost:5000/v2/{REPO}/manifests/v1").mock(
        return_value=manifest_response(MANIFEST)
    )
    result = registry.run(["resolve", *args, "--timeout", "5", ref], env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == digest_of(MANIFEST) + "\n"
    (options,) = registry.options
    assert options.plain_http
    assert options.timeout == 5.0


def test_head(registry: FakeRegistry) -> None:
    head = registry.router.head(MANIFEST_URL).respond(
        200,
        headers={
            "Content-Type": OCI_MANIFEST,
            "Content-Length": str(len(MANIFEST)),
            "Docker-Content-Digest": digest_of(MANIFEST),
        },
    )
    result = registry.run(["resolve", "--head", REF])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == digest_of(MANIFEST) + "\n"
    assert head.call_count == 1


def test_verbose_counts_requests_on_stderr(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    result = registry.run(["resolve", "-v", REF])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == digest_of(MANIFEST) + "\n"
    assert f"requests: 1 ({REG}: 1)" in result.stderr


# -- failures ------------------------------------------------------------------------------


def test_absent_tag_exits_10(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).respond(
        404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": SECRET_ECHO}]}
    )
    result = registry.run(["resolve", "-o", "json", REF])
    assert result.exit_code == 10
    assert result.stdout == ""
    assert result.stderr.startswith("error:")
    assert "MANIFEST_UNKNOWN" in result.stderr
    assert REF in result.stderr
    assert "hint:" in result.stderr
    assert SECRET_ECHO not in result.stderr
    assert "Traceback" not in result.stderr


def test_absent_platform_exits_10(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).mock(return_value=manifest_response(INDEX, OCI_INDEX))
    result = registry.run(["resolve", "--platform", "linux/s390x", REF])
    assert result.exit_code == 10
    assert result.stdout == ""
    assert "linux/amd64" in result.stderr


def test_server_error_exits_3(registry: FakeRegistry) -> None:
    registry.router.get(MANIFEST_URL).respond(500, text=SECRET_ECHO)
    result = registry.run(["resolve", REF])
    assert result.exit_code == 3
    assert result.stderr.startswith("error:")
    assert SECRET_ECHO not in result.stderr


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param('Basic realm="registry"', id="basic"),
        pytest.param(f'Bearer realm="https://auth.example/token",service="{REG}"', id="bearer"),
    ],
)
def test_401_exits_3_without_printing_the_password(
    registry: FakeRegistry, challenge: str, verbosity: list[str]
) -> None:
    unauthorized = httpx.Response(
        401,
        headers={"WWW-Authenticate": challenge},
        json={"errors": [{"code": "UNAUTHORIZED", "message": f"bad password {PASSWORD}"}]},
    )
    route = registry.router.get(MANIFEST_URL).mock(return_value=unauthorized)
    token = registry.router.get(url__startswith="https://auth.example/").respond(
        401, json={"details": f"wrong password {PASSWORD}"}
    )
    env = {"TRUEDIGEST_REGISTRY_USERNAME": "ci", "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD}
    result = registry.run(["resolve", *verbosity, REF], env=env)
    assert result.exit_code == 3
    assert result.stderr.startswith("error:")
    assert "TRUEDIGEST_REGISTRY_USERNAME" in result.stderr  # names the source, not the secret
    assert PASSWORD not in result.stdout
    assert PASSWORD not in result.stderr
    # the password was really offered, so the test could have caught a leak
    sent = [call.request.headers.get("Authorization", "") for call in [*route.calls, *token.calls]]
    assert any(header.startswith("Basic ") for header in sent)


# -- start-up cost -------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_neither_httpx_nor_rich(flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "truedigest", flag],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert {"click", "truedigest.cli.main"} <= modules  # the parse works
    heavy = {m for m in modules if m.split(".")[0] in {"httpx", "rich", "httpcore"}}
    assert heavy == set()
