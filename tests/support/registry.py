"""A real CNCF distribution registry on a loopback port, for integration tests.

`RegistryServer.start(variant, workdir)` writes its own config, starts
`docker-registry serve CONFIG` with every `REGISTRY_*` variable stripped from the
child's environment, and waits until `GET /v2/` answers. Variants:

- `plain`: http, anonymous read and write.
- `basic`: http, htpasswd (bcrypt) Basic auth.
- `tls`: https with a server certificate issued by a fresh test CA.
- `token`: http, Bearer token auth backed by an in-process `TokenServer`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "RegistryServer",
    "RegistryStartError",
    "TestCertificates",
    "TokenServer",
    "Variant",
    "free_port",
    "libtrust_key_id",
    "make_test_certificates",
    "registry_binary",
]

USERNAME = "truedigest"
TOKEN_SERVICE = "truedigest-test-registry"
TOKEN_ISSUER = "truedigest-test-issuer"

_POLL_INTERVAL = 0.01
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3


class Variant(StrEnum):
    """How a test registry authenticates and which scheme it serves."""

    PLAIN = "plain"
    BASIC = "basic"
    TLS = "tls"
    TOKEN = "token"


class RegistryStartError(RuntimeError):
    """The registry process exited or never answered `GET /v2/`."""


def registry_binary() -> str | None:
    """Path of the distribution binary (Debian: `docker-registry`, upstream: `registry`)."""
    return shutil.which("docker-registry") or shutil.which("registry")


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- keys and certs


def libtrust_key_id(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """The `kid` distribution expects: base32 of sha256(DER SPKI)[:30] in 4-char groups."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=2)


@dataclass(frozen=True, slots=True)
class TestCertificates:
    """PEM files of a test CA and a server certificate for 127.0.0.1 and localhost."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_test_certificates(directory: Path) -> TestCertificates:
    """Write `ca.crt`, `server.crt` and `server.key` (EC P-256) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    not_before, not_after = _validity()

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "truedigest test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    certs = TestCertificates(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
    )
    certs.ca_cert.write_bytes(_pem_cert(ca_cert))
    certs.server_cert.write_bytes(_pem_cert(server_cert))
    certs.server_key.write_bytes(_pem_key(server_key))
    return certs


@functools.cache
def _token_signing_key() -> rsa.RSAPrivateKey:
    # One RSA key per process: generating it is the slowest step of a token registry start.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _self_signed_cert(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    not_before, not_after = _validity()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


# --------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_scopes(values: list[str]) -> list[tuple[str, str, list[str]]]:
    """`repository:NAME:pull,push` (repeated or space separated) → (type, name, actions)."""
    scopes: list[tuple[str, str, list[str]]] = []
    for value in values:
        for scope in value.split():
            kind, sep, rest = scope.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if sep and sep2 and kind and name:
                scopes.append((kind, name, [a for a in actions.split(",") if a]))
    return scopes


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 5

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(self.path)
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self._reply(404, {"details": "not found"}, {})
            return
        if owner.fail_status is not None:
            self._reply(owner.fail_status, {"details": "configured failure"}, {})
            return

        subject = owner.authenticate(self.headers.get("Authorization"))
        if subject is None:
            self._reply(
                401,
                {"details": "bad credentials"},
                {"WWW-Authenticate": 'Basic realm="truedigest-test-token"'},
            )
            return
        query = urllib.parse.parse_qs(url.query)
        service = query.get("service", [owner.service])[0]
        scopes = _parse_scopes(query.get("scope", []))
        token = owner.issue(subject, service, scopes)
        now = dt.datetime.now(dt.UTC)
        self._reply(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": owner.expires_in,
                "issued_at": _rfc3339(now),
            },
            {},
        )


class _TokenHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: TokenServer


