"""A TCP proxy on loopback that adds a fixed one-way delay in each direction.

`LatencyProxy(upstream_host, upstream_port, delay=0.02)` listens on
127.0.0.1:<free port> and forwards every connection to the upstream, holding each
chunk for `delay` seconds in each direction, so a request/response exchange costs
one round trip of `2 * delay` on top of whatever the upstream takes.

Chunks are not delayed by sleeping before the next read: each direction of a
connection holds its chunks in order, each with a timer at `arrival + delay`, and
keeps reading; a timer releases the oldest held chunk. So a stream of chunks keeps
its throughput and only gains latency, and order is preserved per connection. It
is built on asyncio protocols (a chunk costs a timer and a write), so the proxy
takes as little as it can of the machine the bench measures on.

With `handshake=True` (the default) a new connection also pays the TCP handshake
a real link would cost: the kernel accepts loopback connections at once, so the
proxy instead holds the client's first bytes until one round trip after the
accept (data a client sends right after `connect()` arrives upstream at
`accept + 2 * delay + delay`, as it would over the real link). Code that reuses
connections therefore looks as fast as it is, and code that opens one per request
(a process per call, like a `skopeo` loop) pays for it, as it would.

The event loop runs in a background thread: `start()`/`stop()`, or use it as a
context manager. Standard library only.

    with LatencyProxy("127.0.0.1", 5000, delay=0.02) as proxy:
        ...  # talk to proxy.host ("127.0.0.1:PORT") instead of 127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

__all__ = ["LatencyProxy"]

_CHUNK = 64 * 1024
_START_TIMEOUT = 5.0
_STOP_TIMEOUT = 5.0


class LatencyProxy:
    """Forward 127.0.0.1:`port` → `upstream_host`:`upstream_port`, `delay` s each way."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        delay: float,
        handshake: bool = True,
        listen_host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must not be negative")
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.delay = delay
        self.handshake = handshake
        self.listen_host = listen_host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._connections = 0
        self._active = 0
        self._bytes_up = 0
        self._bytes_down = 0

    # -- observation
    @property
    def host(self) -> str:
        """`HOST:PORT` to use instead of the upstream's."""
        return f"{self.listen_host}:{self.port}"

    @property
    def rtt(self) -> float:
        return 2 * self.delay

    @property
    def connections(self) -> int:
        """Connections accepted since start (or the last `reset()`)."""
        with self._lock:
            return self._connections

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    @property
    def bytes_up(self) -> int:
        """Bytes forwarded client → upstream."""
        with self._lock:
            return self._bytes_up

    @property
    def bytes_down(self) -> int:
        """Bytes forwarded upstream → client."""
        with self._lock:
            return self._bytes_down

    def reset(self) -> None:
        """Zero the counters (open connections keep being counted as active)."""
        with self._lock:
            self._connections = 0
            self._bytes_up = 0
            self._bytes_down = 0

    def __repr__(self) -> str:
        return (
            f"LatencyProxy({self.host} -> {self.upstream_host}:{self.upstream_port}, "
            f"rtt={self.rtt * 1000:g} ms)"
        )

    # -- lifecycle
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(
            target=self._run, name=f"latency-proxy-{self.upstream_port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("latency proxy did not start")
        if self._start_error is not None:
            self._thread.join(_STOP_TIMEOUT)
            self._thread = None
            raise RuntimeError(f"latency proxy did not start: {self._start_error}")
        return self

    def stop(self) -> None:
        """Close the listener and every open connection; idempotent."""
        thread, self._thread = self._thread, None
        loop = self._loop
        if thread is None or loop is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(_STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)

    def __enter__(self) -> Self:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the event loop thread
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(lambda: _Link(self), self.listen_host, self.port)
                )
            except OSError as exc:
                self._start_error = exc
                return
            self.port = int(self._server.sockets[0].getsockname()[1])
            self._ready.set()
            loop.run_forever()
        finally:
            self._ready.set()
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        links = list(self._links)
        connecting = [t for link in links if (t := link.connecting) is not None and not t.done()]
        for task in connecting:  # an upstream connect in flight: no pending task left behind
            task.cancel()
        for link in links:
            link.abort()
        if connecting:
            await asyncio.gather(*connecting, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def _count(self, up: bool, size: int) -> None:
        with self._lock:
            if up:
                self._bytes_up += size
            else:
                self._bytes_down += size


class _Direction:
    """One direction of a connection: chunks held until `arrival + delay` (at the
    earliest `not_before + delay`), then written in order. Each chunk gets its own
    timer, and a timer releases the oldest held chunk, so order survives timers that
    fall due at the same instant."""

    __slots__ = (
        "_delay",
        "_held",
        "_loop",
        "_not_before",
        "_on_end",
        "_proxy",
        "_ready",
        "_up",
        "ended",
        "target",
    )

    def __init__(
        self,
        proxy: LatencyProxy,
        loop: asyncio.AbstractEventLoop,
        not_before: float,
        on_end: Callable[[], None],
        *,
        up: bool,
    ) -> None:
        self._proxy = proxy
        self._on_end = on_end
        self.ended = False  # the end of stream was passed on
        self._loop = loop
        self._delay = proxy.delay
        self._not_before = not_before
        self._up = up
        self._held: deque[bytes] = deque()  # b"": the sender's end of stream
        self._ready: list[bytes] = []  # released before the target was connected
        self.target: asyncio.Transport | None = None

    def hold(self, data: bytes) -> None:
        self._held.append(data)
        release = max(self._loop.time(), self._not_before) + self._delay
        self._loop.call_at(release, self._release)

    def connected(self, target: asyncio.Transport) -> None:
        self.target = target
        ready, self._ready = self._ready, []
        for data in ready:
            self._write(data)

    def _release(self) -> None:
        if not self._held:
            return  # aborted meanwhile
        data = self._held.popleft()
        if self.target is None:
            self._ready.append(data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        target = self.target
        if target is None or target.is_closing():
            return
        if not data:  # the sender finished: pass the half-close on, or close
            self.ended = True
            if target.can_write_eof():
                with contextlib.suppress(OSError):
                    target.write_eof()
            else:
                target.close()
            self._on_end()
            return
        target.write(data)
        self._proxy._count(self._up, len(data))

    def clear(self) -> None:
        self._held.clear()
        self._ready.clear()


class _Link(asyncio.Protocol):
    """A client's connection and its upstream connection (`_Upstream`), in one loop.

    asyncio protocols, not streams: a chunk costs a timer and a write, where a
    reader task, a queue, a sleep and a drain per chunk made the proxy itself a
    large share of a 2-core machine's load during the bench's bulk rows."""

    def __init__(self, proxy: LatencyProxy) -> None:
        self.proxy = proxy
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.up: _Direction | None = None
        self.down: _Direction | None = None
        self._client_open = False
        self._upstream_open = False
        self.connecting: asyncio.Task[None] | None = None

    # -- the client side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        proxy = self.proxy
        self.client = transport
        self._client_open = True
        proxy._links.add(self)
        with proxy._lock:
            proxy._connections += 1
            proxy._active += 1
        # Over a real link the client could send its first byte one RTT after SYN.
        not_before = accepted + 2 * proxy.delay if proxy.handshake else accepted
        self.up = _Direction(proxy, loop, not_before, self._ended, up=True)
        self.down = _Direction(proxy, loop, accepted, self._ended, up=False)
        self.down.connected(transport)
        self.connecting = loop.create_task(self._connect(loop))

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        proxy = self.proxy
        try:
            transport, _ = await loop.create_connection(
                lambda: _Upstream(self), proxy.upstream_host, proxy.upstream_port
            )
        except OSError:
            self.abort()
            return
        if self.client is None or self.client.is_closing():
            transport.close()
            return
        assert isinstance(transport, asyncio.Transport)
        assert self.up is not None
        self.upstream = transport
        self._upstream_open = True
        self.up.connected(transport)

    def data_received(self, data: bytes) -> None:
        if self.up is not None:
            self.up.hold(data)

    def eof_received(self) -> bool:
        if self.up is not None:
            self.up.hold(b"")
        return True  # keep the client's side open for the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(self.client)

    # flow control: a full write buffer on one side pauses reading on the other
    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    # -- both sides
    def _ended(self) -> None:
        """Both directions passed their end of stream on: the exchange is over."""
        if self.up is not None and self.down is not None and self.up.ended and self.down.ended:
            for transport in (self.client, self.upstream):
                if transport is not None:
                    transport.close()

    def abort(self) -> None:
        """Close both connections at once (a reset on either side ends both)."""
        for direction in (self.up, self.down):
            if direction is not None:
                direction.clear()
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.abort()

    def _lost(self, transport: asyncio.BaseTransport | None) -> None:
        """One side's connection is gone: the other goes too, and the link ends with both."""
        if transport is self.client:
            self._client_open = False
        elif transport is not None and transport is self.upstream:
            self._upstream_open = False
        else:
            return  # an upstream connection made after the client had gone: never joined
        if self._client_open or self._upstream_open:
            self.abort()
            return
        if self in self.proxy._links:
            self.proxy._links.discard(self)
            with self.proxy._lock:
                self.proxy._active -= 1


class _Upstream(asyncio.Protocol):
    """The upstream side of a `_Link`."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.link.down is not None:
            self.link.down.hold(data)

    def eof_received(self) -> bool:
        if self.link.down is not None:
            self.link.down.hold(b"")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.link._lost(self.transport)

    def pause_writing(self) -> None:
        if self.link.client is not None:
            self.link.client.pause_reading()

    def resume_writing(self) -> None:
        if self.link.client is not None:
            self.link.client.resume_reading()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.latency_proxy",
        description="Forward a loopback port to HOST:PORT with a fixed delay each way.",
    )
    parser.add_argument("upstream", help="HOST:PORT to forward to")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round trip added (ms)")
    parser.add_argument("--port", type=int, default=0, help="listen port (0: a free one)")
    parser.add_argument("--no-handshake", action="store_true", help="new connections are free")
    args = parser.parse_args(argv)
    host, sep, port = str(args.upstream).rpartition(":")
    if not sep or not port.isdigit():
        parser.error("upstream must be HOST:PORT")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with LatencyProxy(
        host or "127.0.0.1",
        int(port),
        delay=args.rtt_ms / 2000,
        handshake=not args.no_handshake,
        port=args.port,
    ) as proxy:
        print(proxy.host, flush=True)
        while not done.is_set():
            done.wait(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
