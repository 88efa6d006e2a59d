"""`tags`: every tag of a repository, listed, then resolved concurrently.

The listing comes first (it follows `Link` pagination and warms the token), then
one manifest GET per tag on a thread pool; the client bounds requests per host.
Each digest is hashed from the bytes served, as `resolve` does. Grouping by
digest, and which group moved last, is decided in `truedigest.core.taggroups`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from truedigest.core.taggroups import TagError, TagScan, invalid_tag_error, is_valid_tag, tag_scan
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import DEFAULT_MAX_PAGES, DEFAULT_MAX_TAGS, RegistryClient, Resolved

DEFAULT_CONCURRENCY = 8


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
            if not is_valid_tag(tag):
                return invalid_tag_error(tag)
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
    return tag_scan(repo, results, listed=len(tags) if listed is None else listed)


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


__all__ = ["DEFAULT_CONCURRENCY", "list_matching", "resolve_tags", "scan_tags"]
