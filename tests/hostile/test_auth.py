"""Hostile registries, token servers, credential files and helpers (issue 7: 1, 4, 7, 8,
10, 13).

Every registry here is a `HostileServer` on loopback (two servers are two origins; a
TLS one, with a test CA, is an https origin). Each case runs the real CLI and asserts,
through `assert_safe`, the exit code, one `error:` line, no secret (password, its
`user:password` base64, tokens), no runner-executable line and no control character;
where credentials must not travel, it counts the requests that carried them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.cpserver import CPServer, PinRow
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.registry import TestCertificates, make_test_certificates

USER = "ci-bot"
PASSWORD = "hunter2-pa55-9f3c1e"
TOKEN = "good-token-5b1d7a90e2"
CP_TOKEN = "cp-admin-token-77aa01"
SECRETS = (PASSWORD, f"{USER}:{PASSWORD}", TOKEN, CP_TOKEN)
REPO = "team/app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            "size": 2,
        },
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def manifest() -> Answer:
    return Answer(
        200, [("Content-Type", OCI_MANIFEST), ("Docker-Content-Digest", DIGEST)], MANIFEST
    )


def token_answer(doc: object) -> Answer:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Answer(200, [("Content-Type", "application/json")], body)


def unauthorized(challenge: str) -> Answer:
    return Answer(401, [("WWW-Authenticate", challenge)], b'{"errors":[{"code":"UNAUTHORIZED"}]}')


def has_auth(req: Request) -> bool:
    return "authorization" in req.headers


@dataclass
class Env:
    home: Path

    def __call__(self, *, creds: bool = True, **extra: str | None) -> dict[str, str]:
        more: dict[str, str | None] = {}
        if creds:
            more |= {"TRUEDIGEST_REGISTRY_USERNAME": USER, "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD}
        return cli_env(self.home, **(more | extra))


@pytest.fixture
def env(tmp_path: Path) -> Env:
    home = tmp_path / "home"
    home.mkdir()
    return Env(home)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@contextmanager
def serve(handler: Callable[[Request], Answer]) -> Iterator[HostileServer]:
    with HostileServer(handler) as server:
        yield server


@contextmanager
def serve_tls(handler: Callable[[Request], Answer], certs: TestCertificates) -> Iterator[str]:
    """A HostileServer speaking TLS with the test CA's certificate; yields its https URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    with HostileServer(handler) as server:
        inner = server._server
        assert inner is not None
        inner.socket = context.wrap_socket(inner.socket, server_side=True)
        yield f"https://127.0.0.1:{server.port}"


def resolve(host: str, env: dict[str, str], *extra: str) -> CliResult:
    return run_cli(["resolve", "--plain-http", "--timeout", "5", *extra, f"{host}/{REPO}:v1"], env)


Handle = Callable[[Request], Answer]


def bearer_registry(realm: Callable[[], str], tokens: Handle | None = None) -> Handle:
    """A registry that wants `Bearer TOKEN`; with `tokens`, it serves /token itself."""

    def handle(req: Request) -> Answer:
        if tokens is not None and req.path.startswith("/token"):
            return tokens(req)
        if req.headers.get("authorization") == f"Bearer {TOKEN}":
            return manifest()
        return unauthorized(
            f'Bearer realm="{realm()}",service="reg",scope="repository:{REPO}:pull"'
        )

    return handle


# -- 1. credentials answer only their own origin ----------------------------------------


def test_cross_origin_redirect_to_an_https_bearer_challenge_gets_no_credentials(
    env: Env, certs: TestCertificates
) -> None:
    """The issue's case: 307 to another host, whose 401 names an https realm on itself."""
    seen: list[Request] = []

    def other(req: Request) -> Answer:
        seen.append(req)
        if req.path.startswith("/token"):
            return token_answer({"token": TOKEN})
        return unauthorized(f'Bearer realm="{other_url[0]}/token",service="x"')

    other_url: list[str] = []
    with serve_tls(other, certs) as url:
        other_url.append(url)
        with serve(lambda r: Answer(307, [("Location", f"{url}{r.path}")])) as registry:
            result = resolve(registry.host, env(), "--ca-file", str(certs.ca_cert), "-v")
            assert_safe(result, code=3, secrets=SECRETS)
            assert "redirected" in result.stderr
            vv = resolve(registry.host, env(), "--ca-file", str(certs.ca_cert), "-vv")
            assert_no_secret_at_vv(vv)
    assert not [r for r in seen if r.path.startswith("/token")]
    assert not [r for r in seen if "authorization" in r.headers]


