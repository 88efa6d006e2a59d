"""`-q/--quiet`: the verdict is the exit code alone.

Every command that prints a report takes -q: nothing on stdout (whatever -o says),
no verdict, summary or advice line on stderr. What still prints: an error that
stopped the run (its one `error:` line and hint), `warning:` lines, and in GitHub
or Gitea Actions verify's `::error` annotations (the point of a CI step); verify
still appends to --github-output and --summary-file.

A real loopback registry (`HostileServer` serving a plain repository) and a real CP
server; the CLI runs as a subprocess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli, run_cli_many
from tests.support.cpserver import CPServer
from tests.support.hostile import HostileServer, assert_safe
from tests.support.hostile_registry import REPO, HostileRepo, cp_body

CP_TOKEN = "cp-token-quiet-7c1d2e"


@dataclass
class Site:
    repo: HostileRepo
    registry: HostileServer
    cp: CPServer
    home: Path

    @property
    def repository(self) -> str:
        return f"{self.registry.host}/{REPO}"

    def pin(self, digest: str) -> None:
        row = {"template_name": "app", "region": "global", "image_digest": digest}
        self.cp.set_raw(200, cp_body([row]))

    def env(self, **extra: str | None) -> dict[str, str]:
        return cli_env(self.home, **{"CP_ADMIN_API_TOKEN": CP_TOKEN, **extra})

    def verify(self, *extra: str) -> list[str]:
        return [
            "verify",
            "--plain-http",
            "--image",
            f"{self.repository}:latest",
            "--cp",
            f"prod={self.cp.url}",
            "--template",
            "app",
            *extra,
        ]

    def command(self, name: str) -> list[str]:
        r = self.repository
        return {
            "resolve": ["resolve", "--plain-http", f"{r}:latest"],
            "verify": self.verify(),
            "tags": ["tags", "--plain-http", r],
            "inspect": ["inspect", "--plain-http", f"{r}:latest"],
            "whatis": ["whatis", "--plain-http", self.repo.image.digest, "--repo", r],
            "pins": ["pins", "--plain-http", "--cp", f"prod={self.cp.url}", "--repo", r],
        }[name]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    repo = HostileRepo("plain")
    repo.tags = ["latest", "v1"]
    with HostileServer(repo) as registry:
        cp = CPServer.start(token=CP_TOKEN)
        try:
            s = Site(repo, registry, cp, tmp_path)
            s.pin(repo.index_digest)
            yield s
        finally:
            cp.stop()


COMMANDS = ["resolve", "verify", "tags", "inspect", "whatis", "pins"]


def assert_silent(result: CliResult, code: int) -> None:
    assert result.code == code, str(result)
    assert result.stdout == "", str(result)
    assert result.stderr == "", str(result)


def test_every_reporting_command_is_silent_on_a_pass(site: Site) -> None:
    loud = run_cli_many([(site.command(c), site.env()) for c in COMMANDS])
    quiet = run_cli_many([([*site.command(c), "-q"], site.env()) for c in COMMANDS])
    for name, said, silent in zip(COMMANDS, loud, quiet, strict=True):
        assert said.code == 0, str(said)
        assert said.stdout != "", name  # without -q each prints its report
        assert_silent(silent, 0)


@pytest.mark.parametrize("output", ["json", "markdown", "table"])
def test_quiet_wins_over_the_output_format(site: Site, output: str) -> None:
    assert_silent(run_cli([*site.verify("-o", output), "--quiet"], site.env()), 0)


def test_a_mismatch_is_exit_1_and_nothing_else(site: Site) -> None:
    site.pin(site.repo.other.digest)  # the CP names another image
    assert_silent(run_cli(site.verify("-q"), site.env()), 1)


def test_a_dangling_pin_is_exit_1_and_nothing_else(site: Site) -> None:
    site.pin("sha256:" + hashlib.sha256(b"served by no registry").hexdigest())
    assert_silent(run_cli([*site.command("pins"), "-q"], site.env()), 1)


def test_an_unreadable_cp_is_exit_3_and_nothing_else(site: Site) -> None:
    result = run_cli(site.verify("-q"), site.env(CP_ADMIN_API_TOKEN="not-the-token"))
    assert_silent(result, 3)


def test_an_error_still_prints_its_one_line(site: Site) -> None:
    nowhere = "sha256:" + hashlib.sha256(b"served by no registry").hexdigest()
    results = run_cli_many(
        [
            (["resolve", "-q", "--plain-http", f"{site.repository}@{nowhere}"], site.env()),
            (["verify", "-q", "--image", f"{site.repository}:latest"], site.env()),
        ]
    )
    absent, usage = results
    assert_safe(absent, code=10, secrets=[CP_TOKEN])
    assert absent.stdout == ""
    assert_safe(usage, code=2, secrets=[CP_TOKEN])
    assert usage.stderr.startswith("error: nothing to compare"), str(usage)


@pytest.mark.parametrize("variable", ["GITHUB_ACTIONS", "GITEA_ACTIONS"])
def test_in_actions_the_annotations_and_step_outputs_stay(
    site: Site, tmp_path: Path, variable: str
) -> None:
    site.pin(site.repo.other.digest)
    outputs = tmp_path / "github_output"
    summary = tmp_path / "summary.md"
    env = site.env(**{variable: "true"}, GITHUB_OUTPUT=str(outputs))

    result = run_cli([*site.verify("-q"), "--summary-file", str(summary)], env)

    assert result.code == 1, str(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, str(result)
    assert all(line.startswith("::error ") for line in lines), str(result)
    assert not any(line.startswith("verdict:") for line in lines)
    assert outputs.read_text().startswith("verdict=mismatch\n")
    assert "truedigest verify" in summary.read_text()
