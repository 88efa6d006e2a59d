"""The run's known secrets, and the one function that scrubs them from text.

Every credential truedigest reads (registry passwords, identity tokens, bearer
tokens, CP tokens) is wrapped in `transport.Secret`, which registers its value
here. Anything printed — reports, errors, `-v` causes, `-vv` tracebacks — passes
through `scrub` at the one place output is made, so a secret a server echoes back
(a CP row copying the caller's token into `notes`) or one inside a library's
exception text never reaches a terminal or a log. Standard library only.
"""

from __future__ import annotations

import threading

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; they are not secrets worth the name

_lock = threading.Lock()
_known: set[str] = set()
_pattern_cache: tuple[str, ...] | None = None


def _forms(value: str) -> set[str]:
    """The shapes a secret takes in text: itself, base64 (Basic auth), URL-quoted,
    and each line of it (a token holding CR/LF is split by whoever prints it).

    base64 and urllib.parse load here, with the first secret: a run without one
    (an anonymous `resolve`) does not pay for them at start-up."""
    import base64
    import urllib.parse

    forms = {value}
    raw = value.encode("utf-8", "surrogatepass")
    forms.add(base64.b64encode(raw).decode("ascii"))
    forms.add(urllib.parse.quote_from_bytes(raw, safe=""))
    forms.update(part for part in value.replace("\r", "\n").split("\n"))
    forms.add(repr(value)[1:-1])
    return {f for f in forms if len(f) >= _MIN_LENGTH}


def remember(value: str) -> None:
    """Register a secret's value (and its printable forms) for `scrub`."""
    global _pattern_cache
    if len(value) < _MIN_LENGTH:
        return
    with _lock:
        _known.update(_forms(value))
        _pattern_cache = None


def remember_basic(username: str, password: str) -> None:
    """Register the base64 of `username:password` (a Basic header's value)."""
    import base64

    remember(password)
    pair = f"{username}:{password}".encode("utf-8", "surrogatepass")
    remember(base64.b64encode(pair).decode("ascii"))


def scrub(text: str) -> str:
    """`text` with every known secret form replaced by `***` (longest first)."""
    global _pattern_cache
    with _lock:
        if _pattern_cache is None:
            _pattern_cache = tuple(sorted(_known, key=len, reverse=True))
        forms = _pattern_cache
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def forget_all() -> None:
    """Tests only: start from no known secrets."""
    global _pattern_cache
    with _lock:
        _known.clear()
        _pattern_cache = None
