"""Renderers for `tags` and `pins`: JSON documents, tables, and the tags progress bar.

Data goes to stdout, talk (summary lines, the progress bar) to stderr. rich is
imported only inside the functions that draw with it. `tags` on a terminal: one
heading per digest (short digest, media type, creation time, the moved-last mark)
with its tags wrapped under it; piped, tab-separated lines. `pins` draws like
`verify` (`termtable`: compact table, notes, verdict; piped, tab-separated lines).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from truedigest.model.observation import Relation, Status
from truedigest.oci.manifest import short_media_type
from truedigest.render.safetext import clean
from truedigest.render.termtable import (
    Column,
    Line,
    Note,
    Row,
    Screen,
    Tone,
    piped_line,
    show,
)

if TYPE_CHECKING:  # `tags` need not import the pins machinery, nor `pins` the tags one
    from rich.console import Console

    from truedigest.core.pin_audit import Disagreement, PinAudit, PinEntry
    from truedigest.core.taggroups import TagScan

# -- tags ----------------------------------------------------------------------

# Piped (stdout not a terminal), tab-separated, no header, newest group first:
#   group  DIGEST  MEDIA_TYPE  CREATED  CREATED_FROM  MOVED_LAST  TAGS
# DIGEST in full; CREATED the build time the registry says (`-`: unknown);
# CREATED_FROM `annotation` or `config` (`-`); MOVED_LAST `moved-last` on the one
# group whose tags moved last, else `-`; TAGS comma-separated (a tag holds no comma
# nor whitespace). Then one line per tag that could not be resolved:
#   error  TAG  ERROR
# ERROR, last, is free text. The summary line follows on stderr.
GROUP_FIELDS = ("DIGEST", "MEDIA_TYPE", "CREATED", "CREATED_FROM", "MOVED_LAST", "TAGS")
TAG_INDENT = "    "


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
                "created_from": g.created_from,
            }
            for g in scan.groups
        ],
        "errors": [{"tag": e.tag, "error": e.error} for e in scan.errors],
        "listed": scan.listed,
        "matched": scan.matched,
        "newest": str(newest.digest) if newest is not None else None,
        "moved_last": None
        if newest is None
        else {
            "digest": str(newest.digest),
            "tags": list(newest.tags),
            "created": newest.created,
            "created_from": newest.created_from,
        },
        "moved_last_unknown": scan.moved_last_unknown,
        "created_requests": scan.created_requests,
    }


def print_tags(scan: TagScan, console: Console | None = None) -> None:
    """Terminal: each group's short digest, media type and creation time, its tags
    wrapped under it; then the tags that could not be resolved. Piped: `tags_piped`."""
    if console is None and not sys.stdout.isatty():
        sys.stdout.write(tags_piped(scan))
        sys.stdout.flush()
        return
    from truedigest.render.forensics_view import emit

    emit(lambda width, plain: tags_lines(scan, width, plain=plain), console)


def tags_piped(scan: TagScan) -> str:
    newest = scan.newest
    lines = [
        piped_line(
            (
                "group",
                str(g.digest),
                g.media_type,
                g.created,
                g.created_from,
                "moved-last" if g is newest else None,
                ",".join(g.tags),
            )
        )
        for g in scan.groups
    ]
    lines += [piped_line(("error", e.tag), e.error) for e in scan.errors]
    return "".join(line + "\n" for line in lines)


def tags_lines(scan: TagScan, width: int, *, plain: bool) -> list[Line]:
    """The terminal layout at `width` columns: no line wider, no digest or tag split
    (a tag longer than a line is cut with `…`: the whole name is piped and in JSON)."""
    from truedigest.render.forensics_view import wrapped

    def styled(style: str) -> str:
        return "" if plain else style

    newest = scan.newest
    n_tags = sum(len(g.tags) for g in scan.groups)
    title = (
        f"truedigest tags: {clean(scan.repository.name)} ({n_tags} tags, "
        f"{len(scan.groups)} digests)"
    )
    out: list[Line] = [[(t, styled("bold"))] for t in wrapped(title, width)]
    number_width = len(str(len(scan.groups)))
    for i, g in enumerate(scan.groups, 1):
        kind = short_media_type(g.media_type) or g.media_type or "no media type"
        when = f"{g.created} ({g.created_from})" if g.created else "created unknown"
        moved = "  moved last" if g is newest else ""
        head = f"{i:>{number_width}}  {g.digest.short}  {clean(kind)}  {clean(when)}{moved}"
        indent = " " * (number_width + 2)
        for j, text in enumerate(wrapped(head, width, indent=indent)):
            style = "bold green" if g is newest else ("bold" if j == 0 else "")
            out.append([(text, styled(style))])
        tags = " ".join(clean(t) for t in g.tags)
        out.extend(
            [(text, "")] for text in wrapped(tags, width, first=TAG_INDENT, indent=TAG_INDENT)
        )
    if not scan.groups:
        out.append([("(no tag resolved)", "")])
    if scan.errors:
        out.append([])
        out.append([(f"tags that could not be resolved ({len(scan.errors)})", styled("bold red"))])
        for e in scan.errors:
            text = f"{clean(e.tag)}: {clean(e.error)}"
            out.extend(
                [(t, styled("red"))]
                for t in wrapped(text, width, first=TAG_INDENT, indent=TAG_INDENT * 2)
            )
    return out


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
        text += (
            f"; moved last: {_named(newest.tags)} (created {newest.created}, "
            f"from the {newest.created_from})"
        )
    elif scan.groups:
        text += f"; moved last: unknown ({scan.moved_last_unknown})"
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

# Piped (stdout not a terminal), one tab-separated line per pin, no header:
#   SOURCE  TEMPLATE  REGION  DIGEST  STATUS  RELATION  DETAIL
# SOURCE is `cp:<NAME>` or `file:<path>:<line>`; DIGEST the image_digest as written;
# `-` for an empty field; no whitespace in the first six (a space is `%20`); DETAIL,
# last, is free text. Then one line per CP disagreement:
#   disagreement  TEMPLATE  REGION  -  mismatch  -  <cp>=<digest> <cp>=<digest> …
# The verdict line follows on stderr.
PIN_COLUMNS = ("SOURCE", "TEMPLATE", "REGION", "DIGEST", "STATUS", "RELATION", "DETAIL")


def pins_document(audit: PinAudit) -> dict[str, Any]:
    return audit.to_json()


def print_pins(audit: PinAudit, console: Console | None = None) -> bool:
    """Terminal: compact table, numbered notes, the verdict line last (returns True).
    Piped: the lines above (returns False: the caller says the verdict on stderr)."""
    return show(lambda: pins_screen(audit), lambda: pins_piped(audit), console)


def pins_piped(audit: PinAudit) -> str:
    lines = [
        piped_line(
            (
                p.source,
                p.template_name,
                p.region,
                p.image_digest,
                str(p.status),
                str(p.relation) if p.relation else None,
            ),
            p.detail or "-",
        )
        for p in audit.pins
    ]
    lines += [
        piped_line(
            ("disagreement", d.template_name, d.region, None, str(Status.MISMATCH), None),
            " ".join(f"{cp}={digest}" for cp, digest in sorted(d.digests.items())),
        )
        for d in audit.disagreements
    ]
    return "".join(line + "\n" for line in lines)


def pins_screen(audit: PinAudit) -> Screen:
    from truedigest.core.pin_audit import verdict_line
    from truedigest.render.verify_report import verdict_tone

    rows = tuple(
        Row(
            (
                p.source,
                p.template_name or "-",
                p.region or "-",
                _short(p.image_digest),
                str(p.status),
                str(p.relation) if p.relation else "-",
            ),
            _pin_tone(p),
        )
        for p in audit.pins
    )
    notes = [Note(p.source, _pin_note(p), _pin_tone(p)) for p in audit.pins if _has_note(p)]
    notes += [
        Note(
            p.source,
            f"{_which_row(p)}git_sha {p.git_sha}, but the image records {p.revision}",
            Tone.UNCHECKED,
        )
        for p in audit.pins
        if _other_commit(p)
    ]
    notes += [
        Note(
            "CPs disagree",
            f"template {d.template_name} in {d.region}: "
            + ", ".join(f"{cp} pins {digest}" for cp, digest in sorted(d.digests.items())),
            Tone.WRONG,
        )
        for d in audit.disagreements
        if not _said(audit, d)
    ]
    return Screen(
        title=f"truedigest pins (against :{audit.track})",
        columns=(
            Column("SOURCE", squeeze=True, min_width=10),
            Column("TEMPLATE", squeeze=True, min_width=8),
            Column("REGION", squeeze=True, min_width=6),
            Column("DIGEST"),
            Column("STATUS"),
            Column("RELATION"),
        ),
        rows=rows,
        notes=tuple(notes),
        closing=verdict_line(audit),
        closing_tone=verdict_tone(audit.verdict),
        empty="(no pins)",
    )


def _said(audit: PinAudit, d: Disagreement) -> bool:
    """The disagreement is already in the notes of its rows (the judge says it)."""
    return any(
        "CPs disagree" in (p.detail or "")
        for p in audit.pins
        if (p.template_name, p.region) == (d.template_name, d.region)
    )


def _short(digest: str | None) -> str:
    """`sha256:` + 12 hex for a well-formed digest; a malformed one as written, cut."""
    if not digest:
        return "-"
    algorithm, _, hex_part = digest.partition(":")
    if hex_part and len(hex_part) >= 12:
        return f"{algorithm}:{hex_part[:12]}"
    return digest[:19]


def _which_row(p: PinEntry) -> str:
    """`template T in R: `, so a note names its row (a CP has many)."""
    return f"template {p.template_name} in {p.region}: " if p.template_name else ""


def _other_commit(p: PinEntry) -> bool:
    """The row's git_sha and the pinned image's revision name different commits
    (prefix match at the shorter length, at least 7)."""
    if not p.git_sha or not p.revision:
        return False
    a, b = p.git_sha.lower(), p.revision.lower()
    n = min(len(a), len(b))
    return n < 7 or a[:n] != b[:n]


def _has_note(p: PinEntry) -> bool:
    return p.status is not Status.OK or p.relation is not Relation.IDENTICAL


def _pin_note(p: PinEntry) -> str:
    row = f"template {p.template_name} in {p.region} " if p.template_name else ""
    said = f"({p.relation or p.status})"
    if p.image_digest and p.image_digest not in (p.detail or ""):
        said = f"pins {p.image_digest} {said}"
    head = f"{row}{said}"
    return f"{head}: {p.detail}" if p.detail else head


def _pin_tone(p: PinEntry) -> Tone:
    if p.status is Status.OK:
        return Tone.OK if p.relation is Relation.IDENTICAL else Tone.UNCHECKED
    if p.status is Status.ERROR:
        return Tone.UNCHECKED
    return Tone.WRONG


__all__ = [
    "pins_document",
    "pins_piped",
    "pins_screen",
    "print_pins",
    "print_tags",
    "progress_wanted",
    "tag_progress",
    "tags_document",
    "tags_lines",
    "tags_piped",
    "tags_summary",
]
