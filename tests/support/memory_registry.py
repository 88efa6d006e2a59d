"""One in-memory repository behind `httpx.MockTransport`, for `inspect`/`whatis` tests.

It serves exact bytes built by `tests.support.images` (every digest computed from
bytes), records every request, and can misbehave the way real registries do: 500
for a blob asked for as a manifest (distribution 2.8), a path that errors, an
index whose child is gone, a referrers API that answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.images import (
    OCI_INDEX,
    Image,
    build_attestation,
    build_image,
    build_index,
    sha256_digest,
)
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest
from truedigest.oci.reference import parse_repository

__all__ = [
    "REG",
    "REPO",
    "MemoryRegistry",
    "Seeded",
    "as_manifest",
    "repo",
    "seed",
]

REG = "reg.example"
REPO = "team/app"
REVISION = "org.opencontainers.image.revision"
_PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": "no"}]})


@dataclass
class MemoryRegistry:
    """One repository: manifests by digest, tags, blobs; every request recorded."""

    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    referrers_api: dict[str, bytes] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    """Paths answered with 500."""
    blob_as_manifest_500: bool = True
    """distribution 2.8: GET /manifests/<blob digest> finds the blob, fails to parse: 500."""
    calls: list[str] = field(default_factory=list)

    def add_manifest(self, body: bytes, media_type: str, tag: str | None = None) -> str:
        digest = sha256_digest(body)
        self.manifests[digest] = (media_type, body)
        if tag is not None:
            self.tags[tag] = digest
        return digest

    def add_image(self, image: Image, tag: str | None = None) -> str:
        for blob in image.blobs:
            self.blobs[sha256_digest(blob)] = blob
        return self.add_manifest(image.manifest, image.media_type, tag)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path in self.failing:
            return _error(500, "UNKNOWN")
        if m := _TAGS.match(path):
            return httpx.Response(200, json={"name": m["repo"], "tags": list(self.tags)})
        m = _PATH.match(path)
        if m is None or m["repo"] != REPO:
            return _error(404, "NAME_UNKNOWN")
        ref = m["ref"]
        if m["kind"] == "referrers":
            if ref in self.referrers_api:
                body = self.referrers_api[ref]
                return httpx.Response(200, content=body, headers={"Content-Type": OCI_INDEX})
            return httpx.Response(404, text="404 page not found")
        if m["kind"] == "blobs":
            if ref not in self.blobs:
                return _error(404, "BLOB_UNKNOWN")
            content = b"" if request.method == "HEAD" else self.blobs[ref]
            return httpx.Response(
                200,
                content=content,
                headers={"Content-Length": str(len(self.blobs[ref])), "Docker-Content-Digest": ref},
            )
        digest = self.tags.get(ref, ref)
        if digest not in self.manifests:
            if self.blob_as_manifest_500 and digest in self.blobs:
                return _error(500, "UNKNOWN")
            return _error(404, "MANIFEST_UNKNOWN")
        media_type, body = self.manifests[digest]
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        return httpx.Response(
            200, content=b"" if request.method == "HEAD" else body, headers=headers
        )


@dataclass(frozen=True)
class Seeded:
    amd64: Image
    arm64: Image
    attestation: Image
    index_digest: str
    single: Image


def seed(fake: MemoryRegistry) -> Seeded:
    amd64 = build_image(REPO, salt="u", layers=2, annotations={REVISION: "from-annotation"})
    arm64 = build_image(REPO, arch="arm64", variant="v8", salt="u")
    att = build_attestation(amd64, repo_hint=REPO)
    index = build_index([amd64, arm64], [att])
    single = build_image(REPO, salt="single", docker=True)
    for image in (amd64, arm64, att):
        fake.add_image(image)
    index_digest = fake.add_manifest(index.body, index.media_type, "v1")
    fake.tags["v1-alias"] = index_digest
    fake.add_image(single, "single")
    return Seeded(amd64, arm64, att, index_digest, single)


def repo() -> Any:
    return parse_repository(f"{REG}/{REPO}")


def as_manifest(image: Image) -> Manifest:
    return Manifest(REPO, image.media_type, image.manifest, Digest.parse(image.digest))
