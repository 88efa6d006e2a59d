"""`scripts/verify-runtime-pin.sh`, the drop-in for the CI verify-pin step.

Runs the real script (its shebang, `bash`) against the real registry and CP
server: the environment contract (CP_HOST, CP_ADMIN_API_TOKEN, TEMPLATE_NAME,
EXPECTED_DIGEST, IMAGE_REF, ENV_NAME, REGION, TOKEN_SECRET_NAME, TRUEDIGEST_*),
exit codes, and that the token never reaches any output. Expected digests are
sha256 of the bytes pushed here.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli_many
from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Image, Pusher, RegistryEndpoint, build_image, push_image
from tests.support.registry import RegistryServer

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify-runtime-pin.sh"
TEMPLATE = "app"
# The script's own variables (and bash's), besides the TRUEDIGEST_* ones cli_env drops.
_CONTRACT = (
    "CP_HOST",
    "CP_ADMIN_API_TOKEN",
    "TEMPLATE_NAME",
    "EXPECTED_DIGEST",
    "IMAGE_REF",
    "ENV_NAME",
    "REGION",
    "TOKEN_SECRET_NAME",
    "SHELLOPTS",
    "BASH_ENV",
)


@dataclass(frozen=True)
class Seeded:
    server: RegistryServer
    repo: str
    current: Image
    old: Image

    @property
    def ref(self) -> str:
        return f"{self.server.host}/{self.repo}:v1"


@pytest.fixture(scope="module")
def seeded(
    registry_plain: RegistryServer, pusher_for: Callable[[RegistryEndpoint], Pusher]
) -> Seeded:
    repo = "verify-pin/app"
    current = build_image(repo, salt="runtime pin current")
    old = build_image(repo, salt="runtime pin old")
    pusher = pusher_for(registry_plain)
    assert push_image(pusher, repo, current, "v1") == current.digest
    assert push_image(pusher, repo, old, "v0") == old.digest
    return Seeded(registry_plain, repo, current, old)


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def cp(token: str) -> Iterator[CPServer]:
    with CPServer.start(token=token) as server:
        yield server


def base_env(home: Path, **extra: str | None) -> dict[str, str]:
    """The runner's env without anything the script or truedigest reads, the venv's
    `truedigest` first on PATH; then `extra` (None removes a variable)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return cli_env(home, **{**dict.fromkeys(_CONTRACT), "PATH": path, **extra})


def contract_env(
    seeded: Seeded, cp: CPServer, token: str, home: Path, **overrides: str | None
) -> dict[str, str]:
    contract: dict[str, str | None] = {
        "CP_HOST": cp.url,
        "CP_ADMIN_API_TOKEN": token,
        "TEMPLATE_NAME": TEMPLATE,
        "EXPECTED_DIGEST": seeded.current.digest,
        "IMAGE_REF": seeded.ref,
        "TRUEDIGEST_PLAIN_HTTP": "1",
        "TRUEDIGEST_OUTPUT": "json",
    }
    return base_env(home, **{**contract, **overrides})


def run_many(envs: Sequence[Mapping[str, str]], *args: str) -> list[CliResult]:
    """Run the script once per env, concurrently; results in order."""
    return run_cli_many([(args, env) for env in envs], program=[str(SCRIPT)])


def run(env: Mapping[str, str], *args: str) -> CliResult:
    return run_many([env], *args)[0]


def assert_secret_absent(result: CliResult, *secrets_: str) -> None:
    for secret in secrets_:
        assert secret not in result.stdout, str(result)
        assert secret not in result.stderr, str(result)


# --------------------------------------------------------------------------- tests


def test_script_is_executable_bash() -> None:
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_agree_is_exit_0(seeded: Seeded, cp: CPServer, token: str, tmp_path: Path) -> None:
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])

    result = run(contract_env(seeded, cp, token, tmp_path))

    assert result.code == 0, str(result)
    doc = result.report()
    assert (doc["verdict"], doc["truth"]) == ("agree", seeded.current.digest)
    assert [(s["id"], s["status"], s["relation"]) for s in doc["sources"]] == [
        (f"registry:{seeded.ref}", "ok", "identical"),
        ("cp:prod", "ok", "identical"),
        ("build:digest", "ok", "identical"),
    ]
    assert_secret_absent(result, token)
    assert cp.requests[-1].headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize("stale", ["pin", "expected-digest"])
def test_stale_is_exit_1(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path, stale: str
) -> None:
    pinned = seeded.old.digest if stale == "pin" else seeded.current.digest
    expected = seeded.old.digest if stale == "expected-digest" else seeded.current.digest
    cp.set_pins([make_pin(TEMPLATE, pinned)])

    result = run(contract_env(seeded, cp, token, tmp_path, EXPECTED_DIGEST=expected))

    assert result.code == 1, str(result)
    wrong = result.source("cp:prod" if stale == "pin" else "build:digest")
    assert (wrong["status"], wrong["relation"]) == ("mismatch", "other-image")
    assert wrong["digest"] == seeded.old.digest
    assert result.report()["truth"] == seeded.current.digest
    assert_secret_absent(result, token)