def test_cross_origin_redirect_to_a_basic_challenge_is_an_error(env: Env) -> None:
    with serve(lambda _r: unauthorized('Basic realm="elsewhere"')) as other:
        loc = other.url
        with serve(lambda r: Answer(302, [("Location", f"{loc}{r.path}")])) as registry:
            result = resolve(registry.host, env())
    assert_safe(result, code=3, secrets=SECRETS)
    assert "redirected" in result.stderr
    assert other.count(has_auth) == 0


def test_cross_origin_401_naming_the_registrys_own_realm_is_still_refused(env: Env) -> None:
    """The challenge's origin decides, not whose realm it names."""
    with serve(lambda _r: token_answer({"token": TOKEN})) as tokens:
        realm = f"{tokens.url}/token"
        with serve(lambda _r: unauthorized(f'Bearer realm="{realm}"')) as other:
            loc = other.url
            with serve(lambda r: Answer(307, [("Location", f"{loc}{r.path}")])) as registry:
                result = resolve(registry.host, env())
    assert_safe(result, code=3, secrets=SECRETS)
    assert tokens.count() == 0


def test_same_origin_redirect_then_challenge_is_answered(env: Env) -> None:
    def handle(req: Request) -> Answer:
        if req.path.startswith("/token"):
            return token_answer({"token": TOKEN, "expires_in": 300})
        if req.path.startswith("/v2/"):
            return Answer(307, [("Location", "/moved" + req.path)])
        return bearer_registry(lambda: f"{registry.url}/token")(req)

    with serve(handle) as registry:
        result = resolve(registry.host, env())
        assert registry.count(lambda r: r.path.startswith("/token") and has_auth(r)) == 1
    assert_safe(result, code=0, secrets=SECRETS)
    assert result.stdout.strip() == DIGEST


def test_plain_http_realm_on_another_port_gets_no_credentials(env: Env) -> None:
    with serve(lambda _r: token_answer({"token": TOKEN})) as tokens:
        realm = f"{tokens.url}/token"
        with serve(bearer_registry(lambda: realm)) as registry:
            result = resolve(registry.host, env())
    assert_safe(result, code=3, secrets=SECRETS)
    assert tokens.count() == 0
    assert "plain-http token realm" in result.stderr


def test_plain_http_realm_on_another_port_serves_anonymous_pulls(env: Env) -> None:
    with serve(lambda _r: token_answer({"token": TOKEN})) as tokens:
        realm = f"{tokens.url}/token"
        with serve(bearer_registry(lambda: realm)) as registry:
            result = resolve(registry.host, env(creds=False))
    assert_safe(result, code=0, secrets=SECRETS)
    assert result.stdout.strip() == DIGEST
    assert tokens.count() == 1
    assert tokens.count(has_auth) == 0


def test_plain_http_realm_on_the_exact_origin_gets_credentials(env: Env) -> None:
    tokens = lambda _r: token_answer({"token": TOKEN})  # noqa: E731
    with serve(bearer_registry(lambda: f"{registry.url}/token", tokens)) as registry:
        result = resolve(registry.host, env())
        assert registry.count(lambda r: r.path.startswith("/token") and has_auth(r)) == 1
    assert_safe(result, code=0, secrets=SECRETS)
    assert result.stdout.strip() == DIGEST


def test_https_realm_on_another_origin_gets_credentials(env: Env, certs: TestCertificates) -> None:
    asked: list[Request] = []

    def tokens(req: Request) -> Answer:
        asked.append(req)
        return token_answer({"token": TOKEN})

    with serve_tls(tokens, certs) as url, serve(bearer_registry(lambda: f"{url}/token")) as reg:
        result = resolve(reg.host, env(), "--ca-file", str(certs.ca_cert))
    assert_safe(result, code=0, secrets=SECRETS)
    assert result.stdout.strip() == DIGEST
    assert len(asked) == 1
    assert asked[0].headers["authorization"].startswith("Basic ")


