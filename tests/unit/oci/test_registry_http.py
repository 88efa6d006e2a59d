"""RegistryClient over a respx-mocked registry: auth flows, failure paths, request counts.

Manifest bytes are built here with json.dumps and their digests computed with
hashlib; every failure path asserts the exception type, the exit code, and that
no password or token appears in the error's text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from truedigest.errors import (
    AuthError,
    DigestMismatchError,
    ExitCode,
    ManifestTooLargeError,
    NetworkError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
    TruedigestError,
)
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.httpconfig import ClientOptions
from truedigest.oci.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
)
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.schema1 import SCHEMA1_MEDIA_TYPES as SCHEMA1_TYPES

REG = "reg.example"
BASE = f"https://{REG}"
REPO = "team/app"
REF = parse_reference(f"{REG}/{REPO}:v1")
MANIFEST_URL = f"{BASE}/v2/{REPO}/manifests/v1"
REALM = "https://auth.example/token"
SCOPE = f"repository:{REPO}:pull"
CHALLENGE = f'Bearer realm="{REALM}",service="{REG}",scope="{SCOPE}"'

USER = "ci-bot"
PASSWORD = "pa55-registry-9f3e1"
TOKEN = "tok-registry-4b7c0"
REFRESH = "refresh-identity-2d8a6"
SECRET_ECHO = "SECRET-ECHO"
SECRETS = (PASSWORD, TOKEN, REFRESH, SECRET_ECHO)
ENV_CREDS = {"TRUEDIGEST_REGISTRY_USERNAME": USER, "TRUEDIGEST_REGISTRY_PASSWORD": PASSWORD}


# -- exact bytes ------------------------------------------------------------------------


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_bytes(os_: str = "linux", arch: str = "amd64", variant: str | None = None) -> bytes:
    cfg: dict[str, Any] = {"architecture": arch, "os": os_, "rootfs": {"type": "layers"}}
    if variant:
        cfg["variant"] = variant
    return json.dumps(cfg).encode()


def manifest_bytes(config: bytes, *, media_type: str = OCI_MANIFEST) -> bytes:
    layer = b"layer-bytes"
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()


def descriptor(
    body: bytes,
    platform: dict[str, str] | None,
    *,
    media_type: str = OCI_MANIFEST,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": media_type, "digest": digest_of(body), "size": len(body)}
    if platform is not None:
        desc["platform"] = platform
    if annotations:
        desc["annotations"] = annotations
    return desc


def index_bytes(children: list[dict[str, Any]], *, media_type: str = OCI_INDEX) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": children}).encode()


CONFIG = config_bytes()
MANIFEST = manifest_bytes(CONFIG)


def manifest_response(
    body: bytes,
    *,
    media_type: str | None = OCI_MANIFEST,
    header: str | None = "auto",
) -> httpx.Response:
    headers: dict[str, str] = {}
    if media_type:
        headers["Content-Type"] = media_type
    if header == "auto":
        headers["Docker-Content-Digest"] = digest_of(body)
    elif header is not None:
        headers["Docker-Content-Digest"] = header
    return httpx.Response(200, headers=headers, content=body)


def oci_error(status: int, code: str, message: str = SECRET_ECHO, **headers: str) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message, "detail": {"echo": PASSWORD}}]}
    return httpx.Response(status, headers=headers, json=body)


def unauthorized(challenge: str = CHALLENGE) -> httpx.Response:
    return oci_error(
        401, "UNAUTHORIZED", f"bad credentials {PASSWORD}", **{"WWW-Authenticate": challenge}
    )


def token_response(token: str = TOKEN, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"token": token, **extra})


def requires_bearer(
    ok: Callable[[], httpx.Response], token: str = TOKEN, challenge: str = CHALLENGE
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == f"Bearer {token}":
            return ok()
        return unauthorized(challenge)

    return handler


def basic_of(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- fixtures ---------------------------------------------------------------------------


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_mocked=True)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeClient = Callable[..., RegistryClient]


@pytest.fixture
def make_client(router: respx.Router, sleeps: Sleeps, tmp_path: Path) -> Iterator[MakeClient]:
    clients: list[RegistryClient] = []

    def make(
        env: dict[str, str] | None = None, *, plain_http: bool = False, **options: Any
    ) -> RegistryClient:
        store = CredentialStore(env={"HOME": str(tmp_path), **(ENV_CREDS if env is None else env)})
        client = RegistryClient(
            ClientOptions(plain_http=plain_http, **options),
            transport=httpx.MockTransport(router.handler),
            credentials=store,
            sleep=sleeps,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def assert_clean(exc: BaseException, exit_code: ExitCode) -> None:
    """The right exit code, and no secret in anything printable."""
    assert isinstance(exc, TruedigestError)
    assert exc.exit_code == exit_code
    texts = [str(exc), repr(exc), exc.instance_hint or "", exc.message]
    for secret in SECRETS:
        for text in texts:
            assert secret not in text, f"{secret!r} leaked into {text!r}"


# -- plain resolve ------------------------------------------------------------------------


def test_resolve_is_one_get_hashing_the_bytes(
    router: respx.Router, make_client: MakeClient
) -> None:
    route = router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    client = make_client()
    resolved = client.resolve(REF)
    assert str(resolved.digest) == digest_of(MANIFEST)
    assert str(resolved.header_digest) == digest_of(MANIFEST)
    assert resolved.media_type == OCI_MANIFEST
    assert resolved.size == len(MANIFEST)
    assert resolved.manifest is not None
    assert resolved.manifest.body == MANIFEST
    assert client.requests_made == 1
    accept = route.calls.last.request.headers["Accept"]
    # the four manifest types first; legacy schema 1 last, as docker and containers/image
    assert [part.strip() for part in accept.split(",")] == [*MANIFEST_MEDIA_TYPES, *SCHEMA1_TYPES]
    assert "Authorization" not in route.calls.last.request.headers


def test_resolve_trusts_bytes_when_header_is_absent(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST, header=None))
    resolved = make_client().resolve(REF)
    assert str(resolved.digest) == digest_of(MANIFEST)
    assert resolved.header_digest is None


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_media_type_from_body_when_content_type_is_generic(
    router: respx.Router, make_client: MakeClient, media_type: str
) -> None:
    body = manifest_bytes(CONFIG, media_type=media_type)
    router.get(MANIFEST_URL).mock(
        return_value=manifest_response(body, media_type="application/octet-stream")
    )
    assert make_client().resolve(REF).media_type == media_type


def test_resolve_by_digest(router: respx.Router, make_client: MakeClient) -> None:
    ref = REF.with_digest(Digest.parse(digest_of(MANIFEST)))
    router.get(f"{BASE}/v2/{REPO}/manifests/{digest_of(MANIFEST)}").mock(
        return_value=manifest_response(MANIFEST)
    )
    assert str(make_client().resolve(ref).digest) == digest_of(MANIFEST)


def test_resolve_by_digest_with_other_bytes(router: respx.Router, make_client: MakeClient) -> None:
    other = manifest_bytes(config_bytes(arch="arm64"))
    wanted = digest_of(MANIFEST)
    router.get(f"{BASE}/v2/{REPO}/manifests/{wanted}").mock(
        return_value=manifest_response(other, header=None)
    )
    with pytest.raises(DigestMismatchError) as info:
        make_client().resolve(REF.with_digest(Digest.parse(wanted)))
    assert wanted in str(info.value)
    assert digest_of(other) in str(info.value)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_plain_http_option(router: respx.Router, make_client: MakeClient) -> None:
    ref = parse_reference(f"localhost:5000/{REPO}:v1")
    route = router.get(f"http://localhost:5000/v2/{REPO}/manifests/v1").mock(
        return_value=manifest_response(MANIFEST)
    )
    make_client(plain_http=True).resolve(ref)
    assert route.call_count == 1


# -- Bearer token flow --------------------------------------------------------------------


def test_cold_token_is_three_requests_and_warm_token_is_one(
    router: respx.Router, make_client: MakeClient
) -> None:
    registry = router.get(MANIFEST_URL).mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST))
    )
    token = router.get(url__startswith=REALM).mock(return_value=token_response(expires_in=300))
    client = make_client(env={})  # anonymous
    assert str(client.resolve(REF).digest) == digest_of(MANIFEST)
    assert client.requests_made == 3
    assert token.call_count == 1
    query = parse_qs(token.calls.last.request.url.query.decode())
    assert query == {"service": [REG], "scope": [SCOPE]}
    assert "Authorization" not in token.calls.last.request.headers
    assert registry.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"

    client.resolve(REF)
    assert client.requests_made == 4  # the cached token is sent up front
    assert token.call_count == 1
    assert registry.call_count == 3


def test_token_request_carries_basic_credentials(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(side_effect=requires_bearer(lambda: manifest_response(MANIFEST)))
    token = router.get(url__startswith=REALM).mock(return_value=token_response())
    make_client().resolve(REF)
    assert token.calls.last.request.headers["Authorization"] == basic_of(USER, PASSWORD)


def test_token_scope_defaults_to_pull(router: respx.Router, make_client: MakeClient) -> None:
    challenge = f'Bearer realm="{REALM}",service="{REG}"'
    router.get(MANIFEST_URL).mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST), challenge=challenge)
    )
    token = router.get(url__startswith=REALM).mock(return_value=token_response())
    make_client().resolve(REF)
    assert parse_qs(token.calls.last.request.url.query.decode())["scope"] == [SCOPE]


def test_access_token_key_is_accepted(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(side_effect=requires_bearer(lambda: manifest_response(MANIFEST)))
    router.get(url__startswith=REALM).mock(
        return_value=httpx.Response(200, json={"access_token": TOKEN})
    )
    assert make_client().resolve(REF).digest == Digest.of_bytes(MANIFEST)


def test_token_is_cached_per_scope(router: respx.Router, make_client: MakeClient) -> None:
    other_repo = "team/other"
    other_scope = f"repository:{other_repo}:pull"
    other_token = "tok-other-8e2f"
    router.get(MANIFEST_URL).mock(side_effect=requires_bearer(lambda: manifest_response(MANIFEST)))
    router.get(f"{BASE}/v2/{other_repo}/manifests/v1").mock(
        side_effect=requires_bearer(
            lambda: manifest_response(MANIFEST),
            token=other_token,
            challenge=f'Bearer realm="{REALM}",service="{REG}",scope="{other_scope}"',
        )
    )

    def issue(request: httpx.Request) -> httpx.Response:
        scope = parse_qs(request.url.query.decode())["scope"][0]
        return token_response(TOKEN if scope == SCOPE else other_token)

    token = router.get(url__startswith=REALM).mock(side_effect=issue)
    client = make_client()
    client.resolve(REF)
    client.resolve(parse_reference(f"{REG}/{other_repo}:v1"))
    client.resolve(REF)
    assert token.call_count == 2
    assert client.requests_made == 7  # 3 + 3 + 1


def test_expired_token_is_fetched_again(router: respx.Router, make_client: MakeClient) -> None:
    now = [0.0]
    router.get(MANIFEST_URL).mock(side_effect=requires_bearer(lambda: manifest_response(MANIFEST)))
    token = router.get(url__startswith=REALM).mock(return_value=token_response(expires_in=60))
    client = make_client()
    client.auth.clock = lambda: now[0]
    client.resolve(REF)
    now[0] = 30.0
    client.resolve(REF)
    assert token.call_count == 1
    now[0] = 3600.0
    client.resolve(REF)
    assert token.call_count == 2


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        pytest.param(
            httpx.Response(500, text=f"boom {PASSWORD}"), RegistryError, "HTTP 500", id="500"
        ),
        pytest.param(
            httpx.Response(401, json={"details": f"bad {PASSWORD}"}), AuthError, "refused", id="401"
        ),
        pytest.param(httpx.Response(403, text=PASSWORD), AuthError, "refused", id="403"),
        pytest.param(
            httpx.Response(200, text=f"<html>{PASSWORD}</html>"),
            RegistryError,
            "non-JSON",
            id="non-json",
        ),
        pytest.param(
            httpx.Response(200, json={"echo": PASSWORD}),
            RegistryError,
            "without a token",
            id="no-token",
        ),
        pytest.param(
            httpx.Response(200, json={"token": ""}),
            RegistryError,
            "without a token",
            id="empty-token",
        ),
        pytest.param(
            httpx.Response(200, json=[PASSWORD]), RegistryError, "without a token", id="list"
        ),
    ],
)
def test_token_endpoint_failures(
    router: respx.Router,
    make_client: MakeClient,
    response: httpx.Response,
    error: type[TruedigestError],
    fragment: str,
) -> None:
    registry = router.get(MANIFEST_URL).mock(return_value=unauthorized())
    router.get(url__startswith=REALM).mock(return_value=response)
    with pytest.raises(error, match=fragment) as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)
    assert "auth.example" in str(info.value)
    assert registry.call_count == 1


def test_insufficient_scope_rechallenge(router: respx.Router, make_client: MakeClient) -> None:
    wider = f"repository:{REPO}:pull repository:team/base:pull"
    wider_token = "tok-wider-31aa"
    rechallenge = (
        f'Bearer realm="{REALM}",service="{REG}",scope="{wider}",error="insufficient_scope"'
    )

    def registry_handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization")
        if auth == f"Bearer {wider_token}":
            return manifest_response(MANIFEST)
        if auth == f"Bearer {TOKEN}":
            return unauthorized(rechallenge)
        return unauthorized()

    def issue(request: httpx.Request) -> httpx.Response:
        scope = parse_qs(request.url.query.decode())["scope"][0]
        return token_response(wider_token if scope == wider else TOKEN)

    registry = router.get(MANIFEST_URL).mock(side_effect=registry_handler)
    token = router.get(url__startswith=REALM).mock(side_effect=issue)
    client = make_client()
    assert client.resolve(REF).digest == Digest.of_bytes(MANIFEST)
    scopes = [parse_qs(call.request.url.query.decode())["scope"][0] for call in token.calls]
    assert scopes == [SCOPE, wider]
    assert registry.calls.last.request.headers["Authorization"] == f"Bearer {wider_token}"
    assert client.requests_made == 5
    client.resolve(REF)  # the wider token is now sent up front
    assert client.requests_made == 6
    assert token.call_count == 2


def test_registry_refusing_a_fresh_token(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=unauthorized())
    token = router.get(url__startswith=REALM).mock(return_value=token_response())
    client = make_client()
    with pytest.raises(AuthError) as info:
        client.resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)
    assert token.call_count <= 3
    assert client.requests_made <= 6


def test_401_without_challenge(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).respond(401, text=PASSWORD)
    with pytest.raises(AuthError, match="WWW-Authenticate") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_unsupported_auth_scheme(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=unauthorized('Negotiate realm="x"'))
    with pytest.raises(AuthError, match="negotiate") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


@pytest.mark.parametrize(
    "challenge",
    [
        pytest.param(f'Bearer service="{REG}"', id="no-realm"),
        pytest.param('Bearer realm="file:///etc/passwd"', id="file-realm"),
    ],
)
def test_unusable_bearer_challenge(
    router: respx.Router, make_client: MakeClient, challenge: str
) -> None:
    router.get(MANIFEST_URL).mock(return_value=unauthorized(challenge))
    with pytest.raises(AuthError, match="realm") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


# -- where credentials may go ---------------------------------------------------------------

EVIL_REALM = "http://evil.example/token"
EVIL_CHALLENGE = f'Bearer realm="{EVIL_REALM}",service="{REG}",scope="{SCOPE}"'


def test_credentials_not_sent_to_plain_http_realm_on_another_host(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(return_value=unauthorized(EVIL_CHALLENGE))
    evil = router.route(host="evil.example").respond(200, json={"token": TOKEN})
    with pytest.raises(AuthError, match=r"evil\.example") as info:
        make_client().resolve(REF)
    assert evil.call_count == 0
    assert_clean(info.value, ExitCode.UNAVAILABLE)
    assert info.value.instance_hint is not None
    assert "https" in info.value.instance_hint


def test_anonymous_may_use_plain_http_realm_on_another_host(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST), challenge=EVIL_CHALLENGE)
    )
    evil = router.get(url__startswith=EVIL_REALM).mock(return_value=token_response())
    make_client(env={}).resolve(REF)
    assert evil.call_count == 1
    assert "Authorization" not in evil.calls.last.request.headers


def test_credentials_go_to_https_realm_on_another_host(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(side_effect=requires_bearer(lambda: manifest_response(MANIFEST)))
    token = router.get(url__startswith=REALM).mock(return_value=token_response())
    make_client().resolve(REF)
    assert token.calls.last.request.headers["Authorization"] == basic_of(USER, PASSWORD)


def test_credentials_go_to_plain_http_realm_on_the_same_origin(
    router: respx.Router, make_client: MakeClient
) -> None:
    ref = parse_reference(f"localhost:5000/{REPO}:v1")
    realm = "http://localhost:5000/auth"  # another port is another origin: refused (issue 7)
    challenge = f'Bearer realm="{realm}",service="local",scope="{SCOPE}"'
    router.get(f"http://localhost:5000/v2/{REPO}/manifests/v1").mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST), challenge=challenge)
    )
    token = router.get(url__startswith=realm).mock(return_value=token_response())
    make_client(plain_http=True).resolve(ref)
    assert token.calls.last.request.headers["Authorization"] == basic_of(USER, PASSWORD)


@pytest.mark.parametrize(
    ("registry_host", "realm"),
    [
        pytest.param("[::1]", "http://[::1]/auth", id="ipv6-no-port"),
        pytest.param("[::1]:5000", "http://[::1]:5000/auth", id="ipv6-port"),
        pytest.param("Myhost:5000", "http://myhost:5000/auth", id="host-case"),
    ],
)
def test_same_host_realm_is_recognised(
    router: respx.Router, make_client: MakeClient, registry_host: str, realm: str
) -> None:
    ref = parse_reference(f"{registry_host}/{REPO}:v1")
    challenge = f'Bearer realm="{realm}",service="local",scope="{SCOPE}"'
    router.get(f"http://{registry_host}/v2/{REPO}/manifests/v1").mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST), challenge=challenge)
    )
    token = router.get(url__startswith=realm).mock(return_value=token_response())
    make_client(plain_http=True).resolve(ref)
    assert token.calls.last.request.headers["Authorization"] == basic_of(USER, PASSWORD)


def test_identity_token_uses_refresh_token_grant(
    router: respx.Router, make_client: MakeClient, tmp_path: Path
) -> None:
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {REG: {"identitytoken": REFRESH}}}))
    registry = router.get(MANIFEST_URL).mock(
        side_effect=requires_bearer(lambda: manifest_response(MANIFEST))
    )
    token = router.post(REALM).mock(
        return_value=httpx.Response(200, json={"access_token": TOKEN, "expires_in": 300})
    )
    client = make_client(env={"DOCKER_CONFIG": str(config.parent)})
    assert client.resolve(REF).digest == Digest.of_bytes(MANIFEST)
    request = token.calls.last.request
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": ["truedigest"],
        "scope": [SCOPE],
        "service": [REG],
    }
    assert REFRESH not in str(request.url)
    assert registry.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert client.requests_made == 3


def test_identity_token_refused(
    router: respx.Router, make_client: MakeClient, tmp_path: Path
) -> None:
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {REG: {"identitytoken": REFRESH}}}))
    router.get(MANIFEST_URL).mock(return_value=unauthorized())
    router.post(REALM).respond(401, json={"error": "invalid_grant", "echo": REFRESH})
    with pytest.raises(AuthError) as info:
        make_client(env={"DOCKER_CONFIG": str(config.parent)}).resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)
    assert str(config) in str(info.value)  # names where the credentials came from


# -- Basic -----------------------------------------------------------------------------------

BASIC_CHALLENGE = 'Basic realm="Registry Realm"'


def test_basic_challenge(router: respx.Router, make_client: MakeClient) -> None:
    expected = basic_of(USER, PASSWORD)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == expected:
            return manifest_response(MANIFEST)
        return unauthorized(BASIC_CHALLENGE)

    route = router.get(MANIFEST_URL).mock(side_effect=handler)
    client = make_client()
    client.resolve(REF)
    assert client.requests_made == 2
    client.resolve(REF)  # Basic is now sent up front
    assert client.requests_made == 3
    assert route.calls.last.request.headers["Authorization"] == expected


def test_basic_challenge_without_credentials(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=unauthorized(BASIC_CHALLENGE))
    with pytest.raises(AuthError, match="username and password") as info:
        make_client(env={}).resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_basic_credentials_rejected(router: respx.Router, make_client: MakeClient) -> None:
    route = router.get(MANIFEST_URL).mock(return_value=unauthorized(BASIC_CHALLENGE))
    with pytest.raises(AuthError, match="TRUEDIGEST_REGISTRY_USERNAME") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)
    assert route.call_count == 2


# -- registry error statuses ---------------------------------------------------------------


def test_404_with_oci_error_body(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(
            404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": SECRET_ECHO}]}
        )
    )
    with pytest.raises(NotFoundError) as info:
        make_client().resolve(REF)
    assert "MANIFEST_UNKNOWN" in str(info.value)
    assert str(REF) in str(info.value)
    assert_clean(info.value, ExitCode.ABSENT)


def test_404_without_body(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).respond(404)
    with pytest.raises(NotFoundError) as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.ABSENT)


def test_odd_error_codes_are_not_echoed(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(
            404,
            json={
                "errors": [
                    {"code": SECRET_ECHO},
                    {"code": f"x {PASSWORD}"},
                    {"code": "NAME_UNKNOWN"},
                ]
            },
        )
    )
    with pytest.raises(NotFoundError, match="NAME_UNKNOWN") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.ABSENT)


def test_403_is_auth_error(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=oci_error(403, "DENIED"))
    with pytest.raises(AuthError, match="403") as info:
        make_client().resolve(REF)
    assert "DENIED" in str(info.value)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_429_with_retry_after_then_200(
    router: respx.Router, make_client: MakeClient, sleeps: Sleeps
) -> None:
    router.get(MANIFEST_URL).mock(
        side_effect=[
            oci_error(429, "TOOMANYREQUESTS", **{"Retry-After": "2"}),
            manifest_response(MANIFEST),
        ]
    )
    client = make_client()
    assert client.resolve(REF).digest == Digest.of_bytes(MANIFEST)
    assert sleeps.delays == [2.0]
    assert client.requests_made == 2


def test_429_forever(router: respx.Router, make_client: MakeClient, sleeps: Sleeps) -> None:
    route = router.get(MANIFEST_URL).mock(return_value=oci_error(429, "TOOMANYREQUESTS"))
    with pytest.raises(RegistryError, match="429") as info:
        make_client(retries=2).resolve(REF)
    assert route.call_count == 3
    assert "TOOMANYREQUESTS" in info.value.codes
    assert_clean(info.value, ExitCode.UNAVAILABLE)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_5xx_then_200(
    router: respx.Router, make_client: MakeClient, sleeps: Sleeps, status: int
) -> None:
    router.get(MANIFEST_URL).mock(
        side_effect=[httpx.Response(status, text=PASSWORD), manifest_response(MANIFEST)]
    )
    client = make_client()
    assert client.resolve(REF).digest == Digest.of_bytes(MANIFEST)
    assert len(sleeps.delays) == 1
    assert client.requests_made == 2


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_unavailable(router: respx.Router, make_client: MakeClient, status: int) -> None:
    router.get(MANIFEST_URL).mock(return_value=oci_error(status, "UNKNOWN"))
    with pytest.raises(RegistryError, match=str(status)) as info:
        make_client(retries=1).resolve(REF)
    assert info.value.status == status
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_unexpected_status(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=oci_error(400, "MANIFEST_INVALID"))
    with pytest.raises(RegistryError, match="400") as info:
        make_client().resolve(REF)
    assert info.value.codes == ("MANIFEST_INVALID",)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_connect_error_is_network_error(
    router: respx.Router, make_client: MakeClient, sleeps: Sleeps
) -> None:
    router.get(MANIFEST_URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(NetworkError, match=REG) as info:
        make_client(retries=2).resolve(REF)
    assert len(sleeps.delays) == 2
    assert_clean(info.value, ExitCode.UNAVAILABLE)


# -- bodies and headers the client must not trust ---------------------------------------------


def test_header_body_digest_mismatch(router: respx.Router, make_client: MakeClient) -> None:
    other = manifest_bytes(config_bytes(arch="arm64"))
    router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST, header=digest_of(other)))
    with pytest.raises(DigestMismatchError) as info:
        make_client().resolve(REF)
    assert digest_of(other) in str(info.value)
    assert digest_of(MANIFEST) in str(info.value)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_sha512_header_is_checked_with_sha512(
    router: respx.Router, make_client: MakeClient
) -> None:
    sha512 = str(Digest.of_bytes(MANIFEST, "sha512"))
    router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST, header=sha512))
    resolved = make_client().resolve(REF)
    assert str(resolved.header_digest) == sha512
    # the body is hashed with the header's algorithm: resolve and --head give one answer
    assert str(resolved.digest) == sha512


@pytest.mark.parametrize("header_algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("header_true", [True, False])
def test_a_digest_reference_checks_a_header_of_any_algorithm(
    router: respx.Router, make_client: MakeClient, header_algorithm: str, header_true: bool
) -> None:
    """The reference's algorithm hashes the body; a header in another algorithm is
    checked with its own (the body is hashed again only then)."""
    wanted = Digest.of_bytes(MANIFEST, "sha256")
    served = MANIFEST if header_true else MANIFEST + b" "
    header = str(Digest.of_bytes(served, header_algorithm))
    router.get(f"{BASE}/v2/{REPO}/manifests/{wanted}").mock(
        return_value=manifest_response(MANIFEST, header=header)
    )
    client = make_client()
    ref = REF.with_digest(wanted)
    if header_true:
        assert client.resolve(ref).digest == wanted
        return
    with pytest.raises(DigestMismatchError) as caught:
        client.resolve(ref)
    assert f"header says {header}" in caught.value.message
    assert str(Digest.of_bytes(MANIFEST, header_algorithm)) in caught.value.message


@pytest.mark.parametrize(
    "header",
    [
        "sha256:" + "0" * 10,
        "sha256:" + hashlib.sha256(MANIFEST).hexdigest().upper(),
        "md5:" + hashlib.md5(MANIFEST).hexdigest(),  # noqa: S324
        "garbage",
    ],
)
def test_malformed_digest_header(
    router: respx.Router, make_client: MakeClient, header: str
) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST, header=header))
    with pytest.raises(RegistryError, match="malformed Docker-Content-Digest") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_oversized_manifest_by_content_length(
    router: respx.Router, make_client: MakeClient
) -> None:
    big = b" " * (4 * 1024 * 1024 + 1)
    router.get(MANIFEST_URL).mock(return_value=manifest_response(big, header=None))
    with pytest.raises(ManifestTooLargeError) as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_oversized_manifest_streamed(router: respx.Router, make_client: MakeClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5 * 1024):
            yield b" " * 1024

    router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}, content=chunks())
    )
    with pytest.raises(ManifestTooLargeError) as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_empty_200_body(router: respx.Router, make_client: MakeClient) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(b"", header=None))
    with pytest.raises(RegistryError, match="empty") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


@pytest.mark.parametrize(
    ("body", "media_type"),
    [
        pytest.param(f"<html>{SECRET_ECHO}</html>".encode(), "text/html", id="html"),
        pytest.param(b"\x00\x01not json", None, id="binary-no-content-type"),
        pytest.param(f"<html>{SECRET_ECHO}</html>".encode(), OCI_MANIFEST, id="manifest-type"),
        pytest.param(b"[1, 2]", OCI_MANIFEST, id="json-array-manifest-type"),
        pytest.param(b'"text"', None, id="json-string"),
    ],
)
def test_non_json_manifest_body(
    router: respx.Router, make_client: MakeClient, body: bytes, media_type: str | None
) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(body, media_type=media_type))
    with pytest.raises(RegistryError, match=r"JSON|object") as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            json.dumps({"schemaVersion": 1, "name": REPO}).encode(), "schema 1", id="schema1"
        ),
        pytest.param(json.dumps({"hello": "world"}).encode(), "not a manifest", id="not-manifest"),
    ],
)
def test_json_that_is_not_a_manifest(
    router: respx.Router, make_client: MakeClient, body: bytes, fragment: str
) -> None:
    router.get(MANIFEST_URL).mock(
        return_value=manifest_response(body, media_type="application/json")
    )
    with pytest.raises(RegistryError, match=fragment) as info:
        make_client().resolve(REF)
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_manifest_redirect_to_plain_http_is_refused(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(
        return_value=httpx.Response(
            307, headers={"Location": f"http://{REG}/v2/{REPO}/manifests/v1"}
        )
    )
    plain = router.route(scheme="http").respond(200)
    with pytest.raises(RegistryError, match="plain-http") as info:
        make_client().resolve(REF)
    assert plain.call_count == 0
    assert_clean(info.value, ExitCode.UNAVAILABLE)


# -- blobs ------------------------------------------------------------------------------------

BLOB_URL = f"{BASE}/v2/{REPO}/blobs/{digest_of(CONFIG)}"
CDN = "https://cdn.example/blobs/abc?sig=1"


def test_cross_origin_blob_redirect_drops_authorization(
    router: respx.Router, make_client: MakeClient
) -> None:
    registry = router.get(BLOB_URL).mock(
        side_effect=requires_bearer(lambda: httpx.Response(307, headers={"Location": CDN}))
    )
    router.get(url__startswith=REALM).mock(return_value=token_response())
    cdn = router.get(url__startswith="https://cdn.example/").respond(200, content=CONFIG)
    client = make_client()
    assert client.get_blob(REF, Digest.parse(digest_of(CONFIG))) == CONFIG
    assert registry.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert cdn.call_count == 1
    assert "Authorization" not in cdn.calls.last.request.headers
    assert client.requests_made == 4  # 401, token, GET → 307, CDN


def test_blob_with_other_bytes(router: respx.Router, make_client: MakeClient) -> None:
    router.get(BLOB_URL).respond(200, content=CONFIG + b" ")
    with pytest.raises(DigestMismatchError) as info:
        make_client().get_blob(REF, Digest.parse(digest_of(CONFIG)))
    assert_clean(info.value, ExitCode.UNAVAILABLE)


def test_blob_not_found(router: respx.Router, make_client: MakeClient) -> None:
    router.get(BLOB_URL).mock(return_value=oci_error(404, "BLOB_UNKNOWN"))
    with pytest.raises(NotFoundError, match="BLOB_UNKNOWN") as info:
        make_client().get_blob(REF, Digest.parse(digest_of(CONFIG)))
    assert_clean(info.value, ExitCode.ABSENT)


def test_blob_exists_for_a_large_layer(router: respx.Router, make_client: MakeClient) -> None:
    layer = Digest.of_bytes(b"a large layer")
    router.head(f"{BASE}/v2/{REPO}/blobs/{layer}").respond(
        200, headers={"Content-Length": str(3 * 1024**3), "Docker-Content-Digest": str(layer)}
    )
    router.head(f"{BASE}/v2/{REPO}/blobs/{Digest.of_bytes(b'gone')}").respond(404)
    client = make_client()
    assert client.blob_exists(REF, layer)
    assert not client.blob_exists(REF, Digest.of_bytes(b"gone"))


# -- tags and referrers ------------------------------------------------------------------------

TAGS_URL = f"{BASE}/v2/{REPO}/tags/list"


def test_tags_pagination_via_link(router: respx.Router, make_client: MakeClient) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("last")
        if last is None:
            link = f'</v2/{REPO}/tags/list?last=b&n=2>; rel="next"'
            return httpx.Response(
                200, json={"name": REPO, "tags": ["a", "b"]}, headers={"Link": link}
            )
        if last == "b":
            link = f'<{BASE}/v2/{REPO}/tags/list?last=d&n=2>; rel="next"'
            return httpx.Response(
                200, json={"name": REPO, "tags": ["c", "d"]}, headers={"Link": link}
            )
        return httpx.Response(200, json={"name": REPO, "tags": ["d", "e"]})

    route = router.get(url__startswith=TAGS_URL).mock(side_effect=pages)
    client = make_client()
    assert client.list_tags(parse_reference(f"{REG}/{REPO}", default_tag=None)) == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
    assert route.call_count == 3
    assert [call.request.url.params.get("last") for call in route.calls] == [None, "b", "d"]


def test_tags_null_list(router: respx.Router, make_client: MakeClient) -> None:
    router.get(TAGS_URL).respond(200, json={"name": REPO, "tags": None})
    assert make_client().list_tags(REF) == []


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        pytest.param(oci_error(404, "NAME_UNKNOWN"), NotFoundError, ExitCode.ABSENT, id="404"),
        pytest.param(
            httpx.Response(200, text=f"<{SECRET_ECHO}>"),
            RegistryError,
            ExitCode.UNAVAILABLE,
            id="html",
        ),
        pytest.param(
            httpx.Response(200, json={"tags": [1, 2]}),
            RegistryError,
            ExitCode.UNAVAILABLE,
            id="ints",
        ),
    ],
)
def test_tags_failures(
    router: respx.Router,
    make_client: MakeClient,
    response: httpx.Response,
    error: type[TruedigestError],
    code: ExitCode,
) -> None:
    router.get(TAGS_URL).mock(return_value=response)
    with pytest.raises(error) as info:
        make_client().list_tags(REF)
    assert_clean(info.value, code)


SUBJECT = Digest.of_bytes(MANIFEST)
SIGNATURE = manifest_bytes(b"{}")
REFERRERS_INDEX = index_bytes(
    [
        {
            **descriptor(SIGNATURE, None),
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        }
    ]
)


def test_referrers_api(router: respx.Router, make_client: MakeClient) -> None:
    router.get(f"{BASE}/v2/{REPO}/referrers/{SUBJECT}").respond(
        200, headers={"Content-Type": OCI_INDEX}, content=REFERRERS_INDEX
    )
    client = make_client()
    (child,) = client.referrers(REF, SUBJECT)
    assert str(child.digest) == digest_of(SIGNATURE)
    assert child.artifact_type == "application/vnd.dev.cosign.artifact.sig.v1+json"
    assert client.requests_made == 1


def test_referrers_404_falls_back_to_tag_schema(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(f"{BASE}/v2/{REPO}/referrers/{SUBJECT}").mock(
        return_value=oci_error(404, "NAME_UNKNOWN")
    )
    fallback = router.get(f"{BASE}/v2/{REPO}/manifests/sha256-{SUBJECT.hex}").mock(
        return_value=manifest_response(REFERRERS_INDEX, media_type=OCI_INDEX)
    )
    (child,) = make_client().referrers(REF, SUBJECT)
    assert str(child.digest) == digest_of(SIGNATURE)
    assert fallback.call_count == 1


def test_referrers_none_at_all(router: respx.Router, make_client: MakeClient) -> None:
    router.get(f"{BASE}/v2/{REPO}/referrers/{SUBJECT}").respond(404)
    router.get(f"{BASE}/v2/{REPO}/manifests/sha256-{SUBJECT.hex}").respond(404)
    assert make_client().referrers(REF, SUBJECT) == []


# -- platforms -----------------------------------------------------------------------------------

AMD64_CONFIG = config_bytes("linux", "amd64")
ARM64_CONFIG = config_bytes("linux", "arm64", "v8")
AMD64 = manifest_bytes(AMD64_CONFIG)
ARM64 = manifest_bytes(ARM64_CONFIG)
ATTESTATION = manifest_bytes(b'{"attestation": true}')
ATTESTATION_ANNOTATIONS = {
    "vnd.docker.reference.type": "attestation-manifest",
    "vnd.docker.reference.digest": digest_of(AMD64),
}
INDEX = index_bytes(
    [
        # an attestation that (wrongly) claims a real platform, listed first: still skipped
        descriptor(
            ATTESTATION,
            {"os": "linux", "architecture": "arm64"},
            annotations=ATTESTATION_ANNOTATIONS,
        ),
        descriptor(AMD64, {"os": "linux", "architecture": "amd64"}),
        descriptor(ARM64, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        descriptor(
            ATTESTATION,
            {"os": "unknown", "architecture": "unknown"},
            annotations=ATTESTATION_ANNOTATIONS,
        ),
    ]
)


def _serve_index(
    router: respx.Router, index: bytes = INDEX, media_type: str = OCI_INDEX
) -> dict[str, respx.Route]:
    routes = {
        "index": router.get(MANIFEST_URL).mock(
            return_value=manifest_response(index, media_type=media_type)
        )
    }
    for name, body in (("amd64", AMD64), ("arm64", ARM64), ("attestation", ATTESTATION)):
        routes[name] = router.get(f"{BASE}/v2/{REPO}/manifests/{digest_of(body)}").mock(
            return_value=manifest_response(body)
        )
    return routes


@pytest.mark.parametrize(
    ("wanted", "child"),
    [("linux/amd64", AMD64), ("linux/arm64", ARM64), ("linux/arm64/v8", ARM64)],
)
def test_resolve_platform_on_index(
    router: respx.Router, make_client: MakeClient, wanted: str, child: bytes
) -> None:
    routes = _serve_index(router)
    client = make_client()
    resolved = client.resolve(REF, platform=Platform.parse(wanted))
    assert str(resolved.digest) == digest_of(child)
    assert str(resolved.index_digest) == digest_of(INDEX)
    assert resolved.platform is not None
    assert resolved.platform.matches(Platform.parse(wanted))
    assert resolved.media_type == OCI_MANIFEST
    assert routes["attestation"].call_count == 0
    assert client.requests_made == 2


def test_resolve_platform_on_docker_manifest_list(
    router: respx.Router, make_client: MakeClient
) -> None:
    index = index_bytes(
        [descriptor(AMD64, {"os": "linux", "architecture": "amd64"}, media_type=DOCKER_MANIFEST)],
        media_type=DOCKER_LIST,
    )
    _serve_index(router, index, DOCKER_LIST)
    resolved = make_client().resolve(REF, platform=Platform.parse("linux/amd64"))
    assert str(resolved.digest) == digest_of(AMD64)
    assert str(resolved.index_digest) == digest_of(index)


def test_resolve_without_platform_keeps_the_index(
    router: respx.Router, make_client: MakeClient
) -> None:
    _serve_index(router)
    resolved = make_client().resolve(REF)
    assert str(resolved.digest) == digest_of(INDEX)
    assert resolved.is_index
    assert resolved.index_digest is None


@pytest.mark.parametrize(
    "wanted", ["linux/s390x", "windows/amd64", "linux/arm64/v7", "unknown/unknown"]
)
def test_resolve_platform_not_in_index(
    router: respx.Router, make_client: MakeClient, wanted: str
) -> None:
    _serve_index(router)
    with pytest.raises(PlatformNotFoundError) as info:
        make_client().resolve(REF, platform=Platform.parse(wanted))
    assert_clean(info.value, ExitCode.ABSENT)
    available = str(info.value).partition("holds")[2]
    assert "linux/amd64" in available
    assert "unknown" not in available


def test_resolve_platform_child_with_other_bytes(
    router: respx.Router, make_client: MakeClient
) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(INDEX, media_type=OCI_INDEX))
    router.get(f"{BASE}/v2/{REPO}/manifests/{digest_of(AMD64)}").mock(
        return_value=manifest_response(ARM64, header=None)
    )
    with pytest.raises(DigestMismatchError) as info:
        make_client().resolve(REF, platform=Platform.parse("linux/amd64"))
    assert_clean(info.value, ExitCode.UNAVAILABLE)


@pytest.mark.parametrize(
    ("wanted", "ok"),
    [("linux/amd64", True), ("linux/arm64", False), ("windows/amd64", False)],
)
def test_resolve_platform_on_single_manifest(
    router: respx.Router, make_client: MakeClient, wanted: str, ok: bool
) -> None:
    router.get(MANIFEST_URL).mock(return_value=manifest_response(AMD64))
    config = router.get(f"{BASE}/v2/{REPO}/blobs/{digest_of(AMD64_CONFIG)}").respond(
        200, content=AMD64_CONFIG
    )
    client = make_client()
    if ok:
        resolved = client.resolve(REF, platform=Platform.parse(wanted))
        assert str(resolved.digest) == digest_of(AMD64)
        assert resolved.platform == Platform("linux", "amd64")
        assert resolved.index_digest is None
    else:
        with pytest.raises(PlatformNotFoundError, match="linux/amd64") as info:
            client.resolve(REF, platform=Platform.parse(wanted))
        assert_clean(info.value, ExitCode.ABSENT)
    assert config.call_count == 1
    assert client.requests_made == 2


# -- resolve(head=True) --------------------------------------------------------------------------


def _head_response(body: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))}
    if header is not None:
        headers["Docker-Content-Digest"] = header
    return httpx.Response(200, headers=headers)


def test_head_with_well_formed_header_is_one_head(
    router: respx.Router, make_client: MakeClient
) -> None:
    head = router.head(MANIFEST_URL).mock(
        return_value=_head_response(MANIFEST, digest_of(MANIFEST))
    )
    get = router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    client = make_client()
    resolved = client.resolve(REF, head=True)
    assert str(resolved.digest) == digest_of(MANIFEST)
    assert resolved.size == len(MANIFEST)
    assert resolved.media_type == OCI_MANIFEST
    assert (head.call_count, get.call_count, client.requests_made) == (1, 0, 1)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("sha256:" + "0" * 10, id="short"),
        pytest.param("not-a-digest", id="garbage"),
    ],
)
def test_head_without_usable_header_falls_back_to_get(
    router: respx.Router, make_client: MakeClient, header: str | None
) -> None:
    head = router.head(MANIFEST_URL).mock(return_value=_head_response(MANIFEST, header))
    get = router.get(MANIFEST_URL).mock(return_value=manifest_response(MANIFEST))
    client = make_client()
    resolved = client.resolve(REF, head=True)
    assert str(resolved.digest) == digest_of(MANIFEST)
    assert (head.call_count, get.call_count, client.requests_made) == (1, 1, 2)


def test_head_not_found(router: respx.Router, make_client: MakeClient) -> None:
    router.head(MANIFEST_URL).respond(404)
    with pytest.raises(NotFoundError) as info:
        make_client().resolve(REF, head=True)
    assert_clean(info.value, ExitCode.ABSENT)


def test_head_with_platform_uses_get(router: respx.Router, make_client: MakeClient) -> None:
    _serve_index(router)
    head = router.head(MANIFEST_URL).respond(200)
    resolved = make_client().resolve(REF, head=True, platform=Platform.parse("linux/amd64"))
    assert str(resolved.digest) == digest_of(AMD64)
    assert head.call_count == 0


def test_manifest_exists(router: respx.Router, make_client: MakeClient) -> None:
    present, absent = Digest.of_bytes(MANIFEST), Digest.of_bytes(b"absent")
    router.head(f"{BASE}/v2/{REPO}/manifests/{present}").mock(
        return_value=_head_response(MANIFEST, str(present))
    )
    router.head(f"{BASE}/v2/{REPO}/manifests/{absent}").respond(404)
    client = make_client()
    assert client.manifest_exists(REF, present)
    assert not client.manifest_exists(REF, absent)


def test_image_ref_is_echoed_fully_qualified() -> None:
    assert str(ImageRef(REG, REPO, "v1")) == f"{REG}/{REPO}:v1"
