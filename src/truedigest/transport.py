"""HTTP plumbing: one client per run, retries, redirects, size caps, error mapping.

Everything that touches the network goes through `Transport.request()`, which
- retries idempotent requests (GET/HEAD) on connect errors and 429/502/503/504,
  with jittered backoff, `Retry-After` honoured up to a cap, and a total deadline;
- follows redirects for GET itself (at most 5), dropping `Authorization` when the
  origin changes and refusing https → http;
- streams bodies and stops at a size cap, so a huge answer is an error, not a
  memory spike;
- turns transport failures into NetworkError / TLSError with the host named,
  never the URL's query (which can carry upload state or tokens).
"""

from __future__ import annotations

import email.utils
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from truedigest import __version__, redact
from truedigest.errors import (
    BodyTooLargeError,
    NetworkError,
    RegistryError,
    TLSError,
    format_size,
)

USER_AGENT = f"truedigest/{__version__}"
MANIFEST_CAP = 4 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD"})
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Limit:
    """What a response body is, and the most decoded bytes it may hold.

    Callers of `Transport.request` pass one, so an over-cap error names what was
    capped: `Limit("token response", 1 << 20)`, `Limit("CP pin table", 32 << 20)`.
    """

    kind: str
    cap: int

    def exceeded(self, subject: str, size: int | None = None) -> BodyTooLargeError:
        """The error for a body over this limit; `subject` says whose body it was."""
        cap = format_size(self.cap)
        if size is not None:
            message = f"{subject} is {size} bytes, over the {cap} {self.kind} cap"
        else:
            message = f"{subject} is larger than the {cap} {self.kind} cap"
        return BodyTooLargeError(message, kind=self.kind, cap=self.cap)


MANIFEST_LIMIT = Limit("manifest", MANIFEST_CAP)


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redact.remember(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    plain_http: bool = False
    insecure: bool = False
    ca_file: Path | None = None
    timeout: float = 30.0
    retries: int = 4
    deadline: float = 60.0
    retry_after_cap: float = 10.0
    backoff: float = 0.2


@dataclass
class RequestStats:
    """Counts of requests actually sent, per host (for -v and scripts/bench)."""

    by_host: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, host: str) -> None:
        with self.lock:
            self.by_host[host] = self.by_host.get(host, 0) + 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.by_host.values())


def build_client(
    options: ClientOptions,
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 64,
) -> httpx.Client:
    """The one httpx.Client of a run.

    TLS trusts the system store (plus `--ca-file`); the context is built on the
    first https request, so a plain-HTTP run never pays for loading CA bundles.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if transport is None:
        verify = _tls_verify(options)  # usage errors (a bad --ca-file) before any request
        transport = _LazyTransport(lambda: httpx.HTTPTransport(verify=verify(), limits=limits))
        mounts["http://"] = httpx.HTTPTransport(verify=False, limits=limits)
    return httpx.Client(
        timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
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


@dataclass
class Response:
    """A finished response with its (capped) body."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


