"""Exact image bytes for tests, and a small pusher that uploads them over HTTP.

Every builder returns the bytes it made together with digests computed from
those bytes (`sha256:` + hashlib); nothing here types a digest by hand.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import httpx

__all__ = [
    "ALL_MANIFEST_TYPES",
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INTOTO_LAYER",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "Image",
    "Index",
    "PushError",
    "Pusher",
    "RegistryEndpoint",
    "build_attestation",
    "build_image",
    "build_index",
    "build_platform_index",
    "canonical_json",
    "once_per_registry",
    "push_image",
    "push_index",
    "push_with_oras",
    "sha256_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INTOTO_LAYER = "application/vnd.in-toto+json"
ALL_MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
_ACCEPT_ALL = ", ".join(ALL_MANIFEST_TYPES)

_REVISION = "org.opencontainers.image.revision"
_SOURCE = "org.opencontainers.image.source"
_CREATED = "org.opencontainers.image.created"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted JSON: stable bytes for a given value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- builders


@dataclass(frozen=True, slots=True)
class Image:
    """A single-platform manifest with its config and layers, all as exact bytes."""

    config: bytes
    config_digest: str
    config_media_type: str
    layers: tuple[bytes, ...]
    layer_digests: tuple[str, ...]
    layer_media_type: str
    manifest: bytes
    digest: str
    media_type: str
    os: str
    architecture: str
    variant: str | None = None
    attests: str | None = None
    """For an attestation manifest: the digest of the image it describes."""

    @property
    def size(self) -> int:
        return len(self.manifest)

    @property
    def platform(self) -> str:
        """`os/arch[/variant]`, e.g. `linux/arm64/v8` or `unknown/unknown`."""
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)

    @property
    def blobs(self) -> tuple[bytes, ...]:
        return (self.config, *self.layers)

    def descriptor(self) -> dict[str, Any]:
        """The entry that lists this manifest in an index."""
        platform: dict[str, str] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            platform["variant"] = self.variant
        desc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            "platform": platform,
        }
        if self.attests is not None:
            desc["annotations"] = {
                "vnd.docker.reference.digest": self.attests,
                "vnd.docker.reference.type": "attestation-manifest",
            }
        return desc


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or Docker manifest list, with the manifests it lists."""

    body: bytes
    digest: str
    media_type: str
    manifests: tuple[Image, ...] = field(default=())

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def images(self) -> tuple[Image, ...]:
        """The runnable (non-attestation) children."""
        return tuple(m for m in self.manifests if m.attests is None)


