"""The run's one HTTP client, and the one way a response body is read.

`build_client` makes the client (TLS context built lazily); `read_body` streams a
body, decoding its Content-Encoding itself and counting decoded bytes against the
caller's limit. `transport.Transport` is the only caller.

`HttpClient` builds each request (`httpmodel.Request`: default headers under the
caller's, a form body, the timeouts) and hands it to the sender for its scheme:
`lean.LeanTransport` (connection pool, HTTP/1.1, TLS, timeouts), or an httpx
transport a program or test injected (`httpxbridge`). Nothing on this path imports
httpx unless one is injected. Cookies are not kept, as docker, containerd and crane
keep none: a registry's Set-Cookie is ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from truedigest.oci.httpconfig import ClientOptions, Limit
from truedigest.oci.httpmodel import URL, RawResponse, ReadTimeout, Request, Sender, form_body
from truedigest.oci.lean import LeanTransport
from truedigest.oci.wire import BodyDecoder
from truedigest.version import __version__

if TYPE_CHECKING:
    import ssl  # imported when a TLS context is built: plain HTTP loads no TLS

USER_AGENT = f"truedigest/{__version__}"
ACCEPT_ENCODING = "gzip"  # the one coding asked for; BodyDecoder also takes deflate


# What every request carries unless the caller sets it (what httpx.Client sent).
DEFAULT_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", ACCEPT_ENCODING),
    ("Connection", "keep-alive"),
    ("User-Agent", USER_AGENT),
)
_FORM = "application/x-www-form-urlencoded"


class HttpClient:
    """The run's senders (`http` and every other scheme) and what each request
    carries: default headers and the timeouts. Thread-safe (the senders are)."""

    def __init__(
        self,
        default: Sender,
        *,
        http: Sender | None = None,
        timeout: Mapping[str, float | None],
    ) -> None:
        self._default = default
        self._http = http or default
        self._timeout = dict(timeout)

    def build(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> Request:
        """The request: the default headers `headers` does not name, then `headers`
        (httpx's order); ValueError (a non-ASCII header value) when HTTP cannot carry it."""
        named = {name.lower() for name in headers}
        fields = [(n, v) for n, v in DEFAULT_HEADERS if n.lower() not in named]
        fields += headers.items()
        content = b""
        if data is not None:
            content = form_body(data)
            fields += [("Content-Length", str(len(content))), ("Content-Type", _FORM)]
        return Request(method, url, fields, content, self._timeout)

    def send(self, request: Request) -> RawResponse:
        """Send; the response's body is still to be read (stream), then closed."""
        sender = self._http if request.url.scheme == "http" else self._default
        response = sender.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        self._default.close()
        if self._http is not self._default:
            self._http.close()


def build_client(
    options: ClientOptions,
    *,
    transport: Any = None,
    max_connections: int = 64,
) -> HttpClient:
    """The one client of a run; `transport` (an httpx transport a program or test
    built, or a `LeanTransport`) takes every request.

    TLS trusts the system store (plus `--ca-file`). The https transport is built on
    its first request, loading the CA store then, so a plain-HTTP run creates no SSL
    context. Both are `lean.LeanTransport` (HTTP/1.1, at most `max_connections`
    sockets each).
    """
    timeout: dict[str, float | None] = {
        "connect": min(options.timeout, 10.0),
        "read": options.timeout,
        "write": options.timeout,
        "pool": options.timeout,
    }
    if transport is not None:
        if not isinstance(transport, LeanTransport):
            from truedigest.oci.httpxbridge import HttpxBridge

            transport = HttpxBridge(transport)
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
        return _system_context
    import ssl

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


def _system_context() -> ssl.SSLContext:
    import ssl

    return ssl.create_default_context()


class _LazyTransport:
    """Builds its sender on first use (thread-safe)."""

    def __init__(self, factory: Callable[[], Sender]) -> None:
        self._factory = factory
        self._inner: Sender | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: Request) -> RawResponse:
        if self._inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = self._factory()
        return self._inner.handle_request(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def read_body(
    resp: RawResponse, limit: Limit, subject: str, ends: float, *, head: bool = False
) -> bytes:
    """The body, decoded, at most `limit.cap` bytes, read by `ends` (time.monotonic).

    A declared Content-Length over the cap fails before any byte is read (HEAD too).
    """
    cap = limit.cap
    # Built in memory by an injected transport: already decoded.
    encoding = None if resp.decoded else resp.headers.get("content-encoding")
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
    for chunk in resp.iter_raw():
        raw += len(chunk)
        if raw > raw_cap:
            raise limit.exceeded(subject)
        out = decoder.feed(chunk, cap - total)
        total += len(out)
        if total > cap:
            raise limit.exceeded(subject)
        chunks.append(out)
        if time.monotonic() > ends:  # a body that never ends but never pauses either
            raise ReadTimeout("the whole-response deadline passed")
    decoder.finish()
    return b"".join(chunks)
