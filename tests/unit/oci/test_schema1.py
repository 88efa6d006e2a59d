"""Docker schema 1 (issue 9 item 2): the digest of a signed manifest is its JWS payload's.

Real manifests from containers/image (the corpus, byte for byte) and manifests
signed here the way libtrust lays them out; served by a mocked registry that, like
distribution, signs again on every GET. Expected digests are computed from bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.corpus import canonical_digest, load_corpus
from truedigest.core.facts import manifest_facts
from truedigest.errors import (
    DigestMismatchError,
    ExitCode,
    PlatformNotFoundError,
    RegistryError,
)
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.httpconfig import ClientOptions
from truedigest.oci.manifest import DOCKER_MANIFEST, Platform
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.schema1 import SCHEMA1, SCHEMA1_SIGNED, jws_payload

REG = "reg.example"
REPO = "legacy/app"
REF = parse_reference(f"{REG}/{REPO}:old")
FILES = {f.file.rsplit("/", 1)[1]: f.data for f in load_corpus()}
SIGNED = FILES["v2s1.manifest.json"]  # containers/image, signed by libtrust
UNSIGNED = FILES["v2s1-unsigned.manifest.json"]  # the same manifest, unsigned


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sign(payload: bytes, *keys: str, protected: dict[str, Any] | None = None) -> bytes:
    """libtrust's pretty form: the payload up to its closing `\\n}`, the signatures, `}`.
    The signature values are not checked by anyone; each key makes a different body."""
    length = len(payload) - 2
    header = protected or {"formatLength": length, "formatTail": b64url(payload[length:])}
    signatures = [
        {
            "header": {"alg": "ES256", "jwk": {"kid": key}},
            "signature": b64url(hashlib.sha256(key.encode()).digest()),
            "protected": b64url(json.dumps({**header, "time": key}).encode()),
        }
        for key in keys or ("registry-key-1",)
    ]
    tail = json.dumps(signatures, indent=3).replace("\n", "\n   ")
    return payload[:length] + b',\n   "signatures": ' + tail.encode() + b"\n}"


def legacy(arch: str = "arm64", os_: str | None = None) -> bytes:
    compat: dict[str, Any] = {"id": "f" * 64, "created": "2016-04-18T20:54:40Z"}
    if os_:
        compat["os"] = os_
    doc = {
        "schemaVersion": 1,
        "name": REPO,
        "tag": "old",
        "architecture": arch,
        "fsLayers": [{"blobSum": sha256(b"top")}, {"blobSum": sha256(b"base")}],
        "history": [{"v1Compatibility": json.dumps(compat)}, {"v1Compatibility": "{}"}],
    }
    return json.dumps(doc, indent=3).encode()


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Handler], RegistryClient]]:
    clients: list[RegistryClient] = []

    def make(handler: Handler) -> RegistryClient:
        client = RegistryClient(
            ClientOptions(),
            transport=httpx.MockTransport(handler),
            credentials=CredentialStore(env={"HOME": str(tmp_path)}),
            sleep=lambda _: None,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def resigning(payload: bytes, media_type: str = SCHEMA1_SIGNED) -> Handler:
    """Like distribution: a new signature on every GET, the payload's digest as header."""
    calls = iter(range(1_000))

    def handler(request: httpx.Request) -> httpx.Response:
        body = sign(payload, f"registry-key-{next(calls)}")
        headers = {"Content-Type": media_type, "Docker-Content-Digest": sha256(payload)}
        return httpx.Response(200, headers=headers, content=body)

    return handler


# -- the payload rule ---------------------------------------------------------------------


def test_payload_of_the_real_signed_fixture_is_the_unsigned_one() -> None:
    assert jws_payload(SIGNED, "x") == UNSIGNED
    assert jws_payload(UNSIGNED, "x") is None
    assert canonical_digest(SIGNED) == sha256(UNSIGNED)


def test_payload_is_the_same_whoever_signs() -> None:
    payload = legacy()
    bodies = {sign(payload, key) for key in ("a", "b", "c")}
    assert len(bodies) == 3
    assert {jws_payload(body, "x") for body in bodies} == {payload}
    assert jws_payload(sign(payload, "a", "b"), "x") == payload  # two signatures that agree


def _protected(payload: bytes, **changes: Any) -> dict[str, Any]:
    length = len(payload) - 2
    return {"formatLength": length, "formatTail": b64url(payload[length:]), **changes}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            legacy()[:-2] + b',"signatures": []}', "not a non-empty list", id="no-signatures"
        ),
        pytest.param(
            legacy()[:-2] + b',"signatures": [{"protected": 3}]}', "protected", id="not-str"
        ),
        pytest.param(
            legacy()[:-2] + b',"signatures": [{"protected": "!!!"}]}', "JSON", id="not-b64-json"
        ),
        pytest.param(
            sign(legacy(), protected=_protected(legacy(), formatLength=10**6)),
            "formatLength",
            id="length-beyond-body",
        ),
        pytest.param(
            sign(legacy(), protected=_protected(legacy(), formatLength=-5)),
            "formatLength",
            id="negative-length",
        ),
        pytest.param(
            sign(legacy(), protected=_protected(legacy(), formatLength="12")),
            "formatLength",
            id="length-not-int",
        ),
        pytest.param(
            sign(legacy(), protected=_protected(legacy(), formatTail=None)),
            "formatTail",
            id="no-tail",
        ),
        pytest.param(
            sign(legacy(), protected=_protected(legacy(), formatLength=20)),
            "payload",
            id="payload-not-json",
        ),
    ],
)
def test_malformed_signatures_are_exit_3(body: bytes, fragment: str) -> None:
    with pytest.raises(RegistryError, match=fragment) as info:
        jws_payload(body, "reg.example/legacy/app:old")
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def test_signatures_that_disagree_on_the_payload_are_exit_3() -> None:
    payload = legacy()
    one, two = sign(payload, "a"), sign(legacy("riscv64"), "b")  # another formatLength
    sigs = json.loads(one)["signatures"] + json.loads(two)["signatures"]
    body = payload[:-2] + b',\n   "signatures": ' + json.dumps(sigs).encode() + b"\n}"
    with pytest.raises(RegistryError, match="disagree"):
        jws_payload(body, "x")