def test_table_output_and_extra_arguments(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    cp.set_pins([make_pin(TEMPLATE, seeded.old.digest)])
    env = contract_env(seeded, cp, token, tmp_path, TRUEDIGEST_OUTPUT=None)

    result = run(env, "-o", "markdown")

    assert result.code == 1, str(result)
    assert result.stdout.startswith("### ❌ truedigest verify: mismatch")
    assert "| cp:prod |" in result.stdout
    assert "verdict: mismatch (exit 1)" in result.stderr
    assert_secret_absent(result, token)


@pytest.mark.parametrize(
    "unset", ["CP_HOST", "TEMPLATE_NAME", "EXPECTED_DIGEST", "IMAGE_REF", "CP_ADMIN_API_TOKEN"]
)
def test_missing_variable_is_exit_2(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path, unset: str
) -> None:
    result = run(contract_env(seeded, cp, token, tmp_path, **{unset: None}))

    assert result.code == 2, str(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: "), str(result)
    assert unset in lines[0]
    assert lines[1].startswith("hint: "), str(result)
    assert cp.requests == [], "nothing is checked with a variable missing"
    assert_secret_absent(result, token)


def test_all_missing_are_named_at_once(tmp_path: Path) -> None:
    result = run(base_env(tmp_path))

    assert result.code == 2, str(result)
    first = result.stderr.splitlines()[0]
    for var in ("CP_HOST", "TEMPLATE_NAME", "EXPECTED_DIGEST", "IMAGE_REF"):
        assert var in first


def test_bad_token_secret_name_is_exit_2(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    result = run(contract_env(seeded, cp, token, tmp_path, TOKEN_SECRET_NAME="x; echo pwned"))

    assert result.code == 2, str(result)
    assert "pwned" not in result.stdout
    assert result.stderr.startswith("error: TOKEN_SECRET_NAME")


def test_bad_expected_digest_is_truedigests_usage_error(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    result = run(contract_env(seeded, cp, token, tmp_path, EXPECTED_DIGEST="sha256:abc"))

    assert result.code == 2, str(result)
    assert result.stderr.startswith("error: --build-digest")
    assert "\nhint: " in result.stderr
    assert "Traceback" not in result.stderr


def test_env_name_region_and_token_secret_name(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    cp.set_pins(
        [
            make_pin(TEMPLATE, seeded.old.digest),
            make_pin(TEMPLATE, seeded.current.digest, region="eu-west-1"),
        ]
    )
    env = contract_env(
        seeded,
        cp,
        token,
        tmp_path,
        CP_ADMIN_API_TOKEN=None,
        STAGING_CP_TOKEN=token,
        TOKEN_SECRET_NAME="STAGING_CP_TOKEN",
        ENV_NAME="staging",
        REGION="eu-west-1",
    )

    result = run(env)

    assert result.code == 0, str(result)
    row = result.source("cp:staging")
    assert (row["status"], row["region"], row["digest"]) == (
        "ok",
        "eu-west-1",
        seeded.current.digest,
    )
    assert_secret_absent(result, token)


def test_wrong_token_is_exit_3_and_never_printed(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    wrong = secrets.token_urlsafe(24)
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])
    traced = "braceexpand:hashall:interactive-comments:xtrace"

    result = run(contract_env(seeded, cp, wrong, tmp_path, SHELLOPTS=traced))

    assert result.code == 3, str(result)
    row = result.source("cp:prod")
    assert row["status"] == "error"
    assert "403" in row["detail"]
    assert "CP_ADMIN_API_TOKEN" in row["detail"]
    assert_secret_absent(result, wrong)
    assert cp.requests[-1].headers["authorization"] == f"Bearer {wrong}"


def test_bare_host_means_https(seeded: Seeded, cp: CPServer, token: str, tmp_path: Path) -> None:
    host = cp.url.removeprefix("http://")
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])

    result = run(contract_env(seeded, cp, token, tmp_path, CP_HOST=host, TRUEDIGEST_TIMEOUT="5"))

    # A TLS handshake with a plain-HTTP server fails: the script did assume https.
    assert result.code == 3, str(result)
    row = result.source("cp:prod")
    assert row["url"] == f"https://{host}"
    assert row["status"] == "error"
    assert_secret_absent(result, token)


def test_without_truedigest_on_path_uses_python3_module(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "python3"  # the venv's python, as a CI image's python3 would be
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])
    env = contract_env(seeded, cp, token, tmp_path)
    env["PATH"] = os.pathsep.join([str(bindir), "/usr/bin", "/bin"])
    probe = subprocess.run(
        ["bash", "-c", "command -v truedigest || true"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout == "", "this test needs a PATH without truedigest"

    result = run(env)

    assert result.code == 0, str(result)
    assert result.report()["verdict"] == "agree"


def test_truedigest_not_installed_is_exit_3_not_1(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    env = contract_env(seeded, cp, token, tmp_path)
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin"])
    probe = subprocess.run(
        ["bash", "-c", "command -v truedigest || python3 -c 'import truedigest' 2>/dev/null"],
        env=env,
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("truedigest is installed system-wide")

    result = run(env)

    assert result.code == 3, str(result)
    assert result.stderr.startswith("error: truedigest is not installed")
    assert "\nhint: " in result.stderr
    assert cp.requests == []
