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

if TYPE_CHECKING:
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
        "size": resolved.size,
        "header_digest": str(resolved.header_digest) if resolved.header_digest else None,
        "platform": str(resolved.platform) if resolved.platform else None,
        "index_digest": str(resolved.index_digest) if resolved.index_digest else None,
    }


# -- verify ----------------------------------------------------------------------

COLUMNS = ("SOURCE", "WHERE", "DIGEST", "STATUS", "RELATION", "DETAIL")
_MARK = {"agree": "✅", "mismatch": "❌", "absent": "❌", "unavailable": "⚠️"}


def _cells(obs: Observation, *, short: bool) -> tuple[str, ...]:
    digest = "-"
    if obs.digest is not None:
        digest = obs.digest.short if short else str(obs.digest)
    return (
        obs.id,
        obs.where,
        digest,
        str(obs.status),
        str(obs.relation) if obs.relation else "-",
        obs.detail or "",
    )


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


def print_verify_table(report: Report) -> None:
    """Terminal: short digests and no repeated refs (JSON/plain keep everything)."""
    if not sys.stdout.isatty():
        print_table("", COLUMNS, [_cells(o, short=False) for o in report.sources])
        return
    rows = []
    for obs in report.sources:
        cells = list(_cells(obs, short=True))
        if obs.kind is SourceKind.REGISTRY:
            cells[0] = "registry"
        cells[-1] = shorten_digests(cells[-1])
        rows.append(tuple(cells))
    styles = [_style(o) for o in report.sources]
    print_table(f"truedigest verify: {report.verdict}", COLUMNS, rows, styles=styles)


def _style(obs: Observation) -> str:
    if obs.relation is Relation.IDENTICAL and obs.status is Status.OK:
        return "green"
    if obs.status is Status.ERROR or (obs.relation is None and obs.status is Status.OK):
        return "yellow"
    return "red"


def markdown(report: Report) -> str:
    mark = _MARK.get(str(report.verdict), "")
    lines = [
        f"### {mark} truedigest verify: {report.verdict}",
        "",
        md_text(verdict_line(report).removeprefix("verdict: ")),
        "",
        "| " + " | ".join(c.lower() for c in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for obs in report.sources:
        cells = _cells(obs, short=False)
        lines.append(
            "| " + " | ".join(_md_cell(c, code=i in (1, 2)) for i, c in enumerate(cells)) + " |"
        )
    return "\n".join(lines) + "\n"


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
