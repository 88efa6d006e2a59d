"""`truedigest running` out: the verdict line, the compact table, markdown.

Every value from outside (pod, workload, container and image names, details that
quote them) goes through `safetext` here: `print_table` cleans each cell, markdown
cells go through `md_text` or an inert code span, and the verdict line through
`talk.say`. JSON goes out through `verify_report.print_json` (strict, escaped).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import assert_never

from truedigest.model.running_state import (
    ContainerRow,
    PinRow,
    RowStatus,
    RunningRelation,
    RunningReport,
    RunningVerdict,
)
from truedigest.render.safetext import clean
from truedigest.render.verify_report import md_text, print_table, shorten_digests

COLUMNS = ("WORKLOAD", "POD", "CONTAINER", "DIGEST", "STATUS", "RELATION", "DETAIL")
PIN_COLUMNS = ("PIN", "DIGEST", "STATUS", "RELATION", "DETAIL")
_MARK = {
    RunningVerdict.AGREE: "✅",
    RunningVerdict.MISMATCH: "❌",
    RunningVerdict.MIXED: "❌",
    RunningVerdict.ABSENT: "❌",
    RunningVerdict.UNAVAILABLE: "⚠️",
}
_STYLE = {
    RowStatus.OK: "green",
    RowStatus.MISMATCH: "red",
    RowStatus.ERROR: "yellow",
    RowStatus.SKIPPED: "dim",
}


def containers_of(report: RunningReport) -> list[ContainerRow]:
    """The rows that are containers: not a `mixed` workload row, not the row that says
    no container of the input runs the image."""
    return [
        r
        for r in report.containers
        if r.relation is not RunningRelation.MIXED
        and not (r.where == "input" and r.pod is None and r.container is None)
    ]


def _compared(report: RunningReport) -> list[ContainerRow]:
    return [r for r in containers_of(report) if r.status is not RowStatus.SKIPPED]


def _mixed(report: RunningReport) -> list[ContainerRow]:
    return [r for r in report.containers if r.relation is RunningRelation.MIXED]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _do_not(n: int) -> str:
    """`1 of 3 containers does not run`, `2 of 3 containers do not run`."""
    return "does not" if n == 1 else "do not"


def verdict_line(report: RunningReport) -> str:
    rows = _compared(report)
    n = len(rows)
    ref = report.reference
    truth = str(report.truth) if report.truth else "unknown"
    rounds = f" after {report.rounds} rounds" if report.rounds > 1 else ""
    bad_pins = [p for p in report.pins if p.status is not RowStatus.OK]
    pins = f"; {len(bad_pins)} of {_count(len(report.pins), 'pin')} wrong" if bad_pins else ""
    differ = sum(r.status is RowStatus.MISMATCH for r in rows)
    unread = sum(r.status is RowStatus.ERROR for r in rows)
    match report.verdict:
        case RunningVerdict.AGREE:
            agree = f" and {_count(len(report.pins), 'pin')}" if report.pins else ""
            text = f"{_count(n, 'container')}{agree} run {ref} ({truth}){rounds}"
        case RunningVerdict.MIXED:
            found = _mixed(report)
            names = ", ".join(m.workload or f"container {m.container}" for m in found)
            verb = "runs" if len(found) == 1 else "run"
            text = (
                f"{_count(len(found), 'workload')} {verb} more than one image ({names}); "
                f"{differ} of {_count(n, 'container')} {_do_not(differ)} run {ref} ({truth})"
                f"{pins}{rounds}"
            )
        case RunningVerdict.MISMATCH:
            text = (
                f"{differ} of {_count(n, 'container')} {_do_not(differ)} run {ref} ({truth})"
                f"{pins}{rounds}"
            )
        case RunningVerdict.ABSENT:
            text = f"the registry does not serve {ref}: nothing was compared{rounds}"
        case RunningVerdict.UNAVAILABLE:
            if report.truth is None:
                text = f"{ref} could not be read from the registry: nothing was compared{rounds}"
            elif n == 0:
                text = f"no container of the input runs {ref}: nothing was compared{rounds}"
            else:
                text = f"{unread} of {_count(n, 'container')} could not be checked{pins}{rounds}"
        case _:
            assert_never(report.verdict)
    return f"verdict: {report.verdict} (exit {report.exit_code}): {text}"


# -- table -------------------------------------------------------------------------------


def _pod(row: ContainerRow) -> str:
    if row.pod is None:
        return "-"
    return f"{row.namespace}/{row.pod}" if row.namespace else row.pod


def _cells(row: ContainerRow, *, short: bool) -> tuple[str, ...]:
    digest = "-"
    if row.digest is not None:
        digest = row.digest.short if short else str(row.digest)
    detail = row.detail or ""
    return (
        row.workload or "-",
        _pod(row),
        row.container or "-",
        digest,
        str(row.status),
        str(row.relation) if row.relation else "-",
        shorten_digests(detail) if short else detail,
    )


def _pin_cells(pin: PinRow, *, short: bool) -> tuple[str, ...]:
    digest = "-"
    if pin.digest is not None:
        digest = pin.digest.short if short else str(pin.digest)
    detail = pin.detail or ""
    return (
        pin.id,
        digest,
        str(pin.status),
        str(pin.relation) if pin.relation else "-",
        shorten_digests(detail) if short else detail,
    )


def print_running_table(report: RunningReport) -> None:
    """A rich table on a terminal (short digests); plain aligned text when piped."""
    short = sys.stdout.isatty()
    rows = [_cells(r, short=short) for r in report.containers]
    styles = [_STYLE[r.status] for r in report.containers]
    print_table(f"truedigest running: {report.verdict}", COLUMNS, rows, styles=styles)
    if report.pins:
        sys.stdout.write("\n")
        pins = [_pin_cells(p, short=short) for p in report.pins]
        pin_styles = [_STYLE[p.status] for p in report.pins]
        print_table("pins", PIN_COLUMNS, pins, styles=pin_styles)


# -- markdown ----------------------------------------------------------------------------


def _md_cell(text: str, *, code: bool) -> str:
    if code and text and text != "-":  # a code span renders nothing; only `|` splits a row
        return "`" + clean(text).replace("`", "'").replace("|", "\\|") + "`"
    return md_text(text)


def _md_table(headers: Sequence[str], rows: Sequence[tuple[str, ...]], code: set[int]) -> list[str]:
    lines = [
        "| " + " | ".join(h.lower() for h in headers) + " |",
        "|" + "---|" * len(headers),
    ]
    lines.extend(
        "| " + " | ".join(_md_cell(c, code=i in code) for i, c in enumerate(row)) + " |"
        for row in rows
    )
    return lines


def markdown(report: RunningReport) -> str:
    """A step summary: heading, verdict sentence, the containers, the pins. Inert."""
    lines = [
        f"### {_MARK[report.verdict]} truedigest running: {report.verdict}",
        "",
        md_text(verdict_line(report).removeprefix("verdict: ")),
        "",
        *_md_table(COLUMNS, [_cells(r, short=False) for r in report.containers], {3}),
    ]
    if report.pins:
        pins = [_pin_cells(p, short=False) for p in report.pins]
        lines += ["", *_md_table(PIN_COLUMNS, pins, {1})]
    return "\n".join(lines) + "\n"


__all__ = [
    "COLUMNS",
    "PIN_COLUMNS",
    "containers_of",
    "markdown",
    "print_running_table",
    "verdict_line",
]
