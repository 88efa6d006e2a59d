"""Renderers: JSON documents, tables, markdown, workflow annotations.

Every value from outside goes through `safetext` here (cells, labels, markdown,
annotation payloads, JSON) and every byte then through the guarded streams of
`safeio`. rich is imported only inside the functions that draw with it.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, assert_never

from truedigest.model.observation import (
    PROBLEM_STATUSES,
    Observation,
    Relation,
    Report,
    SourceKind,
    Status,
    Verdict,
)
from truedigest.render.safetext import clean, json_text, neutralise
from truedigest.render.termtable import Column, Note, Row, Screen, Tone, piped_line, show

if TYPE_CHECKING:
    from rich.console import Console

    from truedigest.oci.registry import Resolved


def print_json(document: dict[str, Any]) -> None:
    """Strict JSON (`safetext.json_text`): NaN is an error, secrets are masked."""
    sys.stdout.write(json_text(document) + "\n")
    sys.stdout.flush()


def resolve_document(resolved: Resolved) -> dict[str, Any]:
    ref = resolved.ref
    return {
        "schema": "truedigest.resolve/v1",
        "reference": str(ref),
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "digest": str(resolved.digest),
        "media_type": resolved.media_type,
        "schema_version": resolved.schema_version,
        "size": resolved.size,
        "header_digest": str(resolved.header_digest) if resolved.header_digest else None,
        "platform": str(resolved.platform) if resolved.platform else None,
        "index_digest": str(resolved.index_digest) if resolved.index_digest else None,
    }


# -- verify ----------------------------------------------------------------------

# Piped (stdout not a terminal), one line per source, tab-separated, stable for scripts:
#   SOURCE  DIGEST  STATUS  RELATION  WHERE  DETAIL
# SOURCE is the JSON `id` (registry:<ref>, cp:<NAME>, build:<kind>, file:<path>); DIGEST
# the full digest; RELATION `-` when none; WHERE the reference, CP URL, file:line or
# build file. None of these five holds whitespace (a space inside a value is `%20`), so
# `awk '{print $2}'` and `cut -f2` both give the digest; DETAIL, last, is free text. No
# header line; the verdict line follows on stderr.
PIPED_COLUMNS = ("SOURCE", "DIGEST", "STATUS", "RELATION", "WHERE", "DETAIL")
COLUMNS = ("SOURCE", "DIGEST", "STATUS", "RELATION", "WHERE")  # terminal and markdown
_MARK = {"agree": "✅", "mismatch": "❌", "absent": "❌", "unavailable": "⚠️"}


def verdict_line(report: Report) -> str:
    n = len(report.sources)
    # A row can name the right digest and still be wrong (image_ref, git_sha): count it.
    bad = [
        o for o in report.sources if o.relation is not Relation.IDENTICAL or o.status != Status.OK
    ]
    truth = str(report.truth) if report.truth else "unknown"
    rounds = f" after {report.rounds} rounds" if report.rounds > 1 else ""
    match report.verdict:
        case Verdict.AGREE:
            text = f"all {n} sources agree on {truth}{rounds}"
        case Verdict.MISMATCH if report.truth is None:
            wrong = [o for o in report.sources if o.status in PROBLEM_STATUSES]
            text = (
                f"{len(wrong)} of {n} sources are wrong or disagree with each other; the "
                f"registry could not be read, so which digest is real is unknown{rounds}"
            )
        case Verdict.MISMATCH:
            text = f"{len(bad)} of {n} sources disagree with the registry ({truth}){rounds}"
        case Verdict.ABSENT:
            absent = [
                o.where
                for o in report.sources
                if o.kind is SourceKind.REGISTRY and o.status is Status.ABSENT
            ]
            text = f"the registry does not serve {', '.join(absent) or 'the image'}{rounds}"
        case Verdict.UNAVAILABLE:
            unread = [o for o in report.sources if o.status is Status.ERROR]
            if not unread:  # fail closed on something not compared
                text = f"{len(bad)} of {n} sources could not be checked{rounds}"
            elif report.truth is None:
                text = (
                    f"{len(unread)} of {n} sources could not be read, the registry among "
                    f"them, so nothing could be compared{rounds}"
                )
            else:
                text = f"{len(unread)} of {n} sources could not be read{rounds}"
        case _:
            assert_never(report.verdict)
    return f"verdict: {report.verdict} (exit {report.exit_code}): {text}"


def source_hints(report: Report) -> list[str]:
    """What to try, once each, for the sources that could not be read or are absent."""
    hints: list[str] = []
    for obs in report.sources:
        hint = obs.extra.get("hint")
        failed = obs.status in (Status.ERROR, Status.ABSENT)
        if failed and isinstance(hint, str) and hint not in hints:
            hints.append(hint)
    return hints


def printable(text: str) -> str:
    """Server-supplied text made safe to print (`safetext.clean`): secrets masked,
    controls escaped, so a CP field cannot start a line, a `::` workflow command, or
    repaint the terminal."""
    return clean(text)


def render_plain_table(rows: list[tuple[str, ...]], headers: tuple[str, ...] = COLUMNS) -> str:
    """Stable, greppable text for pipes and logs: aligned columns, last one free."""
    rows = [tuple(printable(c) for c in row) for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = []
    for row in [headers, *rows]:
        cells = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def print_table(
    title: str,
    headers: tuple[str, ...],
    rows: list[tuple[str, ...]],
    *,
    styles: list[str] | None = None,
) -> None:
    """A rich table on a terminal; plain aligned text when piped."""
    if not sys.stdout.isatty():
        sys.stdout.write(render_plain_table(rows, headers))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(printable(title)), title_justify="left", expand=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for i, row in enumerate(rows):  # Text: a "[/]" in a CP field is data, not rich markup
        table.add_row(*(Text(printable(c)) for c in row), style=styles[i] if styles else None)
    Console().print(table)


_FULL_DIGEST = re.compile(r"\b(sha256:[0-9a-f]{12})[0-9a-f]{52}\b")


def shorten_digests(text: str) -> str:
    """`sha256:` + 12 hex + `…` wherever a full sha256 digest appears."""
    return _FULL_DIGEST.sub(r"\1…", text)


def _where(obs: Observation) -> str:
    """Where a source lives, in one token: a CP's URL (its name is in the id)."""
    url = obs.extra.get("url")
    if obs.kind is SourceKind.CP and isinstance(url, str) and url:
        return url
    return obs.where