# -- 4, 10. tokens, realms and challenges from a hostile server -----------------------------


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({"token": TOKEN + "\r\nX-Evil: 1"}, id="crlf"),
        pytest.param({"token": TOKEN + "\u00e9"}, id="non-ascii"),
        pytest.param({"token": TOKEN + " x"}, id="space"),
        pytest.param({"token": TOKEN + "\x1b]0;pwned\x07"}, id="escape"),
        pytest.param({"token": TOKEN, "expires_in": int("9" * 400)}, id="expires-400-digits"),
        pytest.param({"token": TOKEN, "expires_in": -5}, id="expires-negative"),
        pytest.param({"token": TOKEN, "expires_in": 1.5}, id="expires-float"),
        pytest.param({"token": TOKEN, "expires_in": "300"}, id="expires-string"),
        pytest.param([TOKEN], id="list"),
        pytest.param(b'{"token": "' + TOKEN.encode() + b'"', id="truncated"),
    ],
)
def test_malformed_token_answer(env: Env, doc: object) -> None:
    tokens = lambda _r: token_answer(doc)  # noqa: E731
    with serve(bearer_registry(lambda: f"{registry.url}/token", tokens)) as registry:
        result = resolve(registry.host, env(), "-v")
        assert (
            registry.count(lambda r: r.headers.get("authorization", "").startswith("Bearer")) == 0
        )
    assert_safe(result, code=3, secrets=SECRETS)


def assert_no_secret_at_vv(result: CliResult) -> None:
    """-vv prints a traceback by design; it must still hold no secret in any form."""
    assert result.code == 3, str(result)
    both = result.stdout + result.stderr
    for secret in (*SECRETS, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert secret not in both, str(result)
    assert "internal error" not in both, str(result)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(TOKEN + "\r\nX-Evil: 1", id="crlf"),
        pytest.param(TOKEN + "\u00e9", id="non-ascii"),
    ],
)
def test_malformed_token_is_never_printed_at_vv(env: Env, token: str) -> None:
    tokens = lambda _r: token_answer({"token": token})  # noqa: E731
    with serve(bearer_registry(lambda: f"{registry.url}/token", tokens)) as registry:
        assert_no_secret_at_vv(resolve(registry.host, env(), "-vv"))


@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param('Bearer realm="http://[::1"', id="realm-bad-ipv6"),
        pytest.param('Bearer realm="https://t\u00f6ken.example/token"', id="realm-non-ascii"),
        pytest.param('Bearer realm="https://a.example/t\x1b[2J"', id="realm-escape"),
        pytest.param('Bearer realm="ftp://a.example/token"', id="realm-ftp"),
        pytest.param('Bearer realm="https://u:p@a.example/token"', id="realm-userinfo"),
        pytest.param('Bearer service="reg"', id="no-realm"),
        pytest.param('Bearer realm="/token",service="s\x07"', id="service-bel"),
        pytest.param("\x00\x01\x02", id="garbage-controls"),
        pytest.param('Bearer"realm', id="garbage-quote"),
        pytest.param("::error::pwned", id="runner-command"),
        pytest.param("##[error]pwned realm=x", id="legacy-runner-command"),
        pytest.param("x" * 8000, id="long"),
    ],
)
def test_hostile_challenge(env: Env, challenge: str) -> None:
    with serve(lambda _r: unauthorized(challenge)) as registry:
        result = resolve(registry.host, env(), "-v")
    assert_safe(result, code=3, secrets=SECRETS)
    assert registry.count(has_auth) == 0


# -- 7. credential files are read with bounds and never block ---------------------------------


