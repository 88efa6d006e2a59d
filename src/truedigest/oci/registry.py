"""RegistryClient: the distribution API calls truedigest needs, and nothing else.

Read-only. Every manifest is fetched with the four manifest media types in
`Accept`, hashed, and compared with the `Docker-Content-Digest` header, which is
a claim, not proof. Requests in flight to one host are paced by
`session.RegistrySession` (adaptive up to 64, or fixed); tag listing lives in `taglist`.
"""

from __future__ import annotations

import sys

from truedigest.base import jsonutil
from truedigest.errors import (
    DigestMismatchError,
    InvalidDigestError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
)
from truedigest.oci import schema1, taglist
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    Platform,
    fallback_referrers,
    manifest_media_type,
)
from truedigest.oci.reference import ImageRef
from truedigest.oci.resolved import Resolved as Resolved
from truedigest.oci.session import RegistrySession, codes_suffix
from truedigest.oci.taglist import DEFAULT_MAX_PAGES as DEFAULT_MAX_PAGES
from truedigest.oci.taglist import DEFAULT_MAX_TAGS as DEFAULT_MAX_TAGS
from truedigest.oci.transport import MANIFEST_LIMIT, Limit, Response

ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES + schema1.SCHEMA1_MEDIA_TYPES)
"""The four manifest types, then legacy schema 1 last (as docker and containers/image
send it): a registry that serves only what is accepted still answers for a schema 1
tag, and distribution, which converts to schema 1 only when no schema 2 type is
accepted, serves what it stores."""
CONFIG_CAP = 4 * 1024 * 1024


