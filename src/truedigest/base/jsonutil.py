"""One JSON reader (and writer) for everything that crosses the process boundary.

`json.loads` raises RecursionError, not ValueError, on deeply nested input (about
100k `[`): a hostile or broken server must not turn that into a traceback. It also
accepts `NaN`, `Infinity` and `-Infinity`, turns `1e999` into an infinite float and
builds integers of thousands of digits: none of that is JSON a registry, a CP or a
build tool writes, and echoing it would make our own output non-standard JSON. So
`loads` is strict: non-standard constants, non-finite numbers and integers outside
the 64-bit range are a ValueError like any other malformed input.
"""

from __future__ import annotations

import json
import math
from typing import Any

INT_LIMIT = 1 << 64
"""Integers must lie strictly between -INT_LIMIT and INT_LIMIT (sizes, counts, times)."""
_MAX_INT_DIGITS = len(str(INT_LIMIT))


def _constant(name: str) -> Any:
    raise ValueError(f"JSON holds the non-standard constant {name}")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"JSON holds a number out of range ({text[:20]})")
    return value


def _int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _MAX_INT_DIGITS:
        raise ValueError(f"JSON holds an integer of {len(digits)} digits")
    value = int(text)
    if not -INT_LIMIT < value < INT_LIMIT:
        raise ValueError(f"JSON holds an integer out of range ({text[:20]})")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int)
"""One decoder for the run: `json.loads` with hooks builds a decoder and its scanner
on every call (a manifest per tag of `tags`). Decoding keeps no state between calls."""


def loads(data: bytes | str) -> Any:
    """Parse strict JSON; every failure is a ValueError (callers map it to their own error).

    Refused: malformed JSON, nesting too deep for the parser, bytes that are not
    UTF-8, `NaN`/`Infinity`/`-Infinity`, numbers that overflow a float, integers of
    magnitude 2**64 or more. Lone surrogates (`"\\ud800"`) are valid JSON and pass:
    whoever prints such a value must escape it."""
    try:
        if not isinstance(data, str):  # as json.loads reads bytes (UTF-8/16/32, BOM)
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        return _DECODER.decode(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"JSON is not UTF-8: {exc.reason}") from None


def dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` that refuses NaN/Infinity (ValueError) instead of writing them."""
    kwargs.setdefault("allow_nan", False)
    return json.dumps(value, **kwargs)