class Transport:
    """Sends requests with retries, redirects and caps. Thread-safe."""

    def __init__(
        self,
        client: httpx.Client,
        options: ClientOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.options = options
        self.sleep = sleep
        self.clock = clock
        self.stats = RequestStats()

    def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        limit: Limit | None = None,
        cap: int | None = None,
        data: Mapping[str, str] | None = None,
        follow: bool = True,
        what: str = "",
    ) -> Response:
        """Send, retrying and following redirects; return status, headers and body.

        `limit` says what the body is and caps its decoded size (errors name it);
        `what` names the thing read for messages (`manifest app:v1`). A bare `cap`
        is a limit of kind "response"; neither means a manifest's limit.
        """
        if limit is None:
            limit = MANIFEST_LIMIT if cap is None else Limit(what or "response", cap)
        current = httpx.URL(url)
        hdrs = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send_with_retry(method, current, hdrs, limit, data, what)
            if not (follow and method in IDEMPOTENT and resp.status in (301, 302, 303, 307, 308)):
                return resp
            location = resp.headers.get("location")
            if not location:
                return resp
            target = current.join(location)
            if current.scheme == "https" and target.scheme != "https":
                raise RegistryError(
                    f"{_where(current)} redirected to a plain-http URL; refused",
                    status=resp.status,
                    hint="a registry must not downgrade https to http",
                )
            if _origin(target) != _origin(current):
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            current = target
        raise RegistryError(f"{_where(current)}: more than {MAX_REDIRECTS} redirects")

    def _send_with_retry(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        limit: Limit,
        data: Mapping[str, str] | None,
        what: str,
    ) -> Response:
        start = self.clock()
        attempt = 0
        retryable = method in IDEMPOTENT
        while True:
            attempt += 1
            try:
                resp = self._send_once(method, url, headers, limit, data, what)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = _network_error(url, exc)
                delay = self._backoff(attempt)
                if (
                    isinstance(error, TLSError)  # retrying will not fix a certificate
                    or not retryable
                    or not self._may_retry(attempt, start, delay)
                ):
                    raise error from exc
                self.sleep(delay)
                continue
            except (httpx.RequestError, httpx.InvalidURL) as exc:
                raise _network_error(url, exc) from exc
            if retryable and resp.status in RETRY_STATUSES:
                delay = self._retry_delay(resp, attempt)
                if self._may_retry(attempt, start, delay):
                    self.sleep(delay)
                    continue
            return resp

    def _send_once(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        limit: Limit,
        data: Mapping[str, str] | None,
        what: str,
    ) -> Response:
        cap = limit.cap
        subject = what or _where(url)
        request = self.client.build_request(method, url, headers=headers, data=data)
        self.stats.count(url.netloc.decode("ascii", "replace"))
        resp = self.client.send(request, stream=True)
        try:
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > cap:
                raise limit.exceeded(subject, int(declared))
            chunks: list[bytes] = []
            total = 0
            if method != "HEAD":
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > cap:
                        raise limit.exceeded(subject)
                    chunks.append(chunk)
            return Response(resp.status_code, resp.headers, b"".join(chunks), url)
        finally:
            resp.close()

    def _backoff(self, attempt: int) -> float:
        base: float = self.options.backoff * (2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def _retry_delay(self, resp: Response, attempt: int) -> float:
        retry_after = parse_retry_after(resp.headers.get("retry-after"), now=time.time())
        if retry_after is None:
            return self._backoff(attempt)
        return min(retry_after, self.options.retry_after_cap)

    def _may_retry(self, attempt: int, start: float, delay: float) -> bool:
        if attempt > self.options.retries:
            return False
        return self.clock() - start + delay <= self.options.deadline


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _where(url: httpx.URL) -> str:
    """The URL without query or credentials: safe to print."""
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


redact_url = _where


def _network_error(url: httpx.URL, exc: Exception) -> NetworkError:
    host = url.netloc.decode("ascii", "replace")
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return TLSError(
            f"TLS handshake with {host} failed: it does not speak TLS",
            hint="the registry serves plain HTTP: pass --plain-http",
        )
    if isinstance(exc, httpx.ConnectError) and (
        "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "certificate" in text.lower()
    ):
        return TLSError(f"TLS handshake with {host} failed: certificate not trusted")
    if isinstance(exc, httpx.DecodingError):
        return NetworkError(
            f"{host} sent a body that does not decode as its Content-Encoding says",
            hint="a proxy in front of the server may be corrupting responses",
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(
            f"timed out talking to {host}", hint="raise --timeout or check the network"
        )
    if isinstance(exc, httpx.RemoteProtocolError) and url.scheme == "http":
        return NetworkError(
            f"{host} did not answer HTTP: {type(exc).__name__}",
            hint="the registry may serve HTTPS only: drop --plain-http",
        )
    return NetworkError(f"cannot reach {host}: {type(exc).__name__}")
