"""Frozen values shared by the client, the sources and the core (stdlib only)."""

from __future__ import annotations

import functools
from typing import Any

from truedigest.base import jsonutil
from truedigest.base.value import Value, setfield
from truedigest.errors import InvalidDigestError, InvalidReferenceError, RegistryError
from truedigest.oci import schema1
from truedigest.oci.digest import Digest
from truedigest.oci.schema1 import SCHEMA1, SCHEMA1_MEDIA_TYPES, SCHEMA1_SIGNED

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES: tuple[str, ...] = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
_IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
_SHORT_MEDIA_TYPES = {
    OCI_INDEX: "OCI index",
    OCI_MANIFEST: "OCI manifest",
    DOCKER_LIST: "Docker manifest list",
    DOCKER_MANIFEST: "Docker manifest",
    SCHEMA1_SIGNED: "legacy Docker schema 1 manifest, signed",
    SCHEMA1: "legacy Docker schema 1 manifest",
}
LEGACY_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
"""What a schema 1 `fsLayers` entry is (schema 1 names neither media types nor sizes)."""
ATTESTATION_TYPE_KEY = "vnd.docker.reference.type"
ATTESTATION_DIGEST_KEY = "vnd.docker.reference.digest"
CREATED = "org.opencontainers.image.created"
"""The annotation (or config label) with the image's build time, RFC 3339."""


def short_media_type(media_type: str) -> str | None:
    """`OCI index` for `application/vnd.oci.image.index.v1+json` (for text output);
    None for a type that is not a manifest type (the four, and schema 1's two)."""
    return _SHORT_MEDIA_TYPES.get(media_type)


def manifest_media_type(data: dict[str, Any], content_type: str, shown: str) -> str:
    """The media type of a manifest body, when its three witnesses agree.

    The witnesses: the response's Content-Type (when one of the four manifest
    types), the body's own `mediaType`, and its shape (`manifests` for an index,
    `config` for a manifest). A disagreement means the registry (or something in
    front of it) lies about what it serves: RegistryError, exit 3 (could not
    check), never "absent". Without a declared type the shape decides. A Docker
    schema 1 body (`schemaVersion` 1) is legacy: served under a modern Content-Type,
    it is a lie; else `schema1.media_type_of` names it.
    """
    body_type = data.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise RegistryError(f"{shown}: the manifest's mediaType is not a string")
    if schema1.is_schema1(data):
        if content_type in MANIFEST_MEDIA_TYPES:
            raise _lie(shown, f"Content-Type says {content_type} but the body is schema 1")
        return schema1.media_type_of(data, content_type, shown)
    if content_type in SCHEMA1_MEDIA_TYPES:
        raise _lie(shown, f"Content-Type says {content_type} but the body is not schema 1")
    has_index = "manifests" in data
    has_manifest = "config" in data or "layers" in data
    if has_index and has_manifest:
        raise _lie(shown, "the body has both an index's manifests and a manifest's config/layers")
    declared = content_type if content_type in MANIFEST_MEDIA_TYPES else None
    if body_type and declared and body_type != declared:
        raise _lie(shown, f"Content-Type says {declared} but the body's mediaType is {body_type}")
    declared = declared or body_type or None
    if declared in INDEX_MEDIA_TYPES and not has_index:
        raise _lie(shown, f"it is declared {declared} but the body has no manifests list")
    if declared in _IMAGE_MANIFEST_TYPES and (has_index or "config" not in data):
        raise _lie(shown, f"it is declared {declared} but the body is not shaped like one")
    if declared:
        return declared
    if has_index:
        return OCI_INDEX
    if "config" in data and "layers" in data:
        return OCI_MANIFEST
    raise RegistryError(f"{shown}: the registry served JSON that is not a manifest")


def _lie(shown: str, what: str) -> RegistryError:
    return RegistryError(
        f"{shown}: the registry's answer contradicts itself: {what}",
        hint="a registry or proxy that mislabels manifests cannot be trusted; nothing was checked",
    )


