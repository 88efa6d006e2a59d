"""RegistrySession: one authenticated, bounded request to a registry, and how its
answer's status becomes an error.

Below `registry` (manifests, blobs, referrers) and `taglist` (tag pagination):
both send through `RegistrySession.call`, which answers 401 challenges (at most
three rounds), turns a 403 into an AuthError and paces the requests in flight
per registry (`pacing`: adaptive from 32 up to 64 by default, or fixed at
`max_per_host`). `expect_ok` maps every other non-200 status to a RegistryError
that carries the OCI error codes — never the free-text body.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from truedigest.base import jsonutil
from truedigest.errors import AuthError, RegistryError
from truedigest.oci.pacing import CAP, HostPacer, Ticket, Window
from truedigest.oci.reference import ImageRef, pull_scope
from truedigest.oci.transport import (
    MANIFEST_LIMIT,
    ClientOptions,
    HTTPTransport,
    Limit,
    Response,
    Transport,
    build_client,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from truedigest.oci.auth import Authenticator, CredentialStore

_AUTH_ROUNDS = 3
_CODE_RE = re.compile(r"^[A-Z][A-Z_]{1,40}\Z")
_PUSHBACK = frozenset({429, 503})


class RegistrySession:
    """One per run. Thread-safe; use as a context manager."""

    def __init__(
        self,
        options: ClientOptions | None = None,
        *,
        transport: HTTPTransport | None = None,
        credentials: CredentialStore | None = None,
        sleep: Callable[[float], None] | None = None,
        max_per_host: int | None = None,
    ) -> None:
        """`max_per_host` fixes the requests in flight per registry (1 to 64); None
        (the default) adapts them (`truedigest.oci.pacing`)."""
        if max_per_host is not None and not 1 <= max_per_host <= CAP:
            raise ValueError(f"max_per_host must be between 1 and {CAP}")
        self.options = options or ClientOptions()
        self.http = build_client(self.options, transport=transport)
        self._sleep = sleep or time.sleep
        self.transport = Transport(self.http, self.options, sleep=self._retry_sleep)
        self._credentials = credentials
        self._auth: Authenticator | None = None
        self._auth_guard = threading.Lock()
        self._env_registries: tuple[str, ...] | None = None
        self.fixed_per_host = max_per_host
        self._pacers: dict[str, HostPacer] = {}
        self._pacers_guard = threading.Lock()
        self._sending = threading.local()

    @property
    def auth(self) -> Authenticator:
        """The run's authenticator, built when first needed (a 401, or a caller asking):
        a run against a registry that asks for no credentials imports no auth code."""
        with self._auth_guard:
            if self._auth is None:
                from truedigest.oci.auth import Authenticator, CredentialStore

                store = self._credentials or CredentialStore(helper_timeout=self.options.timeout)
                if self._env_registries is not None:
                    store.restrict_env_to(self._env_registries)
                self._auth = Authenticator(self.transport, store)
            return self._auth

    def restrict_env_credentials(self, registries: Iterable[str]) -> None:
        """Offer the environment's credentials only to these registries (those the
        user named); see `CredentialStore.restrict_env_to`."""
        with self._auth_guard:
            self._env_registries = tuple(registries)
            if self._auth is not None:
                self._auth.credentials.restrict_env_to(self._env_registries)

    @property
    def max_per_host(self) -> int:
        """The most requests in flight to one registry: what thread pools are sized to,
        so the pacer, not the pool, decides."""
        return self.fixed_per_host or CAP

    def pacer(self, registry: str) -> HostPacer:
        pacer = self._pacers.get(registry)  # a dict read is atomic: no lock once made
        if pacer is not None:
            return pacer
        with self._pacers_guard:
            pacer = self._pacers.get(registry)
            if pacer is None:
                fixed = self.fixed_per_host
                window = Window() if fixed is None else Window.fixed_at(fixed)
                pacer = self._pacers[registry] = HostPacer(window)
            return pacer

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @property
    def requests_made(self) -> int:
        return self.transport.stats.total

    def base_url(self, registry: str) -> str:
        scheme = "http" if self.options.plain_http else "https"
        return f"{scheme}://{registry}"

    def _retry_sleep(self, seconds: float) -> None:
        """The transport's pause before a retry: pushback on the request this thread sends."""
        ticket: Ticket | None = getattr(self._sending, "ticket", None)
        if ticket is not None:
            ticket.pushback = True
        self._sleep(seconds)

    def call(
        self,
        ref: ImageRef,
        method: str,
        path: str,
        *,
        accept: str,
        limit: Limit = MANIFEST_LIMIT,
        what: str,
    ) -> Response:
        """One logical request: auth rounds on 401, redirects and retries below."""
        url = self.base_url(ref.registry) + path
        headers = {"Accept": accept}
        if self._auth is not None:  # none yet: no 401 seen, nothing to offer
            headers.update(self._auth.headers_for(ref.registry, pull_scope(ref.repository)))
        pacer = self.pacer(ref.registry)
        ticket = pacer.acquire()  # not a `with`: a generator context costs every request
        self._sending.ticket = ticket
        try:
            for attempt in range(_AUTH_ROUNDS):
                sent = time.perf_counter()
                resp = self.transport.request(method, url, headers=headers, limit=limit, what=what)
                if resp.status in _PUSHBACK:
                    ticket.pushback = True
                if resp.status != 401:
                    # one round trip, unless a 401 (and a token fetch) or a redirect came first
                    direct = attempt == 0 and not resp.redirected
                    ticket.rtt = time.perf_counter() - sent if direct else None
                    break
                if attempt == _AUTH_ROUNDS - 1:
                    raise AuthError(f"{ref.registry} kept answering 401 for {what}")
                headers = {
                    "Accept": accept,
                    **self.auth.answer(
                        ref.registry, pull_scope(ref.repository), resp, sent=headers, url=url
                    ),
                }
        finally:
            self._sending.ticket = None
            pacer.release(ticket)
        if resp.status == 403:
            raise AuthError(
                f"{ref.registry} denied access to {what} (HTTP 403{codes_suffix(resp, ', ')})",
                hint="the credentials are valid but lack pull permission on this repository",
            )
        return resp

    def expect_ok(self, resp: Response, what: str) -> None:
        """Return on 200; any other status is a RegistryError naming `what`."""
        if resp.status == 200:
            return
        if resp.status == 429:
            raise RegistryError(
                f"{what}: rate limited (HTTP 429) after retries",
                status=429,
                codes=error_codes(resp),
                hint="wait and retry, or authenticate to get a higher pull limit",
            )
        if resp.status >= 500:
            raise RegistryError(
                f"{what}: registry error HTTP {resp.status}{codes_suffix(resp, ', ')}",
                status=resp.status,
                codes=error_codes(resp),
                hint="the registry is failing; retry later",
            )
        if resp.status == 400 and resp.url.scheme == "http" and not error_codes(resp):
            # What a TLS-only server (Go's net/http among them) says to a plain-HTTP request.
            raise RegistryError(
                f"{what}: unexpected HTTP 400 to a plain-HTTP request",
                status=400,
                hint="the registry may serve HTTPS only: drop --plain-http "
                "(and pass --ca-file for a private CA)",
            )
        raise RegistryError(
            f"{what}: unexpected HTTP {resp.status}{codes_suffix(resp, ', ')}",
            status=resp.status,
            codes=error_codes(resp),
        )


def error_codes(resp: Response) -> tuple[str, ...]:
    """OCI error codes from an error body: codes only, never the free-text message."""
    try:
        data = jsonutil.loads(resp.body)
    except ValueError:
        return ()
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ()
    codes = []
    for err in errors:
        code = err.get("code") if isinstance(err, dict) else None
        if isinstance(code, str) and _CODE_RE.match(code):
            codes.append(code)
    return tuple(dict.fromkeys(codes))


def codes_suffix(resp: Response, sep: str | None = None) -> str:
    """` (CODE/CODE)`, or `, CODE/CODE` with sep=", " inside an existing parenthesis."""
    codes = error_codes(resp)
    if not codes:
        return ""
    joined = "/".join(codes)
    return f"{sep}{joined}" if sep is not None else f" ({joined})"
