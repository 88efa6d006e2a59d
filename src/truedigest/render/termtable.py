"""A report a person reads on a terminal, and the stable lines a script reads from a pipe.

One `Screen` (title, columns, rows, numbered notes, a closing line) is drawn three ways:

- **rich** (stdout is a terminal): a compact table whose cells never break a token,
  laid out here to the console's width — fixed columns (digests, statuses, relation
  words) are never cut; a `squeeze` column (a location, a long source name) gives
  way first, its end cut to `…` (its full text is in the notes); a rule under
  the header; colours by tone (ok green, wrong red, could-not-check yellow). The notes
  are word-wrapped prose with a hanging indent: a line breaks only between words, so
  a digest (71 characters) is never split at 80 columns.
- **plain terminal** (`NO_COLOR` set to any value, or `TERM=dumb`): the same layout,
  no style, no rule, no box character; written without rich.
- **piped** (`piped_lines`): one tab-separated line per row; every field but the last
  holds no whitespace (a space inside a value is written `%20`), so `cut -f` and
  `awk '{print $2}'` both address one field; the last field is free text (never a
  tab nor a newline).

Every cell and note is cleaned (`safetext.clean`) here, whoever built the Screen.
rich is imported only when drawing in colour.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import IO, TYPE_CHECKING, NamedTuple

from truedigest.render.safetext import clean

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

SEPARATOR = "  "  # between columns
ELLIPSIS = "…"
RULE = "─"
DEFAULT_WIDTH = 80


class Tone(StrEnum):
    """What a row or note means to the reader; its colour on a terminal."""

    OK = "ok"
    WRONG = "wrong"
    UNCHECKED = "unchecked"
    NEUTRAL = "neutral"


TONE_STYLE: dict[Tone, str] = {
    Tone.OK: "green",
    Tone.WRONG: "red",
    Tone.UNCHECKED: "yellow",
    Tone.NEUTRAL: "",
}


class Column(NamedTuple):
    header: str
    squeeze: bool = False  # may be cut (`…` at the end) when the table is wider than the screen
    min_width: int = 8  # a squeezed column keeps at least this many characters


class Row(NamedTuple):
    cells: tuple[str, ...]
    tone: Tone = Tone.NEUTRAL


class Note(NamedTuple):
    label: str  # what the note is about (a source id)
    text: str
    tone: Tone = Tone.WRONG


class Screen(NamedTuple):
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[Note, ...] = ()
    closing: str | None = None  # the verdict line, last
    closing_tone: Tone = Tone.NEUTRAL
    empty: str = "(nothing to show)"


# A line is a list of (text, style) segments; style "" is none.
Segment = tuple[str, str]
Line = list[Segment]


def plain_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """`NO_COLOR` (any value, even empty) or `TERM=dumb`: no style and no frame."""
    env = os.environ if environ is None else environ
    return "NO_COLOR" in env or env.get("TERM") == "dumb"


# -- layout ------------------------------------------------------------------------


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` characters: the end replaced by `…` when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS[:width]


def column_widths(columns: Sequence[Column], rows: Sequence[Row], width: int) -> list[int] | None:
    """Widths that fit `width`, squeezing `squeeze` columns (widest first) down to their
    `min_width`; None when even that does not fit (the caller stacks the rows)."""
    widths = [max([len(c.header), *(len(r.cells[i]) for r in rows)]) for i, c in enumerate(columns)]
    excess = sum(widths) + len(SEPARATOR) * (len(columns) - 1) - width
    while excess > 0:
        candidates = [
            i
            for i, c in enumerate(columns)
            if c.squeeze and widths[i] > max(c.min_width, len(c.header))
        ]
        if not candidates:
            return None
        i = max(candidates, key=lambda k: widths[k])
        floor = max(columns[i].min_width, len(columns[i].header))
        others = [widths[k] for k in candidates if k != i]
        target = max(floor, widths[i] - excess, max(others, default=floor))
        if target >= widths[i]:
            target = widths[i] - 1
        excess -= widths[i] - target
        widths[i] = target
    return widths


def wrap_words(text: str, width: int, *, first: str = "", indent: str = "") -> list[str]:
    """Greedy word wrap: lines break only at spaces; a word longer than a line is the
    only thing ever split. `first` starts the first line, `indent` the others."""
    lines: list[str] = []
    line = first
    fresh = True  # nothing but the prefix on this line
    for word in text.split():
        room = width - len(line) - (0 if fresh else 1)
        if len(word) <= room:
            line += word if fresh else " " + word
            fresh = False
            continue
        if not fresh:
            lines.append(line)
            line, fresh = indent, True
        while len(word) > width - len(line) > 0:  # longer than a whole line: split it
            cut = width - len(line)
            lines.append(line + word[:cut])
            word, line = word[cut:], indent
        line += word
        fresh = not word
    if not fresh or not lines:
        lines.append(line)
    return [ln.rstrip() for ln in lines]


def _cleaned(screen: Screen) -> Screen:
    return Screen(
        title=clean(screen.title),
        columns=screen.columns,
        rows=tuple(Row(tuple(_cell(c) for c in r.cells), r.tone) for r in screen.rows),
        notes=tuple(Note(clean(n.label), clean(n.text), n.tone) for n in screen.notes),
        closing=clean(screen.closing) if screen.closing is not None else None,
        closing_tone=screen.closing_tone,
        empty=clean(screen.empty),
    )


def _cell(text: str) -> str:
    return " ".join(clean(text).split()) or "-"


def layout(screen: Screen, width: int, *, plain: bool) -> list[Line]:
    """The lines of `screen` at `width` columns (none wider)."""
    screen = _cleaned(screen)

    def style(tone: Tone) -> str:
        return "" if plain else TONE_STYLE[tone]

    out: list[Line] = []
    out.extend([(t, "" if plain else "bold")] for t in wrap_words(screen.title, width))
    widths = column_widths(screen.columns, screen.rows, width) if screen.rows else None
    if not screen.rows:
        out.append([(screen.empty, "")])
    elif widths is not None:
        header: Line = []
        for i, column in enumerate(screen.columns):
            last = i == len(screen.columns) - 1
            text = column.header if last else column.header.ljust(widths[i]) + SEPARATOR
            header.append((text, "" if plain else "bold"))
        out.append(_rstrip(header))
        if not plain:
            out.append([(RULE * (sum(widths) + len(SEPARATOR) * (len(widths) - 1)), "dim")])
        for row in screen.rows:
            line: Line = []
            for i, cell in enumerate(row.cells):
                last = i == len(row.cells) - 1
                text = _cut(cell, widths[i])
                line.append((text if last else text.ljust(widths[i]), style(row.tone)))
                if not last:
                    line.append((SEPARATOR, ""))
            out.append(_rstrip(line))
    else:  # too narrow for columns: one wrapped paragraph per row, fields in order
        for row in screen.rows:
            pairs = zip(screen.columns, row.cells, strict=True)
            fields = " ".join(f"{c.header.lower()}={v}" for c, v in pairs)
            out.extend([(t, style(row.tone))] for t in wrap_words(fields, width, indent="  "))
    if screen.notes:
        out.append([])
        for n, note in enumerate(screen.notes, 1):
            number = f"{n}. "
            lines = wrap_words(
                f"{note.label}: {note.text}", width, first=number, indent=" " * len(number)
            )
            first = lines[0]
            label_end = len(number) + len(note.label) + 1
            if len(first) >= label_end:
                out.append(
                    [
                        (number, "" if plain else "bold"),
                        (first[len(number) : label_end], style(note.tone)),
                        (first[label_end:], ""),
                    ]
                )
            else:
                out.append([(first, "")])
            out.extend([(text, "")] for text in lines[1:])
    if screen.closing is not None:
        out.append([])
        closing_style = "" if plain else ("bold " + style(screen.closing_tone)).strip()
        out.extend([(t, closing_style)] for t in wrap_words(screen.closing, width))
    return out


def _rstrip(line: Line) -> Line:
    while line and not line[-1][0].rstrip():
        line.pop()
    if line:
        text, style = line[-1]
        line[-1] = (text.rstrip(), style)
    return line


def line_text(line: Line) -> str:
    return "".join(text for text, _ in line)


def to_rich(line: Line) -> Text:
    from rich.text import Text

    text = Text(no_wrap=True, overflow="ignore", end="")
    for part, style in line:
        text.append(part, style=style or None)
    return text


# -- drawing -------------------------------------------------------------------------


def draw(screen: Screen, console: Console | None = None, *, plain: bool | None = None) -> None:
    """`screen` on `console` (default: a rich Console on stdout) at its width.

    Plain (`plain_wanted()`, or the console's no_color): text written as is, no escape
    code at all; otherwise each line is a rich Text that never wraps."""
    if plain is None:
        plain = plain_wanted() or bool(console is not None and console.no_color)
    if plain and console is None:
        lines = layout(screen, _terminal_width(), plain=True)
        _write(sys.stdout, "".join(line_text(ln) + "\n" for ln in lines))
        return
    if console is None:
        from rich.console import Console

        console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    lines = layout(screen, console.width, plain=plain)
    if plain:
        _write(console.file, "".join(line_text(ln) + "\n" for ln in lines))
        return
    for line in lines:
        console.print(to_rich(line), highlight=False, crop=False, soft_wrap=True)


def _write(stream: IO[str], text: str) -> None:
    stream.write(text)
    stream.flush()


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


# -- piped ---------------------------------------------------------------------------

_SPACE = re.compile(r"\s")


def field_text(value: str | None) -> str:
    """One whitespace-free field: cleaned, `-` when empty, whitespace percent-encoded
    (a space is `%20`; `%` is `%25`, so the encoding can be undone)."""
    if value is None or value == "":
        return "-"
    from urllib.parse import quote

    text = clean(value).replace("%", "%25")
    return _SPACE.sub(lambda m: quote(m.group()), text)


def show(
    screen: Callable[[], Screen], piped: Callable[[], str], console: Console | None = None
) -> bool:
    """A report on stdout: drawn on a terminal (or the given console; True: the screen
    holds the verdict line), else its piped lines (False: the caller says the verdict)."""
    if console is None and not sys.stdout.isatty():
        sys.stdout.write(piped())
        sys.stdout.flush()
        return False
    draw(screen(), console)
    return True


def piped_line(fields: Sequence[str | None], free: str | None = None) -> str:
    """Tab-separated: `fields` (no whitespace in any) then, when given, `free` text last."""
    parts = [field_text(f) for f in fields]
    if free is not None:
        parts.append(" ".join(clean(free).split()) or "-")
    return "\t".join(parts)


__all__ = [
    "Column",
    "Note",
    "Row",
    "Screen",
    "Tone",
    "column_widths",
    "draw",
    "field_text",
    "layout",
    "line_text",
    "piped_line",
    "plain_wanted",
    "show",
    "to_rich",
    "wrap_words",
]
