"""Registry credentials: where they come from, and which registries may get them.

Sources, in a fixed order: TRUEDIGEST_REGISTRY_USERNAME with TRUEDIGEST_REGISTRY_PASSWORD
(or TRUEDIGEST_REGISTRY_PASSWORD_FILE), REGISTRY_AUTH_FILE, docker config.json
(credHelpers, auths, credsStore), containers auth.json. Every file is read through
`fileio.read_input` (regular files only, capped, never blocking); a credential helper
runs under the run's `--timeout` with its answer capped. Every password and token is
a `transport.Secret`, so `redact` knows it (and the base64 of `user:password`).

The env credentials are not tied to a host by their nature, so they are confined:
to TRUEDIGEST_REGISTRY_HOST when set, else (on the command line) to the registries
of the references the user typed. A CP row or a pin file never chooses where they go.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from truedigest.base import fileio, jsonutil, redact
from truedigest.errors import AuthError, InputFileError
from truedigest.oci.secret import Secret

if TYPE_CHECKING:
    import subprocess

ENV_USER = "TRUEDIGEST_REGISTRY_USERNAME"
ENV_PASSWORD = "TRUEDIGEST_REGISTRY_PASSWORD"  # noqa: S105 - a variable name
ENV_PASSWORD_FILE = "TRUEDIGEST_REGISTRY_PASSWORD_FILE"  # noqa: S105 - a variable name
ENV_HOSTS = "TRUEDIGEST_REGISTRY_HOST"
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")
_HUB_NAMES = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})
CONFIG_CAP = 4 * 1024 * 1024  # docker config.json, auth.json
PASSWORD_FILE_CAP = 64 * 1024
HELPER_OUTPUT_CAP = 64 * 1024
DEFAULT_HELPER_TIMEOUT = 30.0
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where they came from (`source`) is printable; the secret parts are not."""

    source: str
    username: str | None = None
    password: Secret | None = None
    identity_token: Secret | None = None

    def __post_init__(self) -> None:
        if self.username is not None and self.password is not None:
            redact.remember_basic(self.username, self.password.reveal())

    def basic_header(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password.reveal()}".encode("utf-8", "surrogatepass")
        return "Basic " + base64.b64encode(raw).decode("ascii")


HelperRunner = Callable[[str, str], str | None]


