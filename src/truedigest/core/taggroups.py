"""`tags`: tags grouped by the digest they resolve to, and which group moved last.

Pure. The listing and the manifest GETs happen in `truedigest.engine.tags_run`;
each resolved tag arrives here as a `TagPoint` (a `Resolved` from the registry
client is one). When manifests carry `org.opencontainers.image.created`, the
newest group is the one whose tags moved last; no config blob is read for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from truedigest.errors import ExitCode, RegistryError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import CREATED, Manifest
from truedigest.oci.reference import ImageRef

# The distribution tag grammar, whole-string (a `$` would let "v1\n" through).
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)


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

    @property
    def matched(self) -> int:
        return sum(len(g.tags) for g in self.groups) + len(self.errors)

    @property
    def newest(self) -> TagGroup | None:
        """The group created last (by manifest annotation): its tags moved last."""
        return moved_last(self.groups)

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


def moved_last(groups: Sequence[TagGroup]) -> TagGroup | None:
    """The group created last (by manifest annotation), or None when none is dated."""
    dated = [(t, g) for g in groups if (t := parse_created(g.created)) is not None]
    if not dated:
        return None
    return max(dated, key=lambda pair: pair[0])[1]


def _created(resolved: TagPoint) -> str | None:
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
    "TagPoint",
    "TagScan",
    "group_by_digest",
    "invalid_tag_error",
    "is_valid_tag",
    "moved_last",
    "parse_created",
    "tag_scan",
]
