"""A real HTTP control-plane (CP) server for tests, the demo and the benchmark.

It serves the contract of docs/control-plane.md, ``GET /cp/admin/runtime-image`` with
``Authorization: Bearer <token>`` returning ``{"pins": [row, ...]}``, and, on demand,
each failure shape truedigest must handle. Standard library only: a
``ThreadingHTTPServer`` on a free ``127.0.0.1`` port, run in a daemon thread.

In a test::

    with CPServer.start(token="t0k", pins=[make_pin("api", digest)]) as cp:
        cp.set_shape("bare-list")
        ...  # point truedigest at cp.url

As a process (``scripts/demo``, ``scripts/bench``)::

    python -m tests.support.cpserver --port 0 --token-file TOKEN --pins-file PINS.json

prints its URL as the first stdout line and serves until SIGTERM or SIGINT. The pins
file is read again on every request, so re-pinning is rewriting the file (preferably
with `write_pins_file`, which replaces it atomically). It holds either a JSON list of
rows or an object ``{"pins": [row, ...], "shape": "<shape>"}`` with ``shape`` optional;
rows are served exactly as written, so a demo can show malformed rows too.
"""

from __future__ import annotations

import argparse
import enum
import hmac
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self, cast
from urllib.parse import urlsplit

DEFAULT_PATH = "/cp/admin/runtime-image"
SLOW_SECONDS = 5.0
_MAX_BODY = 1 << 20


class Shape(enum.StrEnum):
    """What the pins endpoint answers to an authorized GET."""

    OK = "ok"
    BARE_LIST = "bare-list"
    DATA = "data"
    ITEMS = "items"
    EMPTY_200 = "empty-200"
    NOT_JSON = "not-json"
    PINS_NOT_LIST = "pins-not-list"
    ERROR_500 = "500"
    REDIRECT_302 = "302"
    UNAUTHORIZED_401 = "401"
    FORBIDDEN_403 = "403"
    SLOW = "slow"


@dataclass
class PinRow:
    """One CP pin row; `to_json` leaves out optional keys that are None."""

    template_name: str
    image_digest: str
    region: str = "global"
    image_ref: str | None = None
    git_sha: str | None = None
    promoted_at: str | None = None
    promoted_by: str | None = None
    notes: str | None = None

    def to_json(self) -> dict[str, object]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


