"""`tags`: tags grouped by the digest they resolve to, and which group moved last.

Pure. The listing and the manifest GETs happen in `truedigest.engine.tags_run`;
each resolved tag arrives here as a `TagPoint` (a `Resolved` from the registry
client is one). A group's creation time is what the registry says: the manifest's
(or index's) `org.opencontainers.image.created` annotation, else the `created` of
its config (read by the engine, see `tags_run.date_groups`). The group created
last is the one whose tags moved last, and only when that is certain: every group
dated, one newest; else "unknown" with the reason, never a guess. A time before
2000 is not a build time (reproducible builds write 1970-01-01): not a date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from truedigest.errors import ExitCode, RegistryError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import CREATED, Manifest
from truedigest.oci.reference import ImageRef

# The distribution tag grammar, whole-string (a `$` would let "v1\n" through).
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
# Tags other tools derive from a digest: the OCI referrers tag schema (`sha256-<hex>`)
# and cosign's `.sig`/`.att`/`.sbom`. They name artifacts about an image, not builds.
_DERIVED = re.compile(r"(sha256|sha384|sha512)-([0-9a-f]{64,128})(?:\.(sig|att|sbom))?", re.ASCII)


def derived_from(tag: str) -> tuple[Digest, str] | None:
    """The digest a tag was derived from, and its suffix (`""` for a referrers index,
    else `sig`, `att` or `sbom`); None for any other tag."""
    m = _DERIVED.fullmatch(tag)
    if m is None:
        return None
    try:
        return Digest.parse(f"{m[1]}:{m[2]}"), m[3] or ""
    except TruedigestError:
        return None


def is_derived_tag(tag: str) -> bool:
    """A tag a signing or referrers tool derived from a digest (not a build's tag)."""
    return derived_from(tag) is not None


def is_build(group: TagGroup) -> bool:
    """A group some build's tag points at: not only digest-derived tags (a cosign
    signature has no build time and never "moved last")."""
    return not all(is_derived_tag(t) for t in group.tags)


class TagPoint(Protocol):
    """A tag resolved from the registry: the reference, its digest and the manifest."""

    @property
    def ref(self) -> ImageRef: ...
    @property
    def digest(self) -> Digest: ...
    @property
    def media_type(self) -> str: ...
    @property
    def manifest(self) -> Manifest | None: ...


@dataclass(frozen=True, slots=True)
class TagGroup:
    """Tags that point at one digest."""

    digest: Digest
    media_type: str
    tags: tuple[str, ...]
    created: str | None = None
    created_from: str | None = None
    """Where `created` was read: `annotation` or `config` (None: unknown)."""


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
    resolved: tuple[TagPoint, ...] = ()  # per tag, with the manifest bytes (for whatis)
    created_requests: int = 0  # config (and child manifest) GETs made to date groups
    dating_skipped: str | None = None  # why undated groups were not read from configs

    @property
    def matched(self) -> int:
        return sum(len(g.tags) for g in self.groups) + len(self.errors)

    @property
    def newest(self) -> TagGroup | None:
        """The group created last: its tags moved last (None when not certain)."""
        return moved_last(self.groups)

    @property
    def moved_last_unknown(self) -> str | None:
        """Why no group is named as moved last (None when one is)."""
        reason = unknown_reason(self.groups) if self.groups else None
        if reason is not None and self.dating_skipped is not None:
            reason += f"; {self.dating_skipped}"
        return reason

    @property
    def exit_code(self) -> int:
        return int(ExitCode.UNAVAILABLE if self.errors else ExitCode.OK)


def is_valid_tag(name: str) -> bool:
    """A name the distribution tag grammar allows (a listing may hold anything)."""
    return _TAG.fullmatch(name) is not None


def invalid_tag_error(tag: str) -> TagError:
    return TagError(
        tag,
        "the registry listed a name that is not a valid tag; not resolved",
        int(ExitCode.UNAVAILABLE),
    )


def tag_scan(
    repo: ImageRef,
    results: Sequence[TagPoint | TagError],
    *,
    listed: int,
) -> TagScan:
    """One answer per tag, in any order: the groups, and the errors sorted by tag."""
    resolved = [r for r in results if not isinstance(r, TagError)]
    errors = sorted((r for r in results if isinstance(r, TagError)), key=lambda e: e.tag)
    return TagScan(
        repository=repo,
        groups=group_by_digest(resolved),
        errors=tuple(errors),
        listed=listed,
        resolved=tuple(resolved),
    )


def group_by_digest(resolved: Sequence[TagPoint]) -> tuple[TagGroup, ...]:
    """Groups with sorted tags; newest `created` first, undated after, then by first tag."""
    by_digest: dict[Digest, list[TagPoint]] = {}
    for r in resolved:
        by_digest.setdefault(r.digest, []).append(r)
    groups = []
    for digest, items in by_digest.items():
        first = items[0]
        created = _created(first)
        groups.append(
            TagGroup(
                digest=digest,
                media_type=first.media_type,
                tags=tuple(sorted(str(r.ref.tag) for r in items)),
                created=created,
                created_from="annotation" if created is not None else None,
            )
        )
    return sort_groups(groups)


def sort_groups(groups: Sequence[TagGroup]) -> tuple[TagGroup, ...]:
    """Newest build time first, undated after, ties by first tag."""
    ordered = sorted(groups, key=lambda g: g.tags[0])
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered.sort(key=lambda g: build_time(g.created) or epoch, reverse=True)
    return tuple(ordered)


def with_created(groups: Sequence[TagGroup], found: dict[Digest, str]) -> tuple[TagGroup, ...]:
    """`groups` with the config `created` the engine read for undated ones, re-sorted."""
    return sort_groups(
        [
            replace(g, created=found[g.digest], created_from="config")
            if g.created is None and g.digest in found
            else g
            for g in groups
        ]
    )


def undated(groups: Sequence[TagGroup]) -> list[TagGroup]:
    """Build groups whose manifest carries no `created` annotation (their config may)."""
    return [g for g in groups if g.created is None and is_build(g)]


def moved_last(groups: Sequence[TagGroup]) -> TagGroup | None:
    """The group created last, only when certain: every group has a build time and
    one is newer than every other; else None (see `unknown_reason`)."""
    return None if unknown_reason(groups) else _newest(groups)


def _newest(groups: Sequence[TagGroup]) -> TagGroup | None:
    dated = [(t, g) for g in groups if (t := build_time(g.created)) is not None and is_build(g)]
    return max(dated, key=lambda pair: pair[0])[1] if dated else None


def unknown_reason(groups: Sequence[TagGroup]) -> str | None:
    """Why the group that moved last cannot be named (None when it can). Groups of
    digest-derived tags only (cosign signatures, referrers indexes) are not builds."""
    if not groups:
        return "no tag was resolved"
    groups = [g for g in groups if is_build(g)]
    if not groups:
        return "only digest-derived tags (signatures, referrers indexes) were resolved"
    missing = [g for g in groups if build_time(g.created) is None]
    if missing:
        n = len(missing)
        what = f"{n} of {len(groups)} images carry" if len(groups) > 1 else "the image carries"
        return f"{what} no creation time (no created annotation, no config created)"
    newest = _newest(groups)
    if newest is None:  # not reached: every group is dated
        return "no image carries a creation time"
    top = build_time(newest.created)
    ties = [g for g in groups if build_time(g.created) == top]
    if len(ties) > 1:
        return f"{len(ties)} images share the newest creation time {newest.created}"
    return None


def _created(resolved: TagPoint) -> str | None:
    """`org.opencontainers.image.created` from the manifest (or index) annotations."""
    if resolved.manifest is None:
        return None
    try:
        value = resolved.manifest.annotations.get(CREATED)
    except RegistryError:
        return None
    return value or None


EARLIEST_BUILD = datetime(2000, 1, 1, tzinfo=UTC)


def build_time(text: str | None) -> datetime | None:
    """`parse_created`, but a time before 2000 (a reproducible build's 1970-01-01, Go's
    zero time) is not a build time: None."""
    moment = parse_created(text)
    return moment if moment is not None and moment >= EARLIEST_BUILD else None


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
    "EARLIEST_BUILD",
    "TagError",
    "TagGroup",
    "TagPoint",
    "TagScan",
    "build_time",
    "group_by_digest",
    "invalid_tag_error",
    "is_valid_tag",
    "moved_last",
    "parse_created",
    "sort_groups",
    "tag_scan",
    "undated",
    "unknown_reason",
    "with_created",
]
