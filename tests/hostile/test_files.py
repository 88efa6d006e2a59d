"""Hostile input files (issue 7, item 7): every file flag of verify and pins.

`--build-metadata`, `--build-log`, `--digest-file`, `--pin-file` (verify and pins) and
`--oci-layout` (its `oci-layout` marker and `index.json`) are each pointed at a FIFO
with no writer, `/dev/zero`, a directory, a socket and a sparse file over the 16 MiB
cap. Each run is the real CLI in a subprocess: it must exit 2 with one `error:` line
naming the flag and the file, before any network request. The FIFO cases prove there
is no hang: the runner's own timeout is the bound, the assertion is the exit code.
Standard input is read only where a flag accepts `-`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.cli import CLI_TIMEOUT, TRUEDIGEST, CliResult, cli_env, run_cli
from tests.support.hostile import Answer, HostileServer, Request, assert_safe, closed_port

CAP = 16 * 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _image() -> str:
    # Nothing listens there: a file error must come before any request.
    return f"127.0.0.1:{closed_port()}/team/app:v1"


# --- hostile files ------------------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()


def _huge(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(CAP + 1)  # sparse: nothing is written, and nothing may be read


KINDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "is a FIFO"),
    "dev-zero": (_dev_zero, "is a character device"),
    "directory": (_directory, "is a directory"),
    "huge": (_huge, "larger than 16 MiB"),
}


def _layout(root: Path, *, index: Callable[[Path], None] | None = None) -> Path:
    """An OCI layout whose index.json is made by `index` (a hostile file)."""
    root.mkdir()
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    if index is not None:
        index(root / "index.json")
    return root


# (id, argv builder given the hostile path, the path named in the error)
Case = tuple[str, Callable[[Path, Path], list[str]]]
FLAGS: list[Case] = [
    ("build-metadata", lambda p, _: ["verify", "--image", _image(), "--build-metadata", str(p)]),
    ("build-log", lambda p, _: ["verify", "--image", _image(), "--build-log", str(p)]),
    ("digest-file", lambda p, _: ["verify", "--image", _image(), "--digest-file", str(p)]),
    ("verify-pin-file", lambda p, _: ["verify", "--image", _image(), "--pin-file", str(p)]),
    ("pins-pin-file", lambda p, _: ["pins", "--plain-http", "--pin-file", str(p)]),
    (
        "oci-layout-index",
        lambda _, root: ["verify", "--image", _image(), "--oci-layout", str(root)],
    ),
]
FLAG_NAMES = {
    "build-metadata": "--build-metadata",
    "build-log": "--build-log",
    "digest-file": "--digest-file",
    "verify-pin-file": "--pin-file",
    "pins-pin-file": "--pin-file",
    "oci-layout-index": "--oci-layout",
}


def _assert_file_error(result: CliResult, flag: str, path: Path, fragment: str) -> None:
    assert_safe(result, code=2)
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: "), str(result)
    assert flag in first, str(result)
    assert str(path) in first, str(result)
    assert fragment in first, str(result)
    assert result.stdout == "", str(result)


# Every flag meets every kind, but pins' --pin-file (the same reader as verify's) only
# the FIFO: the whole hostile folder must stay fast.
MATRIX = [
    pytest.param(case, argv, kind, id=f"{case}-{kind}")
    for case, argv in FLAGS
    for kind in KINDS
    if case != "pins-pin-file" or kind == "fifo"
]


@pytest.mark.parametrize(("case", "argv", "kind"), MATRIX)
def test_hostile_file_is_exit_2_naming_flag_and_file(
    tmp_path: Path, case: str, argv: Callable[[Path, Path], list[str]], kind: str
) -> None:
    make, fragment = KINDS[kind]
    if case == "oci-layout-index":
        root = _layout(tmp_path / "layout", index=make)
        named = root / "index.json"
    else:
        root = tmp_path / "layout-unused"
        named = tmp_path / f"input-{kind}"
        make(named)

    result = run_cli([*argv(named, root), "--timeout", "1"], cli_env(tmp_path))

    _assert_file_error(result, FLAG_NAMES[case], named, fragment)


@pytest.mark.parametrize("case", ["build-log"])
def test_a_socket_is_not_a_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        argv = dict(FLAGS)[case]
        result = run_cli([*argv(path, tmp_path), "--timeout", "1"], cli_env(tmp_path))
    _assert_file_error(result, FLAG_NAMES[case], path, "is a socket")


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_hostile_oci_layout_marker(tmp_path: Path, kind: str) -> None:
    make, fragment = KINDS[kind]
    root = tmp_path / "layout"
    root.mkdir()
    make(root / "oci-layout")
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": []}))

    result = run_cli(
        ["verify", "--image", _image(), "--oci-layout", str(root), "--timeout", "1"],
        cli_env(tmp_path),
    )

    # The marker's cap is 64 KiB, so a huge marker says so.
    expected = "larger than 64 KiB" if kind == "huge" else fragment
    _assert_file_error(result, "--oci-layout", root / "oci-layout", expected)


@pytest.mark.parametrize("kind", ["fifo"])
def test_the_layout_directory_itself_is_hostile(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "layout"
    KINDS[kind][0](path)

    result = run_cli(
        ["verify", "--image", _image(), "--oci-layout", str(path), "--timeout", "1"],
        cli_env(tmp_path),
    )

    _assert_file_error(result, "--oci-layout", path, "not a directory")


# --- standard input: only where a flag says `-` ------------------------------------


def _run_with_stdin(args: Sequence[str], env: dict[str, str], stdin: int | None) -> CliResult:
    proc = subprocess.run(
        [*TRUEDIGEST, *args],
        stdin=stdin,
        capture_output=True,
        env=env,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    return CliResult(tuple(args), proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.mark.parametrize("flag", ["--build-log"])
def test_stdin_of_dev_zero_is_capped(tmp_path: Path, flag: str) -> None:
    with open("/dev/zero", "rb") as zero:
        result = _run_with_stdin(
            ["verify", "--image", _image(), flag, "-", "--timeout", "1"],
            cli_env(tmp_path),
            zero.fileno(),
        )
    assert_safe(result, code=2)
    first = result.stderr.splitlines()[0]
    assert flag in first, str(result)
    assert "standard input is larger than 16 MiB" in first, str(result)


def test_closed_stdin_is_exit_2(tmp_path: Path) -> None:
    # fd 0 closed (`<&-`): Python starts with sys.stdin = None.
    args = ("verify", "--image", _image(), "--build-log", "-", "--timeout", "1")
    proc = subprocess.run(
        [*TRUEDIGEST, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(tmp_path),
        timeout=CLI_TIMEOUT,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    result = CliResult(args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    assert_safe(result, code=2)
    assert "--build-log: standard input is closed" in result.stderr, str(result)


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--image", "{image}", "--pin-file", "-"],
        ["verify", "--image", "{image}", "--oci-layout", "-"],
    ],
    ids=["verify-pin-file", "oci-layout"],
)
def test_dash_is_a_file_name_where_stdin_is_not_accepted(tmp_path: Path, argv: list[str]) -> None:
    args = [a.replace("{image}", _image()) for a in argv]
    with open("/dev/zero", "rb") as zero:  # would never end if it were read
        result = _run_with_stdin([*args, "--timeout", "1"], cli_env(tmp_path), zero.fileno())
    assert_safe(result, code=2)
    assert "'-'" in result.stderr.splitlines()[0], str(result)


# --- and a good file through stdin still works --------------------------------------

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            "size": 2,
        },
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def _registry(request: Request) -> Answer:
    if request.path.startswith("/v2/team/app/manifests/"):
        headers = [("Content-Type", OCI_MANIFEST), ("Docker-Content-Digest", DIGEST)]
        return Answer(200, headers, MANIFEST)
    return Answer(404, [("Content-Type", "application/json")], b"{}")


@pytest.fixture
def registry() -> Iterator[HostileServer]:
    with HostileServer(_registry) as server:
        yield server


@pytest.mark.parametrize(
    ("flag", "content"),
    [
        ("--digest-file", f"{DIGEST}\n"),
        ("--build-metadata", json.dumps({"containerimage.digest": DIGEST})),
    ],
    ids=["digest-file", "build-metadata"],
)
def test_stdin_is_read_where_the_flag_accepts_dash(
    tmp_path: Path, registry: HostileServer, flag: str, content: str
) -> None:
    source = tmp_path / "stdin"
    source.write_text(content)
    args = [
        "verify",
        "--plain-http",
        "--image",
        f"{registry.host}/team/app:v1",
        flag,
        "-",
        "-o",
        "json",
        "--timeout",
        "5",
    ]
    with source.open("rb") as fh:
        result = _run_with_stdin(args, cli_env(tmp_path), fh.fileno())
    assert_safe(result, code=0)
    build = [s for s in json.loads(result.stdout)["sources"] if s["kind"] == "build"]
    assert [s["digest"] for s in build] == [DIGEST], str(result)