@functools.total_ordering
class Platform(Value):
    _fields = ("os", "architecture", "variant")
    __slots__ = _fields
    os: str
    architecture: str
    variant: str | None

    def __init__(self, os: str, architecture: str, variant: str | None = None) -> None:
        setfield(self, "os", os)
        setfield(self, "architecture", architecture)
        setfield(self, "variant", variant)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Platform):
            return NotImplemented
        mine = (self.os, self.architecture, self.variant)
        return mine < (other.os, other.architecture, other.variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidReferenceError(
                f"invalid platform {text!r}",
                hint="a platform looks like linux/amd64 or linux/arm64/v8",
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, obj: object) -> Platform | None:
        if not isinstance(obj, dict):
            return None
        os_, arch = obj.get("os"), obj.get("architecture")
        if not isinstance(os_, str) or not isinstance(arch, str):
            return None
        variant = obj.get("variant")
        return cls(os_, arch, variant if isinstance(variant, str) and variant else None)

    def matches(self, wanted: Platform) -> bool:
        """`wanted` without a variant matches any variant (arm64 ~ arm64/v8)."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        if wanted.variant is None:
            return True
        mine = self.variant or _DEFAULT_VARIANTS.get(self.architecture)
        return mine == wanted.variant

    @property
    def is_unknown(self) -> bool:
        return self.os == "unknown" and self.architecture == "unknown"

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


_DEFAULT_VARIANTS = {"arm64": "v8"}


class Descriptor(Value):
    _fields = (
        "media_type",
        "digest",
        "size",
        "platform",
        "annotations",
        "artifact_type",
    )
    __slots__ = _fields
    _uncompared = ("annotations",)
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None
    annotations: dict[str, str]
    artifact_type: str | None

    def __init__(
        self,
        media_type: str,
        digest: Digest,
        size: int,
        platform: Platform | None = None,
        annotations: dict[str, str] | None = None,
        artifact_type: str | None = None,
    ) -> None:
        setfield(self, "media_type", media_type)
        setfield(self, "digest", digest)
        setfield(self, "size", size)
        setfield(self, "platform", platform)
        setfield(self, "annotations", {} if annotations is None else annotations)
        setfield(self, "artifact_type", artifact_type)

    @property
    def is_attestation(self) -> bool:
        return self.annotations.get(ATTESTATION_TYPE_KEY) == "attestation-manifest"

    @classmethod
    def from_json(cls, obj: object, where: str) -> Descriptor:
        if not isinstance(obj, dict):
            raise RegistryError(f"malformed descriptor in {where}: not an object")
        media_type, digest_text, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
        if (
            not isinstance(digest_text, str)
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise RegistryError(f"malformed descriptor in {where}: digest or size missing")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigestError as exc:
            raise RegistryError(f"malformed descriptor digest in {where}") from exc
        annotations = obj.get("annotations")
        artifact_type = obj.get("artifactType")
        return cls(
            media_type=media_type if isinstance(media_type, str) else "",
            digest=digest,
            size=size,
            platform=Platform.from_json(obj.get("platform")),
            annotations=_str_dict(annotations),
            artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        )


class Manifest(Value):
    """A manifest exactly as served: the bytes and what they hash to.

    `payload` is set for a signed Docker schema 1 manifest only: the JWS payload its
    digest hashes (`schema1.jws_payload`); its facts are read from the payload, and
    its size is the payload's (as a descriptor of it would say).
    """

    _fields = (
        "repository",
        "media_type",
        "body",
        "digest",
        "header_digest",
        "payload",
    )
    __slots__ = _fields
    _hidden = ("body", "payload")
    repository: str
    media_type: str
    body: bytes
    digest: Digest
    header_digest: Digest | None
    payload: bytes | None

    def __init__(
        self,
        repository: str,
        media_type: str,
        body: bytes,
        digest: Digest,
        header_digest: Digest | None = None,
        payload: bytes | None = None,
    ) -> None:
        setfield(self, "repository", repository)
        setfield(self, "media_type", media_type)
        setfield(self, "body", body)
        setfield(self, "digest", digest)
        setfield(self, "header_digest", header_digest)
        setfield(self, "payload", payload)

    @property
    def hashed(self) -> bytes:
        """The bytes `digest` is the hash of."""
        return self.body if self.payload is None else self.payload

    @property
    def size(self) -> int:
        return len(self.hashed)

    @property
    def schema_version(self) -> int:
        """1 for a legacy Docker schema 1 manifest, else 2."""
        return 1 if self.media_type in SCHEMA1_MEDIA_TYPES else 2

    @property
    def json(self) -> dict[str, Any]:
        try:
            data = jsonutil.loads(self.hashed)
        except ValueError as exc:
            raise RegistryError(f"manifest {self.digest} is not valid JSON") from exc
        if not isinstance(data, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES or (
            not self.media_type and "manifests" in self.json
        )

    @property
    def children(self) -> list[Descriptor]:
        if not self.is_index:
            return []
        items = self.json.get("manifests")
        if not isinstance(items, list):
            raise RegistryError(f"index {self.digest} has no manifests list")
        return [Descriptor.from_json(item, f"index {self.digest}") for item in items]

    @property
    def config(self) -> Descriptor | None:
        if self.is_index or self.schema_version == 1:
            return None
        cfg = self.json.get("config")
        return None if cfg is None else Descriptor.from_json(cfg, f"manifest {self.digest}")

    @property
    def layers(self) -> list[Descriptor]:
        if self.is_index:
            return []
        if self.schema_version == 1:
            return self._fs_layers()
        items = self.json.get("layers")
        if not isinstance(items, list):
            return []
        return [Descriptor.from_json(item, f"manifest {self.digest}") for item in items]

    def _fs_layers(self) -> list[Descriptor]:
        """Schema 1 `fsLayers` as listed (newest first); size -1: schema 1 names none."""
        items = self.json.get("fsLayers")
        layers = []
        for item in items if isinstance(items, list) else []:
            blob = item.get("blobSum") if isinstance(item, dict) else None
            if not isinstance(blob, str):
                raise RegistryError(f"manifest {self.digest}: an fsLayers entry has no blobSum")
            try:
                digest = Digest.parse(blob)
            except InvalidDigestError as exc:
                raise RegistryError(f"malformed blobSum in manifest {self.digest}") from exc
            layers.append(Descriptor(LEGACY_LAYER, digest, -1))
        return layers

    @property
    def legacy_config(self) -> dict[str, Any] | None:
        """Schema 1: the newest history entry's image config (`v1Compatibility`)."""
        return schema1.v1_compatibility(self.json) if self.schema_version == 1 else None

    @property
    def legacy_platform(self) -> Platform | None:
        """Schema 1: `architecture`, on the os the newest history entry names, else linux."""
        if self.schema_version != 1:
            return None
        arch = self.json.get("architecture")
        if not isinstance(arch, str) or not arch:
            return None
        compat = self.legacy_config or {}
        os_, variant = compat.get("os"), compat.get("variant")
        return Platform(
            os_ if isinstance(os_, str) and os_ else "linux",
            arch,
            variant if isinstance(variant, str) and variant else None,
        )

    @property
    def annotations(self) -> dict[str, str]:
        return _str_dict(self.json.get("annotations"))

    @property
    def subject(self) -> Descriptor | None:
        sub = self.json.get("subject")
        return None if sub is None else Descriptor.from_json(sub, f"manifest {self.digest}")


def fallback_referrers(index: Manifest, subject: Digest) -> list[Descriptor]:
    """The referrers a `<alg>-<hex>` fallback tag lists for `subject`, when it holds an
    OCI index of referrers: not the subject itself (GitLab resolves the tag to the
    digest), and not an image index (entries for a platform, or attestations)."""
    if index.media_type != OCI_INDEX or subject.verify(index.hashed):
        return []
    children = index.children
    if any(c.is_attestation or (c.platform and not c.platform.is_unknown) for c in children):
        return []
    return [c for c in children if c.digest != subject]


def _str_dict(obj: object) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {}
    return {str(k): str(v) for k, v in obj.items() if isinstance(v, str | int | float | bool)}
