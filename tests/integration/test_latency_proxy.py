"""scripts/latency_proxy.py: a fixed delay each way, bytes intact and in order.

The proxy's one job is adding time, yet no test here may fail because the machine
is busy: wall-clock durations are only ever bounded from below (load can only make
things slower), and "no slower than" is asserted as an order of events or a count
(the proxy keeps reading while it holds chunks; a connection without the handshake
answers before one with it), never as an upper bound on seconds.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from scripts.latency_proxy import LatencyProxy

DELAY = 0.020  # one way: a 40 ms round trip


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        while data := sock.recv(65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, int]]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield "127.0.0.1", int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _connect(proxy: LatencyProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        data = sock.recv(min(65536, size - got))
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def _exchange(sock: socket.socket, payload: bytes) -> float:
    start = time.perf_counter()
    sock.sendall(payload)
    assert _recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - start


def test_round_trip_costs_at_least_twice_the_delay(echo: tuple[str, int]) -> None:
    with LatencyProxy(*echo, delay=DELAY) as proxy, _connect(proxy) as sock:
        _exchange(sock, b"warm-up")  # the connection's handshake round trip is paid here
        for i in range(3):
            assert _exchange(sock, b"ping %d" % i) >= 2 * DELAY
        assert proxy.rtt == pytest.approx(2 * DELAY)


def test_a_new_connection_pays_the_handshake_round_trip(echo: tuple[str, int]) -> None:
    with LatencyProxy(*echo, delay=DELAY) as proxy:
        start = time.perf_counter()
        with _connect(proxy) as sock:
            _exchange(sock, b"first")
        assert time.perf_counter() - start >= 4 * DELAY
    with LatencyProxy(*echo, delay=DELAY, handshake=False) as proxy:
        start = time.perf_counter()
        with _connect(proxy) as sock:
            _exchange(sock, b"first")
        assert time.perf_counter() - start >= 2 * DELAY


def test_without_the_handshake_a_first_answer_comes_sooner(echo: tuple[str, int]) -> None:
    """An order, not a duration: the connection that pays no handshake, opened second,
    answers first. The handshake costs one round trip (2 x `delay` = 0.6 s here), a
    margin no scheduling hiccup on a busy machine comes near."""
    delay = 0.3
    with (
        LatencyProxy(*echo, delay=delay) as slow,
        LatencyProxy(*echo, delay=delay, handshake=False) as quick,
        _connect(slow) as with_handshake,
        _connect(quick) as without,
    ):
        with_handshake.sendall(b"h")
        without.sendall(b"n")
        order = []
        pending = {with_handshake: "handshake", without: "no handshake"}
        while pending:
            ready, _, _ = select.select(list(pending), [], [], 30)
            assert ready, "no answer within 30 s"
            for sock in ready:
                assert sock.recv(1) in (b"h", b"n")
                order.append(pending.pop(sock))
        assert order == ["no handshake", "handshake"]


def test_bytes_arrive_intact_and_in_order(echo: tuple[str, int]) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    received = bytearray()
    with LatencyProxy(*echo, delay=0.005) as proxy, _connect(proxy) as sock:

        def send() -> None:
            for i in range(0, len(payload), 7919):  # odd-sized writes
                sock.sendall(payload[i : i + 7919])
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        while data := sock.recv(65536):
            received += data
        sender.join()
        assert proxy.bytes_up == len(payload)
        assert proxy.bytes_down == len(payload)
    assert bytes(received) == payload


def test_chunks_are_pipelined_not_serialized(echo: tuple[str, int]) -> None:
    """The proxy keeps reading while it holds chunks: a sender is never throttled to one
    chunk per delay. With a 60 s delay nothing is released during the test, yet the
    proxy takes in far more than the kernel's socket buffers hold; a proxy that slept
    before reading the next chunk would leave `sendall` blocked (and time out)."""
    payload = b"x" * (24 * 1024 * 1024)  # well past loopback send + receive buffers
    with LatencyProxy(*echo, delay=60) as proxy, _connect(proxy) as sock:
        sock.settimeout(30)
        sock.sendall(payload)
        assert proxy.bytes_up == 0  # all of it held, none released yet
        assert proxy.bytes_down == 0


def test_connections_are_independent_and_counted(echo: tuple[str, int]) -> None:
    with LatencyProxy(*echo, delay=0.002) as proxy:
        socks = [_connect(proxy) for _ in range(5)]
        try:
            for i, sock in enumerate(socks):
                sock.sendall(b"conn %d " % i * 100)
            for i, sock in enumerate(socks):
                want = b"conn %d " % i * 100
                assert _recv_exactly(sock, len(want)) == want
        finally:
            for sock in socks:
                sock.close()
        assert proxy.connections == 5
        assert _settles(lambda: proxy.active == 0)  # both sides of every link ended
        proxy.reset()
        assert proxy.connections == 0


def _settles(condition: Callable[[], bool]) -> bool:
    """True once `condition` holds (the proxy's loop runs in its own thread); checked
    up to 500 times, 10 ms apart: a count of looks, not a deadline the test races."""
    for _ in range(500):
        if condition():
            return True
        threading.Event().wait(0.01)
    return condition()


def test_unreachable_upstream_closes_the_client(echo: tuple[str, int]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = int(probe.getsockname()[1])  # bound, not listening: refuses
        with LatencyProxy("127.0.0.1", dead_port, delay=0.001) as proxy, _connect(proxy) as sock:
            sock.sendall(b"anyone?")
            assert sock.recv(100) == b""
            assert _settles(lambda: proxy.active == 0)


def test_stop_closes_open_connections_and_is_idempotent(echo: tuple[str, int]) -> None:
    proxy = LatencyProxy(*echo, delay=0.001).start()
    sock = _connect(proxy)
    try:
        _exchange(sock, b"hello")
        proxy.stop()
        proxy.stop()
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
        with pytest.raises(ConnectionRefusedError), _connect(proxy):
            pass
    finally:
        sock.close()
