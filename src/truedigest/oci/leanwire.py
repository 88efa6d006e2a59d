"""HTTP/1.1 on one socket, for `lean.LeanTransport`: request bytes, response parsing.

Every read is bounded: the response head (status line and fields) by `MAX_HEAD`
bytes and `MAX_FIELDS` fields, interim (1xx) answers by `MAX_INTERIM`, a chunk-size
line by `MAX_CHUNK_LINE`, trailers by `MAX_TRAILERS`; each receive by what is left
of the thread's response deadline. A malformed or over-bound answer is
httpmodel.RemoteProtocolError: no obs-fold, no field without a name, at most one
distinct Content-Length, no Transfer-Encoding but `chunked`. Bodies are RAW bytes
(no Content-Encoding decoding: `httpclient.read_body` does that, with caps).
"""

from __future__ import annotations

import contextlib
import math
import re
import select
import socket
from collections.abc import Callable, Iterator
from typing import NamedTuple

from truedigest.oci import httpmodel
from truedigest.oci.httpmodel import Request
from truedigest.oci.netguard import deadline_left

MAX_HEAD = 100 * 1024  # what httpcore let h11 buffer for a response head
MAX_FIELDS = 256
MAX_INTERIM = 8
MAX_CHUNK_LINE = 4096  # a chunk-size line, extensions included
MAX_TRAILERS = 16 * 1024
RECV = 65536

