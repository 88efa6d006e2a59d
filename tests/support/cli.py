"""The real `truedigest` CLI (or a script that runs it) in subprocesses.

One environment builder and one runner for every test of the CLI contract: exit
codes, stdout, stderr. The environment is the test runner's minus everything that
would steer truedigest (its own variables, credential files, CI detection, the CP
token), with a HOME of the test's own; the runner starts every call at once and
kills whatever is still running when it returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import forkrun
from tests.support.images import RegistryEndpoint

CLI_TIMEOUT = 60.0
TRUEDIGEST = (sys.executable, "-m", "truedigest")
# Variables of the test runner that must not steer the CLI under test: truedigest's
# own, docker's and podman's credential files, CI detection (GITHUB_ACTIONS,
# GITEA_ACTIONS: workflow annotations) and the CP token (CP_ADMIN_API_TOKEN).
_DROPPED_ENV = ("TRUEDIGEST_", "DOCKER_", "REGISTRY_AUTH_FILE", "XDG_", "GITHUB_", "GITEA_", "CP_")
_SHOWN = 4000  # characters of stdout and of stderr in a failure message


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    program: str = "truedigest"

    def __str__(self) -> str:
        return (
            f"{self.program} {' '.join(self.args)} -> exit {self.code}\n"
            f"stdout: {self.stdout[:_SHOWN]!r}\nstderr: {self.stderr[:_SHOWN]!r}"
        )

    def json(self) -> dict[str, Any]:
        """stdout, which must be one JSON object."""
        doc = json.loads(self.stdout)
        assert isinstance(doc, dict), str(self)
        return doc

    def report(self) -> dict[str, Any]:
        """`json()` of a document that carries its exit code (verify): the two agree."""
        doc = self.json()
        assert doc["exit_code"] == self.code, str(self)
        return doc

    def source(self, source_id: str) -> dict[str, Any]:
        """The one source `source_id` of a verify `report()`."""
        found: list[dict[str, Any]] = [s for s in self.report()["sources"] if s["id"] == source_id]
        assert len(found) == 1, str(self)
        return found[0]


def cli_env(home: Path, **extra: str | None) -> dict[str, str]:
    """The runner's environment minus anything truedigest reads, HOME=`home` (so no
    ~/.docker, no ~/.config) and NO_COLOR=1; then `extra`, where None removes a
    variable (`NO_COLOR=None`: colour allowed, a pipe must stay plain on its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV)}
    env["HOME"] = str(home)
    env["NO_COLOR"] = "1"
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def registry_credentials(server: RegistryEndpoint, password: str | None = None) -> dict[str, str]:
    """The variables that give truedigest `server`'s credentials (with `password`
    instead of the real one when given); none for a registry without auth."""
    if server.username is None:
        return {}
    assert server.password is not None
    return {
        "TRUEDIGEST_REGISTRY_USERNAME": server.username,
        "TRUEDIGEST_REGISTRY_PASSWORD": password or server.password,
    }


def transport_flags(server: RegistryEndpoint) -> list[str]:
    """--plain-http for a plain-HTTP registry, --ca-file for one on TLS (the TLS and
    token variants: a token realm on another port gets credentials only over https)."""
    if server.url.startswith("https://"):
        assert server.ca_file is not None
        return ["--ca-file", str(server.ca_file)]
    assert server.url.startswith("http://")
    return ["--plain-http"]


def run_cli_many(
    calls: Sequence[tuple[Sequence[str], Mapping[str, str]]],
    *,
    program: Sequence[str] = TRUEDIGEST,
    timeout: float = CLI_TIMEOUT,
) -> list[CliResult]:
    """Run `program ARGS` for each (args, env), all at once: stdin closed, stdout and
    stderr pipes. Results in order; a process still running when this returns (a
    timeout, an error) is killed.

    `truedigest` itself runs in a child forked from this (already imported) test
    process, which calls the same `truedigest.cli.main` that `python -m truedigest`
    calls, with the same fds, environment and exit code, minus ~0.3 s of interpreter
    start and imports per call. TRUEDIGEST_TEST_EXEC=1 in the test runner's
    environment runs every call as a real `python -m truedigest` process instead."""
    if tuple(program) == TRUEDIGEST and os.environ.get("TRUEDIGEST_TEST_EXEC") != "1":
        return forkrun.run_many(calls, timeout=timeout)
    name = "truedigest" if tuple(program) == TRUEDIGEST else Path(program[-1]).name
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for args, env in calls:
            procs.append(
                subprocess.Popen(
                    [*program, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=dict(env),
                )
            )
        results: list[CliResult] = []
        for (args, _), proc in zip(calls, procs, strict=True):
            out, err = proc.communicate(timeout=timeout)
            results.append(
                CliResult(tuple(args), proc.returncode, out.decode(), err.decode(), name)
            )
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_cli(args: Sequence[str], env: Mapping[str, str]) -> CliResult:
    return run_cli_many([(args, env)])[0]