def _layer_bytes(name: str, content: bytes) -> tuple[bytes, bytes]:
    """A reproducible gzip'd tar with one file; returns (compressed, uncompressed)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    return gzip.compress(uncompressed, compresslevel=6, mtime=0), uncompressed


def _manifest_body(
    media_type: str,
    config: tuple[str, bytes],
    layers: Iterable[tuple[str, bytes, Mapping[str, str] | None]],
    annotations: Mapping[str, str] | None,
) -> bytes:
    config_type, config_bytes = config
    layer_descs: list[dict[str, Any]] = []
    for layer_type, data, layer_annotations in layers:
        desc: dict[str, Any] = {
            "mediaType": layer_type,
            "digest": sha256_digest(data),
            "size": len(data),
        }
        if layer_annotations:
            desc["annotations"] = dict(layer_annotations)
        layer_descs.append(desc)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type,
            "digest": sha256_digest(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layer_descs,
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return canonical_json(manifest)


def build_image(
    repo_hint: str = "test/app",
    *,
    os: str = "linux",
    arch: str = "amd64",
    variant: str | None = None,
    label: str | None = None,
    labels: Mapping[str, str] | None = None,
    created: str = "2024-01-02T03:04:05Z",
    layers: int = 1,
    docker: bool = False,
    salt: str = "",
    annotations: Mapping[str, str] | None = None,
    no_revision: bool = False,
) -> Image:
    """A small but real-looking image for one platform.

    `label` is the `org.opencontainers.image.revision` label (default: derived from
    `salt`); `labels` adds more. Different `salt` values give different layers,
    configs and digests; equal arguments give equal bytes. `docker=True` makes a
    Docker schema2 manifest instead of an OCI one. `annotations` go on the
    manifest (OCI only; e.g. `{"org.opencontainers.image.created": created}`).
    `no_revision=True` leaves the revision label out (an image that records no commit).
    """
    platform = "/".join([os, arch] + ([variant] if variant else []))
    compressed: list[bytes] = []
    diff_ids: list[str] = []
    for i in range(layers):
        content = f"repo={repo_hint} platform={platform} salt={salt} layer={i}\n".encode()
        gz, raw = _layer_bytes(f"truedigest/layer-{i}.txt", content)
        compressed.append(gz)
        diff_ids.append(sha256_digest(raw))

    all_labels = {
        _REVISION: label if label is not None else hashlib.sha256(salt.encode()).hexdigest()[:40],
        _SOURCE: f"https://example.test/{repo_hint}",
    }
    all_labels.update(labels or {})
    if no_revision:
        del all_labels[_REVISION]
    config_doc: dict[str, Any] = {
        "architecture": arch,
        "os": os,
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": all_labels,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": created, "created_by": f"truedigest test layer {i}"} for i in range(layers)
        ],
    }
    if variant:
        config_doc["variant"] = variant
    config = canonical_json(config_doc)

    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    config_type = DOCKER_CONFIG if docker else OCI_CONFIG
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    manifest = _manifest_body(
        media_type,
        (config_type, config),
        ((layer_type, data, None) for data in compressed),
        None if docker else annotations,
    )
    return Image(
        config=config,
        config_digest=sha256_digest(config),
        config_media_type=config_type,
        layers=tuple(compressed),
        layer_digests=tuple(sha256_digest(data) for data in compressed),
        layer_media_type=layer_type,
        manifest=manifest,
        digest=sha256_digest(manifest),
        media_type=media_type,
        os=os,
        architecture=arch,
        variant=variant,
    )


def build_attestation(
    subject: Image,
    *,
    predicate_type: str = "https://slsa.dev/provenance/v0.2",
    repo_hint: str = "test/app",
) -> Image:
    """A buildx-style attestation manifest (platform unknown/unknown) for `subject`."""
    statement = canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [
                {
                    "name": f"pkg:docker/{repo_hint}?platform={subject.platform}",
                    "digest": {"sha256": subject.digest.removeprefix("sha256:")},
                }
            ],
            "predicate": {"builder": {"id": "truedigest-test"}, "buildType": "test"},
        }
    )
    config = canonical_json(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(statement)]},
        }
    )
    manifest = _manifest_body(
        OCI_MANIFEST,
        (OCI_CONFIG, config),
        [(INTOTO_LAYER, statement, {"in-toto.io/predicate-type": predicate_type})],
        None,
    )
    return Image(
        config=config,
        config_digest=sha256_digest(config),
        config_media_type=OCI_CONFIG,
        layers=(statement,),
        layer_digests=(sha256_digest(statement),),
        layer_media_type=INTOTO_LAYER,
        manifest=manifest,
        digest=sha256_digest(manifest),
        media_type=OCI_MANIFEST,
        os="unknown",
        architecture="unknown",
        attests=subject.digest,
    )


def build_index(
    images: Sequence[Image],
    attestations: Sequence[Image] = (),
    *,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """An OCI index (or, with `docker=True`, a Docker manifest list) of `images`,
    followed by `attestations` (each tagged with the digest it attests)."""
    children = (*images, *attestations)
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor() for child in children],
    }
    if annotations and not docker:
        doc["annotations"] = dict(annotations)
    body = canonical_json(doc)
    return Index(body=body, digest=sha256_digest(body), media_type=media_type, manifests=children)


def build_platform_index(
    repo_hint: str,
    salt: str,
    *,
    amd64_layers: int = 1,
    amd64_annotations: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """An OCI index of linux/amd64 and linux/arm64/v8 (both built with `salt`) and a
    buildx-style attestation of the amd64 image: `images` is (amd64, arm64) and the
    attestation is the last of `manifests`. `annotations` go on the index."""
    amd64 = build_image(repo_hint, salt=salt, layers=amd64_layers, annotations=amd64_annotations)
    arm64 = build_image(repo_hint, arch="arm64", variant="v8", salt=salt)
    attestation = build_attestation(amd64, repo_hint=repo_hint)
    return build_index([amd64, arm64], [attestation], annotations=annotations)


# --------------------------------------------------------------------------- pushing


class RegistryEndpoint(Protocol):
    """What the pusher needs from a `RegistryServer` (or any registry)."""

    @property
    def host(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def ca_file(self) -> Path | None: ...


class PushError(AssertionError):
    """The registry refused an upload the harness expected to succeed."""


def _fail(what: str, response: httpx.Response) -> PushError:
    return PushError(
        f"{what}: {response.request.method} {response.request.url} -> "
        f"{response.status_code} {response.text[:500]}"
    )


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…"` → ("bearer", {realm, service, …})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip(" ,").lower()
        if eq + 1 < len(rest) and rest[eq + 1] == '"':
            end = rest.find('"', eq + 2)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 2 : end]
            i = end + 1
        else:
            end = rest.find(",", eq + 1)
            end = len(rest) if end < 0 else end
            params[key] = rest[eq + 1 : end].strip()
            i = end + 1
    return scheme.lower(), params


class Pusher:
    """Uploads blobs and manifests with httpx, answering Basic and Bearer challenges.

    For Bearer it asks the realm for `repository:REPO:pull,push` with the Basic
    credentials and caches one token per repository.
    """

    def __init__(self, endpoint: RegistryEndpoint, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        verify: ssl.SSLContext | bool = True
        if endpoint.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(endpoint.ca_file))
        self._client = httpx.Client(base_url=endpoint.url, verify=verify, timeout=timeout)
        self._auth: dict[str, str] = {}  # repo -> Authorization header value

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- auth
    def _basic(self) -> str:
        user, password = self.endpoint.username, self.endpoint.password
        if user is None or password is None:
            raise PushError(f"{self.endpoint.url} asks for credentials but none are known")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _authorize(self, repo: str, challenge: str) -> None:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            self._auth[repo] = self._basic()
            return
        if scheme != "bearer" or "realm" not in params:
            raise PushError(f"unsupported challenge {challenge!r}")
        query = {"scope": f"repository:{repo}:pull,push"}
        if "service" in params:
            query["service"] = params["service"]
        response = self._client.get(
            params["realm"], params=query, headers={"Authorization": self._basic()}
        )
        if response.status_code != 200:
            raise _fail("token request", response)
        body = response.json()
        self._auth[repo] = "Bearer " + (body.get("token") or body["access_token"])

    def request(
        self,
        method: str,
        repo: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request for `repo`, authenticating once if challenged."""
        merged = dict(headers or {})
        for attempt in range(2):
            if repo in self._auth:
                merged["Authorization"] = self._auth[repo]
            response = self._client.request(method, url, headers=merged, content=content)
            challenge = response.headers.get("WWW-Authenticate")
            if response.status_code != 401 or challenge is None or attempt == 1:
                return response
            self._authorize(repo, challenge)
        raise AssertionError("unreachable")

    # -- operations
    def ping(self) -> httpx.Response:
        """`GET /v2/` without credentials (200, or 401 with the registry's challenge)."""
        return self._client.get("/v2/")

    def blob_exists(self, repo: str, digest: str) -> bool:
        return self.request("HEAD", repo, f"/v2/{repo}/blobs/{digest}").status_code == 200

    def push_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload (POST then PUT); returns the blob's digest."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        started = self.request("POST", repo, f"/v2/{repo}/blobs/uploads/")
        if started.status_code != 202 or "Location" not in started.headers:
            raise _fail("blob upload start", started)
        # The Location carries `_state=…`: merge the digest into its query, don't replace it.
        location = self._client.base_url.join(started.headers["Location"])
        put = self.request(
            "PUT",
            repo,
            location.copy_merge_params({"digest": digest}),
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if put.status_code != 201:
            raise _fail("blob upload", put)
        return digest

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; checks the registry's digest for it."""
        digest = sha256_digest(body)
        response = self.request(
            "PUT",
            repo,
            f"/v2/{repo}/manifests/{reference}",
            headers={"Content-Type": media_type},
            content=body,
        )
        if response.status_code != 201:
            raise _fail("manifest upload", response)
        served = response.headers.get("Docker-Content-Digest")
        if served != digest:
            raise PushError(f"registry says {served} for a manifest hashing to {digest}")
        return digest

    def delete_manifest(self, repo: str, digest: str) -> None:
        response = self.request("DELETE", repo, f"/v2/{repo}/manifests/{digest}")
        if response.status_code != 202:
            raise _fail("manifest delete", response)

    def get_manifest(
        self,
        repo: str,
        reference: str,
        *,
        accept: Sequence[str] = ALL_MANIFEST_TYPES,
        method: str = "GET",
    ) -> httpx.Response:
        """GET (or HEAD) a manifest with the given Accept types; any status is returned."""
        headers = {"Accept": ", ".join(accept)} if accept else {}
        return self.request(method, repo, f"/v2/{repo}/manifests/{reference}", headers=headers)


def push_image(pusher: Pusher, repo: str, image: Image, tag: str | None = None) -> str:
    """Push blobs, then the manifest by `tag` (or by digest); returns the digest."""
    for blob in image.blobs:
        pusher.push_blob(repo, blob)
    return pusher.push_manifest(repo, tag or image.digest, image.manifest, image.media_type)


def push_index(
    pusher: Pusher,
    repo: str,
    index: Index,
    children: Sequence[Image] | None = None,
    tag: str | None = None,
) -> str:
    """Push every child by digest (default: the index's own), then the index by `tag`."""
    for child in index.manifests if children is None else children:
        push_image(pusher, repo, child)
    return pusher.push_manifest(repo, tag or index.digest, index.body, index.media_type)


_Endpoint = TypeVar("_Endpoint", bound=RegistryEndpoint)
_Seeded = TypeVar("_Seeded")


def once_per_registry(seed: Callable[[_Endpoint], _Seeded]) -> Callable[[_Endpoint], _Seeded]:
    """`seed`, run once per registry (by URL): later calls return what the first pushed."""
    seeded: dict[str, _Seeded] = {}

    def once(server: _Endpoint) -> _Seeded:
        if server.url not in seeded:
            seeded[server.url] = seed(server)
        return seeded[server.url]

    return once


def push_with_oras(endpoint: RegistryEndpoint, repo: str, tag: str, workdir: Path) -> str:
    """Push one OCI manifest with the `oras` package; returns the digest of what is served.

    Works for plain http, Basic, TLS (CA from `endpoint.ca_file`) and token auth
    (the token server must grant `*`: oras re-sends a stale token on 401).
    """
    import oras.client  # slow import (requests, jsonschema): only when used

    workdir.mkdir(parents=True, exist_ok=True)
    image = build_image(repo, salt=f"oras:{repo}:{tag}")
    config_path = workdir / "config.json"
    layer_path = workdir / "layer.tgz"
    config_path.write_bytes(image.config)
    layer_path.write_bytes(image.layers[0])

    tls = endpoint.url.startswith("https://")
    tls_verify: bool | str = str(endpoint.ca_file) if endpoint.ca_file is not None else True
    with Pusher(endpoint) as pusher:
        challenge = pusher.ping().headers.get("WWW-Authenticate", "")
    # oras's token backend cannot answer a Basic challenge, nor the basic one a Bearer one.
    backend = "basic" if _parse_challenge(challenge)[0] == "basic" else "token"
    client = oras.client.OrasClient(
        hostname=endpoint.host, insecure=not tls, tls_verify=tls_verify, auth_backend=backend
    )
    if endpoint.username is not None and endpoint.password is not None:
        # Not client.login(): that writes a Docker config file in $HOME.
        client.auth.set_basic_auth(endpoint.username, endpoint.password)
    client.push(
        target=f"{endpoint.host}/{repo}:{tag}",
        files=[f"{layer_path}:{OCI_LAYER}"],
        manifest_config=f"{config_path}:{OCI_CONFIG}",
        disable_path_validation=True,
        quiet=True,
    )
    with Pusher(endpoint) as pusher:
        response = pusher.get_manifest(repo, tag)
    if response.status_code != 200:
        raise _fail("fetch oras manifest", response)
    digest = sha256_digest(response.content)
    if response.headers.get("Docker-Content-Digest") != digest:
        raise PushError(f"Docker-Content-Digest differs from sha256 of the body {digest}")
    return digest


def push_layout_tag(pusher: Pusher, layout: Path, repo: str, tag: str) -> None:
    """Push one tag of an OCI image layout byte for byte into `repo`: its blobs, its
    child manifests (by digest), then the tagged manifest or index."""
    index = json.loads((layout / "index.json").read_text())
    ref_name = "org.opencontainers.image.ref.name"
    [entry] = [m for m in index["manifests"] if m.get("annotations", {}).get(ref_name) == tag]

    def blob(digest: str) -> bytes:
        algorithm, hexdigest = digest.split(":")
        return (layout / "blobs" / algorithm / hexdigest).read_bytes()

    def push(descriptor: dict[str, Any], reference: str) -> None:
        body = blob(descriptor["digest"])
        manifest = json.loads(body)
        for child in manifest.get("manifests", []):
            push(child, child["digest"])
        for item in [manifest.get("config"), *manifest.get("layers", [])]:
            if item is not None:
                pusher.push_blob(repo, blob(item["digest"]))
        pusher.push_manifest(repo, reference, body, descriptor["mediaType"])

    push(entry, tag)