def _where_said(obs: Observation, image: object) -> str:
    """`_where` without what the row already says: a tag of the report's image (its
    registry row, its attestation rows) as `:tag`, a pin file's location as `line N`
    (the path is in the id)."""
    where = _where(obs)
    repository = image.rpartition(":")[0] if isinstance(image, str) and "@" not in image else ""
    by_image = obs.kind in (SourceKind.REGISTRY, SourceKind.ATTESTATION)
    if by_image and repository and where.startswith(repository + ":"):
        return where.removeprefix(repository)
    path = obs.id.removeprefix("file:")
    if obs.kind is SourceKind.FILE and where.startswith(path + ":"):
        return "line " + where.removeprefix(path + ":")
    return where


def _where_cell(obs: Observation, image: object) -> str:
    """`_where_said` for a narrow cell: digests shortened, `https://` left out."""
    return shorten_digests(_where_said(obs, image).removeprefix("https://"))


def _has_note(obs: Observation) -> bool:
    """A source that disagrees or was not read, or one that agrees with something to say
    (the commit the image was built from, a commit that could not be verified)."""
    return obs.relation is not Relation.IDENTICAL or obs.status is not Status.OK or bool(obs.detail)


def _tone(obs: Observation) -> Tone:
    if obs.relation is Relation.IDENTICAL and obs.status is Status.OK:
        return Tone.OK
    if obs.status is Status.ERROR or (obs.relation is None and obs.status is Status.OK):
        return Tone.UNCHECKED
    return Tone.WRONG


def verdict_tone(verdict: Verdict) -> Tone:
    match verdict:
        case Verdict.AGREE:
            return Tone.OK
        case Verdict.MISMATCH | Verdict.ABSENT:
            return Tone.WRONG
        case Verdict.UNAVAILABLE:
            return Tone.UNCHECKED
        case _:
            assert_never(verdict)


def _note_text(obs: Observation, image: object = None) -> str:
    """The explanation of one source that disagrees or was not read: where it is,
    the full digest it names and its relation, then the core's sentence."""
    said = _where_said(obs, image)
    where = "" if obs.id.endswith(said) else f"{said} "
    said = f"({obs.relation or obs.status})"
    if obs.digest is not None and str(obs.digest) not in (obs.detail or ""):
        said = f"names {obs.digest} {said}"
    head = f"{where}{said}"
    return f"{head}: {obs.detail}" if obs.detail else head


