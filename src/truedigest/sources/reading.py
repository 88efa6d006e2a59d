"""Reading the files a user names (build outputs, pin files): one line per failure.

Everything that makes a file unusable raises `InputFileError` (a usage error,
exit 2) naming the flag and the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from truedigest.base import fileio, jsonutil
from truedigest.errors import InputFileError
from truedigest.oci.digest import clip

__all__ = [
    "MAX_INPUT_BYTES",
    "input_label",
    "json_type",
    "listed",
    "load_json",
    "os_reason",
    "read_input_text",
]

MAX_INPUT_BYTES = fileio.DEFAULT_CAP
"""Input files larger than this (16 MiB) are refused without being read whole."""
_MAX_LISTED = 10


def read_input_text(
    path: Path,
    *,
    what: str,
    hint: str,
    cap: int = MAX_INPUT_BYTES,
    allow_stdin: bool = False,
) -> str:
    """The text of a user-supplied input file, or `InputFileError` naming `what` (the
    flag) and the file.

    The bytes come from `fileio.read_input`: a regular file only (a FIFO, a device such
    as /dev/zero, a directory or a socket is refused without blocking), at most `cap`
    bytes (16 MiB), `-` for standard input only with `allow_stdin`. Then refuses binary
    content (NUL bytes) and text that is not UTF-8 (or UTF-16 with a BOM, as
    PowerShell writes). The result may be empty.
    """
    label = input_label(what, path, stdin=allow_stdin)
    try:
        data = fileio.read_input(path, what=what, cap=cap, allow_stdin=allow_stdin)
    except InputFileError as exc:
        raise InputFileError(exc.message, hint=hint) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{label}: not valid UTF-16 text (bad bytes at offset {exc.start})", hint=hint
            ) from None
    if b"\x00" in data:
        raise InputFileError(f"{label}: binary content (NUL bytes), not text", hint=hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{label}: not UTF-8 text (invalid byte at offset {exc.start})", hint=hint
        ) from None


def input_label(what: str, path: Path, *, stdin: bool = False) -> str:
    """`--flag 'path'` (or `--flag (standard input)` for `-` where `stdin` is allowed):
    one line, whatever the path holds."""
    text = str(path)
    if text == fileio.STDIN and stdin:
        return f"{what} (standard input)"
    return f"{what} {clip(repr(text), 200)}"


def load_json(
    path: Path, *, what: str, hint: str, cap: int = MAX_INPUT_BYTES, allow_stdin: bool = False
) -> object:
    """The JSON value of an input file; empty, invalid or unusable JSON is an InputFileError."""
    label = input_label(what, path, stdin=allow_stdin)
    text = read_input_text(path, what=what, hint=hint, cap=cap, allow_stdin=allow_stdin)
    if not text.strip():
        raise InputFileError(f"{label}: is empty", hint=hint)
    try:
        return jsonutil.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{label}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", hint=hint
        ) from None
    except ValueError as exc:  # nested too deeply, NaN, out-of-range numbers
        raise InputFileError(f"{label}: not usable JSON ({exc})", hint=hint) from None


def listed(names: Iterable[str]) -> str:
    """At most ten names, then how many more: an error stays one readable line."""
    items = list(names)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown} … and {len(items) - _MAX_LISTED} more"


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (`null`, `object` …), for error lines."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return type(value).__name__


def os_reason(exc: OSError | ValueError) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