class CredentialStore:
    """Looks up credentials for a registry host (see the module doc for the order)."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        run_helper: HelperRunner | None = None,
        helper_timeout: float = DEFAULT_HELPER_TIMEOUT,
    ) -> None:
        self.env = os.environ if env is None else env
        self.helper_timeout = helper_timeout
        self.run_helper: HelperRunner = run_helper or (
            lambda helper, server: run_credential_helper(
                helper, server, timeout=self.helper_timeout
            )
        )
        self._cli_registries: frozenset[str] | None = None
        self._cache: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    def restrict_env_to(self, registries: Iterable[str]) -> None:
        """Without TRUEDIGEST_REGISTRY_HOST, offer the env credentials only to these
        registries (those of the references given on the command line)."""
        with self._lock:
            self._cli_registries = frozenset(_normal(r) for r in registries)
            self._cache.clear()

    def lookup(self, registry: str) -> Credentials | None:
        with self._lock:
            if registry not in self._cache:
                self._cache[registry] = self._lookup(registry)
            return self._cache[registry]

    def withheld_hint(self, registry: str) -> str | None:
        """A hint when env credentials exist but are not offered to `registry`."""
        if not self.env.get(ENV_USER) or self._env_credentials_apply(registry):
            return None
        if self.env.get(ENV_HOSTS, "").strip():
            return f"{ENV_USER}/PASSWORD are confined by {ENV_HOSTS}, which lacks {registry}"
        return (
            f"{ENV_USER}/PASSWORD go only to registries named on the command line; "
            f"set {ENV_HOSTS}={registry} to offer them to this one"
        )

    def _lookup(self, registry: str) -> Credentials | None:
        user = self.env.get(ENV_USER)
        if user and self._env_credentials_apply(registry):
            password = self.env.get(ENV_PASSWORD)
            if password is None and self.env.get(ENV_PASSWORD_FILE):
                password = _read_password_file(self.env[ENV_PASSWORD_FILE])
            if password is not None:
                return Credentials(f"{ENV_USER}/PASSWORD", user, Secret(password))
        for path, what in self._config_files():
            creds = self._from_file(path, what, registry)
            if creds is not None:
                return creds
        return None

    def _env_credentials_apply(self, registry: str) -> bool:
        """TRUEDIGEST_REGISTRY_HOST (comma-separated) confines the env credentials to
        those registries; unset, to the command line's registries (all when no
        command line restricted them: library use)."""
        scope = self.env.get(ENV_HOSTS, "").strip()
        if scope:
            hosts = {_normal(h) for h in scope.split(",") if h.strip()}
            return _normal(registry) in hosts
        if self._cli_registries is None:
            return True
        return _normal(registry) in self._cli_registries

    def _config_files(self) -> list[tuple[Path, str]]:
        home = Path(self.env.get("HOME") or Path.home())
        files: list[tuple[Path, str]] = []
        if self.env.get("REGISTRY_AUTH_FILE"):
            files.append((Path(self.env["REGISTRY_AUTH_FILE"]), "REGISTRY_AUTH_FILE"))
        docker_dir = Path(self.env["DOCKER_CONFIG"]) if self.env.get("DOCKER_CONFIG") else None
        files.append(((docker_dir or home / ".docker") / "config.json", "docker config.json"))
        if self.env.get("XDG_RUNTIME_DIR"):
            runtime = Path(self.env["XDG_RUNTIME_DIR"])
            files.append((runtime / "containers" / "auth.json", "containers auth.json"))
        xdg_config = Path(self.env.get("XDG_CONFIG_HOME") or home / ".config")
        files.append((xdg_config / "containers" / "auth.json", "containers auth.json"))
        return files

    def _from_file(self, path: Path, what: str, registry: str) -> Credentials | None:
        if not os.path.exists(path):  # a FIFO exists: read_input refuses it
            return None
        data = fileio.read_input(path, what=what, cap=CONFIG_CAP)
        try:
            doc = jsonutil.loads(data)
        except ValueError:
            raise AuthError(
                f"cannot read registry credentials file {path}: not valid JSON",
                hint="fix or move the file; truedigest reads docker config.json and auth.json",
            ) from None
        if not isinstance(doc, dict):
            return None
        keys = _candidate_keys(registry)
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                helper = helpers.get(key)
                if isinstance(helper, str) and helper:
                    return self._from_helper(helper, key)
        auths = doc.get("auths")
        if isinstance(auths, dict):
            for key in keys:
                entry = auths.get(key)
                if isinstance(entry, dict):
                    creds = _from_auth_entry(entry, f"{path} ({key})")
                    if creds is not None:
                        return creds
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            for key in keys:
                creds = self._from_helper(store, key)
                if creds is not None:
                    return creds
        return None

    def _from_helper(self, helper: str, server: str) -> Credentials | None:
        if not _HELPER_NAME.fullmatch(helper):
            raise AuthError(
                "docker config.json names a credential helper that is not a plain name",
                hint="a helper is docker-credential-<name>, <name> letters, digits, . _ -",
            )
        source = f"docker-credential-{helper}"
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


def _normal(registry: str) -> str:
    name = registry.strip().lower()
    return "registry-1.docker.io" if name in _HUB_NAMES else name


def _read_password_file(path: str) -> str:
    data = fileio.read_input(path, what=ENV_PASSWORD_FILE, cap=PASSWORD_FILE_CAP)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(
            f"{ENV_PASSWORD_FILE}: {path!r} is not UTF-8 text",
            hint="point it at a readable file holding only the password",
        ) from None
    return text.rstrip("\r\n")


def _candidate_keys(registry: str) -> list[str]:
    keys = [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/"]
    if registry in _HUB_NAMES:
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


def run_credential_helper(
    helper: str, server: str, *, timeout: float = DEFAULT_HELPER_TIMEOUT
) -> str | None:
    """`docker-credential-<helper> get` with `server` on stdin: its stdout, or None
    when it exits non-zero ("credentials not found"). Bounded by `timeout` seconds
    and HELPER_OUTPUT_CAP bytes; the helper (and its process group) is killed past
    either bound."""
    import shutil  # here: only a run that uses a helper pays for these imports
    import subprocess

    name = f"docker-credential-{helper}"
    exe = shutil.which(name)
    if exe is None:
        raise AuthError(
            f"credential helper {name} is not on PATH",
            hint="install the helper or remove it from docker config.json",
        )
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, helper from the user's config
            [exe, "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        raise AuthError(f"credential helper {name} failed to run") from None
    try:
        out = _collect(proc, server.encode("utf-8", "replace"), timeout, name)
    finally:
        _reap(proc)
    if proc.returncode != 0:
        return None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(f"{name} returned an answer that is not UTF-8") from None


def _collect(proc: subprocess.Popen[bytes], data: bytes, timeout: float, name: str) -> bytes:
    import selectors
    import subprocess

    deadline = time.monotonic() + timeout
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are pipes
        raise AuthError(f"credential helper {name} failed to run")
    try:
        stdin.write(data)
        stdin.close()
    except OSError:  # it exited without reading: its exit status says what happened
        pass
    chunks: list[bytes] = []
    total = 0
    too_slow = AuthError(
        f"credential helper {name} did not answer within {timeout:g} s",
        hint="check the helper (it may be waiting for a prompt); --timeout bounds it",
    )
    with selectors.DefaultSelector() as sel:
        sel.register(stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise too_slow
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > HELPER_OUTPUT_CAP:
                raise AuthError(
                    f"credential helper {name} answered more than {HELPER_OUTPUT_CAP // 1024} KiB"
                )
            chunks.append(chunk)
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise too_slow from None
    return b"".join(chunks)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the helper's process group if it is still running; close the pipes."""
    import signal

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            stream.close()
