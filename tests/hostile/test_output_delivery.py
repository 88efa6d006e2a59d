"""Issue 7, items 3, 10, 16, 17 and the report files: output that was not delivered is
not a pass, one line is one line, a terminal gets no escape from outside.

- stdout on `/dev/full` or closed (`>&-`): a run that would pass exits 3 with one
  `error:` line (never 0, never Python's 120); a failing verdict keeps its code;
- `--github-output` / `--summary-file` naming a FIFO: exit 2 before any request, no hang;
- an index with 18,000 children, a layout with 60,000 manifests: the error line is
  clipped with a count; the tags summary names at most ten tags;
- on a terminal (a pty), rich tables and trees carry no escape sequence from outside.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import TRUEDIGEST, CliResult, cli_env, run_cli, run_cli_many
from tests.support.cpserver import CPServer
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.hostile_registry import PAYLOADS, REPO, HostileRepo, cp_body
from tests.support.images import build_image, canonical_json, sha256_digest

CP_TOKEN = "cp-token-delivery-4e5f6a"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ERROR_LINE_MAX = 1100  # the clip (1000) plus its count


@dataclass
class Agreeing:
    """A registry and a CP that agree: every command would pass (exit 0)."""

    repo: HostileRepo
    registry: HostileServer
    cp: CPServer
    home: Path

    @property
    def repository(self) -> str:
        return f"{self.registry.host}/{REPO}"

    def env(self, **extra: str | None) -> dict[str, str]:
        return cli_env(self.home, CP_ADMIN_API_TOKEN=CP_TOKEN, **extra)


@pytest.fixture
def agreeing(tmp_path: Path) -> Iterator[Agreeing]:
    repo = HostileRepo("plain")
    repo.tags = ["latest", "v1"]
    with HostileServer(repo) as registry:
        cp = CPServer.start(token=CP_TOKEN)
        try:
            row = {"template_name": "app", "region": "global", "image_digest": repo.index_digest}
            cp.set_raw(200, cp_body([row]))
            yield Agreeing(repo, registry, cp, tmp_path)
        finally:
            cp.stop()


COMMANDS: dict[str, Callable[[Agreeing], list[str]]] = {
    "resolve": lambda a: ["resolve", "--plain-http", f"{a.repository}:latest"],
    "resolve-json": lambda a: ["resolve", "--plain-http", f"{a.repository}:latest", "-o", "json"],
    "verify": lambda a: [
        "verify",
        "--plain-http",
        "--image",
        f"{a.repository}:latest",
        "--cp",
        f"prod={a.cp.url}",
        "--template",
        "app",
    ],
    "verify-json": lambda a: [
        "verify",
        "--plain-http",
        "--image",
        f"{a.repository}:latest",
        "--cp",
        f"prod={a.cp.url}",
        "--template",
        "app",
        "-o",
        "json",
    ],
    "tags": lambda a: ["tags", "--plain-http", a.repository],
    "inspect": lambda a: ["inspect", "--plain-http", f"{a.repository}:latest"],
    "whatis": lambda a: ["whatis", "--plain-http", a.repo.image.digest, "--repo", a.repository],
    "pins": lambda a: [
        "pins",
        "--plain-http",
        "--cp",
        f"prod={a.cp.url}",
        "--repo",
        a.repository,
    ],
}


def run_with_stdout(args: list[str], env: dict[str, str], stdout: str) -> CliResult:
    """The CLI with stdout on `/dev/full` ("full") or closed ("closed")."""
    if stdout == "full":
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [*TRUEDIGEST, *args], stdout=full, stderr=subprocess.PIPE, env=env, timeout=60
            )
    else:
        proc = subprocess.run(
            ["/bin/sh", "-c", 'exec "$@" >&-', "sh", *TRUEDIGEST, *args],
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
    return CliResult(tuple(args), proc.returncode, "", proc.stderr.decode())


def test_every_command_passes_when_its_stdout_is_delivered(agreeing: Agreeing) -> None:
    """The baseline of the cases below: the same runs, delivered, exit 0."""
    used = sorted({command for command, _ in LOST})
    results = run_cli_many([(COMMANDS[c](agreeing), agreeing.env()) for c in used])
    for result in results:
        assert_safe(result, code=0, secrets=[CP_TOKEN])


LOST = [
    *((c, "full") for c in ("resolve", "verify-json", "tags", "inspect", "pins")),
    *((c, "closed") for c in ("resolve", "whatis")),
]


@pytest.mark.parametrize(("command", "stdout"), LOST)
def test_a_pass_whose_stdout_was_lost_is_exit_3(
    agreeing: Agreeing, command: str, stdout: str
) -> None:
    result = run_with_stdout(COMMANDS[command](agreeing), agreeing.env(), stdout)

    assert_safe(result, code=3, secrets=[CP_TOKEN])
    assert result.stderr.count("error: stdout could not be written") == 1, str(result)


def test_a_failing_verdict_keeps_its_code_when_stdout_is_lost(agreeing: Agreeing) -> None:
    row = {"template_name": "app", "region": "global", "image_digest": agreeing.repo.image.digest}
    agreeing.cp.set_raw(200, cp_body([row]))  # the platform child, not the tag's index

    result = run_with_stdout(COMMANDS["verify"](agreeing), agreeing.env(), "full")

    assert_safe(result, code=1, secrets=[CP_TOKEN])


@pytest.mark.parametrize(
    ("flag", "reader"),
    [("--github-output", False), ("--github-output", True), ("--summary-file", True)],
)
def test_a_fifo_report_file_is_refused_before_any_request(
    agreeing: Agreeing, tmp_path: Path, flag: str, reader: bool
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    held = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK) if reader else None
    try:
        result = run_cli([*COMMANDS["verify"](agreeing), flag, str(fifo)], agreeing.env())
    finally:
        if held is not None:
            os.close(held)

    assert_safe(result, code=2, secrets=[CP_TOKEN])
    assert f"error: {flag}" in result.stderr
    if reader:
        assert "FIFO" in result.stderr
    assert agreeing.registry.count() == 0
    assert agreeing.cp.requests == []


# -- one line is one line ---------------------------------------------------------------


def _wide_index(children: int) -> bytes:
    manifests = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
            "size": 500,
            "platform": {"os": "linux", "architecture": f"arch{i}"},
        }
        for i in range(children)
    ]
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def test_an_index_with_18000_children_makes_one_bounded_error_line(tmp_path: Path) -> None:
    body = _wide_index(18_000)
    assert len(body) < 4 * 1024 * 1024

    def serve(_req: Request) -> Answer:
        return Answer(200, [("Content-Type", OCI_INDEX)], body)

    with HostileServer(serve) as registry:
        result = run_cli(
            ["resolve", "--plain-http", "--platform", "linux/s390x", f"{registry.host}/a/b:c"],
            cli_env(tmp_path),
        )

    assert_safe(result, code=10)
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(line) <= ERROR_LINE_MAX, len(line)
    assert line.endswith("more characters)")
    assert max(len(x) for x in result.stderr.splitlines()) <= ERROR_LINE_MAX


def test_a_layout_with_60000_manifests_makes_one_bounded_error_line(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    manifests = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
            "size": 500,
            "annotations": {"org.opencontainers.image.ref.name": f"tag-{i}"},
        }
        for i in range(60_000)
    ]
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))

    result = run_cli(
        ["verify", "--plain-http", "--image", "127.0.0.1:9/a/b:c", "--oci-layout", str(layout)],
        cli_env(tmp_path),
    )

    assert_safe(result, code=(2, 3))
    assert max(len(x) for x in result.stderr.splitlines()) <= ERROR_LINE_MAX, result.stderr[:300]


def test_the_tags_summary_names_at_most_ten_tags(tmp_path: Path) -> None:
    created = "org.opencontainers.image.created"
    old = build_image(REPO, salt="old", annotations={created: "2023-01-01T00:00:00Z"})
    new = build_image(REPO, salt="new", annotations={created: "2024-01-01T00:00:00Z"})
    names = [f"t{i}" for i in range(40)]
    blobs = {sha256_digest(b): b for b in (*old.blobs, *new.blobs)}

    def serve(req: Request) -> Answer:
        if req.path.startswith(f"/v2/{REPO}/tags/list"):
            body = json.dumps({"name": REPO, "tags": ["old", *names]}).encode()
            return Answer(200, [("Content-Type", "application/json")], body)
        last = req.path.rsplit("/", 1)[-1]
        if "/blobs/" in req.path and last in blobs:
            return Answer(200, [("Content-Type", "application/octet-stream")], blobs[last])
        image = old if last == "old" else new
        return Answer(200, [("Content-Type", image.media_type)], image.manifest)

    with HostileServer(serve) as registry:
        result = run_cli(["tags", "--plain-http", f"{registry.host}/{REPO}"], cli_env(tmp_path))

    assert_safe(result, code=0)
    (summary,) = result.stderr.splitlines()
    assert "and 30 more" in summary, summary
    assert len(summary) < 400, summary
    assert "t39" in result.stdout  # the table itself keeps every tag


# -- a terminal -------------------------------------------------------------------------


def run_on_tty(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The CLI with stdout on a pseudo-terminal 240 columns wide: (code, tty text, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 240, 0, 0))
    proc = subprocess.Popen(
        [*TRUEDIGEST, *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    with contextlib.suppress(OSError):  # EIO: the child closed its end
        while data := os.read(master, 65536):
            chunks.append(data)
    os.close(master)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), err.decode()


# Escapes only a server could have put there: rich draws with SGR (`ESC [ … m`) alone.
FOREIGN = ("\x1b]", "\x07", "\x1b[2J", "\x9b", "\x00", "\x08", "\x90", "\x9c", "\x7f")


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_a_terminal_gets_no_escape_from_outside(tmp_path: Path, command: str) -> None:
    payload = PAYLOADS["commands-and-escapes"]
    repo = HostileRepo(payload)
    with HostileServer(repo) as registry:
        cp = CPServer.start(token=CP_TOKEN)
        try:
            row = {"template_name": "app", "region": "global", "image_digest": repo.image.digest}
            cp.set_raw(200, cp_body([row | {"notes": payload, "promoted_by": payload}]))
            repository = f"{registry.host}/{REPO}"
            args = {
                "inspect": ["inspect", "--plain-http", f"{repository}:latest"],
                "whatis": ["whatis", "--plain-http", repo.image.digest, "--repo", repository],
                "tags": ["tags", "--plain-http", repository],
                "verify": [
                    "verify",
                    "--plain-http",
                    "--image",
                    f"{repository}:latest",
                    "--cp",
                    f"prod={cp.url}",
                    "--template",
                    "app",
                ],
                "pins": ["pins", "--plain-http", "--cp", f"prod={cp.url}", "--repo", repository],
            }[command]
            code, shown, err = run_on_tty(args, cli_env(tmp_path, CP_ADMIN_API_TOKEN=CP_TOKEN))
        finally:
            cp.stop()

    assert code in (0, 1, 3), (code, shown, err)
    assert shown.strip(), err
    for seq in FOREIGN:
        assert seq not in shown, (seq, shown)
        assert seq not in err, (seq, err)
