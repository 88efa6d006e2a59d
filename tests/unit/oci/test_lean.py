"""lean.LeanTransport against real loopback servers: framing, bounds, keep-alive, deadlines.

`RawServer` answers each request on each connection with bytes a test scripts
(`script(conn, nth, request)`: the answer, or None to close without one), so
framing faults (chunked, duplicate Content-Length, header floods, early close) and
keep-alive behaviour (a reused connection the server closed) are exact. Counts
(connections, requests), never durations, are asserted.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.hostile import Answer, Hang, HostileServer, Request, closed_port
from tests.support.registry import make_test_certificates
from truedigest.oci import httpmodel, netguard
from truedigest.oci.httpmodel import URL, form_body
from truedigest.oci.lean import LeanTransport
from truedigest.oci.leanwire import MAX_FIELDS, MAX_HEAD, MAX_INTERIM

ProtocolFault = httpmodel.RemoteProtocolError
ConnectFault = httpmodel.ConnectError


@dataclass(frozen=True)
class Last:
    """Send these bytes, then close the connection."""

    data: bytes


Script = Callable[[int, int, bytes], "bytes | Last | None"]
TIMEOUT = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


class RawServer:
    """HTTP/1.1-shaped loopback server: reads request heads (and Content-Length
    bodies), answers with what `script(connection_no, request_no, request)` returns;
    `Last` closes the connection after its bytes, None closes it unanswered.
    Counts connections, requests, and connections the client closed."""

    def __init__(
        self, script: Script, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.script = script
        self.tls = tls
        self.host = host
        self.server_names: list[str | None] = []  # SNI of each TLS handshake
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed_by_client = 0
        self.ended = 0  # connections the server closed after a `Last`
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/v2/", host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                number = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            self._converse(sock, number)
        except OSError:  # the client reset the connection (it closed one unread)
            with self._lock:
                self.closed_by_client += 1

    def _converse(self, sock: socket.socket, number: int) -> None:
        buf = b""
        nth = 0
        with sock:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        with self._lock:
                            self.closed_by_client += 1
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += sock.recv(65536)
                request, buf = head + b"\r\n\r\n" + buf[:length], buf[length:]
                with self._lock:
                    self.requests.append(request)
                answer = self.script(number, nth, request)
                nth += 1
                if answer is None:
                    return
                if isinstance(answer, Last):
                    sock.sendall(answer.data)
                    sock.shutdown(socket.SHUT_RDWR)
                    with self._lock:
                        self.ended += 1
                    return
                sock.sendall(answer)

    def close(self) -> None:
        self._listener.close()


Serve = Callable[..., RawServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[RawServer] = []

    def start(script: Script, **kwargs: object) -> RawServer:
        servers.append(RawServer(script, **kwargs))  # type: ignore[arg-type]
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _always(answer: bytes | Last) -> Script:
    return lambda _c, _n, _r: answer


def _request(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> httpmodel.Request:
    fields = list((headers or {}).items())
    content = b""
    if data is not None:
        content = form_body(data)
        fields.append(("Content-Type", "application/x-www-form-urlencoded"))
    return httpmodel.Request(method, URL(url), fields, content, TIMEOUT)


def _get(
    transport: LeanTransport,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    response = transport.handle_request(_request(url, method, headers, data))
    try:
        return response.status_code, b"".join(response.iter_raw())
    finally:
        response.close()


def _fails(transport: LeanTransport, url: str, error: type[Exception]) -> str:
    with pytest.raises(error) as caught:
        _get(transport, url)
    return str(caught.value)


# --- framing ---------------------------------------------------------------------


def test_a_chunked_body_is_its_raw_bytes_and_the_connection_is_reused(serve: Serve) -> None:
    body = gzip.compress(b'{"schemaVersion": 2}')  # raw bytes: no decoding here
    chunked = b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (
        5, body[:5], len(body) - 5, body[5:],
    )  # fmt: skip
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
    server = serve(_always(head + chunked))
    with LeanTransport(False) as transport:
        assert _get(transport, server.url()) == (200, body)
        assert _get(transport, server.url()) == (200, body)
    assert (server.connections, len(server.requests)) == (1, 2)


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"-5\r\nhello\r\n0\r\n\r\n",  # signed
        b"1" * 40 + b"\r\n",  # a size no bound holds
        b"5" + b";x" * 4000 + b"\r\nhello\r\n0\r\n\r\n",  # a size line over its bound
        b"3\r\nhello\r\n0\r\n\r\n",  # data longer than its size
        b"5\r\nhello\r\n0\r\n" + b"X: y\r\n" * 5000 + b"\r\n",  # trailers over their bound
    ],
    ids=["not-hex", "signed", "huge", "long-line", "overrun", "trailer-flood"],
)
def test_a_bad_chunked_body_is_a_protocol_error(serve: Serve, chunks: bytes) -> None:
    server = serve(_always(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks))
    with LeanTransport(False) as transport:
        _fails(transport, server.url(), ProtocolFault)


def test_duplicate_content_lengths_must_agree(serve: Serve) -> None:
    same = serve(_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"))
    differ = serve(_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\nok"))
    listed = serve(_always(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok"))
    with LeanTransport(False) as transport:
        assert _get(transport, same.url()) == (200, b"ok")
        assert "Content-Length" in _fails(transport, differ.url(), ProtocolFault)
        assert "Content-Length" in _fails(transport, listed.url(), ProtocolFault)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n" + b"X-Flood: 1\r\n" * (MAX_FIELDS + 1),
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD,
        b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n  folded\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n",
        b"HTTP/1.1 200 OK\r\nX-Name : space before colon\r\n",
        b"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\n",
        b"HTTP/1.1 2000 OK\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["fields", "size", "obs-fold", "no-colon", "space", "control", "status", "not-http", "te"],
)
def test_a_malformed_or_oversized_head_is_a_protocol_error(serve: Serve, head: bytes) -> None:
    server = serve(_always(head + b"Content-Length: 0\r\n\r\n"))
    with LeanTransport(False) as transport:
        _fails(transport, server.url(), ProtocolFault)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM + 1) + b"HTTP/1.1 200 OK\r\n\r\n",
    ],
    ids=["101", "1xx-flood"],
)
def test_an_upgrade_or_endless_interim_answers_are_refused(serve: Serve, answer: bytes) -> None:
    server = serve(_always(answer))
    with LeanTransport(False) as transport:
        _fails(transport, server.url(), ProtocolFault)


def test_an_endless_head_stops_at_its_bound(serve: Serve) -> None:
    server = serve(_always(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (4 * MAX_HEAD)))
    with LeanTransport(False) as transport:
        assert "head over" in _fails(transport, server.url(), ProtocolFault)


def test_an_early_close_is_a_protocol_error(serve: Serve) -> None:
    unanswered = serve(lambda _c, _n, _r: None)
    short = serve(_always(Last(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")))
    short_chunks = serve(
        _always(Last(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"))
    )
    with LeanTransport(False) as transport:
        assert "without sending" in _fails(transport, unanswered.url(), ProtocolFault)
        assert "complete" in _fails(transport, short.url(), ProtocolFault)
        assert "complete" in _fails(transport, short_chunks.url(), ProtocolFault)
    assert len(unanswered.requests) == 1  # a fresh connection is never retried


def test_interim_answers_are_skipped_and_head_has_no_body(serve: Serve) -> None:
    def script(_c: int, _n: int, request: bytes) -> bytes:
        if request.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        return b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + _ok()

    server = serve(script)
    with LeanTransport(False) as transport:
        assert _get(transport, server.url(), "HEAD") == (200, b"")
        assert _get(transport, server.url()) == (200, b"hello")
        assert _get(transport, server.url(), "HEAD") == (200, b"")
    assert (server.connections, len(server.requests)) == (1, 3)


def test_a_body_without_length_runs_to_the_close_and_is_not_reused(serve: Serve) -> None:
    server = serve(_always(Last(b"HTTP/1.1 200 OK\r\n\r\nall of it")))
    with LeanTransport(False) as transport:
        assert _get(transport, server.url()) == (200, b"all of it")
        assert _get(transport, server.url()) == (200, b"all of it")
    assert server.connections == 2


# --- keep-alive ---------------------------------------------------------------------


def test_an_idle_connection_the_server_closed_is_not_reused(serve: Serve) -> None:
    # A POST is never retried, so it succeeds only if the closed connection was
    # seen before the request went out on it.
    server = serve(_always(Last(_ok())))
    with LeanTransport(False) as transport:
        assert _get(transport, server.url()) == (200, b"hello")
        for _ in range(500):  # until the server has ended the first connection
            if server.ended == 1:
                break
            threading.Event().wait(0.01)
        assert _get(transport, server.url(), "POST") == (200, b"hello")
    assert (server.connections, len(server.requests)) == (2, 2)


@pytest.mark.parametrize(("method", "answered"), [("GET", True), ("HEAD", True), ("POST", False)])
def test_a_reused_connection_dropped_before_an_answer_is_retried_once_if_idempotent(
    serve: Serve,
    method: str,
    answered: bool,
) -> None:
    # The server reads the second request on the first connection and closes it
    # unanswered: what a client sees when an idle close crosses its request.
    def script(conn: int, n: int, _r: bytes) -> bytes | None:
        return None if (conn, n) == (0, 1) else _ok(b"") if method == "HEAD" else _ok()

    server = serve(script)
    with LeanTransport(False) as transport:
        _get(transport, server.url(), method)
        if answered:
            assert _get(transport, server.url(), method)[0] == 200
        else:
            _fails_method(transport, server.url(), method)
    assert server.connections == (2 if answered else 1)
    assert len(server.requests) == (3 if answered else 2)


def _fails_method(transport: LeanTransport, url: str, method: str) -> None:
    with pytest.raises(ProtocolFault):
        _get(transport, url, method)


def test_a_fresh_connection_dropped_is_not_retried(serve: Serve) -> None:
    server = serve(lambda _c, _n, _r: None)
    with LeanTransport(False) as transport:
        _fails(transport, server.url(), ProtocolFault)
    assert (server.connections, len(server.requests)) == (1, 1)


@pytest.mark.parametrize(
    "answer",
    [
        _ok(extra=b"Connection: close\r\n"),
        _ok() + b"HTTP/1.1 200 OK\r\n",  # bytes nobody asked for
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    ],
    ids=["close", "extra-bytes", "http10"],
)
def test_a_connection_is_not_reused_when_it_must_not_be(serve: Serve, answer: bytes) -> None:
    server = serve(_always(answer))
    with LeanTransport(False) as transport:
        assert _get(transport, server.url()) == (200, b"hello")
        assert _get(transport, server.url()) == (200, b"hello")
    assert server.connections == 2


def test_a_body_left_unread_closes_its_connection(serve: Serve) -> None:
    server = serve(_always(_ok(b"x" * 100_000)))
    with LeanTransport(False) as transport:
        request = _request(server.url())
        response = transport.handle_request(request)
        next(response.iter_raw())
        response.close()
        assert _get(transport, server.url())[1] == b"x" * 100_000
    assert server.connections == 2


def test_the_pool_is_bounded_and_close_closes_idle_sockets(serve: Serve) -> None:
    server = serve(_always(_ok()))
    transport = LeanTransport(False, max_connections=2)
    held = [transport.handle_request(_request(server.url())) for _ in range(2)]
    with netguard.response_deadline(0.05), pytest.raises(httpmodel.PoolTimeout):
        transport.handle_request(_request(server.url()))
    for response in held:
        b"".join(response.iter_raw())
        response.close()
    assert _get(transport, server.url()) == (200, b"hello")
    assert server.connections == 2
    transport.close()
    for _ in range(200):  # the server sees both sockets end (EOF), without a clock
        if server.closed_by_client == 2:
            break
        threading.Event().wait(0.01)
    assert server.closed_by_client == 2


# --- requests and deadlines ------------------------------------------------------------


def test_the_request_is_written_as_built(serve: Serve) -> None:
    server = serve(_always(_ok()))
    with LeanTransport(False) as transport:
        _get(transport, server.url("/v2/a/manifests/x?n=1&last=a%2Fb"), "POST", data={"k": "v w"})
    request = server.requests[0]
    assert request.startswith(b"POST /v2/a/manifests/x?n=1&last=a%2Fb HTTP/1.1\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    assert f"Host: 127.0.0.1:{server.port}".encode() in head.split(b"\r\n")
    assert b"Content-Length: 5" in head.split(b"\r\n")
    assert body == b"k=v+w"


def test_a_header_that_would_split_the_request_is_never_sent(serve: Serve) -> None:
    server = serve(_always(_ok()))
    with LeanTransport(False) as transport, pytest.raises(httpmodel.LocalProtocolError):
        _get(transport, server.url(), headers={"X-Evil": "a\r\nInjected: 1"})
    assert server.connections == 0


def test_a_hung_answer_ends_at_the_response_deadline() -> None:
    with (
        HostileServer(_hang) as server,
        LeanTransport(False) as transport,
        netguard.response_deadline(0.2),
        pytest.raises(httpmodel.ReadTimeout),
    ):
        _get(transport, server.url + "/v2/")
    assert server.count() == 1


def _hang(_r: Request) -> Hang:
    return Hang()


def test_a_refused_connection_is_a_connect_error() -> None:
    with LeanTransport(False) as transport, pytest.raises(ConnectFault):
        _get(transport, f"http://127.0.0.1:{closed_port()}/v2/")


# --- TLS --------------------------------------------------------------------------------


def _tls_server(serve: Serve, tmp_path: Path, host: str) -> tuple[RawServer, ssl.SSLContext]:
    """A TLS server (test CA; certificate for 127.0.0.1 and localhost) noting each
    handshake's SNI, and a client context trusting the test CA."""
    certs = make_test_certificates(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs.server_cert, certs.server_key)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    client_context = ssl.create_default_context()
    client_context.load_verify_locations(cafile=str(certs.ca_cert))
    server = serve(_always(_ok()), tls=server_context, host=host)
    server.server_names = names
    return server, client_context


