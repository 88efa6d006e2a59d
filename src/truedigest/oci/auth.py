"""Registry authentication: challenges and the Bearer token flow.

No `/v2/` ping: the client sends the real request and reacts to its 401. Tokens
are cached per (registry, scope) until shortly before they expire; one lock per
key makes concurrent requests share a single token fetch.

Trust rules (the README's security model): a challenge is answered only when the 401 came from the
registry's own origin (scheme, host, port) — a 401 after a redirect to another
origin is an error, never a reason to send credentials there. Credentials go to a
token realm over https, or over plain http only on the registry's exact origin.
Realms, tokens and `expires_in` from servers are validated: a malformed one is a
one-line AuthError/RegistryError (exit 3), and a token is a `Secret` before it is
looked at, so no error path can print it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from truedigest.base import jsonutil
from truedigest.errors import AuthError, RegistryError
from truedigest.oci.credentials import (
    DOCKER_HUB_KEYS,
    Credentials,
    CredentialStore,
    run_credential_helper,
)
from truedigest.oci.reference import pull_scope as pull_scope
from truedigest.oci.secret import Secret
from truedigest.oci.transport import URL, Response, Transport, origin, parse_url, show_origin

__all__ = [
    "DOCKER_HUB_KEYS",
    "Authenticator",
    "Challenge",
    "CredentialStore",
    "Credentials",
    "parse_challenge",
    "parse_challenges",
    "parse_token_response",
    "pull_scope",
    "run_credential_helper",
]

_TOKEN_MARGIN = 10.0
_DEFAULT_TOKEN_TTL = 60
_MAX_TOKEN_TTL = 2**31 - 1  # seconds; more is not a lifetime, it is garbage
_TOKEN_CAP = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


_TCHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME_RE = re.compile(rf"[ \t,]*({_TCHAR})")
_PARAM_RE = re.compile(rf'[ \t]*({_TCHAR})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^,\s"]*))[ \t]*')
_TOKEN68_RE = re.compile(r"[ \t]*[A-Za-z0-9._~+/-]+=*[ \t]*(?=,|$)")
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def parse_challenges(header: str | None) -> list[Challenge]:
    """Every challenge of one `WWW-Authenticate` value (RFC 7235: comma-separated
    challenges, each a scheme with auth-params or a token68). Parsing stops at the
    first thing that is neither; what was read before it is kept. Never raises."""
    found: list[Challenge] = []
    if not header:
        return found
    pos, end = 0, len(header)
    while pos < end:
        m = _SCHEME_RE.match(header, pos)
        if m is None:
            break
        pos = m.end()
        if pos < end and header[pos] not in " \t,":
            break  # `Bearer"x"`: garbage, not a scheme
        params: dict[str, str] = {}
        t68 = _TOKEN68_RE.match(header, pos)
        if t68 is not None:  # `Negotiate abc==`: no params follow a token68
            pos = t68.end()
        while t68 is None and (p := _PARAM_RE.match(header, pos)) is not None:
            raw = p.group(2) if p.group(2) is not None else p.group(3)
            params.setdefault(p.group(1).lower(), _UNESCAPE_RE.sub(r"\1", raw))
            pos = p.end()
            if pos < end and header[pos] == ",":
                pos += 1
                continue
            break
        found.append(Challenge(m.group(1).lower(), params))
        if pos < end and header[pos] not in " \t,":
            break
    return found


def parse_challenge(header: str | None) -> Challenge | None:
    """The first challenge of one `WWW-Authenticate` value, or None."""
    challenges = parse_challenges(header)
    return challenges[0] if challenges else None


def _printable_ascii(text: str, *, spaces: bool = False) -> bool:
    low = " " if spaces else "!"
    return all(low <= c <= "~" for c in text)


@dataclass
class _Token:
    value: Secret
    expires: float


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """A token server's answer, validated: the token and its lifetime in seconds."""

    token: Secret
    expires_in: int


