"""`truedigest resolve` against real registries (DESIGN §2, §3, §4 resolve, §6, §8).

Every registry variant (plain, Basic, TLS, token) is seeded with three manifest
kinds built as exact bytes by `tests.support.images`: a single OCI manifest, an
OCI index of linux/amd64 + linux/arm64/v8 with an attestation manifest, and a
Docker schema2 manifest. Every expected digest is sha256 of the bytes the test
pushed, and skopeo (the oracle) must agree; nothing is typed by hand.

Most checks call the library (fast, and it exposes request counts); the CLI
contract (exit codes, stdout JSON/text, `error:`/`hint:` on stderr, no secrets in
output) runs the real `python -m truedigest` in subprocesses, several at a time.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import (
    CliResult,
    cli_env,
    registry_credentials,
    run_cli,
    run_cli_many,
    transport_flags,
)
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    once_per_registry,
    push_image,
    push_index,
    push_with_oras,
    sha256_digest,
)
from tests.support.oracle import OracleEndpoint
from tests.support.registry import RegistryServer, TokenServer
from truedigest.errors import AuthError, ExitCode, NotFoundError, PlatformNotFoundError
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Platform
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.oci.transport import ClientOptions

PusherFor = Callable[[RegistryEndpoint], Pusher]
Oracle = Callable[[OracleEndpoint, str, str], str]

KINDS = ("oci", "index", "docker")
RESOLVE_KEYS = frozenset(
    {
        "schema",
        "reference",
        "registry",
        "repository",
        "tag",
        "digest",
        "media_type",
        "schema_version",
        "size",
        "header_digest",
        "platform",
        "index_digest",
    }
)
ARM64 = Platform("linux", "arm64")
AMD64 = Platform("linux", "amd64")


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Pushed:
    """One manifest the test pushed under `tag`: its exact bytes and media type."""

    tag: str
    body: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.body)


@dataclass(frozen=True)
class Seeded:
    """What one registry holds for these tests, in repository `repo`."""

    server: RegistryServer
    repo: str
    single: Image
    index: Index
    docker: Image

    def kind(self, kind: str) -> Pushed:
        match kind:
            case "oci":
                return Pushed("oci", self.single.manifest, self.single.media_type)
            case "index":
                return Pushed("multi", self.index.body, self.index.media_type)
            case "docker":
                return Pushed("docker", self.docker.manifest, self.docker.media_type)
        raise AssertionError(f"unknown kind {kind}")

    @property
    def amd64(self) -> Image:
        return self.index.images[0]

    @property
    def arm64(self) -> Image:
        return self.index.images[1]

    def ref(self, tag: str) -> str:
        return f"{self.server.host}/{self.repo}:{tag}"


def _seed(server: RegistryServer, pusher: Pusher) -> Seeded:
    repo = f"resolve/{server.variant}/app"
    index = build_platform_index(repo, "resolve-index")
    single = build_image(repo, salt="resolve-single")
    docker = build_image(repo, docker=True, salt="resolve-docker")
    assert push_image(pusher, repo, single, "oci") == single.digest
    assert push_index(pusher, repo, index, tag="multi") == index.digest
    assert push_image(pusher, repo, docker, "docker") == docker.digest
    assert [m.platform for m in index.manifests] == [
        "linux/amd64",
        "linux/arm64/v8",
        "unknown/unknown",
    ]
    return Seeded(server, repo, single, index, docker)


@pytest.fixture(scope="module")
def seed(pusher_for: PusherFor) -> Callable[[RegistryServer], Seeded]:
    """`seed(server)`: push the three kinds once per registry and return what was pushed."""
    return once_per_registry(lambda server: _seed(server, pusher_for(server)))


# --------------------------------------------------------------------------- library


def make_client(
    server: RegistryServer,
    home: Path,
    *,
    password: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RegistryClient:
    """A client for `server` with its credentials (or `password` instead) and no ~/.docker."""
    store_env = {"HOME": str(home)}
    store_env.update(registry_credentials(server, password) if env is None else env)
    options = ClientOptions(plain_http=server.scheme == "http", ca_file=server.ca_file)
    return RegistryClient(options, credentials=CredentialStore(env=store_env))


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator[Callable[[RegistryServer], RegistryClient]]:
    """`client_for(server)`: a fresh client with the server's credentials, closed after."""
    clients: list[RegistryClient] = []

    def make(server: RegistryServer) -> RegistryClient:
        clients.append(make_client(server, tmp_path))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def resolve(
    client: RegistryClient, ref: str, *, platform: Platform | None = None, head: bool = False
) -> Resolved:
    return client.resolve(parse_reference(ref), platform=platform, head=head)


