"""Text from outside, made safe to print: the one set of rules every renderer applies.

Registries, token servers, CPs, files and tag names are data. Before any of their
text reaches a terminal, a log, a step summary or a JSON document:

- every known secret is replaced by `***` (`redact.scrub`);
- C0 and C1 controls, DEL, lone surrogates, line and paragraph separators and bidi
  overrides become visible escapes (`\\x1b`, `\\n`, `\\udc80`), so a value never
  starts a new line, never repaints the terminal and always encodes;
- `##[` (the legacy runner command, executed anywhere in a line) becomes `##\\[`,
  and a line that would start with `::` (after whitespace) starts with `:\\:`
  instead: no printed line is an Actions workflow command but our own annotations;
- JSON is strict (no NaN/Infinity) and keeps every value exact, with `::` and `##[`
  written as JSON escapes so that no line of it is a workflow command either.

Standard library only (the CLI's error path imports it without httpx or rich).
"""

from __future__ import annotations

import json
import re
from typing import Any

from truedigest.base import redact
from truedigest.base.lazyre import LazyPattern
from truedigest.errors import OutputError

LINE_LIMIT = 1000  # characters of one error/warning/summary line before it is clipped

# Controls, DEL, C1, lone surrogates, NEL/LS/PS, bidi embeddings/overrides/isolates.
_UNSAFE = LazyPattern("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The same, but leaving newline and tab alone (whole lines of our own making).
_UNSAFE_IN_LINE = LazyPattern(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Escape sequences a terminal needs from us (rich on a tty): keep ESC and CR there.
_UNSAFE_ON_TTY = LazyPattern(
    "[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_LEADING_COMMAND = LazyPattern(r"^(\s*):(?=:)")
_LEGACY_COMMAND = "##["


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str) -> str:
    """One value from outside, safe inside a line: secrets masked, controls escaped,
    `##[` broken. It may still start a line; `safe_line` handles line starts."""
    text = redact.scrub(text)
    if _UNSAFE.search(text):
        text = redact.scrub(_UNSAFE.sub(_escape, text))
    return text.replace(_LEGACY_COMMAND, "##\\[")


def clip(text: str, limit: int = LINE_LIMIT) -> str:
    """`text` cut to `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """A whole message (error, warning, hint, summary) as one safe, bounded line."""
    return clip(neutralise(clean(text)), limit)


def neutralise(line: str) -> str:
    """A line no runner executes: `##[` anywhere and a leading `::` broken."""
    return _LEADING_COMMAND.sub(r"\1:\\", line.replace(_LEGACY_COMMAND, "##\\["))


_LINE_COMMAND = LazyPattern(r"(?m)^([^\S\n]*):(?=:)")


def safe_block(text: str, *, tty: bool = False, line_start: bool = True) -> str:
    """Whole lines about to be written (newline and tab kept): secrets masked,
    controls escaped (on a terminal ESC and CR stay: rich draws with them, and the
    values it draws were cleaned before), `##[` broken, and no line starting with
    `::` (the first one only when `line_start`: it may continue a written line)."""
    text = redact.scrub(text)
    unsafe = _UNSAFE_ON_TTY if tty else _UNSAFE_IN_LINE
    if unsafe.search(text):
        text = redact.scrub(unsafe.sub(_escape, text))
    text = text.replace(_LEGACY_COMMAND, "##\\[")
    if "::" not in text:
        return text
    if line_start:
        return _LINE_COMMAND.sub(r"\1:\\", text)
    first, newline, rest = text.partition("\n")
    return first + newline + _LINE_COMMAND.sub(r"\1:\\", rest)


def many(lines: list[str], limit: int, *, what: str) -> list[str]:
    """At most `limit` of `lines`, then one line counting the rest."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"… and {len(lines) - limit} more {what}"]


# -- headers in library exception text (-v causes, -vv tracebacks) ------------------

_AUTH_SCHEME = LazyPattern(r"(?i)\b(bearer|basic|negotiate)(\s+)([^\s'\",;]{6,})")
_HEADER = LazyPattern(
    r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-registry-auth"
    r"|x-auth-token|private-token|x-api-key)(['\"]?\s*[:=,]\s*b?['\"]?)([^'\"\r\n]+)"
)


def scrub_headers(text: str) -> str:
    """Values of credential headers and `Bearer …`/`Basic …` pairs replaced by `***`
    (an HTTP library's exception text quotes the offending header)."""
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{redact.MASK}", text)
    return _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{redact.MASK}", text)


def diagnostic_lines(text: str, *, limit: int = LINE_LIMIT) -> list[str]:
    """A cause or traceback (many lines, library text) as safe, bounded lines."""
    return [one_line(scrub_headers(line), limit) for line in text.splitlines()]


# -- JSON ----------------------------------------------------------------------------


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def json_text(document: Any) -> str:
    """`document` as strict, indented, ASCII JSON: secrets masked, every value
    otherwise exact; `::` and `##[` inside strings written as `:\\u003a` and
    `#\\u0023[` (the same value for a JSON reader, no workflow command for a runner).
    A value JSON cannot carry (NaN, Infinity) is an `OutputError`, never printed."""
    try:
        text = json.dumps(_scrubbed(document), indent=2, allow_nan=False, ensure_ascii=True)
    except ValueError as exc:
        raise OutputError(
            f"the result holds a value JSON cannot carry ({exc}); nothing was printed"
        ) from None
    # Outside strings, indented JSON never holds `::` nor `#`: these are inside strings.
    return text.replace("::", ":\\u003a").replace(_LEGACY_COMMAND, "#\\u0023[")


__all__ = [
    "LINE_LIMIT",
    "clean",
    "clip",
    "diagnostic_lines",
    "json_text",
    "many",
    "neutralise",
    "one_line",
    "safe_block",
    "scrub_headers",
]