def make_pin(
    template: str,
    digest: str,
    *,
    registry_repo: str | None = None,
    git_sha: str | None = None,
    region: str = "global",
) -> PinRow:
    """A realistic row: `image_ref` from `registry_repo`, promoted now by an API token."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return PinRow(
        template_name=template,
        image_digest=digest,
        region=region,
        image_ref=None if registry_repo is None else f"{registry_repo}@{digest}",
        git_sha=git_sha,
        promoted_at=now,
        promoted_by=f"api-token-{secrets.token_hex(4)}",
    )


def write_pins_file(
    path: Path,
    pins: Sequence[PinRow | Mapping[str, object]],
    *,
    shape: str | None = None,
) -> None:
    """Atomically (re)write a pins file for process mode."""
    rows = [p.to_json() if isinstance(p, PinRow) else dict(p) for p in pins]
    doc: dict[str, object] = {"pins": rows}
    if shape is not None:
        doc["shape"] = str(Shape(shape))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_pins_file(path: Path) -> tuple[list[object], Shape]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, list):
        return doc, Shape.OK
    if isinstance(doc, dict) and isinstance(doc.get("pins"), list):
        return doc["pins"], Shape(doc.get("shape", Shape.OK))
    raise ValueError('expected a JSON list of rows or {"pins": [...]}')


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, doc: object, **headers: str) -> _Response:
    return _Response(status, json.dumps(doc).encode(), headers=dict(headers))


_UNAUTHORIZED = _json(401, {"error": "unauthorized"}, **{"WWW-Authenticate": 'Bearer realm="cp"'})
_FORBIDDEN = _json(403, {"error": "forbidden"})


class CPServer:
    """A CP on loopback. Start with `CPServer.start(...)`; also a context manager."""

    def __init__(
        self,
        *,
        token: str,
        pins: Sequence[PinRow] = (),
        path: str = DEFAULT_PATH,
        delay: float = 0.0,
        pins_file: Path | None = None,
        port: int = 0,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self.token = token
        self.path = path
        self.delay = delay
        self.pins_file = pins_file
        self._lock = threading.Lock()
        self._rows: list[object] = [p.to_json() for p in pins]
        self._shape = Shape.OK
        self._raw: _Response | None = None
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.cp = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"cpserver-{self.port}",
            daemon=True,
        )

    @classmethod
    def start(
        cls,
        *,
        token: str,
        pins: Sequence[PinRow] | None = None,
        path: str = DEFAULT_PATH,
        delay: float = 0.0,
        pins_file: Path | None = None,
        port: int = 0,
    ) -> CPServer:
        """Bind a free port (or `port`) on 127.0.0.1 and serve in a daemon thread.

        With `pins_file`, rows (and an optional shape) come from that file on every request.
        """
        server = cls(
            token=token, pins=pins or (), path=path, delay=delay, pins_file=pins_file, port=port
        )
        server._thread.start()
        return server

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def set_pins(self, pins: Sequence[PinRow]) -> None:
        """Serve these rows as a normal 200 ``{"pins": [...]}`` (resets shape and raw)."""
        with self._lock:
            self._rows = [p.to_json() for p in pins]
            self._shape = Shape.OK
            self._raw = None

    def set_shape(self, shape: str) -> None:
        """Answer authorized GETs in one of the `Shape` forms (clears `set_raw`)."""
        checked = Shape(shape)
        with self._lock:
            self._shape = checked
            self._raw = None

    def set_raw(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Answer authorized GETs with exactly this status, body and content type."""
        with self._lock:
            self._raw = _Response(status, body, content_type)

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent. Pending slow answers are dropped."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"CPServer(url={self.url!r}, path={self.path!r})"

    # -- request handling (called from handler threads) --

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _answer(self, request: RecordedRequest) -> _Response | None:
        """The response to send, or None to hang up without answering."""
        if self.delay > 0 and self._stopping.wait(self.delay):
            return None
        if request.path != self.path:
            return _json(404, {"error": "not found", "path": request.path})
        if request.method != "GET":
            return _json(405, {"error": "method not allowed"}, Allow="GET")
        auth = request.headers.get("authorization")
        if auth is None:
            return _UNAUTHORIZED
        if not hmac.compare_digest(auth.encode(), f"Bearer {self.token}".encode()):
            return _FORBIDDEN
        with self._lock:
            rows, shape, raw = list(self._rows), self._shape, self._raw
        if raw is not None:
            return raw
        if self.pins_file is not None:
            try:
                rows, shape = _load_pins_file(self.pins_file)
            except (OSError, ValueError) as exc:
                print(f"cpserver: cannot load {self.pins_file}: {exc}", file=sys.stderr)
                return _json(500, {"error": "cpserver: cannot load pins file"})
        if shape is Shape.SLOW and self._stopping.wait(SLOW_SECONDS):
            return None
        return self._shaped(shape, rows)

    def _shaped(self, shape: Shape, rows: list[object]) -> _Response:
        match shape:
            case Shape.OK | Shape.SLOW:
                return _json(200, {"pins": rows})
            case Shape.BARE_LIST:
                return _json(200, rows)
            case Shape.DATA:
                return _json(200, {"data": rows})
            case Shape.ITEMS:
                return _json(200, {"items": rows})
            case Shape.EMPTY_200:
                return _Response(200)
            case Shape.NOT_JSON:
                return _Response(200, b"<html>oops</html>", "text/html; charset=utf-8")
            case Shape.PINS_NOT_LIST:
                return _json(200, {"pins": {"a": 1}})
            case Shape.ERROR_500:
                return _json(500, {"error": "internal server error"})
            case Shape.REDIRECT_302:
                return _Response(302, headers={"Location": f"{self.url}/login"})
            case Shape.UNAUTHORIZED_401:
                return _UNAUTHORIZED
            case Shape.FORBIDDEN_403:
                return _FORBIDDEN


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    cp: CPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeouts in tests) is expected; anything else is loud.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "truedigest-cpserver/1"
    protocol_version = "HTTP/1.0"
    verbose = False

    def _handle(self) -> None:
        cp = cast(_HTTPServer, self.server).cp
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        length = int(headers.get("content-length", "0") or "0")
        body = self.rfile.read(min(length, _MAX_BODY)) if length > 0 else b""
        target = urlsplit(self.path)
        request = RecordedRequest(self.command, target.path, target.query, headers, body)
        cp._record(request)
        response = cp._answer(request)
        if response is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only (never headers, so never the token), and only if asked.
        if self.verbose:
            super().log_message(format, *args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.cpserver",
        description="Serve a test control plane; print its URL on the first stdout line.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--pins-file", type=Path, required=True, help="reread on every request")
    parser.add_argument("--delay-ms", type=int, default=0, help="sleep before every answer")
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    token = args.token_file.read_text(encoding="utf-8").strip()
    if not token:
        parser.error(f"{args.token_file} is empty")
    _Handler.verbose = args.verbose
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with CPServer.start(
        token=token,
        path=args.path,
        delay=args.delay_ms / 1000,
        pins_file=args.pins_file,
        port=args.port,
    ) as cp:
        print(cp.url, flush=True)
        while not done.is_set():
            done.wait(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