# --------------------------------------------------------------------------- CLI


def resolve_args(server: RegistryServer, ref: str, *extra: str) -> list[str]:
    return ["resolve", *transport_flags(server), ref, *extra]


def assert_error_lines(result: CliResult) -> None:
    """The CLI's one catch point: `error:` then `hint:` on stderr, nothing on stdout."""
    lines = result.stderr.splitlines()
    assert result.stdout == "", str(result)
    assert lines, str(result)
    assert lines[0].startswith("error: "), str(result)
    assert any(line.startswith("hint: ") for line in lines[1:]), str(result)
    assert "Traceback" not in result.stderr, str(result)


def json_document(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, str(result)
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict), str(result)
    assert set(doc) == RESOLVE_KEYS, str(result)
    return doc


# =========================================================================== tests
# --- the digest is the hash of the pushed bytes, for every kind and variant


@pytest.mark.parametrize("kind", KINDS)
def test_resolve_digest_is_sha256_of_pushed_bytes(
    any_registry: RegistryServer,
    kind: str,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
    oracle: Oracle,
) -> None:
    seeded = seed(any_registry)
    pushed = seeded.kind(kind)
    client = client_for(any_registry)

    resolved = resolve(client, seeded.ref(pushed.tag))

    assert resolved.manifest is not None
    assert resolved.manifest.body == pushed.body
    assert str(resolved.digest) == pushed.digest
    assert str(resolved.digest) == oracle(any_registry, seeded.repo, pushed.tag)
    assert resolved.media_type == pushed.media_type
    assert resolved.size == len(pushed.body)
    assert resolved.header_digest == resolved.digest
    assert resolved.platform is None
    assert resolved.index_digest is None
    assert str(resolved.ref) == f"{any_registry.host}/{seeded.repo}:{pushed.tag}"


def test_resolve_manifest_pushed_by_oras(
    any_registry: RegistryServer,
    tmp_path: Path,
    client_for: Callable[[RegistryServer], RegistryClient],
    oracle: Oracle,
) -> None:
    repo = f"resolve/{any_registry.variant}/oras"
    served = push_with_oras(any_registry, repo, "art", tmp_path / "oras")

    resolved = resolve(client_for(any_registry), f"{any_registry.host}/{repo}:art")

    assert resolved.manifest is not None
    assert str(resolved.digest) == sha256_digest(resolved.manifest.body) == served
    assert str(resolved.digest) == oracle(any_registry, repo, "art")
    assert resolved.media_type == OCI_MANIFEST


