"""HTTP plumbing: one client per run, retries, redirects, size caps, error mapping.

Everything that touches the network goes through `Transport.request()`, which
- retries idempotent requests (GET/HEAD) on connect errors and 429/502/503/504,
  with jittered backoff, `Retry-After` honoured up to a cap, and a total deadline;
- follows redirects for GET itself (at most 5), dropping `Authorization` when the
  origin changes and refusing https → http;
- streams bodies, decodes their Content-Encoding itself (gzip or deflate, one
  layer) and counts *decoded* bytes against the caller's `Limit`, so a huge or
  compressed-bomb answer is an error, not a memory spike;
- bounds each whole response by `--timeout` (not each socket read) and the whole
  run by a deadline; after repeated failures to one host, fails the rest fast;
- turns transport failures into NetworkError / TLSError with the host named,
  never the URL's query (which can carry upload state or tokens).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from truedigest.errors import NetworkError, RegistryError, TLSError
from truedigest.oci import httpmodel, netguard
from truedigest.oci.httpclient import ACCEPT_ENCODING as ACCEPT_ENCODING
from truedigest.oci.httpclient import USER_AGENT as USER_AGENT
from truedigest.oci.httpclient import HttpClient, read_body
from truedigest.oci.httpclient import build_client as build_client
from truedigest.oci.httpconfig import MANIFEST_LIMIT as MANIFEST_LIMIT
from truedigest.oci.httpconfig import ClientOptions as ClientOptions
from truedigest.oci.httpconfig import Limit as Limit
from truedigest.oci.wire import parse_retry_after as parse_retry_after

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD"})
MAX_REDIRECTS = 5


class RequestStats:
    """Counts of requests actually sent, per host (for -v and scripts/bench)."""

    __slots__ = ("by_host", "lock")

    def __init__(self) -> None:
        self.by_host: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, host: str) -> None:
        with self.lock:
            self.by_host[host] = self.by_host.get(host, 0) + 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.by_host.values())


URL = httpmodel.URL
"""A parsed URL (`httpmodel.URL`)."""

HTTPTransport = Any
"""What a program or test may inject under the one client: an httpx transport
(`httpx.MockTransport`, respx, `httpx.HTTPTransport`), bridged by `httpxbridge`."""

_DEFAULT_PORTS = httpmodel.DEFAULT_PORTS


def parse_url(text: str | URL) -> URL:
    """`text` as a URL; a malformed one raises ValueError."""
    try:
        return URL(text)
    except (ValueError, TypeError):
        raise ValueError("malformed URL") from None


def join_url(base: URL, target: str) -> URL:
    """`target` (absolute, or relative to `base`); a malformed one raises ValueError."""
    try:
        return base.join(target)
    except (ValueError, TypeError):
        raise ValueError("malformed URL") from None


def origin(url: URL) -> tuple[str, str, int]:
    """Scheme, host and port (the scheme's default if none), lower-cased: the origin
    a credential belongs to."""
    scheme = url.scheme.lower()
    return (scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme, 0))


def show_origin(url: URL) -> str:
    """`scheme://host:port`: an origin fit to print (no path, query or userinfo)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


class Response(NamedTuple):
    """A finished response with its (capped) body (a NamedTuple: no dataclass to build
    at start-up)."""

    status: int
    headers: httpmodel.Headers
    body: bytes
    url: URL
    redirected: bool = False  # `url` is where a redirect led, not the URL asked for


class Transport:
    """Sends requests with retries, redirects and caps. Thread-safe."""

    def __init__(
        self,
        client: HttpClient,
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
        self.run_ends = clock() + options.run_seconds
        self.hosts = netguard.HostGuard(options.host_failures)

    def request(
        self,
        method: str,
        url: str | URL,
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
        current = _url(url, what)
        hdrs = dict(headers or {})
        for hop in range(MAX_REDIRECTS + 1):
            resp = self._send_with_retry(method, current, hdrs, limit, data, what)
            if not (follow and method in IDEMPOTENT and resp.status in (301, 302, 303, 307, 308)):
                return resp._replace(redirected=True) if hop else resp
            location = resp.headers.get("location")
            if not location:
                return resp
            try:
                target = current.join(location)
            except ValueError:
                raise RegistryError(
                    f"{_where(current)} redirected to a malformed URL", status=resp.status
                ) from None
            if current.scheme == "https" and target.scheme != "https":
                raise RegistryError(
                    f"{_where(current)} redirected to a plain-http URL; refused",
                    status=resp.status,
                    hint="a registry must not downgrade https to http",
                )
            if _redirect_origin(target) != _redirect_origin(current):
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            current = target
        raise RegistryError(f"{_where(current)}: more than {MAX_REDIRECTS} redirects")

    def _send_with_retry(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        limit: Limit,
        data: Mapping[str, str] | None,
        what: str,
    ) -> Response:
        start = self.clock()
        attempt = 0
        retryable = method in IDEMPOTENT
        host = _host(url)
        while True:
            attempt += 1
            self.hosts.check(host)
            budget = min(self.options.timeout, self.run_ends - self.clock())
            if budget <= 0:
                raise NetworkError(
                    f"the run's deadline of {self.options.run_seconds:g} s passed before "
                    f"{what or _where(url)} was read",
                    hint="each run ends by 10 times --timeout (at least 60 s): raise --timeout",
                )
            try:
                resp = self._send_once(method, url, host, headers, limit, data, what, budget)
            except (httpmodel.ConnectError, httpmodel.ConnectTimeout) as exc:
                error = _network_error(url, exc)
                self.hosts.failed(host, error)
                delay = self._backoff(attempt)
                if (
                    isinstance(error, TLSError)  # retrying will not fix a certificate
                    or not retryable
                    or not self._may_retry(attempt, start, delay)
                ):
                    raise error from exc
                self.sleep(delay)
                continue
            except httpmodel.TimeoutException as exc:
                error = self._timeout_error(url, what, budget)
                self.hosts.failed(host, error)
                raise error from exc
            except httpmodel.HTTPError as exc:
                raise _network_error(url, exc) from exc
            self.hosts.answered(host)
            if retryable and resp.status in RETRY_STATUSES:
                delay = self._retry_delay(resp, attempt)
                if self._may_retry(attempt, start, delay):
                    self.sleep(delay)
                    continue
            return resp

    def _send_once(
        self,
        method: str,
        url: URL,
        host: str,
        headers: Mapping[str, str],
        limit: Limit,
        data: Mapping[str, str] | None,
        what: str,
        budget: float,
    ) -> Response:
        subject = what or _where(url)
        try:
            request = self.client.build(method, url, headers, data)
        except ValueError as exc:  # UnicodeEncodeError: a non-ASCII value
            raise RegistryError(
                f"cannot send a request for {subject}: {type(exc).__name__} "
                "(a header or URL holds characters HTTP cannot carry)"
            ) from None
        self.stats.count(host)
        with netguard.response_deadline(budget) as ends:
            resp = self.client.send(request)
            try:
                body = read_body(resp, limit, subject, ends, head=method == "HEAD")
                return Response(resp.status_code, resp.headers, body, url)
            finally:
                resp.close()

    def _timeout_error(self, url: URL, what: str, budget: float) -> NetworkError:
        subject = what or _where(url)
        if budget < self.options.timeout:
            return NetworkError(
                f"the run's deadline of {self.options.run_seconds:g} s passed while reading "
                f"{subject} from {_host(url)}",
                hint="each run ends by 10 times --timeout (at least 60 s): raise --timeout",
            )
        return NetworkError(
            f"{_host(url)} did not complete its answer for {subject} within "
            f"--timeout {self.options.timeout:g} s",
            hint="--timeout bounds each whole response; raise it, or check the network",
        )

    def _backoff(self, attempt: int) -> float:
        base: float = self.options.backoff * (2 ** (attempt - 1))
        import random  # only a retry pays for the import

        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def _retry_delay(self, resp: Response, attempt: int) -> float:
        retry_after = parse_retry_after(resp.headers.get("retry-after"), now=time.time())
        if retry_after is None:
            return self._backoff(attempt)
        return min(retry_after, self.options.retry_after_cap)

    def _may_retry(self, attempt: int, start: float, delay: float) -> bool:
        if attempt > self.options.retries:
            return False
        now = self.clock()
        return now - start + delay <= self.options.deadline and now + delay < self.run_ends


def _url(url: str | URL, what: str) -> URL:
    try:
        return URL(url)
    except (ValueError, TypeError):
        raise RegistryError(f"cannot build a URL for {what or 'a request'}") from None


def _host(url: URL) -> str:
    return url.netloc.decode("ascii", "replace")


def _redirect_origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _where(url: URL) -> str:
    """The URL without query or credentials: safe to print."""
    return url.without_secrets()


def redact_url(url: str | URL) -> str:
    """`url` without query or credentials: safe to print."""
    return _where(URL(url))


def _network_error(url: URL, exc: Exception) -> NetworkError:
    host = url.netloc.decode("ascii", "replace")
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return TLSError(
            f"TLS handshake with {host} failed: it does not speak TLS",
            hint="the registry serves plain HTTP: pass --plain-http",
        )
    if isinstance(exc, httpmodel.ConnectError) and (
        "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "certificate" in text.lower()
    ):
        return TLSError(f"TLS handshake with {host} failed: certificate not trusted")
    if isinstance(exc, httpmodel.DecodingError):  # a body httpx decoded (an injected transport)
        return NetworkError(
            f"{host} sent a body that does not decode as its Content-Encoding says",
            hint="a proxy in front of the server may be corrupting responses",
        )
    if isinstance(exc, httpmodel.TimeoutException):
        return NetworkError(
            f"timed out talking to {host}", hint="raise --timeout or check the network"
        )
    if isinstance(exc, httpmodel.RemoteProtocolError) and url.scheme == "http":
        return NetworkError(
            f"{host} did not answer HTTP: {type(exc).__name__}",
            hint="the registry may serve HTTPS only: drop --plain-http",
        )
    return NetworkError(f"cannot reach {host}: {type(exc).__name__}")
