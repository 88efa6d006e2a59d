"""The harness itself: real registries start, accept our bytes, and serve them back."""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.images import (
    ALL_MANIFEST_TYPES,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Pusher,
    RegistryEndpoint,
    build_attestation,
    build_image,
    build_index,
    push_image,
    push_index,
    push_with_oras,
    sha256_digest,
)
from tests.support.oracle import OracleEndpoint
from tests.support.registry import RegistryServer, TokenServer

PusherFor = Callable[[RegistryEndpoint], Pusher]
Oracle = Callable[[OracleEndpoint, str, str], str]
StartRegistry = Callable[[str], RegistryServer]


def _assert_served(pusher: Pusher, repo: str, ref: str, expected: str, media_type: str) -> None:
    for method in ("GET", "HEAD"):
        response = pusher.get_manifest(repo, ref, accept=ALL_MANIFEST_TYPES, method=method)
        assert response.status_code == 200, response.text
        assert response.headers["Docker-Content-Digest"] == expected
        assert response.headers["Content-Type"] == media_type
        if method == "GET":
            assert sha256_digest(response.content) == expected


def test_v2_answers_with_its_auth_scheme(
    any_registry: RegistryServer, pusher_for: PusherFor
) -> None:
    response = pusher_for(any_registry).ping()
    challenge = response.headers.get("WWW-Authenticate", "")
    match any_registry.variant:
        case "plain" | "tls":
            assert response.status_code == 200
        case "basic":
            assert (response.status_code, challenge.split()[0]) == (401, "Basic")
        case "token":
            assert (response.status_code, challenge.split()[0]) == (401, "Bearer")
            assert any_registry.token_server is not None
            assert any_registry.token_server.realm in challenge


def test_oci_image_round_trip(
    any_registry: RegistryServer, pusher_for: PusherFor, oracle: Oracle
) -> None:
    repo = f"harness/{any_registry.variant}/oci"
    image = build_image(repo, layers=2, salt="oci")
    pusher = pusher_for(any_registry)

    assert push_image(pusher, repo, image, "v1") == image.digest

    _assert_served(pusher, repo, "v1", image.digest, OCI_MANIFEST)
    _assert_served(pusher, repo, image.digest, image.digest, OCI_MANIFEST)
    assert oracle(any_registry, repo, "v1") == image.digest


def test_index_with_attestation_round_trip(
    any_registry: RegistryServer, pusher_for: PusherFor, oracle: Oracle
) -> None:
    repo = f"harness/{any_registry.variant}/index"
    amd64 = build_image(repo, salt="idx")
    arm64 = build_image(repo, arch="arm64", variant="v8", salt="idx")
    index = build_index([amd64, arm64], [build_attestation(amd64), build_attestation(arm64)])
    pusher = pusher_for(any_registry)

    assert push_index(pusher, repo, index, tag="multi") == index.digest

    _assert_served(pusher, repo, "multi", index.digest, OCI_INDEX)
    for child in index.manifests:
        _assert_served(pusher, repo, child.digest, child.digest, OCI_MANIFEST)
    assert [m.platform for m in index.manifests] == [
        "linux/amd64",
        "linux/arm64/v8",
        "unknown/unknown",
        "unknown/unknown",
    ]
    assert oracle(any_registry, repo, "multi") == index.digest
    # Distribution hides an index from clients that do not accept index types.
    refused = pusher.get_manifest(repo, "multi", accept=[OCI_MANIFEST, DOCKER_MANIFEST])
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_docker_schema2_round_trip(
    any_registry: RegistryServer, pusher_for: PusherFor, oracle: Oracle
) -> None:
    repo = f"harness/{any_registry.variant}/docker"
    image = build_image(repo, docker=True, salt="docker")
    pusher = pusher_for(any_registry)

    push_image(pusher, repo, image, "v2")

    _assert_served(pusher, repo, "v2", image.digest, DOCKER_MANIFEST)
    assert oracle(any_registry, repo, "v2") == image.digest


def test_oras_push_agrees_with_oracle(
    any_registry: RegistryServer, tmp_path: Path, oracle: Oracle
) -> None:
    repo = f"harness/{any_registry.variant}/oras"
    digest = push_with_oras(any_registry, repo, "art", tmp_path)
    assert oracle(any_registry, repo, "art") == digest


def test_token_server_issues_accepted_tokens_and_counts(
    registry_token: RegistryServer, token_server: TokenServer, pusher_for: PusherFor
) -> None:
    repo = "harness/token/counted"
    image = build_image(repo, salt="counted")
    push_image(pusher_for(registry_token), repo, image, "v1")
    token_server.reset()
    scope = {"service": token_server.service, "scope": f"repository:{repo}:pull,push"}
    assert registry_token.username is not None
    assert registry_token.password is not None
    creds = (registry_token.username, registry_token.password)

    assert registry_token.ca_file is not None
    verify = ssl.create_default_context(cafile=str(registry_token.ca_file))
    with httpx.Client(base_url=registry_token.url, timeout=10, verify=verify) as client:
        anon = client.get(token_server.realm, params=scope).json()["token"]
        bearer = {"Authorization": f"Bearer {anon}", "Accept": OCI_MANIFEST}
        pulled = client.get(f"/v2/{repo}/manifests/v1", headers=bearer)
        assert pulled.status_code == 200
        assert sha256_digest(pulled.content) == image.digest
        # Anonymous tokens carry pull only: the registry asks for more scope with 401.
        denied = client.post(f"/v2/{repo}/blobs/uploads/", headers=bearer)
        assert denied.status_code == 401
        assert "insufficient_scope" in denied.headers["WWW-Authenticate"]

        authed = client.get(token_server.realm, params=scope, auth=creds).json()["token"]
        started = client.post(
            f"/v2/{repo}/blobs/uploads/", headers={"Authorization": f"Bearer {authed}"}
        )
        assert started.status_code == 202
        assert client.get(token_server.realm, params=scope, auth=(creds[0], "x")).status_code == (
            401
        )
        token_server.anonymous_allowed = False
        assert client.get(token_server.realm, params=scope).status_code == 401
        token_server.fail_status = 503
        assert client.get(token_server.realm, params=scope, auth=creds).status_code == 503

    assert token_server.token_requests == 5
    assert all(path.startswith("/token?service=") for path in token_server.requests)
    basic = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    assert not any(creds[1] in p or basic in p for p in token_server.requests)


def test_registry_env_is_ignored_and_process_stops(
    start_registry: StartRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_HTTP_ADDR", "127.0.0.1:1")
    server = start_registry("plain")
    process = server.process
    assert process is not None
    assert httpx.get(f"{server.url}/v2/", timeout=10).status_code == 200

    server.stop()

    assert process.poll() is not None
    assert server.process is None


def test_builders_are_deterministic_and_salted() -> None:
    one, again = build_image("a/b", salt="x"), build_image("a/b", salt="x")
    other = build_image("a/b", salt="y")
    assert one == again
    assert one.digest != other.digest
    assert one.layer_digests[0] != other.layer_digests[0]
    assert one.digest == "sha256:" + hashlib.sha256(one.manifest).hexdigest()