def test_resolve_head_gives_the_same_digest(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(any_registry)
    client = client_for(any_registry)
    for kind in KINDS:
        pushed = seeded.kind(kind)

        resolved = resolve(client, seeded.ref(pushed.tag), head=True)

        assert str(resolved.digest) == pushed.digest, kind
        assert resolved.media_type == pushed.media_type, kind
        assert resolved.size == len(pushed.body), kind


def test_resolve_absent_tag_is_not_found(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(any_registry)
    client = client_for(any_registry)
    for head in (False, True):
        with pytest.raises(NotFoundError) as caught:
            resolve(client, seeded.ref("never-pushed"), head=head)
        assert caught.value.exit_code == ExitCode.ABSENT


# --- --platform


def test_platform_on_index_selects_the_child(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(any_registry)
    client = client_for(any_registry)
    ref = seeded.ref("multi")

    for wanted, child in ((ARM64, seeded.arm64), (AMD64, seeded.amd64)):
        resolved = resolve(client, ref, platform=wanted)

        assert resolved.manifest is not None
        assert resolved.manifest.body == child.manifest
        assert str(resolved.digest) == sha256_digest(child.manifest)
        assert str(resolved.index_digest) == sha256_digest(seeded.index.body)
        assert str(resolved.platform) == child.platform
        assert resolved.media_type == OCI_MANIFEST
        assert resolved.size == len(child.manifest)

    v8 = resolve(client, ref, platform=Platform("linux", "arm64", "v8"))
    assert str(v8.digest) == sha256_digest(seeded.arm64.manifest)


def test_platform_the_index_does_not_hold_is_absent(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(any_registry)
    client = client_for(any_registry)

    with pytest.raises(PlatformNotFoundError) as caught:
        resolve(client, seeded.ref("multi"), platform=Platform("linux", "s390x"))

    assert caught.value.exit_code == ExitCode.ABSENT
    # The attestation's unknown/unknown is not offered as a platform.
    assert "linux/amd64" in caught.value.message
    assert "unknown" not in caught.value.message


@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_platform_on_a_single_manifest_checks_its_config(
    any_registry: RegistryServer,
    kind: str,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(any_registry)
    pushed = seeded.kind(kind)
    client = client_for(any_registry)

    matching = resolve(client, seeded.ref(pushed.tag), platform=AMD64)

    assert str(matching.digest) == pushed.digest
    assert matching.platform == AMD64
    assert matching.index_digest is None
    with pytest.raises(PlatformNotFoundError) as caught:
        resolve(client, seeded.ref(pushed.tag), platform=ARM64)
    assert caught.value.exit_code == ExitCode.ABSENT


# --- request counts (DESIGN §8)


def test_plain_registry_resolve_is_one_request(
    registry_plain: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry_plain)

    client = client_for(registry_plain)
    resolve(client, seeded.ref("multi"))
    assert client.requests_made == 1

    head_client = client_for(registry_plain)
    resolve(head_client, seeded.ref("multi"), head=True)
    assert head_client.requests_made == 1

    platform_client = client_for(registry_plain)
    resolve(platform_client, seeded.ref("multi"), platform=ARM64)
    assert platform_client.requests_made == 2  # the index, then the child


def test_token_registry_cold_then_warm(
    registry_token: RegistryServer,
    token_server: TokenServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry_token)
    client = client_for(registry_token)
    token_server.reset()

    cold = resolve(client, seeded.ref("oci"))

    assert str(cold.digest) == seeded.kind("oci").digest
    assert client.requests_made == 3  # 401 → token → GET, no /v2/ ping
    assert client.auth.token_fetches == 1
    assert token_server.token_requests == 1
    assert "scope=repository%3Aresolve%2Ftoken%2Fapp%3Apull" in token_server.requests[0]

    warm = resolve(client, seeded.ref("docker"))

    assert str(warm.digest) == seeded.kind("docker").digest
    assert client.requests_made == 4
    assert client.auth.token_fetches == 1
    assert token_server.token_requests == 1


def test_basic_registry_first_two_then_one(
    registry_basic: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    seeded = seed(registry_basic)
    client = client_for(registry_basic)

    resolve(client, seeded.ref("oci"))
    assert client.requests_made == 2  # 401 → GET with Basic

    resolve(client, seeded.ref("multi"))
    assert client.requests_made == 3  # Basic sent up front


# --- credentials


@pytest.mark.parametrize("variant", ["basic", "token"])
def test_wrong_password_is_an_auth_error(
    variant: str,
    request: pytest.FixtureRequest,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{variant}")
    seeded = seed(server)
    wrong = "wrong-" + secrets.token_urlsafe(12)

    client = make_client(server, tmp_path, password=wrong)
    with client, pytest.raises(AuthError) as caught:
        resolve(client, seeded.ref("oci"))

    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value)


def test_token_registry_anonymous_pull(
    registry_token: RegistryServer,
    token_server: TokenServer,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    """No credentials at all: the token server's anonymous pull token is enough."""
    seeded = seed(registry_token)
    token_server.reset()
    with make_client(registry_token, tmp_path, env={}) as client:
        resolved = resolve(client, seeded.ref("multi"))

        assert str(resolved.digest) == seeded.kind("index").digest
        assert client.requests_made == 3
    assert token_server.token_requests == 1


def test_no_credentials_on_basic_registry_is_an_auth_error(
    registry_basic: RegistryServer, seed: Callable[[RegistryServer], Seeded], tmp_path: Path
) -> None:
    seeded = seed(registry_basic)
    with make_client(registry_basic, tmp_path, env={}) as client, pytest.raises(AuthError):
        resolve(client, seeded.ref("oci"))


# --- the CLI contract


def test_cli_json_document(
    any_registry: RegistryServer, seed: Callable[[RegistryServer], Seeded], tmp_path: Path
) -> None:
    seeded = seed(any_registry)
    env = cli_env(tmp_path, **registry_credentials(any_registry))
    pushed = [seeded.kind(kind) for kind in KINDS]

    results = run_cli_many(
        [(resolve_args(any_registry, seeded.ref(p.tag), "-o", "json"), env) for p in pushed]
    )

    for p, result in zip(pushed, results, strict=True):
        doc = json_document(result)
        assert doc == {
            "schema": "truedigest.resolve/v1",
            "reference": f"{any_registry.host}/{seeded.repo}:{p.tag}",
            "registry": any_registry.host,
            "repository": seeded.repo,
            "tag": p.tag,
            "digest": p.digest,
            "media_type": p.media_type,
            "schema_version": 2,
            "size": len(p.body),
            "header_digest": p.digest,
            "platform": None,
            "index_digest": None,
        }, str(result)
    assert [p.media_type for p in pushed] == [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST]


def test_cli_text_output_is_the_digest_alone(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
    oracle: Oracle,
) -> None:
    """What `digest=$(truedigest resolve REF)` captures is the oracle's digest (GET or --head)."""
    seeded = seed(any_registry)
    env = cli_env(tmp_path, **registry_credentials(any_registry))
    pushed = seeded.kind("index")
    ref = seeded.ref(pushed.tag)

    results = run_cli_many(
        [(resolve_args(any_registry, ref), env), (resolve_args(any_registry, ref, "--head"), env)]
    )

    expected = oracle(any_registry, seeded.repo, pushed.tag)
    assert expected == pushed.digest
    for result in results:
        assert result.code == 0, str(result)
        assert result.stdout == f"{expected}\n", str(result)
        assert result.stderr == "", str(result)


def test_cli_platform_json(
    any_registry: RegistryServer, seed: Callable[[RegistryServer], Seeded], tmp_path: Path
) -> None:
    seeded = seed(any_registry)
    multi = seeded.ref("multi")

    result = run_cli(
        resolve_args(any_registry, multi, "--platform", "linux/arm64", "-o", "json"),
        cli_env(tmp_path, **registry_credentials(any_registry)),
    )

    child_digest = sha256_digest(seeded.arm64.manifest)
    assert json_document(result) == {
        "schema": "truedigest.resolve/v1",
        "reference": multi,
        "registry": any_registry.host,
        "repository": seeded.repo,
        "tag": "multi",
        "digest": child_digest,
        "media_type": OCI_MANIFEST,
        "schema_version": 2,
        "size": len(seeded.arm64.manifest),
        "header_digest": child_digest,
        "platform": seeded.arm64.platform,
        "index_digest": sha256_digest(seeded.index.body),
    }, str(result)
    assert seeded.arm64.platform == "linux/arm64/v8"


def test_cli_platform_exit_codes(
    registry_token: RegistryServer, seed: Callable[[RegistryServer], Seeded], tmp_path: Path
) -> None:
    """Exit codes of --platform (the per-variant behaviour is covered by the library tests)."""
    seeded = seed(registry_token)
    env = cli_env(tmp_path, **registry_credentials(registry_token))
    multi, single = seeded.ref("multi"), seeded.ref("oci")

    s390x, single_arm64, single_amd64 = run_cli_many(
        [
            (resolve_args(registry_token, multi, "--platform", "linux/s390x"), env),
            (resolve_args(registry_token, single, "--platform", "linux/arm64"), env),
            (resolve_args(registry_token, single, "--platform", "linux/amd64"), env),
        ]
    )

    for absent in (s390x, single_arm64):
        assert absent.code == ExitCode.ABSENT, str(absent)
        assert_error_lines(absent)
    assert "linux/s390x" in s390x.stderr
    assert single_amd64.code == 0, str(single_amd64)
    assert single_amd64.stdout == f"{seeded.kind('oci').digest}\n"


def test_cli_absent_tag_exits_10(
    registry_plain: RegistryServer,
    registry_basic: RegistryServer,
    registry_tls: RegistryServer,
    registry_token: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    servers = [registry_plain, registry_basic, registry_tls, registry_token]
    refs = [seed(server).ref("never-pushed") for server in servers]

    results = run_cli_many(
        [
            (resolve_args(server, ref), cli_env(tmp_path, **registry_credentials(server)))
            for server, ref in zip(servers, refs, strict=True)
        ]
    )

    for ref, result in zip(refs, results, strict=True):
        assert result.code == ExitCode.ABSENT, str(result)
        assert_error_lines(result)
        assert ref in result.stderr, str(result)


def test_cli_malformed_reference_is_usage(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    bad = ["127.0.0.1:5000/Upper/Case:tag", "127.0.0.1:5000/app:bad tag", "app@sha256:abc"]

    results = run_cli_many([(["resolve", "--plain-http", ref], env) for ref in bad])

    for result in results:
        assert result.code == ExitCode.USAGE, str(result)
        assert_error_lines(result)


@pytest.mark.parametrize("verbosity", [[], ["-vv"]])
def test_cli_wrong_password_never_printed(
    registry_basic: RegistryServer,
    registry_token: RegistryServer,
    verbosity: list[str],
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    servers = [registry_basic, registry_token]
    wrong = "wrong-" + secrets.token_urlsafe(12)

    results = run_cli_many(
        [
            (
                [*resolve_args(server, seed(server).ref("oci")), *verbosity],
                cli_env(tmp_path, **registry_credentials(server, wrong)),
            )
            for server in servers
        ]
    )

    for server, result in zip(servers, results, strict=True):
        assert result.code == ExitCode.UNAVAILABLE, str(result)
        assert result.stderr.startswith("error: "), str(result)
        assert wrong not in result.stdout
        assert wrong not in result.stderr
        assert server.password is not None
        assert server.password not in result.stderr


def test_cli_tls_and_plain_http_mixups_exit_3(
    registry_tls: RegistryServer,
    registry_plain: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path)
    tls_ref, plain_ref = seed(registry_tls).ref("oci"), seed(registry_plain).ref("oci")

    untrusted, not_tls, http_to_tls = run_cli_many(
        [
            (["resolve", tls_ref], env),
            (["resolve", plain_ref], env),
            (["resolve", "--plain-http", tls_ref], env),
        ]
    )

    assert untrusted.code == ExitCode.UNAVAILABLE, str(untrusted)
    assert_error_lines(untrusted)
    assert "TLS" in untrusted.stderr.splitlines()[0], str(untrusted)
    assert "--ca-file" in untrusted.stderr, str(untrusted)

    assert not_tls.code == ExitCode.UNAVAILABLE, str(not_tls)
    assert_error_lines(not_tls)
    hint = next(line for line in not_tls.stderr.splitlines() if line.startswith("hint: "))
    assert "--plain-http" in hint, str(not_tls)

    # A TLS registry asked in plain HTTP answers 400: still "could not check", and the
    # hint points at the flag rather than at a flaky registry.
    assert http_to_tls.code == ExitCode.UNAVAILABLE, str(http_to_tls)
    assert_error_lines(http_to_tls)
    hint = next(line for line in http_to_tls.stderr.splitlines() if line.startswith("hint: "))
    assert "drop --plain-http" in hint, str(http_to_tls)


def test_cli_credentials_from_docker_config(
    registry_basic: RegistryServer, seed: Callable[[RegistryServer], Seeded], tmp_path: Path
) -> None:
    seeded = seed(registry_basic)
    assert registry_basic.username is not None
    assert registry_basic.password is not None
    auth = base64.b64encode(f"{registry_basic.username}:{registry_basic.password}".encode())
    docker_dir = tmp_path / "docker-config"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(
        json.dumps({"auths": {registry_basic.host: {"auth": auth.decode()}}})
    )
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(home, DOCKER_CONFIG=str(docker_dir))
    pushed = seeded.kind("index")

    result = run_cli(resolve_args(registry_basic, seeded.ref(pushed.tag), "-o", "json"), env)

    doc = json_document(result)
    assert doc["digest"] == pushed.digest
    assert registry_basic.password not in result.stdout + result.stderr
    # The same HOME without DOCKER_CONFIG has no credentials: the config file did the work.
    with make_client(registry_basic, home, env={}) as client, pytest.raises(AuthError):
        resolve(client, seeded.ref(pushed.tag))


def test_digest_in_reference_wins(
    any_registry: RegistryServer,
    seed: Callable[[RegistryServer], Seeded],
    client_for: Callable[[RegistryServer], RegistryClient],
) -> None:
    """`name:tag@digest` resolves the digest (DESIGN §6), keeping the tag for display."""
    seeded = seed(any_registry)
    docker = seeded.kind("docker")
    ref = f"{seeded.ref('oci')}@{docker.digest}"

    resolved = resolve(client_for(any_registry), ref)

    assert resolved.digest == Digest.parse(docker.digest)
    assert resolved.media_type == DOCKER_MANIFEST
    assert str(resolved.ref) == ref
