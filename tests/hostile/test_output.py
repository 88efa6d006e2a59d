"""Issue 7, items 2, 3, 11, 15, 16, 17 and 10 (stdout): every command x format x payload.

A hostile registry (`tests.support.hostile_registry.HostileRepo`) and a hostile CP put terminal
escapes, runner commands (after a newline, at line start, `##[` anywhere), C1
controls and lone surrogates into annotations, labels, platforms, tag names and
CP fields. Each run of the real CLI must be `assert_safe`: no control character, no
line a runner executes (inside Actions: only our own annotations, and their payload
no command), no secret, no traceback, one `error:` line on failure. JSON must stay
exact: the payload comes back byte for byte through a JSON parser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.cpserver import CPServer
from tests.support.hostile import HostileServer, assert_safe, runner_lines
from tests.support.hostile_registry import PAYLOADS, REPO, HostileRepo, cp_body, cp_rows

CP_TOKEN = "cp-token-0f9e8d7c6b5a"


@dataclass
class World:
    repo: HostileRepo
    registry: HostileServer
    cp: CPServer
    home: Path

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def ref(self) -> str:
        return f"{self.host}/{REPO}:latest"

    def env(self, **extra: str | None) -> dict[str, str]:
        return cli_env(self.home, CP_ADMIN_API_TOKEN=CP_TOKEN, **extra)

    def run(self, args: list[str], **extra: str | None) -> CliResult:
        return run_cli(args, self.env(**extra))


@pytest.fixture
def payload(request: pytest.FixtureRequest) -> str:
    """The payload named by an indirect parameter (default: commands and escapes)."""
    return PAYLOADS[getattr(request, "param", "commands-and-escapes")]


@pytest.fixture
def world(payload: str, tmp_path: Path) -> Iterator[World]:
    repo = HostileRepo(payload)
    with HostileServer(repo) as registry:
        cp = CPServer.start(token=CP_TOKEN)
        try:
            cp.set_raw(200, cp_body(cp_rows(payload, repo.index_digest, registry.host)))
            yield World(repo, registry, cp, tmp_path)
        finally:
            cp.stop()


def _verify(w: World, *args: str) -> list[str]:
    return [
        "verify",
        "--plain-http",
        "--image",
        w.ref,
        "--cp",
        f"prod={w.cp.url}",
        "--template",
        "app",
        *args,
    ]


# command name -> (argv builder, exit codes it may end with on the hostile world)
COMMANDS: dict[str, tuple[Callable[[World], list[str]], tuple[int, ...]]] = {
    "verify-table": (lambda w: _verify(w, "-o", "table"), (1,)),
    "verify-json": (lambda w: _verify(w, "-o", "json"), (1,)),
    "verify-markdown": (lambda w: _verify(w, "-o", "markdown"), (1,)),
    "pins-table": (
        lambda w: ["pins", "--plain-http", "--cp", f"prod={w.cp.url}", "--repo", w.ref[:-7]],
        (1,),
    ),
    "pins-json": (
        lambda w: [
            "pins",
            "--plain-http",
            "--cp",
            f"prod={w.cp.url}",
            "--repo",
            w.ref[:-7],
            "-o",
            "json",
        ],
        (1,),
    ),
    "tags-text": (lambda w: ["tags", "--plain-http", w.ref[:-7]], (0, 3)),
    "tags-json": (lambda w: ["tags", "--plain-http", w.ref[:-7], "-o", "json"], (0, 3)),
    "inspect-text": (lambda w: ["inspect", "--plain-http", w.ref], (0, 3)),
    "inspect-json": (lambda w: ["inspect", "--plain-http", w.ref, "-o", "json"], (0, 3)),
    "whatis-text": (
        lambda w: ["whatis", "--plain-http", w.repo.image.digest, "--repo", w.ref[:-7]],
        (0, 3),
    ),
    "whatis-json": (
        lambda w: [
            "whatis",
            "--plain-http",
            w.repo.image.digest,
            "--repo",
            w.ref[:-7],
            "-o",
            "json",
        ],
        (0, 3),
    ),
    "resolve-platform-text": (
        lambda w: ["resolve", "--plain-http", "--platform", "linux/s390x", w.ref],
        (10, 3),
    ),
    "resolve-platform-json": (
        lambda w: ["resolve", "--plain-http", "--platform", "linux/s390x", w.ref, "-o", "json"],
        (10, 3),
    ),
}


# Lone surrogates only where they can arrive: tag names, annotations, platforms, CP rows.
SURROGATE_COMMANDS = ("verify-json", "tags-text", "tags-json", "inspect-text", "whatis-text")
MATRIX = [("commands-and-escapes", c) for c in COMMANDS] + [
    ("lone-surrogate", c) for c in (*SURROGATE_COMMANDS, "resolve-platform-text")
]


@pytest.mark.parametrize(("payload", "command"), MATRIX, indirect=["payload"])
def test_no_escape_no_command_no_secret(world: World, command: str) -> None:
    build, codes = COMMANDS[command]
    result = world.run(build(world))
    # tags, inspect and whatis print what they could read and exit 3 for the rest
    partial = command.startswith(("tags", "inspect", "whatis"))
    assert_safe(result, code=codes, secrets=[CP_TOKEN], one_error_line=False if partial else None)
    assert len([x for x in result.stderr.splitlines() if x.startswith("error:")]) <= 1
    if command.endswith("json") and result.stdout:
        json.loads(result.stdout)  # still one strict JSON document


def test_inside_actions_only_our_annotations_and_their_payload_is_inert(world: World) -> None:
    result = world.run(_verify(world, "-o", "json"), GITHUB_ACTIONS="true")

    assert_safe(result, code=1, secrets=[CP_TOKEN], allow_own_commands=True)
    own = [line for line in result.stderr.splitlines() if line.startswith("::error")]
    assert own, str(result)  # the failing CP row is annotated
    assert not runner_lines(result.stdout), str(result)


@pytest.mark.parametrize("payload", list(PAYLOADS), indirect=True)
def test_json_keeps_every_value_exact(world: World, payload: str) -> None:
    inspected = world.run(["inspect", "--plain-http", world.ref, "-o", "json"])
    verified = world.run(_verify(world, "-o", "json"))

    doc = json.loads(inspected.stdout)
    assert doc["annotations"]["org.opencontainers.image.title"] == payload
    assert doc["children"][0]["annotations"]["note"] == payload
    row = next(s for s in json.loads(verified.stdout)["sources"] if s["id"] == "cp:prod")
    if payload == PAYLOADS["lone-surrogate"]:  # not Unicode text: a malformed row, not echoed
        assert (row["status"], row["digest"]) == ("mismatch", None)
    else:
        assert row["notes"] == payload
        assert row["promoted_by"] == payload
    for text in (inspected.stdout, verified.stdout):
        assert text.isascii()
        assert not runner_lines(text)


def test_the_step_summary_is_inert_markdown(world: World, tmp_path: Path) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    rows = cp_rows(
        "![img](https://evil.test/x.png) <img src=x onerror=alert(1)> | `code`",
        world.repo.index_digest,
        world.host,
    )
    world.cp.set_raw(200, cp_body(rows))

    result = world.run(
        _verify(world, "--summary-file", str(summary), "--github-output", str(outputs))
    )

    assert_safe(result, code=1, secrets=[CP_TOKEN])
    text = summary.read_text()
    assert "![img]" not in text
    assert "<img" not in text
    assert "&lt;img" in text
    assert "\\!\\[img\\]" in text
    header = next(line for line in text.splitlines() if line.startswith("| source |"))
    for line in text.splitlines():
        if line.startswith("| cp:prod"):
            # the injected `|` did not add a cell: as many unescaped separators as the header
            assert line.replace("\\|", "").count("|") == header.count("|"), line
    assert outputs.read_text().startswith("verdict=mismatch\n")
