"""Registry authentication: challenges, the Bearer token flow, credential stores.

No `/v2/` ping: the client sends the real request and reacts to its 401. Tokens
are cached per (registry, scope) until shortly before they expire; one lock per
key makes concurrent requests share a single token fetch. Credentials go to a
token realm on another host only over https, so a hostile challenge cannot
harvest them.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from truedigest import jsonutil
from truedigest.errors import AuthError, RegistryError
from truedigest.transport import Response, Secret, Transport

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
_TOKEN_MARGIN = 10.0
_DEFAULT_TOKEN_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where they came from (`source`) is printable; the secret parts are not."""

    source: str
    username: str | None = None
    password: Secret | None = None
    identity_token: Secret | None = None

    def basic_header(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse one `WWW-Authenticate` value such as `Bearer realm="…",service="…"`."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if m is None or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else (m.group(3) or "")
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return Challenge(scheme.lower(), params)


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


class CredentialStore:
    """Looks up credentials for a registry host, in a fixed order:

    1. TRUEDIGEST_REGISTRY_USERNAME / TRUEDIGEST_REGISTRY_PASSWORD
       (or TRUEDIGEST_REGISTRY_PASSWORD_FILE), confined to TRUEDIGEST_REGISTRY_HOST
       when that is set;
    2. REGISTRY_AUTH_FILE;
    3. docker config.json ($DOCKER_CONFIG or ~/.docker): credHelpers, auths, credsStore;
    4. containers auth.json ($XDG_RUNTIME_DIR/containers, ~/.config/containers).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        run_helper: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.env = os.environ if env is None else env
        self.run_helper = run_helper or _run_credential_helper
        self._cache: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    def lookup(self, registry: str) -> Credentials | None:
        with self._lock:
            if registry not in self._cache:
                self._cache[registry] = self._lookup(registry)
            return self._cache[registry]

    def _lookup(self, registry: str) -> Credentials | None:
        user = self.env.get("TRUEDIGEST_REGISTRY_USERNAME")
        password = self.env.get("TRUEDIGEST_REGISTRY_PASSWORD")
        pw_file = self.env.get("TRUEDIGEST_REGISTRY_PASSWORD_FILE")
        if password is None and pw_file:
            try:
                password = Path(pw_file).read_text().rstrip("\r\n")
            except OSError as exc:
                raise AuthError(
                    f"cannot read TRUEDIGEST_REGISTRY_PASSWORD_FILE: {exc.strerror}",
                    hint="point it at a readable file holding only the password",
                ) from None
        if user and password is not None and self._env_credentials_apply(registry):
            return Credentials("TRUEDIGEST_REGISTRY_USERNAME/PASSWORD", user, Secret(password))
        for path in self._config_files():
            creds = self._from_file(path, registry)
            if creds is not None:
                return creds
        return None

    def _env_credentials_apply(self, registry: str) -> bool:
        """TRUEDIGEST_REGISTRY_HOST (comma-separated) confines the env credentials to
        those registries; unset, they are offered to every registry asked."""
        scope = self.env.get("TRUEDIGEST_REGISTRY_HOST", "").strip()
        if not scope:
            return True
        hosts = {h.strip().lower() for h in scope.split(",") if h.strip()}
        if "docker.io" in hosts or "index.docker.io" in hosts:
            hosts.add("registry-1.docker.io")
        return registry.lower() in hosts

    def _config_files(self) -> list[Path]:
        home = Path(self.env.get("HOME") or Path.home())
        files: list[Path] = []
        if self.env.get("REGISTRY_AUTH_FILE"):
            files.append(Path(self.env["REGISTRY_AUTH_FILE"]))
        docker_dir = Path(self.env["DOCKER_CONFIG"]) if self.env.get("DOCKER_CONFIG") else None
        files.append((docker_dir or home / ".docker") / "config.json")
        if self.env.get("XDG_RUNTIME_DIR"):
            files.append(Path(self.env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
        xdg_config = Path(self.env.get("XDG_CONFIG_HOME") or home / ".config")
        files.append(xdg_config / "containers" / "auth.json")
        return files

    def _from_file(self, path: Path, registry: str) -> Credentials | None:
        try:
            data = jsonutil.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise AuthError(
                f"cannot read registry credentials file {path}: not valid JSON",
                hint="fix or move the file; truedigest reads docker config.json and auth.json",
            ) from None
        if not isinstance(data, dict):
            return None
        keys = _candidate_keys(registry)
        helpers = data.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                helper = helpers.get(key)
                if isinstance(helper, str) and helper:
                    return self._from_helper(helper, key, f"docker-credential-{helper}")
        auths = data.get("auths")
        if isinstance(auths, dict):
            for key in keys:
                entry = auths.get(key)
                if isinstance(entry, dict):
                    creds = _from_auth_entry(entry, f"{path} ({key})")
                    if creds is not None:
                        return creds
        store = data.get("credsStore")
        if isinstance(store, str) and store:
            for key in keys:
                creds = self._from_helper(store, key, f"docker-credential-{store}")
                if creds is not None:
                    return creds
        return None

    def _from_helper(self, helper: str, server: str, source: str) -> Credentials | None:
        out = self.run_helper(helper, server)
        if out is None:
            return None
        try:
            data = jsonutil.loads(out)
            username, secret = data["Username"], data["Secret"]
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                f"{source} returned an unreadable answer for {server}",
                hint=f"run `echo {server} | {source} get` to check the helper",
            ) from None
        if not isinstance(username, str) or not isinstance(secret, str) or not secret:
            return None
        if username == "<token>":
            return Credentials(source, identity_token=Secret(secret))
        return Credentials(source, username, Secret(secret))


def _candidate_keys(registry: str) -> list[str]:
    keys = [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/"]
    if registry in ("registry-1.docker.io", "index.docker.io", "docker.io"):
        keys = [*DOCKER_HUB_KEYS, *keys]
    return keys


def _from_auth_entry(entry: dict[str, object], source: str) -> Credentials | None:
    identity = entry.get("identitytoken")
    if isinstance(identity, str) and identity:
        return Credentials(source, identity_token=Secret(identity))
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except ValueError:
            raise AuthError(
                f"the auth entry in {source} is not base64 user:password",
                hint="log in again (docker login / podman login)",
            ) from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise AuthError(f"the auth entry in {source} has no ':'", hint="log in again")
        return Credentials(source, user, Secret(password))
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(source, name, Secret(secret))
    return None


def _run_credential_helper(helper: str, server: str) -> str | None:
    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        raise AuthError(
            f"credential helper docker-credential-{helper} is not on PATH",
            hint="install the helper or remove it from docker config.json",
        )
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, helper from the user's config
            [exe, "get"], input=server, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        raise AuthError(f"credential helper docker-credential-{helper} failed to run") from None
    if proc.returncode != 0:
        return None  # "credentials not found" is the common case
    return proc.stdout


@dataclass
class _Token:
    value: Secret
    expires: float


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
        self, registry: str, scope: str, resp: Response, *, sent: Mapping[str, str]
    ) -> dict[str, str]:
        """Headers to retry a request that got 401; raise AuthError when there is no way."""
        challenge = parse_challenge(resp.headers.get("www-authenticate"))
        creds = self.credentials.lookup(registry)
        if challenge is None:
            raise AuthError(f"{registry} answered 401 without a usable WWW-Authenticate challenge")
        if challenge.scheme == "basic":
            header = creds.basic_header() if creds else None
            if header is None:
                raise AuthError(f"{registry} requires a username and password; none found")
            if creds is not None and sent.get("Authorization") == header:
                raise AuthError(f"{registry} rejected the credentials from {creds.source}")
            with self._guard:
                self._basic.add(registry)
            return {"Authorization": header}
        if challenge.scheme != "bearer":
            raise AuthError(f"{registry} asks for unsupported auth scheme {challenge.scheme!r}")
        wanted = challenge.params.get("scope") or scope
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
                token = self._fetch_token(registry, challenge, wanted, creds)
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

    def _fetch_token(
        self, registry: str, challenge: Challenge, scope: str, creds: Credentials | None
    ) -> _Token:
        realm = challenge.realm
        if not realm:
            raise AuthError(f"{registry}'s Bearer challenge names no token realm")
        realm_url = httpx.URL(realm)
        if realm_url.scheme not in ("http", "https"):
            raise AuthError(f"{registry}'s token realm is not an http(s) URL")
        registry_host = httpx.URL(f"http://{registry}").host  # no port, no [], lowercase
        if creds is not None and realm_url.scheme != "https" and realm_url.host != registry_host:
            raise AuthError(
                f"{registry} sends credentials to a plain-http token realm on another "
                f"host ({realm_url.host}); refused",
                hint="a token realm on another host must use https",
            )
        service = challenge.params.get("service")
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
            method, url, headers=headers, data=data, cap=1024 * 1024, what="token response"
        )
        who = f"credentials from {creds.source}" if creds else "anonymous access"
        if resp.status in (401, 403):
            raise AuthError(
                f"token server {realm_url.host} refused {who} for {scope} (HTTP {resp.status})"
            )
        if resp.status != 200:
            raise RegistryError(
                f"token server {realm_url.host} answered HTTP {resp.status} for {scope}",
                status=resp.status,
            )
        try:
            body = jsonutil.loads(resp.body)
        except ValueError:
            raise RegistryError(f"token server {realm_url.host} answered non-JSON") from None
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"token server {realm_url.host} answered without a token")
        ttl = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else _DEFAULT_TOKEN_TTL
        return _Token(Secret(value), self.clock() + max(seconds - _TOKEN_MARGIN, seconds / 2))


def _bearer(token: _Token) -> str:
    return f"Bearer {token.value.reveal()}"