class RegistryClient(RegistrySession):
    """Manifests, blobs, tags and referrers over one RegistrySession (its requests,
    auth and per-host bounds). One per run. Thread-safe; use as a context manager."""

    # -- public API ---------------------------------------------------------

    def get_manifest(self, ref: ImageRef, reference: str | Digest | None = None) -> Manifest:
        """GET a manifest by tag or digest; the digest is computed from the bytes."""
        target = str(reference) if reference is not None else ref.reference
        wanted = _maybe_digest(target)
        shown = _display(ref, target)
        resp = self.call(
            ref,
            "GET",
            f"/v2/{ref.repository}/manifests/{target}",
            accept=ACCEPT_MANIFESTS,
            limit=MANIFEST_LIMIT,
            what=f"manifest {shown}",
        )
        if resp.status == 404:
            raise NotFoundError(f"{shown}: not found in the registry{codes_suffix(resp)}")
        self.expect_ok(resp, f"manifest {shown}")
        if not resp.body:
            raise RegistryError(f"{shown}: the registry answered 200 with an empty manifest body")
        header = _header_digest(resp, shown)
        media_type = _media_type(resp, shown)
        # signed schema 1: the digest is the JWS payload's (the signatures change per GET)
        payload = (
            schema1.jws_payload(resp.body, shown)
            if media_type in schema1.SCHEMA1_MEDIA_TYPES
            else None
        )
        hashed = resp.body if payload is None else payload
        # hash with the algorithm the reference or the header names: one reference, one answer
        algorithm = wanted.algorithm if wanted else header.algorithm if header else "sha256"
        computed = Digest.of_bytes(hashed, algorithm)
        if header is not None:
            # the body is hashed once when the header uses the same algorithm (a tag's GET)
            same = header.algorithm == algorithm
            claimed = computed if same else Digest.of_bytes(hashed, header.algorithm)
            if claimed != header:
                raise DigestMismatchError(
                    f"{shown}: Docker-Content-Digest header says {header} "
                    f"but the body hashes to {claimed}"
                )
        if wanted is not None and computed != wanted:
            raise DigestMismatchError(
                f"{shown}: asked for {wanted} but the body hashes to {computed}"
            )
        return Manifest(ref.repository, media_type, resp.body, computed, header, payload)

    def _head(self, ref: ImageRef, target: str) -> tuple[Response, Digest | None] | None:
        """HEAD a manifest: the response and its (well-formed) digest header; None on 404."""
        shown = _display(ref, target)
        resp = self.call(
            ref,
            "HEAD",
            f"/v2/{ref.repository}/manifests/{target}",
            accept=ACCEPT_MANIFESTS,
            what=f"manifest {shown}",
        )
        if resp.status == 404:
            return None
        self.expect_ok(resp, f"manifest {shown}")
        return resp, _header_digest(resp, shown)

    def head_manifest(self, ref: ImageRef, reference: str | Digest) -> Descriptor | None:
        """HEAD a manifest; None when the registry does not serve it.

        The digest is the header's claim or, when the header is missing, the digest
        asked for; a tag whose HEAD has no header raises (use get_manifest).
        """
        target = str(reference)
        got = self._head(ref, target)
        if got is None:
            return None
        resp, header = got
        digest = header or _maybe_digest(target)
        if digest is None:
            raise RegistryError(
                f"{_display(ref, target)}: HEAD answered without a Docker-Content-Digest header"
            )
        length = resp.headers.get("content-length", "")
        return Descriptor(
            media_type=_media_type(resp, _display(ref, target), allow_empty=True),
            digest=digest,
            size=int(length) if length.isdigit() else -1,
        )

    def manifest_exists(self, ref: ImageRef, digest: Digest) -> bool:
        return self.head_manifest(ref, digest) is not None

    def resolve(
        self, ref: ImageRef, *, head: bool = False, platform: Platform | None = None
    ) -> Resolved:
        """What `ref` points at now; with `platform`, the matching child of an index."""
        if head and platform is None:
            cheap = self._resolve_by_head(ref)
            if cheap is not None:
                return cheap
        manifest = self.get_manifest(ref)
        top = Resolved(
            ref,
            manifest.digest,
            manifest.media_type,
            manifest.size,
            manifest.header_digest,
            manifest,
        )
        if platform is None:
            return top
        if manifest.is_index:
            child = select_platform(manifest, platform, str(ref))
            child_manifest = self.get_manifest(ref, child.digest)
            return Resolved(
                ref,
                child_manifest.digest,
                child_manifest.media_type,
                child_manifest.size,
                child_manifest.header_digest,
                child_manifest,
                child.platform or platform,
                manifest.digest,
                manifest,
            )
        actual = self.config_platform(ref, manifest)
        if actual is None or not actual.matches(platform):
            raise PlatformNotFoundError(
                f"{ref} is a single-platform image for {actual or 'an unknown platform'}, "
                f"not {platform}"
            )
        return Resolved(
            ref,
            manifest.digest,
            manifest.media_type,
            manifest.size,
            manifest.header_digest,
            manifest,
            actual,
        )

    def _resolve_by_head(self, ref: ImageRef) -> Resolved | None:
        """The --head path: trust a well-formed header; None means "GET instead"."""
        try:
            got = self._head(ref, ref.reference)
        except DigestMismatchError:  # malformed header: not trusted, the GET decides
            return None
        if got is None:
            raise NotFoundError(f"{ref}: not found in the registry")
        resp, header = got
        length = resp.headers.get("content-length", "")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        # schema 1 is not trusted here: its size is its payload's, which only a GET tells
        if header is None or not length.isdigit() or media_type not in MANIFEST_MEDIA_TYPES:
            return None
        if ref.digest is not None and header != ref.digest:
            raise DigestMismatchError(
                f"{ref}: asked for {ref.digest} but Docker-Content-Digest says {header}"
            )
        return Resolved(ref, header, media_type, int(length), header)

    def get_blob(
        self, ref: ImageRef, digest: Digest, *, cap: int = CONFIG_CAP, kind: str = "config blob"
    ) -> bytes:
        """GET a (small) blob, verified against its digest; over `cap` bytes is an error
        that names the blob's `kind`."""
        shown = f"{ref.name}@{digest}"
        resp = self.call(
            ref,
            "GET",
            f"/v2/{ref.repository}/blobs/{digest}",
            accept="*/*",
            limit=Limit(kind, cap),
            what=f"blob {shown}",
        )
        if resp.status == 404:
            raise NotFoundError(f"blob {shown}: not found in the registry{codes_suffix(resp)}")
        self.expect_ok(resp, f"blob {shown}")
        if not digest.verify(resp.body):
            raise DigestMismatchError(f"blob {shown}: the bytes served hash to something else")
        return resp.body

    def blob_exists(self, ref: ImageRef, digest: Digest) -> bool:
        resp = self.call(
            ref,
            "HEAD",
            f"/v2/{ref.repository}/blobs/{digest}",
            accept="*/*",
            limit=Limit("blob", sys.maxsize),  # a HEAD reads no body; a layer may be any size
            what=f"blob {ref.name}@{digest}",
        )
        if resp.status == 404:
            return False
        self.expect_ok(resp, f"blob {ref.name}@{digest}")
        return True

    def get_config(self, ref: ImageRef, manifest: Manifest) -> dict[str, object] | None:
        config = manifest.config
        if config is None:
            return None
        body = self.get_blob(ref, config.digest)
        try:
            data = jsonutil.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def config_platform(self, ref: ImageRef, manifest: Manifest) -> Platform | None:
        """The config's os/arch; schema 1 (no config blob): its `architecture`."""
        if manifest.schema_version == 1:
            return manifest.legacy_platform
        config = self.get_config(ref, manifest)
        return Platform.from_json(config) if config is not None else None

    def list_tags(
        self,
        ref: ImageRef,
        *,
        max_tags: int = DEFAULT_MAX_TAGS,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> list[str]:
        """Every tag, following `Link: <…>; rel="next"` pagination, in bounded memory.

        More than `max_tags` distinct names or `max_pages` pages, or a `Link` back to
        a page already read, is an error (exit 3): the list would not be complete.
        """
        return taglist.list_tags(self, ref, max_tags=max_tags, max_pages=max_pages)

    def referrers(self, ref: ImageRef, digest: Digest) -> list[Descriptor]:
        """OCI 1.1 referrers API, falling back to the `sha256-<hex>` tag schema."""
        resp = self.call(
            ref,
            "GET",
            f"/v2/{ref.repository}/referrers/{digest}",
            accept=OCI_INDEX,
            limit=Limit("referrers index", MANIFEST_LIMIT.cap),
            what=f"referrers of {ref.name}@{digest}",
        )
        if resp.status == 200 and resp.body:
            try:
                manifest = Manifest(
                    ref.repository, OCI_INDEX, resp.body, Digest.of_bytes(resp.body)
                )
                return manifest.children
            except RegistryError:
                pass
        elif resp.status not in (404, 400, 405):
            self.expect_ok(resp, f"referrers of {ref.name}@{digest}")
        try:
            index = self.get_manifest(ref, digest.encoded_tag)
        except NotFoundError:
            return []
        return fallback_referrers(index, digest)


def select_platform(index: Manifest, platform: Platform, shown: str) -> Descriptor:
    """The first non-attestation child of `index` matching `platform`."""
    children = index.children
    for child in children:
        if child.is_attestation or child.platform is None or child.platform.is_unknown:
            continue
        if child.platform.matches(platform):
            return child
    available = sorted(
        {
            str(c.platform)
            for c in children
            if c.platform and not c.is_attestation and not c.platform.is_unknown
        }
    )
    raise PlatformNotFoundError(
        f"{shown} has no {platform} image (it holds {', '.join(available) or 'no platforms'})"
    )


def _maybe_digest(text: str) -> Digest | None:
    if ":" not in text:
        return None
    try:
        return Digest.parse(text)
    except InvalidDigestError:
        return None


def _display(ref: ImageRef, target: str) -> str:
    sep = "@" if ":" in target else ":"
    if target == ref.reference:
        return str(ref)
    return f"{ref.name}{sep}{target}"


def _header_digest(resp: Response, shown: str) -> Digest | None:
    raw = resp.headers.get("docker-content-digest")
    if raw is None or not raw.strip():
        return None
    try:
        return Digest.parse(raw)
    except InvalidDigestError:
        raise DigestMismatchError(
            f"{shown}: the registry sent a malformed Docker-Content-Digest header"
        ) from None


def _media_type(resp: Response, shown: str, *, allow_empty: bool = False) -> str:
    """The manifest's media type, once Content-Type, the body's mediaType and its
    shape agree (models.manifest_media_type); a disagreement is exit 3."""
    content_type: str = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if resp.body:  # a body is checked even when Content-Type claims a manifest
        try:
            data = jsonutil.loads(resp.body)
        except ValueError:
            raise RegistryError(
                f"{shown}: the registry served a manifest that is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise RegistryError(f"{shown}: the registry served a manifest that is not an object")
        return manifest_media_type(data, content_type, shown)
    if content_type in MANIFEST_MEDIA_TYPES:
        return content_type
    if allow_empty:
        return content_type
    raise RegistryError(f"{shown}: the registry served an empty manifest")