def verify_screen(report: Report) -> Screen:
    """The terminal report: compact table, numbered notes, the verdict line last."""
    image = report.context.get("image")
    rows = tuple(
        Row(
            (
                "registry" if obs.kind is SourceKind.REGISTRY else obs.id,
                obs.digest.short if obs.digest is not None else "-",
                str(obs.status),
                str(obs.relation) if obs.relation else "-",
                _where_cell(obs, image),
            ),
            _tone(obs),
        )
        for obs in report.sources
    )
    notes = tuple(
        Note(obs.id, _note_text(obs, image), _tone(obs)) for obs in report.sources if _has_note(obs)
    )
    return Screen(
        title=f"truedigest verify {image}" if isinstance(image, str) else "truedigest verify",
        columns=(
            Column("SOURCE", squeeze=True, min_width=10),
            Column("DIGEST"),
            Column("STATUS"),
            Column("RELATION"),
            Column("WHERE", squeeze=True, min_width=10),
        ),
        rows=rows,
        notes=notes,
        closing=verdict_line(report),
        closing_tone=verdict_tone(report.verdict),
        empty="(no sources)",
    )


def verify_piped(report: Report) -> str:
    """The piped form (PIPED_COLUMNS): one line per source, no header."""
    return "".join(
        piped_line(
            (
                obs.id,
                str(obs.digest) if obs.digest is not None else None,
                str(obs.status),
                str(obs.relation) if obs.relation else None,
                _where(obs),
            ),
            obs.detail or "-",
        )
        + "\n"
        for obs in report.sources
    )


def print_verify_table(report: Report, console: Console | None = None) -> bool:
    """Terminal: the screen (verdict line included: returns True). Piped: one
    tab-separated line per source (returns False: the caller says the verdict)."""
    return show(lambda: verify_screen(report), lambda: verify_piped(report), console)


def markdown(report: Report) -> str:
    """The step summary: the terminal's structure (table, numbered notes, verdict)."""
    mark = _MARK.get(str(report.verdict), "")
    lines = [
        f"### {mark} truedigest verify: {report.verdict}",
        "",
        "| " + " | ".join(c.lower() for c in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for obs in report.sources:
        cells = (
            md_text(obs.id),
            _md_cell(obs.digest.short if obs.digest is not None else "-", code=True),
            md_text(str(obs.status)),
            md_text(str(obs.relation) if obs.relation else "-"),
            _md_cell(_where(obs), code=True),
        )
        lines.append("| " + " | ".join(cells) + " |")
    notes = [obs for obs in report.sources if _has_note(obs)]
    if notes:
        lines.append("")
        lines.extend(
            f"{n}. **{md_text(obs.id)}**: {md_prose(_note_text(obs))}"
            for n, obs in enumerate(notes, 1)
        )
    lines += ["", f"**{md_prose(verdict_line(report))}**"]
    return "\n".join(lines) + "\n"


_MD_DIGEST = re.compile(r"\b(sha(?:256|384|512):[0-9a-f]{32,128})\b")


def md_prose(text: str) -> str:
    """Prose from outside made inert (`md_text`), full digests as code spans."""
    return _MD_DIGEST.sub(r"`\1`", md_text(text))


_MD_PUNCT = re.compile(r"([\\`*_\[\]{}#+!~|])")


def md_text(text: str) -> str:
    """Text from outside made inert in markdown: no image, link, HTML or table cell
    break (`![x](…)`, `<img …>`, `|`, backticks are shown, not rendered)."""
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCT.sub(r"\\\1", text)


def _md_cell(text: str, *, code: bool) -> str:
    if code and text and text != "-":  # a code span renders nothing; only `|` splits a row
        return "`" + clean(text).replace("`", "'").replace("|", "\\|") + "`"
    return md_text(text)


def _escape_data(text: str) -> str:
    """An annotation's payload: one safe line, never itself a command."""
    text = neutralise(clean(text))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(report: Report) -> list[str]:
    """`::error title=…::…` workflow commands, one per failing source (or one notice)."""
    out = []
    for obs in report.sources:
        if obs.relation is Relation.IDENTICAL and obs.status is Status.OK:
            continue
        title = _escape_property(f"truedigest {obs.id}: {obs.status}")
        relation = f" [{obs.relation}]" if obs.relation else ""
        digest = f" {obs.digest}" if obs.digest else ""
        message = f"{obs.where}{digest}{relation}: {obs.detail or obs.status}"
        out.append(f"::error title={title}::{_escape_data(message)}")
    if report.verdict is Verdict.AGREE:
        out.append(f"::notice title=truedigest::{_escape_data(verdict_line(report))}")
    elif not out:
        out.append(f"::error title=truedigest::{_escape_data(verdict_line(report))}")
    return out