def test_https_verifies_the_certificate_sends_sni_and_keeps_alive(
    serve: Serve, tmp_path: Path
) -> None:
    server, trusting = _tls_server(serve, tmp_path, "127.0.0.1")
    with LeanTransport(trusting) as transport:
        assert _get(transport, server.url(host="localhost")) == (200, b"hello")
        assert _get(transport, server.url(host="localhost")) == (200, b"hello")
    assert (server.connections, server.server_names) == (1, ["localhost"])
    with LeanTransport(ssl.create_default_context()) as transport:  # the test CA not trusted
        assert "CERTIFICATE_VERIFY_FAILED" in _fails(transport, server.url(), ConnectFault)
    with LeanTransport(False) as transport:  # --insecure
        assert _get(transport, server.url()) == (200, b"hello")


def test_https_refuses_a_certificate_for_another_host(serve: Serve, tmp_path: Path) -> None:
    server, trusting = _tls_server(serve, tmp_path, "127.0.0.2")  # the cert names 127.0.0.1
    with LeanTransport(trusting) as transport:
        assert "CERTIFICATE_VERIFY_FAILED" in _fails(transport, server.url(), ConnectFault)
    assert len(server.requests) == 0


def test_a_plain_http_server_is_not_tls() -> None:
    # It answers the TLS hello with an HTTP 400: the message transport.py maps to
    # "does not speak TLS" (--plain-http) must come through.
    with HostileServer(lambda _r: Answer(200)) as server, LeanTransport(False) as transport:
        message = _fails(transport, f"https://{server.host}/v2/", ConnectFault)
    assert "WRONG_VERSION_NUMBER" in message or "record layer failure" in message