class TokenServer:
    """A distribution token server (`GET /token?service=S&scope=…`) on a loopback port.

    Anonymous requests get `pull` only (when `anonymous_allowed`); requests with the
    right Basic credentials get `*` on every scope asked (`grant_all`, needed by oras,
    which re-sends a stale token on 401) or exactly the actions asked. Wrong
    credentials get 401. Every request is counted and its path+query recorded
    (never its credentials); call `reset()` before the action a test measures.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        service: str = TOKEN_SERVICE,
        issuer: str = TOKEN_ISSUER,
        certificates: TestCertificates | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.service = service
        self.issuer = issuer
        self.fail_status: int | None = None
        self.anonymous_allowed = True
        self.grant_all = True
        self.expires_in = 300
        self._key = _token_signing_key()
        self.key_id = libtrust_key_id(self._key.public_key())
        self.certificate_pem = _pem_cert(_self_signed_cert(self._key, issuer))
        self._lock = threading.Lock()
        self._count = 0
        self._log: list[str] = []
        self._httpd = _TokenHTTPServer(("127.0.0.1", 0), _TokenHandler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        # A realm on another port is another origin: truedigest sends credentials
        # there only over https (the README's security model), as a real token server is served.
        scheme = "http"
        if certificates is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificates.server_cert, certificates.server_key)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.realm = f"{scheme}://127.0.0.1:{self.port}/token"
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"token-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=_STOP_TIMEOUT)
            self._thread = None
        self._httpd.server_close()

    # -- observation
    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._count

    @property
    def requests(self) -> list[str]:
        """Path and query of every request so far (a copy)."""
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        """Forget counted requests and restore the default behaviour options."""
        with self._lock:
            self._count = 0
            self._log.clear()
        self.fail_status = None
        self.anonymous_allowed = True
        self.grant_all = True

    def _record(self, path: str) -> None:
        with self._lock:
            self._count += 1
            self._log.append(path)

    # -- protocol
    def authenticate(self, authorization: str | None) -> str | None:
        """The token subject: the user name, "" for anonymous, None when refused."""
        if not authorization:
            return "" if self.anonymous_allowed else None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except ValueError:
            return None
        ok = secrets.compare_digest(user.encode(), self.username.encode()) and (
            secrets.compare_digest(password.encode(), self.password.encode())
        )
        return user if ok else None

    def issue(self, subject: str, service: str, scopes: list[tuple[str, str, list[str]]]) -> str:
        """Sign an RS256 JWT granting `scopes` as the rules in the class doc allow."""
        access: list[dict[str, Any]] = []
        for kind, name, actions in scopes:
            if not subject:
                granted = ["pull"] if "pull" in actions else []
            elif self.grant_all:
                granted = ["*"]
            else:
                granted = actions
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


# --------------------------------------------------------------------------- registry


class RegistryServer:
    """One `docker-registry serve` process; use `with RegistryServer.start(...) as reg:`."""

    def __init__(self, variant: Variant | str, workdir: Path | None = None) -> None:
        self.variant = Variant(variant)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix=f"registry-{self.variant}-")
            workdir = Path(self._tempdir.name)
        self.workdir = workdir
        self.extra_env: dict[str, str] = {}
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.config_file = self.workdir / "config.yml"
        self.log_file = self.workdir / "registry.log"
        self.port = 0
        self.host = ""
        self.url = ""
        self.username: str | None = None
        self.password: str | None = None
        self.ca_file: Path | None = None
        self.ca_dir: Path | None = None
        self.token_server: TokenServer | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._certs: TestCertificates | None = None
        self._auth: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"RegistryServer(variant={self.variant.value!r}, url={self.url!r})"

    @property
    def scheme(self) -> str:
        return "https" if self.variant in (Variant.TLS, Variant.TOKEN) else "http"

    # -- lifecycle
    @classmethod
    def start(
        cls,
        variant: Variant | str,
        workdir: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Self:
        """Configure and start a registry, returning once `GET /v2/` answers; `env`
        adds to its environment (e.g. the Go runtime's GOGC)."""
        server = cls(variant, workdir)
        server.extra_env = dict(env or {})
        try:
            server._prepare()
            server._launch()
        except BaseException:
            server.stop()
            raise
        return server

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate (then kill) the registry and stop the token server. Idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        token_server, self.token_server = self.token_server, None
        if token_server is not None:
            token_server.stop()
        tempdir, self._tempdir = self._tempdir, None
        if tempdir is not None:
            tempdir.cleanup()

    def log_text(self) -> str:
        """What the registry wrote to stdout/stderr so far."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- setup
    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.variant in (Variant.BASIC, Variant.TOKEN):
            self.username = USERNAME
            self.password = secrets.token_urlsafe(18)
        match self.variant:
            case Variant.PLAIN:
                pass
            case Variant.BASIC:
                assert self.password is not None
                htpasswd = self.workdir / "htpasswd"
                # Cost 4 (the minimum): the registry runs bcrypt on every request.
                hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4))
                htpasswd.write_bytes(f"{self.username}:".encode() + hashed + b"\n")
                self._auth = {"htpasswd": {"realm": "truedigest-test", "path": str(htpasswd)}}
            case Variant.TLS:
                self._use_test_ca()
            case Variant.TOKEN:
                assert self.username is not None
                assert self.password is not None
                # Registry and token server both on https with one test CA: the realm
                # is another origin (another port), which gets credentials only over TLS.
                certs = self._use_test_ca()
                self.token_server = TokenServer(
                    self.username, self.password, certificates=certs
                ).start()
                bundle = self.workdir / "token.crt"
                bundle.write_bytes(self.token_server.certificate_pem)
                self._auth = {
                    "token": {
                        "realm": self.token_server.realm,
                        "service": self.token_server.service,
                        "issuer": self.token_server.issuer,
                        "rootcertbundle": str(bundle),
                    }
                }

    def _use_test_ca(self) -> TestCertificates:
        self._certs = make_test_certificates(self.workdir / "certs")
        self.ca_dir = self.workdir / "ca"
        self.ca_dir.mkdir(exist_ok=True)
        # skopeo --cert-dir treats any *.key there as a client key: only ca.crt.
        self.ca_file = self.ca_dir / "ca.crt"
        shutil.copyfile(self._certs.ca_cert, self.ca_file)
        return self._certs

    def _write_config(self) -> None:
        http_section: dict[str, Any] = {
            "addr": self.host,
            "secret": secrets.token_hex(16),
        }
        if self._certs is not None:
            http_section["tls"] = {
                "certificate": str(self._certs.server_cert),
                "key": str(self._certs.server_key),
            }
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http_section,
            "health": {"storagedriver": {"enabled": False}},
        }
        if self._auth is not None:
            config["auth"] = self._auth
        # JSON is YAML: no YAML library needed.
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    def _launch(self) -> None:
        binary = registry_binary()
        if binary is None:
            raise RegistryStartError("registry binary not found (docker-registry or registry)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(self.extra_env)
        last_error = ""
        for _ in range(_START_ATTEMPTS):
            self.port = free_port()
            self.host = f"127.0.0.1:{self.port}"
            self.url = f"{self.scheme}://{self.host}"
            self._write_config()
            with self.log_file.open("wb") as log:
                # A file, not a pipe: nobody drains a pipe, and a full pipe blocks the registry.
                self.process = subprocess.Popen(
                    [binary, "serve", str(self.config_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.workdir,
                )
            if self._wait_ready():
                return
            last_error = self.log_text()
            self.process = None
            if "address already in use" not in last_error:
                break
        raise RegistryStartError(
            f"{self.variant} registry did not start on {self.host}:\n{last_error}"
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _probe(self, context: ssl.SSLContext | None) -> int | None:
        conn: http.client.HTTPConnection
        if context is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/v2/")
            return conn.getresponse().status
        except OSError:
            return None
        finally:
            conn.close()

    def _wait_ready(self) -> bool:
        """Poll `GET /v2/`; False if the process died, raises on timeout."""
        assert self.process is not None
        context = self._ssl_context()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._probe(context) in (200, 401):
                return True
            time.sleep(_POLL_INTERVAL)
        with contextlib.suppress(OSError):
            self.process.kill()
            self.process.wait()
        raise RegistryStartError(
            f"{self.variant} registry on {self.host} not ready after {_START_TIMEOUT}s:\n"
            + self.log_text()
        )