def parse_token_response(body: bytes, host: str) -> TokenAnswer:
    """Parse a token server's 200 body; anything malformed is a RegistryError that
    never holds the token (it is a Secret before it is checked)."""
    try:
        doc = jsonutil.loads(body)
    except ValueError:
        raise RegistryError(f"token server {host} answered non-JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"token server {host} answered without a token")
    for key in ("token", "access_token", "refresh_token"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            Secret(value)  # known to redact before anything can print it
    value = doc.get("token") or doc.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryError(f"token server {host} answered without a token")
    token = Secret(value)
    if not _printable_ascii(value):
        raise AuthError(
            f"token server {host} answered a malformed token "
            "(not printable ASCII: control characters, spaces or non-ASCII)",
            hint="the token server is broken or hostile; the token was not used",
        )
    ttl = doc.get("expires_in")
    if ttl is None:
        return TokenAnswer(token, _DEFAULT_TOKEN_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= _MAX_TOKEN_TTL:
        raise RegistryError(
            f"token server {host} answered a malformed expires_in "
            f"(not a whole number of seconds up to {_MAX_TOKEN_TTL})"
        )
    return TokenAnswer(token, max(ttl, _DEFAULT_TOKEN_TTL))


class Authenticator:
    """Adds `Authorization` to registry requests and answers 401 challenges."""

    def __init__(
        self,
        transport: Transport,
        credentials: CredentialStore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.credentials = credentials
        self.clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._basic: set[str] = set()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.token_fetches = 0

    def headers_for(self, registry: str, scope: str) -> dict[str, str]:
        """Pre-emptive `Authorization` from what earlier requests learned."""
        with self._guard:
            token = self._tokens.get((registry, scope))
            if token is not None and token.expires > self.clock():
                return {"Authorization": _bearer(token)}
            basic = registry in self._basic
        if basic:
            creds = self.credentials.lookup(registry)
            header = creds.basic_header() if creds else None
            if header:
                return {"Authorization": header}
        return {}

    def answer(
        self,
        registry: str,
        scope: str,
        resp: Response,
        *,
        sent: Mapping[str, str],
        url: str | URL,
    ) -> dict[str, str]:
        """Headers to retry the request to `url` that got 401; raise AuthError when
        there is no way, or when the 401 did not come from `url`'s own origin."""
        asked = parse_url(url)
        if origin(resp.url) != origin(asked):
            raise AuthError(
                f"{registry} redirected to {show_origin(resp.url)}, which answered 401; "
                f"credentials for {registry} go only to {show_origin(asked)}",
                hint="a registry's credentials never answer a challenge from another origin",
            )
        challenges = [
            c
            for value in resp.headers.get_list("www-authenticate")
            for c in parse_challenges(value)
        ]
        challenge = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None
        )
        if challenge is None:
            if challenges and re.fullmatch(r"[a-z0-9-]{1,20}", challenges[0].scheme):
                raise AuthError(
                    f"{registry} asks for unsupported auth scheme {challenges[0].scheme!r}"
                )
            raise AuthError(f"{registry} answered 401 without a usable WWW-Authenticate challenge")
        creds = self.credentials.lookup(registry)
        if challenge.scheme == "basic":
            header = creds.basic_header() if creds else None
            if header is None:
                raise AuthError(
                    f"{registry} requires a username and password; none found",
                    hint=self.credentials.withheld_hint(registry),
                )
            if creds is not None and sent.get("Authorization") == header:
                raise AuthError(f"{registry} rejected the credentials from {creds.source}")
            with self._guard:
                self._basic.add(registry)
            return {"Authorization": header}
        wanted = challenge.params.get("scope") or scope
        if not _printable_ascii(wanted, spaces=True):
            raise AuthError(f"{registry}'s Bearer challenge asks for a malformed scope")
        key = (registry, wanted)
        with self._lock_for(key):
            with self._guard:
                cached = self._tokens.get(key)
            if (
                cached is not None
                and cached.expires > self.clock()
                and sent.get("Authorization") != _bearer(cached)
            ):
                token = cached  # another request fetched it while we waited
            else:
                token = self._fetch_token(registry, asked, challenge, wanted, creds)
                with self._guard:
                    self._tokens[key] = token
                    self._tokens[(registry, scope)] = token
        if sent.get("Authorization") == _bearer(token):
            who = f"the credentials from {creds.source}" if creds else "anonymous access"
            raise AuthError(f"{registry} refused the token issued for {wanted} ({who})")
        return {"Authorization": _bearer(token)}

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _realm(self, registry: str, challenge: Challenge) -> URL:
        """The challenge's realm as a URL that may be asked for a token."""
        realm = challenge.realm
        if not realm:
            raise AuthError(f"{registry}'s Bearer challenge names no token realm")
        bad = AuthError(f"{registry}'s Bearer challenge names a malformed token realm")
        if len(realm) > 2048 or not _printable_ascii(realm):
            raise bad
        try:
            url = parse_url(realm)
        except ValueError:
            raise bad from None
        if url.scheme not in ("http", "https"):
            raise AuthError(f"{registry}'s token realm is not an http(s) URL")
        if not url.host or url.userinfo:
            raise bad
        return url

    def _fetch_token(
        self,
        registry: str,
        asked: URL,
        challenge: Challenge,
        scope: str,
        creds: Credentials | None,
    ) -> _Token:
        realm_url = self._realm(registry, challenge)
        if creds is not None and realm_url.scheme != "https" and origin(realm_url) != origin(asked):
            raise AuthError(
                f"{registry} asks for credentials at a plain-http token realm "
                f"({show_origin(realm_url)}) that is not its own origin "
                f"({show_origin(asked)}); refused",
                hint="a token realm must use https, or be the registry's own origin",
            )
        service = challenge.params.get("service")
        if service is not None and not _printable_ascii(service, spaces=True):
            raise AuthError(f"{registry}'s Bearer challenge names a malformed service")
        params = {"scope": scope}
        if service:
            params["service"] = service
        headers: dict[str, str] = {"Accept": "application/json"}
        data: dict[str, str] | None = None
        method = "GET"
        if creds is not None and creds.identity_token is not None:
            method = "POST"
            data = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token.reveal(),
                "client_id": "truedigest",
                **params,
            }
            url = realm_url
        else:
            url = realm_url.copy_merge_params(params)
            basic = creds.basic_header() if creds else None
            if basic:
                headers["Authorization"] = basic
        with self._guard:  # per-key locks let fetches for different scopes overlap
            self.token_fetches += 1
        resp = self.transport.request(
            method, url, headers=headers, data=data, cap=_TOKEN_CAP, what="token response"
        )
        host = realm_url.host
        who = f"credentials from {creds.source}" if creds else "anonymous access"
        if resp.status in (401, 403):
            raise AuthError(
                f"token server {host} refused {who} for {scope} (HTTP {resp.status})",
                hint=None if creds else self.credentials.withheld_hint(registry),
            )
        if resp.status != 200:
            raise RegistryError(
                f"token server {host} answered HTTP {resp.status} for {scope}",
                status=resp.status,
            )
        answer = parse_token_response(resp.body, host)
        seconds = float(answer.expires_in)
        return _Token(answer.token, self.clock() + max(seconds - _TOKEN_MARGIN, seconds / 2))


def _bearer(token: _Token) -> str:
    return f"Bearer {token.value.reveal()}"
