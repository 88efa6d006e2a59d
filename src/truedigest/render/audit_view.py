"""Renderers for `tags` and `pins`: JSON documents, tables, and the tags progress bar.

Data goes to stdout, talk (summary lines, the progress bar) to stderr. rich is
imported only inside the functions that draw with it; when stdout is not a
terminal the tables are plain aligned text (`output.print_table`), stable for pipes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from truedigest.model.observation import Relation, Status
from truedigest.oci.manifest import short_media_type
from truedigest.render.verify_report import print_table

if TYPE_CHECKING:  # `tags` need not import the pins machinery, nor `pins` the tags one
    from truedigest.core.pin_audit import PinAudit, PinEntry
    from truedigest.core.taggroups import TagScan

# -- tags ----------------------------------------------------------------------

TAG_COLUMNS = ("GROUP", "DIGEST", "MEDIA TYPE", "CREATED", "TAGS")
ERROR_COLUMNS = ("TAG", "ERROR")


def tags_document(scan: TagScan) -> dict[str, Any]:
    newest = scan.newest
    return {
        "schema": "truedigest.tags/v1",
        "repository": scan.repository.name,
        "groups": [
            {
                "digest": str(g.digest),
                "media_type": g.media_type,
                "tags": list(g.tags),
                "created": g.created,
            }
            for g in scan.groups
        ],
        "errors": [{"tag": e.tag, "error": e.error} for e in scan.errors],
        "listed": scan.listed,
        "matched": scan.matched,
        "newest": str(newest.digest) if newest is not None else None,
    }


def print_tags(scan: TagScan) -> None:
    """One row per digest (newest first when dated), then a table of failed tags."""
    newest = scan.newest
    rows: list[tuple[str, ...]] = [
        (
            f"{i}{'*' if newest is not None and g is newest else ''}",
            str(g.digest),
            short_media_type(g.media_type) or g.media_type or "-",
            g.created or "-",
            ", ".join(g.tags),
        )
        for i, g in enumerate(scan.groups, 1)
    ]
    if rows or not scan.errors:
        print_table(f"truedigest tags: {scan.repository.name}", TAG_COLUMNS, rows)
    if scan.errors:
        if rows:
            sys.stdout.write("\n")
        print_table(
            "tags that could not be resolved",
            ERROR_COLUMNS,
            [(e.tag, e.error) for e in scan.errors],
            styles=["red"] * len(scan.errors),
        )
    sys.stdout.flush()


SUMMARY_TAGS = 10  # tag names the stderr summary names before it counts the rest


def _named(tags: tuple[str, ...]) -> str:
    shown = ", ".join(tags[:SUMMARY_TAGS])
    if len(tags) > SUMMARY_TAGS:
        shown += f" and {len(tags) - SUMMARY_TAGS} more"
    return shown


def tags_summary(scan: TagScan) -> str:
    """One bounded line: counts, and at most SUMMARY_TAGS tag names."""
    n_tags = sum(len(g.tags) for g in scan.groups)
    narrowed = f" ({scan.matched} of {scan.listed} matched)" if scan.matched != scan.listed else ""
    text = f"{n_tags} tags{narrowed} point at {len(scan.groups)} digests"
    if scan.errors:
        text += f"; {len(scan.errors)} tags could not be resolved (exit {scan.exit_code})"
    newest = scan.newest
    if newest is not None:
        text += f"; moved last (newest created, marked *): {_named(newest.tags)}"
    return text


@contextmanager
def tag_progress(total: int, *, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr while tags resolve; a no-op callback when disabled.

    Enable it only when stderr is a terminal and the output is not JSON: piped
    output and JSON documents never carry it. The callback is thread-safe.
    """
    if not enabled or total <= 1:
        yield _ignore
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("resolving tags"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("tags", total=total)

        def advance(_tag: str) -> None:
            progress.advance(task)

        yield advance


def _ignore(_tag: str) -> None:
    return None


def progress_wanted(output: str) -> bool:
    return output != "json" and sys.stderr.isatty()


# -- pins ----------------------------------------------------------------------

PIN_COLUMNS = ("SOURCE", "TEMPLATE", "REGION", "DIGEST", "STATUS", "RELATION", "DETAIL")
DISAGREE_COLUMNS = ("TEMPLATE", "REGION", "CP", "DIGEST")


def pins_document(audit: PinAudit) -> dict[str, Any]:
    return audit.to_json()


def print_pins(audit: PinAudit) -> None:
    short = sys.stdout.isatty() and _terminal_width() < 200
    rows = [_pin_cells(p, short=short) for p in audit.pins]
    styles = [_pin_style(p) for p in audit.pins]
    print_table(f"truedigest pins: {audit.verdict}", PIN_COLUMNS, rows, styles=styles)
    if audit.disagreements:
        sys.stdout.write("\n")
        drows: list[tuple[str, ...]] = [
            (d.template_name, d.region, cp, digest)
            for d in audit.disagreements
            for cp, digest in sorted(d.digests.items())
        ]
        print_table("CPs that disagree", DISAGREE_COLUMNS, drows, styles=["red"] * len(drows))
    sys.stdout.flush()


def _pin_cells(p: PinEntry, *, short: bool) -> tuple[str, ...]:
    digest = p.image_digest or "-"
    if short and digest.startswith("sha256:") and len(digest) == 71:
        digest = digest[:19]
    return (
        p.source,
        p.template_name or "-",
        p.region or "-",
        digest,
        str(p.status),
        str(p.relation) if p.relation else "-",
        p.detail or "",
    )


def _pin_style(p: PinEntry) -> str:
    if p.status is Status.OK:
        return "green" if p.relation is Relation.IDENTICAL else "yellow"
    if p.status is Status.ERROR:
        return "yellow"
    return "red"


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


__all__ = [
    "pins_document",
    "print_pins",
    "print_tags",
    "progress_wanted",
    "tag_progress",
    "tags_document",
    "tags_summary",
]
