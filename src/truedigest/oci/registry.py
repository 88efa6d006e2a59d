"""RegistryClient: the distribution API calls truedigest needs, and nothing else.

Read-only. Every manifest is fetched with the four manifest media types in
`Accept`, hashed, and compared with the `Docker-Content-Digest` header, which is
a claim, not proof. Requests to one host are bounded (default 8 in flight).
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

from truedigest.base import jsonutil
from truedigest.errors import (
    AuthError,
    DigestMismatchError,
    InvalidDigestError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
)
from truedigest.oci.auth import Authenticator, CredentialStore, pull_scope
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    Platform,
    manifest_media_type,
)
from truedigest.oci.reference import ImageRef
from truedigest.oci.transport import (
    MANIFEST_LIMIT,
    ClientOptions,
    HTTPTransport,
    Limit,
    Response,
    Transport,
    build_client,
    join_url,
)
from truedigest.oci.wire import next_link

ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
CONFIG_CAP = 4 * 1024 * 1024
TAGS_CAP = 4 * 1024 * 1024
DEFAULT_MAX_TAGS = 10_000
DEFAULT_MAX_PAGES = 1_000
TAGS_PAGE_LIMIT = Limit("tag list page", TAGS_CAP)
_AUTH_ROUNDS = 3
_CODE_RE = re.compile(r"^[A-Z][A-Z_]{1,40}\Z")


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a reference points at, straight from the registry."""

    ref: ImageRef
    digest: Digest
    media_type: str
    size: int
    header_digest: Digest | None
    manifest: Manifest | None = None
    platform: Platform | None = None
    index_digest: Digest | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


