"""`tags`: every tag of a repository, listed, then resolved concurrently.

The listing comes first (it follows `Link` pagination and warms the token), then
one manifest GET per tag on a thread pool as large as the client's per-host cap:
the client's pacer (`truedigest.oci.pacing`), not the pool, decides how many are
in flight.
Each digest is hashed from the bytes served, as `resolve` does. Grouping by
digest, and which group moved last, is decided in `truedigest.core.taggroups`;
`date_groups` reads the config `created` of groups whose manifest has no created
annotation (the `tags` command calls it; `whatis` does not).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import replace

from truedigest.core.facts import has_image_config
from truedigest.core.taggroups import (
    TagError,
    TagScan,
    build_time,
    invalid_tag_error,
    is_valid_tag,
    tag_scan,
    undated,
    with_created,
)
from truedigest.engine.fanout import each
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import CREATED, Manifest
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import DEFAULT_MAX_PAGES, DEFAULT_MAX_TAGS, RegistryClient, Resolved

MAX_CREATED_REQUESTS = 16
"""`date_groups` reads configs only when all of them cost at most this many GETs (one
round trip at the client's starting window)."""


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
    concurrency: int | None = None,
    listed: int | None = None,
    on_done: Callable[[str], None] | None = None,
) -> TagScan:
    """GET each tag's manifest (concurrently) and group the tags by digest.

    `concurrency` sizes the thread pool (default: the client's `max_per_host`, so
    its pacer decides how many requests are in flight)."""

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

    results = each(one, tags, _workers(client, concurrency))
    return tag_scan(repo, results, listed=len(tags) if listed is None else listed)


def scan_tags(
    client: RegistryClient,
    repo: ImageRef,
    *,
    match: str | None = None,
    concurrency: int | None = None,
    max_tags: int = DEFAULT_MAX_TAGS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> TagScan:
    """List, then resolve: the library entry point (the CLI interposes a progress bar)."""
    tags, listed = list_matching(client, repo, match, max_tags=max_tags, max_pages=max_pages)
    return resolve_tags(client, repo, tags, concurrency=concurrency, listed=listed)


def date_groups(
    client: RegistryClient,
    repo: ImageRef,
    scan: TagScan,
    *,
    concurrency: int | None = None,
    budget: int = MAX_CREATED_REQUESTS,
) -> TagScan:
    """Date the groups whose manifest carries no `created` annotation from their config.

    Requests, only for those groups: an image manifest, 1 (its config); a schema 1
    manifest, 0 (its history holds it); an index, 2 per platform manifest (the
    manifest, whose annotation wins, else its config; the index takes the newest);
    an artifact or attestation, 0 (never dated). Nothing is read when the total
    would exceed `budget`: `scan.dating_skipped` says so and moved last is unknown.
    A read that fails leaves its group undated (unknown), it is not an error.
    """
    todo = [(g, m) for g in undated(scan.groups) if (m := _manifest_of(scan, g.digest))]
    cost = sum(_cost(m) for _, m in todo)
    if cost == 0:
        return scan
    if cost > budget:
        note = (
            f"dating {len(todo)} images from their configs would take {cost} requests "
            f"(more than {budget})"
        )
        return replace(scan, dating_skipped=note)
    # fanout.each, not a ThreadPoolExecutor: concurrent.futures loads logging at start-up
    workers = _workers(client, concurrency)
    answers = each(lambda pair: _created_of(client, repo, pair[1]), todo, workers)
    found = {g.digest: created for (g, _), created in zip(todo, answers, strict=True) if created}
    return replace(scan, groups=with_created(scan.groups, found), created_requests=cost)


def _workers(client: RegistryClient, concurrency: int | None) -> int:
    if concurrency is None:
        return client.max_per_host
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    return concurrency


def _manifest_of(scan: TagScan, digest: Digest) -> Manifest | None:
    return next((r.manifest for r in scan.resolved if r.digest == digest), None)


def _image_children(index: Manifest) -> list[Digest]:
    try:
        return [c.digest for c in index.children if not c.is_attestation]
    except TruedigestError:
        return []


def _cost(manifest: Manifest) -> int:
    if manifest.is_index:
        return 2 * len(_image_children(manifest))
    return 1 if has_image_config(manifest) else 0


def _created_of(client: RegistryClient, repo: ImageRef, manifest: Manifest) -> str | None:
    """The build time this image says (None: none, or not readable)."""
    try:
        if not manifest.is_index:
            return _image_created(client, repo, manifest)
        times = [
            _image_created(client, repo, client.get_manifest(repo, child), annotation=True)
            for child in _image_children(manifest)
        ]
    except TruedigestError:
        return None
    dated = [(moment, t) for t in times if t is not None and (moment := build_time(t))]
    if not dated or len(dated) < len(times):
        return None  # one platform without a date: the index's date is not known
    return max(dated)[1]


def _image_created(
    client: RegistryClient, repo: ImageRef, manifest: Manifest, *, annotation: bool = False
) -> str | None:
    if annotation and (value := manifest.annotations.get(CREATED)):
        return value
    if manifest.schema_version == 1:
        created = (manifest.legacy_config or {}).get("created")
    elif has_image_config(manifest):
        created = (client.get_config(repo, manifest) or {}).get("created")
    else:
        created = None
    return created if isinstance(created, str) and build_time(created) else None


__all__ = [
    "MAX_CREATED_REQUESTS",
    "date_groups",
    "list_matching",
    "resolve_tags",
    "scan_tags",
]
