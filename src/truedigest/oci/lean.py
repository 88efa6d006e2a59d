"""The transport of the request path: HTTP/1.1 on `socket` (+ `ssl`), lean and bounded.

It takes `httpmodel.Request`s and answers `httpmodel.RawResponse`s; it replaced
httpcore + h11 (about 70 % of the client's CPU per request on the bulk path, `tags`
over many tags), and the httpx models above them after it. It speaks just what a
registry, a token server and a CP need:

- a keep-alive pool per (scheme, host, port), at most `max_connections` sockets
  open and in use; a connection is reused only after its response was read to the
  end, and only if the server has not closed it meanwhile (nor sent anything);
  a GET or HEAD that fails on a reused connection before any answer byte is sent
  once more on a fresh one (the server closed it idle: it never saw the request);
- every connect, TLS handshake, send and receive gets only what is left of the
  thread's response deadline (`netguard.response_deadline`), capped by the
  request's timeouts;
- responses parsed with hard bounds (`leanwire.py`): head size and field count,
  one Content-Length, chunked framing, trailers; the body is yielded as RAW bytes
  (`httpclient.read_body` decodes, with caps).

Failures are `httpmodel` exceptions (httpx's names, as httpcore raised them):
ConnectError / ConnectTimeout (TLS failures included, with the ssl message),
ReadTimeout, WriteTimeout, PoolTimeout, ReadError, WriteError, RemoteProtocolError.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from truedigest.oci import httpmodel
from truedigest.oci.httpmodel import Headers, RawResponse, Request
from truedigest.oci.leanwire import (
    Body,
    Conn,
    Stale,
    encode_request,
    read_head,
)
from truedigest.oci.netguard import deadline_left

if TYPE_CHECKING:
    import ssl  # imported on the first https connection: plain HTTP loads no TLS

IDLE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's keepalive_expiry)
RETRY_ON_FRESH = frozenset({"GET", "HEAD"})
_PORTS = {"http": 80, "https": 443}

Key = tuple[str, str, int]


class LeanTransport:
    """HTTP/1.1 with a bounded keep-alive pool. Thread-safe.

    `verify`: the SSLContext for https (SNI and hostname checked as it says), True
    for the system's default context, False for no verification (`--insecure`);
    a bool's context is built on the first https connection.
    """

    def __init__(self, verify: ssl.SSLContext | bool = True, *, max_connections: int = 64) -> None:
        self._verify = verify
        self._context: ssl.SSLContext | None = None if isinstance(verify, bool) else verify
        self._max = max(1, max_connections)
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # a slot was freed
        self._busy = 0  # requests holding a slot (a connection) until their body closes
        self._waiting = 0
        self._idle: dict[Key, list[Conn]] = {}
        self._open = 0  # sockets open: in use + idle (+ being connected)
        self._closed = False

    # --- one request ------------------------------------------------------------

    def handle_request(self, request: Request) -> RawResponse:
        url = request.url
        scheme = url.scheme
        if scheme not in _PORTS:
            raise httpmodel.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        key = (scheme, url.host, url.port or _PORTS[scheme])
        timeouts = request.timeout
        data = encode_request(request)
        conn = self._checkout(key, deadline_left(timeouts.get("pool"), httpmodel.PoolTimeout))
        try:
            return self._exchange(request, key, conn, data, timeouts)
        except BaseException:
            self._free_slot()
            raise

    def _exchange(
        self,
        request: Request,
        key: Key,
        conn: Conn | None,
        data: bytes,
        timeouts: Mapping[str, Any],
    ) -> RawResponse:
        if conn is not None:
            try:
                return self._roundtrip(conn, request, data, timeouts)
            except Stale as stale:
                if request.method not in RETRY_ON_FRESH:
                    raise stale.error from None
            self._reserve()
        return self._roundtrip(self._connect(key, timeouts), request, data, timeouts)

    def _roundtrip(
        self, conn: Conn, request: Request, data: bytes, timeouts: Mapping[str, Any]
    ) -> RawResponse:
        try:
            conn.send(data, timeouts.get("write"))
            head = read_head(conn, request, timeouts.get("read"))
        except BaseException:
            self._discard(conn)
            raise
        body = Body(conn, head, timeouts.get("read"), self._release)
        return RawResponse(head.status, Headers.from_wire(head.fields), body)

    # --- the pool -----------------------------------------------------------------

    def _checkout(self, key: Key, wait: float | None) -> Conn | None:
        """Take a slot (waiting at most `wait` seconds), then a live idle connection to
        `key`; without one, None, and a new socket is counted (reserved).

        An idle connection is checked (a poll) outside the lock: a system call under
        it would hold up every other request's checkout and release."""
        with self._lock:
            if self._busy >= self._max:
                self._wait_for_slot(wait)
            self._busy += 1
        while True:
            evicted = None
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
                if conn is None:
                    evicted = self._reserve_locked()
            if conn is None:
                if evicted is not None:
                    evicted.close()
                return None
            if time.monotonic() - conn.idle_since < IDLE_EXPIRY and _quiet(conn):
                conn.reused = True
                return conn
            with self._lock:
                self._open -= 1
            conn.close()

    def _wait_for_slot(self, wait: float | None) -> None:
        """With the lock held: until a slot is free, or raise httpmodel.PoolTimeout."""
        ends = None if wait is None else time.monotonic() + wait
        self._waiting += 1
        try:
            while self._busy >= self._max:
                left = None if ends is None else ends - time.monotonic()
                if left is not None and left <= 0:
                    raise httpmodel.PoolTimeout("no connection free in time")
                self._freed.wait(left)
        finally:
            self._waiting -= 1

    def _free_slot(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._waiting:
                self._freed.notify()

    def _reserve(self) -> None:
        with self._lock:
            evicted = self._reserve_locked()
        if evicted is not None:
            evicted.close()

    def _reserve_locked(self) -> Conn | None:
        """Count one more socket; at the limit, give up the oldest idle one."""
        evicted = None
        if self._open >= self._max:
            for idle in self._idle.values():
                if idle:
                    evicted = idle.pop(0)
                    self._open -= 1
                    break
        self._open += 1
        return evicted

    def _discard(self, conn: Conn) -> None:
        with self._lock:
            self._open -= 1
        conn.close()

    def _release(self, conn: Conn, reusable: bool) -> None:
        """A response is closed: its connection back to the pool (or closed); its slot free."""
        keep = reusable and not conn.pending()
        if keep:
            conn.idle_since = time.monotonic()
        with self._lock:
            self._busy -= 1
            if self._waiting:
                self._freed.notify()
            if keep and not self._closed:
                self._idle.setdefault(conn.key, []).append(conn)
                return
            self._open -= 1
        conn.close()

    def _connect(self, key: Key, timeouts: Mapping[str, Any]) -> Conn:
        scheme, host, port = key
        limit = timeouts.get("connect")
        sock: socket.socket | None = None
        try:
            try:
                wait = deadline_left(limit, httpmodel.ConnectTimeout)
                # bytes: no IDNA codec loaded for a host that is ASCII already (an A-label)
                address = (host.encode("ascii"), port)  # getaddrinfo takes bytes as well
                sock = socket.create_connection(address, timeout=wait)  # type: ignore[arg-type]
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if scheme == "https":
                    sock.settimeout(deadline_left(limit, httpmodel.ConnectTimeout))
                    sock = self._tls().wrap_socket(sock, server_hostname=host)
            except TimeoutError:
                raise httpmodel.ConnectTimeout("timed out connecting") from None
            except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError)
                raise httpmodel.ConnectError(str(exc) or type(exc).__name__) from None
        except BaseException:
            if sock is not None:
                sock.close()
            with self._lock:
                self._open -= 1
            raise
        return Conn(sock, key, select.poll())

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            import ssl

            context = ssl.create_default_context()
            if self._verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._context = context
        return self._context

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
            self._open -= len(idle)
        for conn in idle:
            conn.close()


def _quiet(conn: Conn) -> bool:
    """True when an idle connection has nothing to read: not closed by the server,
    nothing unasked for sent."""
    if conn.pending():
        return False
    try:
        return not conn.poller.poll(0)
    except OSError:
        return False
