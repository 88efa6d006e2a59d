"""Hostile servers and the assertions every hostile test makes.

`HostileServer` is a real HTTP/1.1 server on a free 127.0.0.1 port whose every
answer is scripted by the test: a function gets the request and returns an
`Answer` (status, headers, body), or writes raw bytes itself (`Raw`), trickles
(`Answer(trickle=...)`), or hangs until the server closes. Standard library only;
the server counts requests so tests assert counts, never durations.

`assert_safe` is the one check of what the CLI printed: exit code, a one-line
`error:` (for failures), no secret, no line an Actions runner would execute, no
control character.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from tests.support.cli import CliResult


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | Iterable[bytes] = b""
    # Send the body in chunks of `trickle` bytes with a wait of `trickle_pause` s
    # between them (bounded by the server's stop event, never a sleep that outlives
    # the test).
    trickle: int = 0
    trickle_pause: float = 0.0
    # Declare this Content-Length instead of the real one (None: the real one; -1: none).
    content_length: int | None = None


@dataclass
class Raw:
    """Write these bytes on the socket as the whole answer, then close."""

    data: bytes


@dataclass
class Hang:
    """Accept the request and send nothing until the server stops."""


Handler = Callable[[Request], Answer | Raw | Hang]


@dataclass
class HostileServer:
    handler: Handler
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, as a registry host in a reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def count(self, predicate: Callable[[Request], bool] = lambda _r: True) -> int:
        with self._lock:
            return sum(1 for r in self.requests if predicate(r))

    def start(self) -> Self:
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with outer._lock:
                    outer.requests.append(req)
                answer = outer.handler(req)
                if isinstance(answer, Hang):
                    outer.stopping.wait(120)
                    self.close_connection = True
                    return
                if isinstance(answer, Raw):
                    self.wfile.write(answer.data)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._answer(answer)

            def _answer(self, answer: Answer) -> None:
                body = answer.body
                chunks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
                self.send_response_only(answer.status)
                names = {k.lower() for k, _ in answer.headers}
                for key, value in answer.headers:
                    self.send_header(key, value)
                if isinstance(body, bytes) and answer.content_length is None:
                    if "content-length" not in names:
                        self.send_header("Content-Length", str(len(body)))
                elif answer.content_length is not None and answer.content_length >= 0:
                    self.send_header("Content-Length", str(answer.content_length))
                else:
                    self.close_connection = True
                self.end_headers()
                if self.command == "HEAD":
                    return
                try:
                    for chunk in chunks:
                        if answer.trickle:
                            for i in range(0, len(chunk), answer.trickle):
                                if outer.stopping.is_set():
                                    return
                                self.wfile.write(chunk[i : i + answer.trickle])
                                self.wfile.flush()
                                outer.stopping.wait(answer.trickle_pause)
                        else:
                            self.wfile.write(chunk)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = _serve
            do_HEAD = _serve
            do_POST = _serve
            do_PUT = _serve

        class _Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server(("127.0.0.1", 0), _H)
        # A short poll: shutdown() waits up to one poll interval (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def hostile_server(handler: Handler) -> Iterator[HostileServer]:
    """For fixtures: `yield from hostile_server(handler)`."""
    with HostileServer(handler) as server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- what every printed byte must satisfy -------------------------------------

# A line an Actions runner executes: `::cmd …::` after leading whitespace, or the
# legacy `##[cmd …]` anywhere in the line.
_RUNNER_LINE = re.compile(r"^\s*::[A-Za-z-]+(?:\s[^:]*)?::|##\[[A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# The workflow commands truedigest itself prints, on stderr, inside Actions only.
_OWN_COMMANDS = ("::error", "::notice", "::warning", "::group", "::endgroup")


def runner_lines(text: str, *, allow_own: bool = False) -> list[str]:
    """Lines of `text` a runner would execute as workflow commands."""
    found = []
    for line in text.splitlines():
        if not _RUNNER_LINE.search(line):
            continue
        if allow_own and line.startswith(_OWN_COMMANDS) and "##[" not in line:
            # our own annotation: its payload must not hold another command
            payload = line.split("::", 2)[-1]
            if not _RUNNER_LINE.search(payload):
                continue
        found.append(line)
    return found


def assert_safe(
    result: CliResult,
    *,
    code: int | Sequence[int],
    secrets: Sequence[str] = (),
    one_error_line: bool | None = None,
    allow_own_commands: bool = False,
) -> None:
    """What every hostile case asserts of one CLI run.

    - the exit code is `code` (or one of them);
    - no secret (nor its base64 form) in stdout or stderr;
    - no line a runner would execute, but our own annotations when asked;
    - no C0/C1 control character but newline and tab;
    - no traceback, no `internal error`;
    - a failure (code 2, 3 or 10) starts stderr with one `error:` line and, when
      `one_error_line` is not False, has exactly one `error:` line.
    """
    import base64

    codes = (code,) if isinstance(code, int) else tuple(code)
    assert result.code in codes, str(result)
    both = result.stdout + result.stderr
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, base64.b64encode(secret.encode()).decode()}
        for form in forms:
            assert form not in both, f"secret leaked: {result}"
    assert not runner_lines(both, allow_own=allow_own_commands), str(result)
    assert not _CONTROL.search(both), str(result)
    assert "Traceback" not in both, str(result)
    assert "internal error" not in both, str(result)
    failing = result.code in (2, 3, 10)
    if one_error_line is None:
        one_error_line = failing
    if one_error_line:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, str(result)