# -- the client ---------------------------------------------------------------------------


def test_resigned_on_every_get_one_digest(serve: Callable[[Handler], RegistryClient]) -> None:
    payload = legacy()
    client = serve(resigning(payload))
    first, second = client.get_manifest(REF), client.get_manifest(REF)
    assert first.body != second.body
    assert str(first.digest) == str(second.digest) == sha256(payload)
    assert first.header_digest == first.digest
    assert (first.media_type, first.schema_version, first.size) == (SCHEMA1_SIGNED, 1, len(payload))
    assert first.config is None
    assert [str(x.digest) for x in first.layers] == [sha256(b"top"), sha256(b"base")]


def test_real_fixture_resolves_to_its_payload_digest(
    serve: Callable[[Handler], RegistryClient],
) -> None:
    client = serve(
        lambda _: httpx.Response(200, headers={"Content-Type": SCHEMA1_SIGNED}, content=SIGNED)
    )
    resolved = client.resolve(REF)
    assert str(resolved.digest) == canonical_digest(SIGNED)
    assert (resolved.schema_version, resolved.size) == (1, len(UNSIGNED))
    by_digest = client.get_manifest(REF, resolved.digest)
    assert by_digest.digest == resolved.digest


def test_unsigned_schema1_is_its_bytes(serve: Callable[[Handler], RegistryClient]) -> None:
    headers = {"Content-Type": SCHEMA1, "Docker-Content-Digest": sha256(UNSIGNED)}
    client = serve(lambda _: httpx.Response(200, headers=headers, content=UNSIGNED))
    manifest = client.get_manifest(REF)
    assert (str(manifest.digest), manifest.media_type, manifest.payload) == (
        sha256(UNSIGNED),
        SCHEMA1,
        None,
    )


def test_header_of_the_signed_bytes_is_a_mismatch(
    serve: Callable[[Handler], RegistryClient],
) -> None:
    """A registry whose header hashes the signed body (not the payload) is wrong: exit 3."""
    body = sign(legacy())
    headers = {"Content-Type": SCHEMA1_SIGNED, "Docker-Content-Digest": sha256(body)}
    client = serve(lambda _: httpx.Response(200, headers=headers, content=body))
    with pytest.raises(DigestMismatchError, match="header says"):
        client.get_manifest(REF)


@pytest.mark.parametrize(
    ("content_type", "body", "fragment"),
    [
        pytest.param(DOCKER_MANIFEST, sign(legacy()), "body is schema 1", id="modern-type"),
        pytest.param(
            SCHEMA1_SIGNED,
            json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {}}).encode(),
            "not schema 1",
            id="schema2-body",
        ),
        pytest.param(
            "application/json",
            json.dumps({"schemaVersion": 1, "name": REPO}).encode(),
            "without fsLayers",
            id="no-fslayers",
        ),
    ],
)
def test_contradictions_are_exit_3(
    serve: Callable[[Handler], RegistryClient], content_type: str, body: bytes, fragment: str
) -> None:
    client = serve(
        lambda _: httpx.Response(200, headers={"Content-Type": content_type}, content=body)
    )
    with pytest.raises(RegistryError, match=fragment) as info:
        client.resolve(REF)
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def test_platform_is_the_architecture(serve: Callable[[Handler], RegistryClient]) -> None:
    payload = legacy("arm64")
    client = serve(resigning(payload))
    resolved = client.resolve(REF, platform=Platform.parse("linux/arm64"))
    assert (str(resolved.digest), str(resolved.platform)) == (sha256(payload), "linux/arm64")
    with pytest.raises(PlatformNotFoundError, match="linux/arm64"):
        client.resolve(REF, platform=Platform.parse("linux/amd64"))
    assert client.requests_made == 2  # no config blob to read


def test_head_reads_the_body_for_schema1(serve: Callable[[Handler], RegistryClient]) -> None:
    """--head cannot tell the payload's size from a HEAD: it GETs, and agrees with GET."""
    payload = legacy()
    get = resigning(payload)

    def handler(request: httpx.Request) -> httpx.Response:
        response = get(request)
        if request.method == "HEAD":
            return httpx.Response(200, headers=response.headers)
        return response

    client = serve(handler)
    resolved = client.resolve(REF, head=True)
    assert (str(resolved.digest), resolved.size) == (sha256(payload), len(payload))


def test_facts_of_a_legacy_manifest(serve: Callable[[Handler], RegistryClient]) -> None:
    client = serve(resigning(legacy("ppc64le", os_="linux")))
    facts = manifest_facts(client.get_manifest(REF))
    assert (facts.schema_version, facts.legacy, facts.config_digest) == (1, True, None)
    assert (str(facts.platform), facts.layers, facts.created) == (
        "linux/ppc64le",
        2,
        "2016-04-18T20:54:40Z",
    )
    assert facts.problems == ()


def test_os_from_history_else_linux(serve: Callable[[Handler], RegistryClient]) -> None:
    windows = serve(resigning(legacy("amd64", os_="windows"))).get_manifest(REF)
    assert windows.legacy_platform == Platform("windows", "amd64")
    plain = serve(resigning(legacy("amd64"))).get_manifest(REF)
    assert plain.legacy_platform == Platform("linux", "amd64")
    assert Digest.parse(sha256(legacy("amd64"))) == plain.digest
