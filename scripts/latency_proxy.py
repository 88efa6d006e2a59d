"""A TCP proxy on loopback that adds a fixed one-way delay in each direction.

`LatencyProxy(upstream_host, upstream_port, delay=0.02)` listens on
127.0.0.1:<free port> and forwards every connection to the upstream, holding each
chunk for `delay` seconds in each direction, so a request/response exchange costs
one round trip of `2 * delay` on top of whatever the upstream takes.

Chunks are not delayed by sleeping before the next read: each direction of a
connection has a queue of (release time, bytes) entries, the reader stamps every
chunk with `arrival + delay` and keeps reading, and a writer task releases the
chunks in order when their time comes. So a stream of chunks keeps its throughput
and only gains latency, and order is preserved per connection.

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
from collections.abc import Sequence
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
        self._tasks: set[asyncio.Task[None]] = set()
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
                    asyncio.start_server(self._handle, self.listen_host, self.port)
                )
            except OSError as exc:
                self._start_error = exc
                return
            self.port = int(self._server.sockets[0].getsockname()[1])
            self._ready.set()
            loop.run_forever()
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        # stop() cancels open connections; asyncio would log a cancelled handler task.
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve(client_r, client_w)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        with self._lock:
            self._connections += 1
            self._active += 1
        upstream_w: asyncio.StreamWriter | None = None
        try:
            try:
                upstream_r, upstream_w = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                return
            # Over a real link the client could send its first byte one RTT after SYN.
            not_before = accepted + 2 * self.delay if self.handshake else accepted
            pipes = [
                asyncio.ensure_future(self._pipe(client_r, upstream_w, not_before, up=True)),
                asyncio.ensure_future(self._pipe(upstream_r, client_w, accepted, up=False)),
            ]
            try:
                # A reset on either side ends both directions.
                await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            for writer in (client_w, upstream_w):
                if writer is not None:
                    writer.close()
            for writer in (client_w, upstream_w):
                if writer is not None:
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
            with self._lock:
                self._active -= 1
            if task is not None:
                self._tasks.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        not_before: float,
        *,
        up: bool,
    ) -> None:
        """Copy reader → writer, each chunk released at max(arrival, not_before) + delay."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while True:
                    data = await reader.read(_CHUNK)
                    queue.put_nowait((max(loop.time(), not_before) + self.delay, data))
                    if not data:
                        return
            except OSError:
                queue.put_nowait((loop.time(), b""))

        async def write() -> None:
            while True:
                release, data = await queue.get()
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    # The sender finished: pass the half-close on, or close.
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    else:
                        writer.close()
                    return
                writer.write(data)
                with self._lock:
                    if up:
                        self._bytes_up += len(data)
                    else:
                        self._bytes_down += len(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        finally:
            if not reading.done():
                reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading


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
