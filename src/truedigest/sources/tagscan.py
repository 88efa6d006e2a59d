"""`truedigest tags`: every tag of a repository, resolved concurrently, grouped by digest.

The listing comes first (it follows `Link` pagination and warms the token), then
one manifest GET per tag on a thread pool; the client bounds requests per host.
Each digest is hashed from the bytes served, as `resolve` does. When manifests
carry `org.opencontainers.image.created`, the newest group is the one whose tags
moved last; no config blob is fetched for it (that would cost a request per digest).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from truedigest.errors import ExitCode, NotFoundError, RegistryError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import CREATED
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import DEFAULT_MAX_PAGES, DEFAULT_MAX_TAGS, RegistryClient, Resolved

DEFAULT_CONCURRENCY = 8
# The distribution tag grammar, whole-string (a `$` would let "v1\n" through).
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)


@dataclass(frozen=True, slots=True)
class TagGroup:
    """Tags that point at one digest."""

    digest: Digest
    media_type: str
    tags: tuple[str, ...]
    created: str | None = None


@dataclass(frozen=True, slots=True)
class TagError:
    tag: str
    error: str
    exit_code: int = int(ExitCode.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class TagScan:
    repository: ImageRef
    groups: tuple[TagGroup, ...]
    errors: tuple[TagError, ...]
    listed: int  # tags in the repository, before --match
    resolved: tuple[Resolved, ...] = ()  # per tag, with the manifest bytes (for whatis)

    @property
    def matched(self) -> int:
        return sum(len(g.tags) for g in self.groups) + len(self.errors)

    @property
    def newest(self) -> TagGroup | None:
        """The group created last (by manifest annotation): its tags moved last."""
        dated = [(t, g) for g in self.groups if (t := parse_created(g.created)) is not None]
        if not dated:
            return None
        return max(dated, key=lambda pair: pair[0])[1]

    @property
    def exit_code(self) -> int:
        return int(ExitCode.UNAVAILABLE if self.errors else ExitCode.OK)


def list_matching(
    client: RegistryClient,
    repo: ImageRef,
    match: str | None,
    *,
    max_tags: int = DEFAULT_MAX_TAGS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> tuple[list[str], int]:
    """Every tag (all pages, at most `max_tags` in `max_pages`) narrowed by a
    case-sensitive glob, and how many were listed.

    An absent repository raises NotFoundError (exit 10); more tags or pages than
    allowed, or a pagination loop, raise RegistryError (exit 3).
    """
    try:
        tags = client.list_tags(repo, max_tags=max_tags, max_pages=max_pages)
    except NotFoundError as exc:
        raise NotFoundError(
            exc.message,
            hint="check the registry host and the repository path (a Docker Hub image "
            "may need its namespace, e.g. library/alpine)",
        ) from exc
    return [t for t in tags if match is None or fnmatch.fnmatchcase(t, match)], len(tags)


def resolve_tags(
    client: RegistryClient,
    repo: ImageRef,
    tags: Sequence[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    listed: int | None = None,
    on_done: Callable[[str], None] | None = None,
) -> TagScan:
    """GET each tag's manifest (concurrently) and group the tags by digest."""

    def one(tag: str) -> Resolved | TagError:
        try:
            if not _TAG.fullmatch(tag):
                return TagError(
                    tag,
                    "the registry listed a name that is not a valid tag; not resolved",
                    int(ExitCode.UNAVAILABLE),
                )
            return client.resolve(repo.with_tag(tag))
        except TruedigestError as exc:
            return TagError(tag, exc.message, int(exc.exit_code))
        finally:
            if on_done is not None:
                on_done(tag)

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    results: list[Resolved | TagError]
    if len(tags) <= 1 or concurrency == 1:
        results = [one(t) for t in tags]
    else:
        with ThreadPoolExecutor(
            max_workers=min(concurrency, len(tags)), thread_name_prefix="tags"
        ) as pool:
            results = list(pool.map(one, tags))
    resolved = [r for r in results if isinstance(r, Resolved)]
    errors = sorted((r for r in results if isinstance(r, TagError)), key=lambda e: e.tag)
    return TagScan(
        repository=repo,
        groups=group_by_digest(resolved),
        errors=tuple(errors),
        listed=len(tags) if listed is None else listed,
        resolved=tuple(resolved),
    )


def scan_tags(
    client: RegistryClient,
    repo: ImageRef,
    *,
    match: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_tags: int = DEFAULT_MAX_TAGS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> TagScan:
    """List, then resolve: the library entry point (the CLI interposes a progress bar)."""
    tags, listed = list_matching(client, repo, match, max_tags=max_tags, max_pages=max_pages)
    return resolve_tags(client, repo, tags, concurrency=concurrency, listed=listed)


def group_by_digest(resolved: Sequence[Resolved]) -> tuple[TagGroup, ...]:
    """Groups with sorted tags; newest `created` first, undated after, then by first tag."""
    by_digest: dict[Digest, list[Resolved]] = {}
    for r in resolved:
        by_digest.setdefault(r.digest, []).append(r)
    groups = []
    for digest, items in by_digest.items():
        first = items[0]
        groups.append(
            TagGroup(
                digest=digest,
                media_type=first.media_type,
                tags=tuple(sorted(str(r.ref.tag) for r in items)),
                created=_created(first),
            )
        )
    groups.sort(key=lambda g: g.tags[0])
    epoch = datetime.min.replace(tzinfo=UTC)
    groups.sort(key=lambda g: parse_created(g.created) or epoch, reverse=True)
    return tuple(groups)


def _created(resolved: Resolved) -> str | None:
    """`org.opencontainers.image.created` from the manifest (or index) annotations."""
    if resolved.manifest is None:
        return None
    try:
        value = resolved.manifest.annotations.get(CREATED)
    except RegistryError:
        return None
    return value or None


def parse_created(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (naive ones taken as UTC), else None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__ = [
    "TagError",
    "TagGroup",
    "TagScan",
    "group_by_digest",
    "list_matching",
    "parse_created",
    "resolve_tags",
    "scan_tags",
]
