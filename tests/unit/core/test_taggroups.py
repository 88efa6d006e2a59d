"""Tags grouped by digest, which group moved last, and the tag grammar: no registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from tests.support.images import build_image
from tests.support.memory_registry import REPO, as_manifest, repo
from truedigest.core.taggroups import (
    TagError,
    build_time,
    group_by_digest,
    invalid_tag_error,
    is_derived_tag,
    is_valid_tag,
    moved_last,
    parse_created,
    tag_scan,
    undated,
    unknown_reason,
    with_created,
)
from truedigest.errors import ExitCode
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest
from truedigest.oci.reference import ImageRef

CREATED = "org.opencontainers.image.created"


@dataclass(frozen=True, slots=True)
class Point:
    """A resolved tag, as the registry client's `Resolved` carries one."""

    ref: ImageRef
    digest: Digest
    media_type: str
    manifest: Manifest | None


def _point(tag: str, created: str | None, salt: str) -> Point:
    annotations = {CREATED: created} if created is not None else None
    manifest = as_manifest(build_image(REPO, salt=salt, annotations=annotations))
    return Point(repo().with_tag(tag), manifest.digest, manifest.media_type, manifest)


def test_groups_newest_first_then_undated_by_first_tag() -> None:
    old = _point("v1", "2024-01-01T00:00:00Z", "old")
    new = _point("v2", "2025-06-01T00:00:00+02:00", "new")
    new_alias = Point(repo().with_tag("latest"), new.digest, new.media_type, new.manifest)
    undated_b = _point("b", None, "b")
    undated_a = _point("a", None, "a")

    groups = group_by_digest([undated_b, old, new, undated_a, new_alias])

    assert [g.tags for g in groups] == [("latest", "v2"), ("v1",), ("a",), ("b",)]
    assert groups[0].created == "2025-06-01T00:00:00+02:00"
    assert groups[2].created is None
    # undated images might be newer: moved last is unknown, never the newest dated one
    assert moved_last(groups) is None
    assert unknown_reason(groups) == (
        "2 of 4 images carry no creation time (no created annotation, no config created)"
    )
    assert moved_last(groups[:2]) is groups[0]
    assert unknown_reason(groups[:2]) is None
    assert moved_last(groups[2:]) is None


def test_moved_last_is_never_a_guess() -> None:
    a = _point("a", "2024-01-01T00:00:00Z", "a")
    b = _point("b", "2024-01-01T00:00:00Z", "b")
    epoch = _point("c", "1970-01-01T00:00:00Z", "c")  # a reproducible build's time
    older = _point("d", "2023-01-01T00:00:00Z", "d")

    tie = group_by_digest([a, b, older])
    reproducible = group_by_digest([older, epoch])
    dated_by_config = with_created(reproducible, {epoch.digest: "2025-01-01T00:00:00Z"})

    assert moved_last(tie) is None
    assert unknown_reason(tie) == "2 images share the newest creation time 2024-01-01T00:00:00Z"
    assert moved_last(reproducible) is None
    assert [g.created_from for g in reproducible] == ["annotation", "annotation"]
    assert build_time("1970-01-01T00:00:00Z") is None
    assert undated(reproducible) == []  # annotated (with a non-date): no config is read
    assert moved_last(dated_by_config) is None  # an annotation wins over the config
    undated_group = group_by_digest([_point("e", None, "e"), older])
    dated = with_created(undated_group, {undated_group[1].digest: "2025-01-01T00:00:00Z"})
    assert [(g.tags, g.created_from) for g in dated] == [(("e",), "config"), (("d",), "annotation")]
    assert moved_last(dated) is dated[0]


def test_digest_derived_tags_are_not_builds() -> None:
    """A cosign signature (`sha256-<hex>.sig`) or a referrers index (`sha256-<hex>`)
    carries no build time: it neither blocks nor wins "moved last", and its config is
    not read to date it."""
    build = _point("v1", "2024-01-01T00:00:00Z", "build")
    schema_tag = build.digest.encoded_tag  # sha256-<hex>
    hexpart = schema_tag.removeprefix("sha256-")
    sig = _point(f"{schema_tag}.sig", None, "sig")
    listing = _point(schema_tag, None, "listing")
    later = _point(f"{schema_tag}.att", "2026-01-01T00:00:00Z", "att")

    groups = group_by_digest([build, sig, listing, later])

    assert is_derived_tag(f"sha256-{hexpart}.sig")
    assert not is_derived_tag("sha256-abc.sig")  # not a digest's hex
    assert not is_derived_tag("v1.sig")
    assert moved_last(groups) is not None
    assert moved_last(groups).tags == ("v1",)  # type: ignore[union-attr]
    assert undated(groups) == []
    derived = [g for g in groups if g.tags != ("v1",)]
    assert len(derived) == 3
    assert unknown_reason(derived) == (
        "only digest-derived tags (signatures, referrers indexes) were resolved"
    )


def test_a_scan_sorts_errors_and_counts_what_matched() -> None:
    ok = _point("v1", None, "ok")
    results: list[Point | TagError] = [TagError("z", "boom"), ok, invalid_tag_error("bad\nname")]

    scan = tag_scan(repo(), results, listed=10)

    assert [e.tag for e in scan.errors] == ["bad\nname", "z"]
    assert scan.matched == 3
    assert scan.listed == 10
    assert scan.resolved == (ok,)
    assert scan.exit_code == ExitCode.UNAVAILABLE
    assert tag_scan(repo(), [ok], listed=1).exit_code == ExitCode.OK


def test_created_parsing_takes_naive_times_as_utc_and_ignores_garbage() -> None:
    assert parse_created("2024-05-06T07:08:09Z") == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parse_created(" 2024-05-06T07:08:09 ") == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    east = timezone(timedelta(hours=2))
    assert parse_created("2024-05-06T07:08:09+02:00") == datetime(2024, 5, 6, 7, 8, 9, tzinfo=east)
    for text in (None, "", "yesterday", "2024-13-01"):
        assert parse_created(text) is None


def test_the_tag_grammar_is_whole_string() -> None:
    for good in ("v1", "1.2.3-rc_1", "_x", "a" * 128):
        assert is_valid_tag(good), good
    for bad in ("v1\n", "-v1", ".v1", "a" * 129, "v1/x", "vé", ""):
        assert not is_valid_tag(bad), bad