def _basic_registry() -> Callable[[Request], Answer]:
    return lambda r: manifest() if has_auth(r) else unauthorized('Basic realm="r"')


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _zero(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/zero")
    return path


def _huge(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: costs nothing on disk
    return path


@pytest.mark.parametrize("make", [_fifo, _zero, _huge], ids=["fifo", "dev-zero", "huge"])
@pytest.mark.parametrize("which", ["docker-config", "auth-file", "password-file"])
def test_credential_file_that_is_not_a_small_regular_file(
    env: Env, tmp_path: Path, make: Callable[[Path], Path], which: str
) -> None:
    path = make(tmp_path / "creds" / "config.json")
    extra: dict[str, str | None]
    if which == "docker-config":
        extra = {"DOCKER_CONFIG": str(path.parent)}
    elif which == "auth-file":
        extra = {"REGISTRY_AUTH_FILE": str(path)}
    else:
        extra = {
            "TRUEDIGEST_REGISTRY_USERNAME": USER,
            "TRUEDIGEST_REGISTRY_PASSWORD_FILE": str(path),
        }
    with serve(_basic_registry()) as registry:
        result = resolve(registry.host, env(creds=False, **extra))
    assert_safe(result, code=2, secrets=SECRETS)
    assert str(path) in result.stderr


def test_password_file_is_used(env: Env, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    with serve(_basic_registry()) as registry:
        result = resolve(
            registry.host,
            env(
                creds=False,
                TRUEDIGEST_REGISTRY_USERNAME=USER,
                TRUEDIGEST_REGISTRY_PASSWORD_FILE=str(pw),
            ),
        )
        sent = [r.headers["authorization"] for r in registry.requests if has_auth(r)]
    assert_safe(result, code=0, secrets=SECRETS)
    assert len(sent) == 1
    assert sent[0].startswith("Basic ")


# -- 8. a credential helper is bounded in time and output -------------------------------------


def _helper_env(env: Env, tmp_path: Path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "docker-credential-hostile"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credsStore": "hostile"}))
    return env(
        creds=False,
        DOCKER_CONFIG=str(config.parent),
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    )


@pytest.mark.parametrize(
    ("script", "message"),
    [
        pytest.param("read s\nexec sleep 300\n", "did not answer within 1 s", id="hangs"),
        pytest.param("sleep 300 &\necho '{}'\nwait\n", "did not answer", id="child-holds-pipe"),
        pytest.param("exec cat /dev/zero\n", "more than", id="endless-output"),
    ],
)
def test_hostile_credential_helper(env: Env, tmp_path: Path, script: str, message: str) -> None:
    with serve(_basic_registry()) as registry:
        result = run_cli(
            ["resolve", "--plain-http", "--timeout", "1", f"{registry.host}/{REPO}:v1"],
            _helper_env(env, tmp_path, script),
        )
    assert_safe(result, code=3, secrets=SECRETS)
    assert message in result.stderr


def test_credential_helper_answer_is_used(env: Env, tmp_path: Path) -> None:
    script = f'read s\nprintf \'{{"Username":"{USER}","Secret":"{PASSWORD}"}}\'\n'
    with serve(_basic_registry()) as registry:
        result = resolve(registry.host, _helper_env(env, tmp_path, script))
        assert registry.count(has_auth) == 1
    assert_safe(result, code=0, secrets=SECRETS)


# -- 13. env credentials go only where the user sent them -------------------------------------


@contextmanager
def pins_world() -> Iterator[tuple[HostileServer, CPServer]]:
    """A CP whose row's image_ref names a hostile registry that wants Basic auth."""
    with serve(lambda _r: unauthorized('Basic realm="harvest"')) as evil:
        row = PinRow("api", DIGEST, image_ref=f"{evil.host}/{REPO}@{DIGEST}")
        with CPServer.start(token=CP_TOKEN, pins=[row]) as cp:
            yield evil, cp


def _pins(cp: CPServer, env: dict[str, str], *extra: str) -> CliResult:
    args = ["pins", "--plain-http", "--timeout", "5", "--cp", f"prod={cp.url}", *extra]
    return run_cli([*args, "-o", "json"], env | {"CP_ADMIN_API_TOKEN": CP_TOKEN})


def test_pins_sends_no_env_credentials_to_a_host_a_cp_row_names(env: Env) -> None:
    with pins_world() as (evil, cp):
        result = _pins(cp, env())
    assert_safe(result, code=3, secrets=SECRETS, one_error_line=False)
    assert evil.count() >= 1  # the row was checked against its registry
    assert evil.count(has_auth) == 0


def test_pins_sends_no_env_credentials_to_a_host_a_pin_file_names(env: Env, tmp_path: Path) -> None:
    with serve(lambda _r: unauthorized('Basic realm="harvest"')) as evil:
        pin_file = tmp_path / "deploy.yaml"
        pin_file.write_text(f"image: {evil.host}/{REPO}@{DIGEST}\n")
        result = run_cli(
            ["pins", "--plain-http", "--timeout", "5", "--pin-file", str(pin_file), "-o", "json"],
            env(),
        )
    assert_safe(result, code=3, secrets=SECRETS, one_error_line=False)
    assert evil.count() >= 1
    assert evil.count(has_auth) == 0


@pytest.mark.parametrize("how", ["registry-host", "repo-flag"])
def test_pins_sends_env_credentials_where_the_user_named_the_host(env: Env, how: str) -> None:
    with pins_world() as (evil, cp):
        if how == "registry-host":
            result = _pins(cp, env(TRUEDIGEST_REGISTRY_HOST=evil.host))
        else:
            result = _pins(cp, env(), "--repo", f"{evil.host}/{REPO}")
    assert_safe(result, code=3, secrets=SECRETS, one_error_line=False)
    assert evil.count(has_auth) >= 1


def test_resolve_withheld_credentials_hint_names_the_variable(env: Env) -> None:
    with serve(_basic_registry()) as registry:
        result = resolve(registry.host, env(TRUEDIGEST_REGISTRY_HOST="elsewhere.example"))
    assert_safe(result, code=3, secrets=SECRETS)
    assert "TRUEDIGEST_REGISTRY_HOST" in result.stderr
    assert registry.count(has_auth) == 0
