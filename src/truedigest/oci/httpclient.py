"""The run's one HTTP client, and the one way a response body is read.

`build_client` makes the client (TLS context built lazily, whole-response
deadlines installed under httpx); `read_body` streams a body, decoding its
Content-Encoding itself and counting decoded bytes against the caller's limit.
`transport.Transport` is the only caller.

`HttpClient` hands each request straight to the transport under httpx
(`lean.LeanTransport`: connection pool, HTTP/1.1, TLS, timeouts, httpx's
exceptions). The `httpx.Client` layer above it did nothing truedigest uses (the
transport follows redirects and answers auth itself) and cost about a third of a
request's CPU on the bulk path: cookie-jar bookkeeping on every response, header,
cookie and URL merging on every request. Cookies are not
kept, as docker, containerd and crane keep none: a registry's Set-Cookie is ignored.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping

import httpx

from truedigest.oci.httpconfig import ClientOptions, Limit
from truedigest.oci.lean import LeanTransport
from truedigest.oci.wire import BodyDecoder
from truedigest.version import __version__

USER_AGENT = f"truedigest/{__version__}"
ACCEPT_ENCODING = "gzip"  # the one coding asked for; BodyDecoder also takes deflate


# What every request carries unless the caller sets it (what httpx.Client sent).
DEFAULT_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", ACCEPT_ENCODING),
    ("Connection", "keep-alive"),
    ("User-Agent", USER_AGENT),
)


class HttpClient:
    """The run's transports (`http` and every other scheme) and what each request
    carries: default headers and the timeouts. Thread-safe (the transports are)."""

    def __init__(
        self,
        default: httpx.BaseTransport,
        *,
        http: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout,
    ) -> None:
        self._default = default
        self._http = http or default
        self._extensions = {"timeout": timeout.as_dict()}
        self._defaults = httpx.Headers(list(DEFAULT_HEADERS))

    def build(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """The request, default headers under `headers`; ValueError (a non-ASCII
        header value) or httpx.InvalidURL when HTTP cannot carry it."""
        merged = self._defaults.copy()
        merged.update(headers)
        return httpx.Request(method, url, headers=merged, data=data, extensions=self._extensions)

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send; the response's body is still to be read (stream), then closed."""
        transport = self._http if request.url.scheme == "http" else self._default
        response = transport.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        self._default.close()
        if self._http is not self._default:
            self._http.close()


def build_client(
    options: ClientOptions,
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 64,
) -> HttpClient:
    """The one client of a run; `transport` (a test's) takes every request.

    TLS trusts the system store (plus `--ca-file`). The https transport is built on
    its first request, loading the CA store then, so a plain-HTTP run creates no SSL
    context. Both are `lean.LeanTransport` (HTTP/1.1, at most `max_connections`
    sockets each).
    """
    timeout = httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0))
    if transport is not None:
        return HttpClient(transport, timeout=timeout)
    verify = _tls_verify(options)  # usage errors (a bad --ca-file) before any request
    return HttpClient(
        _LazyTransport(lambda: LeanTransport(verify(), max_connections=max_connections)),
        http=LeanTransport(False, max_connections=max_connections),
        timeout=timeout,
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
