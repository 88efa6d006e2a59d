"""Issue 7, items 4 and 14: no secret at any verbosity, in any format.

- a CP that echoes the caller's token back (in `notes`, `promoted_by`, `image_ref`)
  never gets it printed: table, JSON, markdown, the step summary, annotations;
- a bearer token holding CR/LF (the HTTP library refuses it and quotes the header
  in its exception), a Basic password a registry keeps refusing, and an OCI error
  code that echoes the password: `-v` causes and `-vv` tracebacks are scrubbed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.cpserver import CPServer
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.hostile_registry import REPO, HostileRepo, cp_body

CP_TOKEN = "cp-echo-token-3c4d5e6f7a8b"
USER = "robot"
PASSWORD = "pa55-w0rd-9a8b7c6d"
HALVES = ("bearer-first-half-1f2e3d", "second-half-4c5b6a")
CRLF_TOKEN = f"{HALVES[0]}\r\n{HALVES[1]}"


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode()]


def assert_scrubbed(result: CliResult, *, code: int, secrets: list[str]) -> None:
    """`assert_safe` for a run that asked for diagnostics: `-vv` shows a traceback (that
    is what it is for), and everything else `assert_safe` checks still holds."""
    shown = result.stderr.replace("Traceback (most recent call last):", "(traceback)")
    assert_safe(replace(result, stderr=shown), code=code, secrets=secrets, one_error_line=False)
    assert result.stderr.startswith("error:"), str(result)
    assert len([x for x in result.stderr.splitlines() if x.startswith("error:")]) == 1
    if "-vv" in result.args:
        assert "Traceback" in result.stderr, str(result)


@dataclass
class Echo:
    repo: HostileRepo
    registry: HostileServer
    cp: CPServer
    home: Path

    def verify(self, *args: str, **env: str | None) -> CliResult:
        argv = [
            "verify",
            "--plain-http",
            "--image",
            f"{self.registry.host}/{REPO}:latest",
            "--cp",
            f"prod={self.cp.url}",
            "--template",
            "app",
            *args,
        ]
        return run_cli(argv, cli_env(self.home, CP_ADMIN_API_TOKEN=CP_TOKEN, **env))

    def pins(self, *args: str) -> CliResult:
        argv = ["pins", "--plain-http", "--cp", f"prod={self.cp.url}"]
        argv += ["--repo", f"{self.registry.host}/{REPO}", *args]
        return run_cli(argv, cli_env(self.home, CP_ADMIN_API_TOKEN=CP_TOKEN))


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[Echo]:
    """A CP whose row copies the caller's token into its text fields."""
    repo = HostileRepo("plain")
    with HostileServer(repo) as registry:
        cp = CPServer.start(token=CP_TOKEN)
        row = {
            "template_name": "app",
            "region": "global",
            "image_digest": repo.image.digest,  # the child, not the tag: a mismatch row
            # names another repository: the detail quotes it, token and all
            "image_ref": f"{registry.host}/{REPO}/{CP_TOKEN}@{repo.image.digest}",
            "promoted_by": f"Bearer {CP_TOKEN}",
            "notes": f"called with {CP_TOKEN}; basic {_forms(CP_TOKEN)[1]}",
        }
        cp.set_raw(200, cp_body([row]))
        try:
            yield Echo(repo, registry, cp, tmp_path)
        finally:
            cp.stop()


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_a_token_echoed_by_the_cp_is_never_printed_by_verify(echo: Echo, fmt: str) -> None:
    result = echo.verify("-o", fmt)

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    assert ("\\*\\*\\*" if fmt == "markdown" else "***") in result.stdout  # masked, shown
    if fmt == "json":
        row = next(s for s in result.report()["sources"] if s["id"] == "cp:prod")
        assert row["notes"] == "called with ***; basic ***"


@pytest.mark.parametrize("fmt", ["table"])
def test_a_token_echoed_by_the_cp_is_never_printed_by_pins(echo: Echo, fmt: str) -> None:
    result = echo.pins("-o", fmt)

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    assert "***" in result.stdout


def test_a_token_echoed_by_the_cp_reaches_no_report_file_and_no_annotation(
    echo: Echo, tmp_path: Path
) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"

    result = echo.verify(
        "-vv",
        "--summary-file",
        str(summary),
        "--github-output",
        str(outputs),
        GITHUB_ACTIONS="true",
    )

    shown = result.stderr.replace("Traceback (most recent call last):", "(traceback)")
    assert_safe(replace(result, stderr=shown), code=1, secrets=[CP_TOKEN], allow_own_commands=True)
    for text in (summary.read_text(), outputs.read_text()):
        for form in _forms(CP_TOKEN):
            assert form not in text


# -- registry credentials and tokens at -v / -vv -----------------------------------------


def _bearer_registry(token: str) -> HostileServer:
    """A registry whose same-origin token endpoint hands out `token`."""

    def serve(req: Request) -> Answer:
        if req.path.startswith("/token"):
            body = json.dumps({"token": token, "expires_in": 300}).encode()
            return Answer(200, [("Content-Type", "application/json")], body)
        if "authorization" not in req.headers:
            realm = (
                f'Bearer realm="{server.url}/token",service="reg",scope="repository:{REPO}:pull"'
            )
            return Answer(401, [("WWW-Authenticate", realm)], b"{}")
        return Answer(404, [("Content-Type", "application/json")], b'{"errors":[]}')

    server = HostileServer(serve)
    return server


@pytest.mark.parametrize("verbosity", ["-vv"])
def test_a_bearer_token_with_crlf_is_never_printed(tmp_path: Path, verbosity: str) -> None:
    with _bearer_registry(CRLF_TOKEN) as registry:
        result = run_cli(
            ["resolve", verbosity, "--plain-http", f"{registry.host}/{REPO}:latest"],
            cli_env(tmp_path),
        )

    assert_scrubbed(result, code=3, secrets=[CRLF_TOKEN, *HALVES])


def _basic_registry(code: str) -> HostileServer:
    """A registry that refuses every request, echoing `code` as its OCI error code."""

    def serve(req: Request) -> Answer:
        body = json.dumps({"errors": [{"code": code, "message": req.headers.get("authorization")}]})
        return Answer(
            401,
            [("WWW-Authenticate", 'Basic realm="reg"'), ("Content-Type", "application/json")],
            body.encode(),
        )

    return HostileServer(serve)


@pytest.mark.parametrize(("echoed", "verbosity"), [("password", "-v"), ("header", "-vv")])
def test_a_refused_password_is_never_printed(tmp_path: Path, verbosity: str, echoed: str) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    code = {"password": f"DENIED_{PASSWORD}", "header": f"Basic {basic}"}
    env = cli_env(
        tmp_path, TRUEDIGEST_REGISTRY_USERNAME=USER, TRUEDIGEST_REGISTRY_PASSWORD=PASSWORD
    )
    with _basic_registry(code[echoed]) as registry:
        args = ["resolve", "--plain-http", f"{registry.host}/{REPO}:latest"]
        result = run_cli([verbosity, *args], env)

    assert_scrubbed(result, code=3, secrets=[PASSWORD, f"{USER}:{PASSWORD}", basic])
