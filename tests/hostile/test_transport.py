"""Hostile transports: compressed bombs, odd encodings, trickles, hangs, odd headers.

Issue 7 items 5 (caps count decoded bytes), 8 (time is bounded), 10 (Retry-After and
other odd header values never reach the catch-all) and 17 (an over-cap error names
what was capped). Every case is a real `truedigest` process against a scripted
server on loopback; memory cases run under RLIMIT_AS; time cases use `--timeout 1`
against servers that would take minutes, and count requests instead of seconds.
"""

from __future__ import annotations

import gzip
import socket
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli, run_cli_many
from tests.support.hostile import (
    Answer,
    Hang,
    HostileServer,
    Raw,
    Request,
    assert_safe,
)
from tests.support.images import OCI_MANIFEST, build_image, sha256_digest

IMAGE = build_image("hostile/app", salt="transport")
MANIFEST = IMAGE.manifest
CT = ("Content-Type", OCI_MANIFEST)
MEMORY_LIMIT = 1 << 30  # RLIMIT_AS of a memory case: far below what a bomb expands to
_LIMITED = (
    "import resource, runpy, sys; limit = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); "
    "runpy.run_module('truedigest', run_name='__main__', alter_sys=True)"
)


def _bomb(decoded: int, wbits: int) -> bytes:
    """A valid-looking compressed stream that expands to `decoded` zero bytes, built
    from independent full-flush blocks (about 1 KB per MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    return first + unit * (decoded // len(zeros) - 1) + c.flush()


GZIP_BOMB = _bomb(1 << 30, 31)  # 1 GiB of zeros as gzip, ~1 MB
DEFLATE_BOMB = _bomb(1 << 30, 15)
# gzip of gzip of 4 GiB of zeros: about 10 KB that a one-step decoder expands to 4 GiB
STACKED_BOMB = gzip.compress(_bomb(4 << 30, 31), 9)


Route = Callable[[Request], Answer | Raw | Hang]
ROUTES: dict[str, Route] = {}


def route(name: str) -> Callable[[Route], Route]:
    def register(fn: Route) -> Route:
        ROUTES[name] = fn
        return fn

    return register


def _dispatch(req: Request) -> Answer | Raw | Hang:
    # /v2/<case>/app/manifests/v1 — the repository's first component names the case
    parts = req.path.split("/")
    fn = ROUTES.get(parts[2]) if len(parts) > 2 else None
    if fn is None:
        return Answer(404)
    return fn(req)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(_dispatch) as s:
        yield s


def resolve(server: HostileServer, case: str, tmp_path: Path, *extra: str) -> CliResult:
    args = ["resolve", "--plain-http", "--timeout", "1", f"{server.host}/{case}/app:v1", *extra]
    return run_cli(args, cli_env(tmp_path))


def resolve_limited(server: HostileServer, case: str, tmp_path: Path) -> CliResult:
    """`resolve` in a process whose address space is capped at MEMORY_LIMIT."""
    args = [str(MEMORY_LIMIT), "resolve", "--plain-http", f"{server.host}/{case}/app:v1"]
    env = cli_env(tmp_path, MALLOC_ARENA_MAX="2")
    result = run_cli_many([(args, env)], program=(sys.executable, "-c", _LIMITED))[0]
    return CliResult(tuple(args[1:]), result.code, result.stdout, result.stderr)


def _encoded(coding: str, body: bytes) -> Route:
    def answer(_req: Request) -> Answer:
        return Answer(200, [CT, ("Content-Encoding", coding)], body)

    return answer


def count(server: HostileServer, case: str) -> int:
    return server.count(lambda r: r.path.split("/")[2:3] == [case])


# -- item 5: caps count decoded bytes; one known encoding at most ------------------

ENCODED_OK: dict[str, tuple[str, bytes]] = {
    "gzip": ("gzip", gzip.compress(MANIFEST)),
    "x-gzip": ("x-gzip", gzip.compress(MANIFEST)),
    "deflate-zlib": ("deflate", zlib.compress(MANIFEST)),
    "deflate-raw": ("deflate", zlib.compress(MANIFEST, wbits=-15)),
    "identity": ("identity", MANIFEST),
    "gzip-identity": ("identity, gzip", gzip.compress(MANIFEST)),
}
for _name, (_coding, _body) in ENCODED_OK.items():
    ROUTES[f"ok-{_name}"] = _encoded(_coding, _body)


@pytest.mark.parametrize("name", sorted(ENCODED_OK))
def test_a_known_encoding_is_decoded_and_the_decoded_bytes_hashed(
    server: HostileServer, tmp_path: Path, name: str
) -> None:
    result = resolve(server, f"ok-{name}", tmp_path)
    assert_safe(result, code=0)
    assert result.stdout.strip() == sha256_digest(MANIFEST)


REFUSED: dict[str, tuple[str, bytes]] = {
    "gzip-gzip": ("gzip, gzip", STACKED_BOMB),
    "gzip-gzip-nospace": ("gzip,gzip", STACKED_BOMB),
    "deflate-gzip": ("deflate, gzip", STACKED_BOMB),
    "br": ("br", b"\x0b\x02\x80{}\x03"),
    "zstd": ("zstd", b"(\xb5/\xfd"),
    "compress": ("compress", b"\x1f\x9d"),
    "unknown": ("x-evil", MANIFEST),
}
for _name, (_coding, _body) in REFUSED.items():
    ROUTES[f"refused-{_name}"] = _encoded(_coding, _body)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_stacked_or_unknown_encodings_are_refused_in_bounded_memory(
    server: HostileServer, tmp_path: Path, name: str
) -> None:
    result = resolve_limited(server, f"refused-{name}", tmp_path)
    assert_safe(result, code=3)
    assert "Content-Encoding" in result.stderr
    assert "; refused" in result.stderr


BOMBS = {"gzip": ("gzip", GZIP_BOMB), "deflate": ("deflate", DEFLATE_BOMB)}
for _name, (_coding, _body) in BOMBS.items():
    ROUTES[f"bomb-{_name}"] = _encoded(_coding, _body)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_compressed_bomb_stops_at_the_decoded_cap_in_bounded_memory(
    server: HostileServer, tmp_path: Path, name: str
) -> None:
    result = resolve_limited(server, f"bomb-{name}", tmp_path)
    assert_safe(result, code=3)
    assert "4 MiB manifest cap" in result.stderr


_GZ = gzip.compress(MANIFEST)
BROKEN = {
    "truncated": _GZ[: len(_GZ) // 2],
    "trailing-garbage": _GZ + b"garbage after the stream",
    "two-members": _GZ + _GZ,
    "not-gzip": b"this is not gzip at all",
}
for _name, _body in BROKEN.items():
    ROUTES[f"broken-{_name}"] = _encoded("gzip", _body)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_body_that_does_not_decode_is_could_not_check(
    server: HostileServer, tmp_path: Path, name: str
) -> None:
    result = resolve(server, f"broken-{name}", tmp_path)
    assert_safe(result, code=3)
    assert "compressed stream" in result.stderr or "Content-Encoding" in result.stderr


# -- item 17: an over-cap error names what was capped -------------------------------

BIG = b" " * (5 << 20)


@route("big-declared")
def _big_declared(_r: Request) -> Answer:
    return Answer(200, [CT], BIG)


@route("big-chunked")
def _big_chunked(_r: Request) -> Answer:
    return Answer(200, [CT], iter([BIG[i : i + 65536] for i in range(0, len(BIG), 65536)]))


@route("big-lying-length")
def _big_lying(_r: Request) -> Answer:
    return Answer(200, [CT], MANIFEST, content_length=5 << 20)


@pytest.mark.parametrize("case", ["big-declared", "big-chunked", "big-lying-length"])
def test_an_oversized_manifest_names_the_manifest_cap(
    server: HostileServer, tmp_path: Path, case: str
) -> None:
    result = resolve(server, case, tmp_path)
    assert_safe(result, code=3)
    assert "4 MiB manifest cap" in result.stderr


@route("big-config")
def _big_config(req: Request) -> Answer:
    if "/blobs/" in req.path:
        return Answer(200, [("Content-Type", "application/octet-stream")], BIG)
    return Answer(200, [CT], MANIFEST)


def test_an_oversized_config_blob_names_the_config_blob_cap(
    server: HostileServer, tmp_path: Path
) -> None:
    result = resolve(server, "big-config", tmp_path, "--platform", "linux/amd64")
    assert_safe(result, code=3)
    assert "config blob cap" in result.stderr
    assert "manifest cap" not in result.stderr


def test_an_oversized_token_response_names_the_token_response(tmp_path: Path) -> None:
    realm: list[str] = []

    def registry(req: Request) -> Answer:
        if req.path.startswith("/token"):
            return Answer(200, [("Content-Type", "application/json")], b'{"token":"' + BIG + b'"}')
        return Answer(401, [("WWW-Authenticate", realm[0])])

    with HostileServer(registry) as reg:
        realm.append(f'Bearer realm="{reg.url}/token",service="s"')
        result = run_cli(
            ["resolve", "--plain-http", "--timeout", "5", f"{reg.host}/team/app:v1"],
            cli_env(tmp_path),
        )
    assert_safe(result, code=3)
    assert "token response" in result.stderr
    assert "manifest" not in result.stderr.split("hint:")[-1]


# -- item 8: --timeout bounds a whole response --------------------------------------


@route("trickle-body")
def _trickle_body(_r: Request) -> Answer:
    # 4000 bytes at 1 byte / 50 ms: 200 s if each read got the full timeout
    return Answer(200, [CT], MANIFEST + b" " * 4000, trickle=1, trickle_pause=0.05)


@route("hang")
def _hang(_r: Request) -> Hang:
    return Hang()


@pytest.mark.parametrize("case", ["trickle-body", "hang"])
def test_timeout_bounds_the_whole_response_and_it_is_not_retried(
    server: HostileServer, tmp_path: Path, case: str
) -> None:
    before = count(server, case)
    result = resolve(server, case, tmp_path)
    assert_safe(result, code=3)
    assert "--timeout 1 s" in result.stderr
    assert count(server, case) - before == 1


class TrickleHeaders:
    """A raw socket server that answers every request with headers sent one byte per
    `pause` seconds, forever (until stopped); counts connections."""

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self.stop.wait(self.pause):
                    conn.sendall(b"a")
            except OSError:
                return

    def __enter__(self) -> TrickleHeaders:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.sock.close()


def test_timeout_bounds_headers_trickled_one_byte_at_a_time(tmp_path: Path) -> None:
    with TrickleHeaders() as slow:
        result = run_cli(
            ["resolve", "--plain-http", "--timeout", "1", f"{slow.host}/team/app:v1"],
            cli_env(tmp_path),
        )
        connections = slow.connections
    assert_safe(result, code=3)
    assert "--timeout 1 s" in result.stderr
    assert connections == 1


# -- item 10: odd header values end in a value or one line, never the catch-all -----

RETRY_AFTER = [
    "²",
    "-1",
    "1.5",
    "soon",
    "0x10",
    "Fri, 31 Feb 2025 00:00:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "\xa0",
    "0",
]


def _retry_route(value: str) -> Route:
    def answer(req: Request) -> Answer:
        if _first_time(req.path):
            return Answer(503, [("Retry-After", value)])
        return Answer(200, [CT], MANIFEST)

    return answer


_SEEN: set[str] = set()
_SEEN_LOCK = threading.Lock()


def _first_time(path: str) -> bool:
    with _SEEN_LOCK:
        if path in _SEEN:
            return False
        _SEEN.add(path)
        return True


for _i, _value in enumerate(RETRY_AFTER):
    ROUTES[f"retry-after-{_i}"] = _retry_route(_value)


@pytest.mark.parametrize("index", range(len(RETRY_AFTER)), ids=[repr(v) for v in RETRY_AFTER])
def test_any_retry_after_is_a_wait_or_the_backoff(
    server: HostileServer, tmp_path: Path, index: int
) -> None:
    result = resolve(server, f"retry-after-{index}", tmp_path)
    assert_safe(result, code=0)
    assert result.stdout.strip() == sha256_digest(MANIFEST)
    assert count(server, f"retry-after-{index}") == 2


ODD_HEADERS: dict[str, Route] = {
    "content-length-superscript": lambda _r: Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n{}"
    ),
    "content-length-negative": lambda _r: Raw(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}"),
    "location-malformed": lambda _r: Answer(307, [("Location", "http://[::1/v2/x")]),
    "status-line-garbage": lambda _r: Raw(b"HTTP/9.9 abc\r\n\r\n"),
    "header-control-char": lambda _r: Raw(b"HTTP/1.1 200 OK\r\nX-A: a\x1bb\x00\r\n\r\n"),
    "huge-header": lambda _r: Raw(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * (1 << 20) + b"\r\n\r\n"),
}
for _name, _fn in ODD_HEADERS.items():
    ROUTES[f"odd-{_name}"] = _fn


@pytest.mark.parametrize("name", sorted(ODD_HEADERS))
def test_odd_headers_are_one_line_exit_3(server: HostileServer, tmp_path: Path, name: str) -> None:
    result = resolve(server, f"odd-{name}", tmp_path)
    assert_safe(result, code=3)