class RegistryClient:
    """One per run. Thread-safe; use as a context manager."""

    def __init__(
        self,
        options: ClientOptions | None = None,
        *,
        transport: HTTPTransport | None = None,
        credentials: CredentialStore | None = None,
        sleep: Callable[[float], None] | None = None,
        max_per_host: int = 8,
    ) -> None:
        self.options = options or ClientOptions()
        self.http = build_client(self.options, transport=transport)
        self.transport = (
            Transport(self.http, self.options)
            if sleep is None
            else Transport(self.http, self.options, sleep=sleep)
        )
        store = credentials or CredentialStore(helper_timeout=self.options.timeout)
        self.auth = Authenticator(self.transport, store)
        self.max_per_host = max_per_host
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_guard = threading.Lock()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @property
    def requests_made(self) -> int:
        return self.transport.stats.total

    # -- public API ---------------------------------------------------------

    def get_manifest(self, ref: ImageRef, reference: str | Digest | None = None) -> Manifest:
        """GET a manifest by tag or digest; the digest is computed from the bytes."""
        target = str(reference) if reference is not None else ref.reference
        wanted = _maybe_digest(target)
        shown = _display(ref, target)
        resp = self._call(
            ref,
            "GET",
            f"/v2/{ref.repository}/manifests/{target}",
            accept=ACCEPT_MANIFESTS,
            limit=MANIFEST_LIMIT,
            what=f"manifest {shown}",
        )
        if resp.status == 404:
            raise NotFoundError(f"{shown}: not found in the registry{_codes_suffix(resp)}")
        self._expect_ok(resp, f"manifest {shown}")
        if not resp.body:
            raise RegistryError(f"{shown}: the registry answered 200 with an empty manifest body")
        header = _header_digest(resp, shown)
        # hash with the algorithm the reference or the header names: one reference, one answer
        algorithm = wanted.algorithm if wanted else header.algorithm if header else "sha256"
        computed = Digest.of_bytes(resp.body, algorithm)
        if header is not None and not header.verify(resp.body):
            raise DigestMismatchError(
                f"{shown}: Docker-Content-Digest header says {header} "
                f"but the body hashes to {Digest.of_bytes(resp.body, header.algorithm)}"
            )
        if wanted is not None and computed != wanted:
            raise DigestMismatchError(
                f"{shown}: asked for {wanted} but the body hashes to {computed}"
            )
        media_type = _media_type(resp, shown)
        return Manifest(
            repository=ref.repository,
            media_type=media_type,
            body=resp.body,
            digest=computed,
            header_digest=header,
        )

    def _head(self, ref: ImageRef, target: str) -> tuple[Response, Digest | None] | None:
        """HEAD a manifest: the response and its (well-formed) digest header; None on 404."""
        shown = _display(ref, target)
        resp = self._call(
            ref,
            "HEAD",
            f"/v2/{ref.repository}/manifests/{target}",
            accept=ACCEPT_MANIFESTS,
            what=f"manifest {shown}",
        )
        if resp.status == 404:
            return None
        self._expect_ok(resp, f"manifest {shown}")
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
        resp = self._call(
            ref,
            "GET",
            f"/v2/{ref.repository}/blobs/{digest}",
            accept="*/*",
            limit=Limit(kind, cap),
            what=f"blob {shown}",
        )
        if resp.status == 404:
            raise NotFoundError(f"blob {shown}: not found in the registry{_codes_suffix(resp)}")
        self._expect_ok(resp, f"blob {shown}")
        if not digest.verify(resp.body):
            raise DigestMismatchError(f"blob {shown}: the bytes served hash to something else")
        return resp.body

    def blob_exists(self, ref: ImageRef, digest: Digest) -> bool:
        resp = self._call(
            ref,
            "HEAD",
            f"/v2/{ref.repository}/blobs/{digest}",
            accept="*/*",
            limit=Limit("blob", sys.maxsize),  # a HEAD reads no body; a layer may be any size
            what=f"blob {ref.name}@{digest}",
        )
        if resp.status == 404:
            return False
        self._expect_ok(resp, f"blob {ref.name}@{digest}")
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
        path: str | None = f"/v2/{ref.repository}/tags/list"
        tags: dict[str, None] = {}
        seen: set[str] = set()
        while path is not None:
            if path in seen:
                raise RegistryError(
                    f"tags of {ref.name}: the registry's Link header loops back to a page "
                    "already read",
                    hint="the registry's pagination is broken; the tag list cannot be completed",
                )
            seen.add(path)
            if len(seen) > max_pages:
                raise RegistryError(
                    f"tags of {ref.name}: more than {max_pages} pages of tags; stopped listing",
                    hint="raise --max-pages if the repository really has that many pages",
                )
            resp = self._call(
                ref,
                "GET",
                path,
                accept="application/json",
                limit=TAGS_PAGE_LIMIT,
                what=f"tags of {ref.name}",
            )
            if resp.status == 404:
                raise NotFoundError(f"repository {ref.name}: not found{_codes_suffix(resp)}")
            self._expect_ok(resp, f"tags of {ref.name}")
            try:
                data = jsonutil.loads(resp.body)
            except ValueError:
                raise RegistryError(f"tags of {ref.name}: the registry answered non-JSON") from None
            page = data.get("tags") if isinstance(data, dict) else None
            if page is None:
                page = []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise RegistryError(f"tags of {ref.name}: 'tags' is not a list of strings")
            for tag in page:
                tags.setdefault(tag)
                if len(tags) > max_tags:
                    raise RegistryError(
                        f"tags of {ref.name}: more than {max_tags} tags; stopped listing",
                        hint="raise --max-tags if the repository really has that many tags",
                    )
            path = _next_page(ref, resp)
        return list(tags)

    def referrers(self, ref: ImageRef, digest: Digest) -> list[Descriptor]:
        """OCI 1.1 referrers API, falling back to the `sha256-<hex>` tag schema."""
        resp = self._call(
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
            self._expect_ok(resp, f"referrers of {ref.name}@{digest}")
        try:
            index = self.get_manifest(ref, digest.encoded_tag)
        except NotFoundError:
            return []
        return index.children if index.is_index else []

    # -- plumbing -----------------------------------------------------------

    def base_url(self, registry: str) -> str:
        scheme = "http" if self.options.plain_http else "https"
        return f"{scheme}://{registry}"

    @contextmanager
    def _slot(self, registry: str) -> Iterator[None]:
        with self._slots_guard:
            sem = self._slots.setdefault(registry, threading.BoundedSemaphore(self.max_per_host))
        with sem:
            yield

    def _call(
        self,
        ref: ImageRef,
        method: str,
        path: str,
        *,
        accept: str,
        limit: Limit = MANIFEST_LIMIT,
        what: str,
    ) -> Response:
        """One logical request: auth rounds on 401, redirects and retries below."""
        url = self.base_url(ref.registry) + path
        scope = pull_scope(ref.repository)
        headers = {"Accept": accept, **self.auth.headers_for(ref.registry, scope)}
        with self._slot(ref.registry):
            for attempt in range(_AUTH_ROUNDS):
                resp = self.transport.request(method, url, headers=headers, limit=limit, what=what)
                if resp.status != 401:
                    break
                if attempt == _AUTH_ROUNDS - 1:
                    raise AuthError(f"{ref.registry} kept answering 401 for {what}")
                headers = {
                    "Accept": accept,
                    **self.auth.answer(ref.registry, scope, resp, sent=headers, url=url),
                }
        if resp.status == 403:
            raise AuthError(
                f"{ref.registry} denied access to {what} (HTTP 403{_codes_suffix(resp, ', ')})",
                hint="the credentials are valid but lack pull permission on this repository",
            )
        return resp

    def _expect_ok(self, resp: Response, what: str) -> None:
        if resp.status == 200:
            return
        if resp.status == 429:
            raise RegistryError(
                f"{what}: rate limited (HTTP 429) after retries",
                status=429,
                codes=_codes(resp),
                hint="wait and retry, or authenticate to get a higher pull limit",
            )
        if resp.status >= 500:
            raise RegistryError(
                f"{what}: registry error HTTP {resp.status}{_codes_suffix(resp, ', ')}",
                status=resp.status,
                codes=_codes(resp),
                hint="the registry is failing; retry later",
            )
        if resp.status == 400 and resp.url.scheme == "http" and not _codes(resp):
            # What a TLS-only server (Go's net/http among them) says to a plain-HTTP request.
            raise RegistryError(
                f"{what}: unexpected HTTP 400 to a plain-HTTP request",
                status=400,
                hint="the registry may serve HTTPS only: drop --plain-http "
                "(and pass --ca-file for a private CA)",
            )
        raise RegistryError(
            f"{what}: unexpected HTTP {resp.status}{_codes_suffix(resp, ', ')}",
            status=resp.status,
            codes=_codes(resp),
        )


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


def _codes(resp: Response) -> tuple[str, ...]:
    """OCI error codes from an error body: codes only, never the free-text message."""
    try:
        data = jsonutil.loads(resp.body)
    except ValueError:
        return ()
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ()
    codes = []
    for err in errors:
        code = err.get("code") if isinstance(err, dict) else None
        if isinstance(code, str) and _CODE_RE.match(code):
            codes.append(code)
    return tuple(dict.fromkeys(codes))


def _codes_suffix(resp: Response, sep: str | None = None) -> str:
    """` (CODE/CODE)`, or `, CODE/CODE` with sep=", " inside an existing parenthesis."""
    codes = _codes(resp)
    if not codes:
        return ""
    joined = "/".join(codes)
    return f"{sep}{joined}" if sep is not None else f" ({joined})"


def _next_page(ref: ImageRef, resp: Response) -> str | None:
    """The path (and query) of the next tag-list page, from the `Link` header.

    Only the path is used, on the registry's own origin; it must be this
    repository's tag list. A malformed header or target is an error (exit 3).
    """
    target = next_link(resp.headers.get("link"))
    if target is None:
        return None
    try:
        url = join_url(resp.url, target)
        path = url.raw_path.decode("ascii", "replace")
    except ValueError:
        raise RegistryError(
            f"tags of {ref.name}: the registry's Link header names a malformed URL"
        ) from None
    if url.path != f"/v2/{ref.repository}/tags/list":
        raise RegistryError(
            f"tags of {ref.name}: the registry's Link header points outside this "
            "repository's tag list",
            hint="the registry's pagination is broken or hostile; the list cannot be completed",
        )
    return path
