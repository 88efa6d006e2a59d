"""The run's one httpx.Client, and the one way a response body is read.

`build_client` makes the client (TLS context built lazily, whole-response
deadlines installed under httpx); `read_body` streams a body, decoding its
Content-Encoding itself and counting decoded bytes against the caller's limit.
`transport.Transport` is the only caller.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

import httpx

from truedigest.oci import netguard
from truedigest.oci.httpconfig import ClientOptions, Limit
from truedigest.oci.wire import BodyDecoder
from truedigest.version import __version__

USER_AGENT = f"truedigest/{__version__}"
ACCEPT_ENCODING = "gzip"  # the one coding asked for; BodyDecoder also takes deflate


def build_client(
    options: ClientOptions,
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 64,
) -> httpx.Client:
    """The one httpx.Client of a run.

    TLS trusts the system store (plus `--ca-file`). Each scheme's transport is built
    on its first request: the https one builds its TLS context then (loading the CA
    store), and the http one (to which httpx also gives an unverifying SSL context,
    never used on plain HTTP) likewise, so a plain-HTTP run creates no SSL context
    and an https run does not build the http pool.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if transport is None:
        verify = _tls_verify(options)  # usage errors (a bad --ca-file) before any request
        transport = _LazyTransport(
            lambda: netguard.bound(httpx.HTTPTransport(verify=verify(), limits=limits))
        )
        mounts["http://"] = _LazyTransport(
            lambda: netguard.bound(httpx.HTTPTransport(verify=False, limits=limits))
        )
    return httpx.Client(
        timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
        transport=transport,
        mounts=mounts,
        limits=limits,
    )


def _tls_verify(options: ClientOptions) -> Callable[[], ssl.SSLContext | bool]:
    if options.insecure:
        return lambda: False
    if options.ca_file is None:
        return ssl.create_default_context
    from truedigest.errors import UsageError

    if not options.ca_file.is_file():
        raise UsageError(f"--ca-file {options.ca_file}: no such file")
    context = ssl.create_default_context()  # system roots stay trusted (CPs use them)
    try:
        context.load_verify_locations(cafile=str(options.ca_file))
    except (OSError, ssl.SSLError, ValueError):
        raise UsageError(
            f"--ca-file {options.ca_file}: not a readable PEM certificate bundle"
        ) from None
    return lambda: context


class _LazyTransport(httpx.BaseTransport):
    """Builds its transport on first use (thread-safe)."""

    def __init__(self, factory: Callable[[], httpx.BaseTransport]) -> None:
        self._factory = factory
        self._inner: httpx.BaseTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = self._factory()
        return self._inner.handle_request(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def read_body(
    resp: httpx.Response, limit: Limit, subject: str, ends: float, *, head: bool = False
) -> bytes:
    """The body, decoded, at most `limit.cap` bytes, read by `ends` (time.monotonic).

    A declared Content-Length over the cap fails before any byte is read (HEAD too).
    """
    cap = limit.cap
    in_memory = resp.is_stream_consumed  # built in memory (a test's mock transport): decoded
    encoding = None if in_memory else resp.headers.get("content-encoding")
    decoder = BodyDecoder(None if head else encoding, subject)
    # Compressed bytes may exceed the decoded size a little (incompressible data).
    raw_cap = cap if decoder.coding is None else cap + cap // 100 + 1024
    declared = resp.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > raw_cap:
        raise limit.exceeded(subject, int(declared))
    if head:
        return b""
    chunks: list[bytes] = []
    raw = total = 0
    for chunk in [resp.content] if in_memory else resp.iter_raw():
        raw += len(chunk)
        if raw > raw_cap:
            raise limit.exceeded(subject)
        out = decoder.feed(chunk, cap - total)
        total += len(out)
        if total > cap:
            raise limit.exceeded(subject)
        chunks.append(out)
        if time.monotonic() > ends:  # a body that never ends but never pauses either
            raise httpx.ReadTimeout("the whole-response deadline passed")
    decoder.finish()
    return b"".join(chunks)