_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?\r?")
# One field a line: a token name, a colon, the value without surrounding blanks (it
# ends at its last non-blank: only trailing blanks are backtracked over). A line that
# does not match (obs-fold, no name, blank before the colon) is not found, so fewer
# fields than lines means a malformed head.
_FIELDS = re.compile(
    rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[^\r\n]*[^\r\n \t])?)[ \t]*\r?$",
    re.MULTILINE,
)
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_FRAMING_LENGTHS = frozenset(len(name) for name in _FRAMING)
# What a response head, a request's field values and its target may hold: `translate`
# deletes these, and anything left is illegal (a head's CR only before LF: counted).
_HEAD_TEXT = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\t\r\n"
_TOKENS = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: [!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE_TEXT = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
_TARGET_TEXT = bytes(range(0x21, 0x7F))
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_INCOMPLETE = "peer closed connection without sending complete message body"
_NO_ANSWER = "Server disconnected without sending a response."


def _millis(seconds: float | None) -> int | None:
    """A poll timeout: whole milliseconds, rounded up (0 stays 0: no wait)."""
    return None if seconds is None else math.ceil(seconds * 1000)


class Stale(Exception):
    """A reused connection failed before any answer byte: the server had closed it."""

    def __init__(self, error: httpmodel.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


class Conn:
    """One socket, its unread bytes, and whether it served a response before.

    A plain-TCP socket is non-blocking: a send is one `send` (a wait only when the
    kernel's buffer is full) and a receive one `poll` (bounded by what is left of the
    deadline) and one `recv`. Every blocking call hands the GIL to another thread and
    back; with 64 requests in flight, the `settimeout` + poll-inside-`sendall`/`recv`
    way cost three more of those per request. A TLS socket keeps socket timeouts
    (an SSLSocket's non-blocking reads and writes need the other's readiness)."""

    __slots__ = ("buf", "got", "idle_since", "key", "plain", "poller", "reused", "sock")

    def __init__(self, sock: socket.socket, key: tuple[str, str, int], poller: select.poll) -> None:
        self.sock = sock
        self.key = key
        self.poller = poller
        poller.register(sock, select.POLLIN)
        self.buf = bytearray()
        self.reused = False
        self.got = False  # an answer byte arrived for the current request
        self.idle_since = 0.0
        self.plain = not hasattr(sock, "pending")  # not an ssl.SSLSocket (ssl loads lazily)
        if self.plain:
            sock.setblocking(False)

    def pending(self) -> bool:
        """Bytes read but not asked for (here or in the TLS layer)."""
        if self.buf:
            return True
        return not self.plain and self.sock.pending() > 0  # type: ignore[attr-defined]

    def send(self, data: bytes, limit: float | None) -> None:
        self.got = False
        try:
            if self.plain:
                self._send_plain(data, limit)
            else:
                self.sock.settimeout(deadline_left(limit, httpmodel.WriteTimeout))
                self.sock.sendall(data)
        except TimeoutError:
            raise httpmodel.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            error = httpmodel.WriteError(str(exc) or type(exc).__name__)
            if self.reused:
                raise Stale(error) from None
            raise error from None

    def _send_plain(self, data: bytes, limit: float | None) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:  # the kernel's send buffer is full: wait for room
                writable = select.poll()
                writable.register(self.sock, select.POLLOUT)
                if not writable.poll(_millis(deadline_left(limit, httpmodel.WriteTimeout))):
                    raise TimeoutError from None
                continue
            view = view[sent:]

    def recv(self, size: int, limit: float | None) -> bytes:
        try:
            if self.plain:
                data = self._recv_plain(size, limit)
            else:
                self.sock.settimeout(deadline_left(limit, httpmodel.ReadTimeout))
                data = self.sock.recv(size)
        except TimeoutError:
            raise httpmodel.ReadTimeout("timed out reading the response") from None
        except OSError as exc:
            error = httpmodel.ReadError(str(exc) or type(exc).__name__)
            if self.reused and not self.got:
                raise Stale(error) from None
            raise error from None
        if data:
            self.got = True
        return data

    def _recv_plain(self, size: int, limit: float | None) -> bytes:
        while True:
            if not self.poller.poll(_millis(deadline_left(limit, httpmodel.ReadTimeout))):
                raise TimeoutError
            try:
                return self.sock.recv(size)
            except BlockingIOError:  # woken without data after all: wait again
                continue

    def line(self, most: int, limit: float | None) -> bytes:
        """The next line (without its CRLF or LF), at most `most` bytes."""
        buf = self.buf
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end >= 0:
                if end > most + 1:
                    break
                line = bytes(buf[:end])
                del buf[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(buf) > most + 1:
                break
            start = len(buf)
            data = self.recv(RECV, limit)
            if not data:
                raise httpmodel.RemoteProtocolError(_INCOMPLETE)
            buf += data
        raise httpmodel.RemoteProtocolError("a chunked-body line is too long")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Head(NamedTuple):
    """A final response's status line and fields, and how its body is framed."""

    status: int
    reason: bytes
    fields: list[tuple[bytes, bytes]]
    length: int | None  # body bytes; None: chunked or until the server closes
    chunked: bool
    keep: bool  # the connection may serve another request after this body


def read_head(conn: Conn, request: Request, limit: float | None) -> Head:
    """Read the final response head (interim 1xx answers skipped)."""
    for _ in range(MAX_INTERIM + 1):
        block = _read_block(conn, limit)
        first, _, rest = block.partition(b"\n")
        status_line = _STATUS.fullmatch(first)
        if status_line is None:
            raise httpmodel.RemoteProtocolError("malformed HTTP status line")
        fields: list[tuple[bytes, bytes]] = []
        if rest:
            lines = rest.count(b"\n") + 1
            if lines > MAX_FIELDS:
                raise httpmodel.RemoteProtocolError(f"more than {MAX_FIELDS} header fields")
            fields = _FIELDS.findall(rest)
            if (
                len(fields) != lines
                or rest.translate(None, _HEAD_TEXT)
                or rest.count(b"\r") != rest.count(b"\r\n")
            ):
                raise httpmodel.RemoteProtocolError("malformed header field line")
        status = int(status_line[2])
        if status >= 200:
            return _frame(status, status_line, fields, request)
        if status == 101:
            raise httpmodel.RemoteProtocolError("switching protocols was not asked for")
    raise httpmodel.RemoteProtocolError("too many interim (1xx) responses")


def _read_block(conn: Conn, limit: float | None) -> bytes:
    buf = conn.buf
    start = 0
    while True:
        if buf[:5] != b"HTTP/"[: len(buf)]:
            raise httpmodel.RemoteProtocolError("the answer is not HTTP/1.x")
        blank = _blank_line(buf, start)
        if blank is not None:
            if blank[1] > MAX_HEAD:
                break
            block = bytes(buf[: blank[0]])
            del buf[: blank[1]]
            return block
        if len(buf) > MAX_HEAD:
            break
        start = max(0, len(buf) - 3)
        data = conn.recv(RECV, limit)
        if not data:
            error = httpmodel.RemoteProtocolError(
                _NO_ANSWER if not buf else "incomplete response head"
            )
            if conn.reused and not conn.got:
                raise Stale(error)
            raise error
        buf += data
    raise httpmodel.RemoteProtocolError(f"response head over {MAX_HEAD} bytes")


def _blank_line(buf: bytearray, start: int) -> tuple[int, int] | None:
    """Where the first blank line (CRLF or bare LF endings) from `start` begins and
    ends, or None: two `find`s, not a regular expression over the whole buffer."""
    lf_lf, lf_crlf = buf.find(b"\n\n", start), buf.find(b"\n\r\n", start)
    if lf_lf < 0 and lf_crlf < 0:
        return None
    use_lf = lf_crlf < 0 or 0 <= lf_lf < lf_crlf
    begin, end = (lf_lf, lf_lf + 2) if use_lf else (lf_crlf, lf_crlf + 3)
    if begin > start and buf[begin - 1] == 0x0D:  # the CR of the line's CRLF
        begin -= 1
    return begin, end


def _frame(
    status: int,
    status_line: re.Match[bytes],
    fields: list[tuple[bytes, bytes]],
    request: Request,
) -> Head:
    reason = status_line[3] or b""
    keep = status_line[1] == b"1"
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for name, value in fields:  # the few that frame the body (a length test skips most)
        if len(name) not in _FRAMING_LENGTHS or (lower := name.lower()) not in _FRAMING:
            continue
        if lower == b"content-length":
            if value.isdigit():  # the usual one: a single plain number
                lengths.append(value)
            else:
                lengths.extend(v.strip(b" \t") for v in value.split(b","))
        elif lower == b"transfer-encoding":
            codings.extend(v.strip(b" \t").lower() for v in value.split(b","))
        elif lower == b"connection":
            keep = keep and b"close" not in {v.strip(b" \t") for v in value.lower().split(b",")}
    if request.method == "HEAD" or status in (204, 304):
        return Head(status, reason, fields, 0, False, keep)
    if codings:
        if codings != [b"chunked"]:
            raise httpmodel.RemoteProtocolError("unsupported Transfer-Encoding")
        return Head(status, reason, fields, None, True, keep and not lengths)
    if lengths:
        if len(set(lengths)) != 1:
            raise httpmodel.RemoteProtocolError("conflicting Content-Length values")
        value = lengths[0]
        if not (value.isdigit() and len(value) <= 18):
            raise httpmodel.RemoteProtocolError("malformed Content-Length")
        return Head(status, reason, fields, int(value), False, keep)
    return Head(status, reason, fields, None, False, False)


class Body:
    """A response body as raw bytes; closing it hands the connection back (reusable
    only when the body was read to its end and the server allows it)."""

    def __init__(
        self,
        conn: Conn,
        head: Head,
        limit: float | None,
        release: Callable[[Conn, bool], None],
    ) -> None:
        self._conn = conn
        self._head = head
        self._limit = limit
        self._release: Callable[[Conn, bool], None] | None = release
        self._done = head.length == 0

    def __iter__(self) -> Iterator[bytes]:
        if self._done:
            return
        head = self._head
        if head.chunked:
            yield from self._chunks()
        elif head.length is not None:
            yield from self._fixed(head.length)
        else:
            yield from self._until_close()
        self._done = True

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self._conn, self._done and self._head.keep)

    def _fixed(self, left: int) -> Iterator[bytes]:
        conn = self._conn
        buf = conn.buf
        if buf:
            take = bytes(buf[:left])
            del buf[: len(take)]
            left -= len(take)
            yield take
        while left > 0:
            data = conn.recv(min(left, RECV), self._limit)
            if not data:
                raise httpmodel.RemoteProtocolError(_INCOMPLETE)
            left -= len(data)
            yield data

    def _chunks(self) -> Iterator[bytes]:
        conn, limit = self._conn, self._limit
        while True:
            size = conn.line(MAX_CHUNK_LINE, limit).split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(size):
                raise httpmodel.RemoteProtocolError("malformed chunk size")
            count = int(size, 16)
            if count == 0:
                break
            yield from self._fixed(count)
            if conn.line(0, limit):
                raise httpmodel.RemoteProtocolError("a chunk does not end where its size says")
        room = MAX_TRAILERS
        while line := conn.line(room, limit):  # trailer fields: skipped
            room -= len(line) + 2
            if room < 0:
                raise httpmodel.RemoteProtocolError("trailers too large")

    def _until_close(self) -> Iterator[bytes]:
        conn = self._conn
        if conn.buf:
            data = bytes(conn.buf)
            conn.buf.clear()
            yield data
        while data := conn.recv(RECV, self._limit):
            yield data


def encode_request(request: Request) -> bytes:
    """The request line, fields and body; httpmodel.LocalProtocolError if HTTP cannot carry it."""
    method = request.method.encode("ascii", "replace")
    target = request.url.raw_path
    if not _TOKEN.fullmatch(method) or not target or target.translate(None, _TARGET_TEXT):
        raise httpmodel.LocalProtocolError("illegal request line")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    raw = request.raw_headers
    names = b" ".join([name for name, _ in raw])
    values = b"".join([v for _, v in raw])
    if raw and (not _TOKENS.fullmatch(names) or values.translate(None, _VALUE_TEXT)):
        raise httpmodel.LocalProtocolError("illegal header name or value")
    for name, value in raw:
        parts += (name, b": ", value, b"\r\n")
    lowered = names.lower().split()
    if b"host" not in lowered:
        parts[4:4] = [b"Host: ", request.url.netloc, b"\r\n"]
    body = request.content
    if b"transfer-encoding" in lowered:
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    elif body and b"content-length" not in lowered:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts += (b"\r\n", body)
    return b"".join(parts)
