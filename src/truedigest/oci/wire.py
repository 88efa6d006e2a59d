"""What arrives on the wire, parsed and decoded with bounds (standard library only).

- `BodyDecoder`: a `Content-Encoding` (identity, gzip, deflate) decoded step by step,
  never producing more than the caller has room for, so a caps counts decoded bytes
  and a 2 KB gzip bomb cannot grow memory; stacked or unknown encodings are refused.
- `parse_retry_after`: delta-seconds or an HTTP-date (the three formats of RFC 9110
  §5.6.7), without `email.utils` (14 ms of start-up for one header).
- `next_link`: the `rel="next"` target of a `Link` header (RFC 8288).

Each ends in a value or a TruedigestError, whatever the input.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime

from truedigest.base.lazyre import LazyPattern
from truedigest.errors import RegistryError

_GZIP = frozenset({"gzip", "x-gzip"})
_DEFLATE = "deflate"
_SHOWN = 40  # characters of a server's header value quoted in a message


def _shown(value: str) -> str:
    """A header value as a message may quote it: printable ASCII, clipped."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in value[:_SHOWN])
    return clean + ("…" if len(value) > _SHOWN else "")


class BodyDecoder:
    """Decodes one response body's `Content-Encoding` in bounded steps.

    `feed(data, room)` returns at most `room + 1` decoded bytes (one more than the
    room means "over the cap": the caller stops). `finish()` checks the stream ended.
    """

    def __init__(self, content_encoding: str | None, subject: str) -> None:
        self.subject = subject
        self._z: zlib._Decompress | None = None
        self._fed = False
        if not content_encoding:  # nearly every body: nothing to decode, nothing to check
            self.coding: str | None = None
            return
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise RegistryError(
                f"{subject} came with stacked Content-Encodings "
                f"({_shown(content_encoding)}); refused",
                hint="a server or proxy that compresses twice is broken or hostile",
            )
        self.coding = codings[0] if codings else None
        if self.coding is not None and self.coding not in _GZIP and self.coding != _DEFLATE:
            raise RegistryError(
                f"{subject} came with Content-Encoding {_shown(self.coding)!r}, "
                "which truedigest does not decode; refused",
                hint="truedigest asks for gzip only; a proxy may be rewriting responses",
            )
        if self.coding in _GZIP:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == _DEFLATE:
            self._z = zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of `data`: at most `room + 1` of them."""
        if self._z is None:
            return data
        if not data:
            return b""
        first = not self._fed
        self._fed = True
        if self._z.eof:
            raise self._broken("has bytes after the end of its compressed stream")
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error:
            if not (first and self.coding == _DEFLATE):
                raise self._broken("does not decode as its Content-Encoding says") from None
            # "deflate" is meant to be zlib-wrapped; some servers send it raw.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = self._z.decompress(data, room + 1)
            except zlib.error:
                raise self._broken("does not decode as its Content-Encoding says") from None
        if self._z.eof and self._z.unused_data:
            raise self._broken("has bytes after the end of its compressed stream")
        return out

    def finish(self) -> None:
        """Raise unless a compressed body that was started also ended."""
        if self._z is not None and self._fed and not self._z.eof:
            raise self._broken("ends in the middle of its compressed stream")

    def _broken(self, what: str) -> RegistryError:
        return RegistryError(
            f"{self.subject}: the body {what}",
            hint="a proxy in front of the server may be corrupting responses",
        )


# -- Retry-After --------------------------------------------------------------------

_MONTHS = {
    name: n
    for n, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
_MON = r"([A-Za-z]{3})"
# Sun, 06 Nov 1994 08:49:37 GMT
_IMF = LazyPattern(
    rf"[A-Za-z]{{3}},\s+([0-9]{{1,2}})\s+{_MON}\s+([0-9]{{4}})\s+{_TIME}\s+GMT", re.A
)
# Sunday, 06-Nov-94 08:49:37 GMT
_RFC850 = LazyPattern(rf"[A-Za-z]{{6,9}},\s+([0-9]{{2}})-{_MON}-([0-9]{{2}})\s+{_TIME}\s+GMT", re.A)
# Sun Nov  6 08:49:37 1994
_ASCTIME = LazyPattern(rf"[A-Za-z]{{3}}\s+{_MON}\s+([0-9]{{1,2}})\s+{_TIME}\s+([0-9]{{4}})", re.A)
_DELTA = LazyPattern(r"[0-9]+", re.A)
_MAX_DELTA_DIGITS = 12  # more is "a very long time"; the caller caps it anyway


def parse_http_date(value: str) -> float | None:
    """Seconds since the epoch of an HTTP-date in any of its three formats, else None."""
    text = value.strip()
    if m := _IMF.fullmatch(text):
        day, mon, year, hh, mm, ss = m.groups()
    elif m := _RFC850.fullmatch(text):
        day, mon, yy, hh, mm, ss = m.groups()
        year = str(2000 + int(yy) if int(yy) < 70 else 1900 + int(yy))
    elif m := _ASCTIME.fullmatch(text):
        mon, day, hh, mm, ss, year = m.groups()
    else:
        return None
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    try:
        when = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except ValueError:  # 31 Feb, hour 25 …
        return None
    return when.timestamp()


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None
    when absent or malformed (the caller falls back to its own backoff)."""
    if not value:
        return None
    text = value.strip()
    if _DELTA.fullmatch(text):
        if len(text) > _MAX_DELTA_DIGITS:
            return float(10**_MAX_DELTA_DIGITS)
        return float(int(text))
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, when - now)


# -- Link ---------------------------------------------------------------------------


def next_link(header: str | None) -> str | None:
    """The target of the first `rel="next"` link in a `Link` header, or None.

    A header that does not parse as RFC 8288 links raises RegistryError: a listing
    whose continuation cannot be read is not known to be complete.
    """
    if header is None or not header.strip():
        return None
    for target, params in _links(header):
        rels = params.get("rel", "").lower().split()
        if "next" in rels:
            return target
    return None


def _links(header: str) -> list[tuple[str, dict[str, str]]]:
    links: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(header)
    while True:
        i = _skip(header, i, " \t,")
        if i >= n:
            return links
        if header[i] != "<":
            raise _bad_link(header)
        end = header.find(">", i + 1)
        if end < 0:
            raise _bad_link(header)
        target = header[i + 1 : end].strip()
        if not target or any(c <= " " or c == "\x7f" or c > "~" for c in target):
            raise _bad_link(header)
        params: dict[str, str] = {}
        i = _skip(header, end + 1, " \t")
        while i < n and header[i] == ";":
            i, name, val = _param(header, _skip(header, i + 1, " \t"))
            params.setdefault(name, val)
            i = _skip(header, i, " \t")
        if i < n and header[i] != ",":
            raise _bad_link(header)
        links.append((target, params))


_TOKEN = LazyPattern(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.A)


def _param(header: str, i: int) -> tuple[int, str, str]:
    m = _TOKEN.match(header, i)
    if m is None:
        raise _bad_link(header)
    name = m.group().lower()
    i = _skip(header, m.end(), " \t")
    if i >= len(header) or header[i] != "=":
        return i, name, ""
    i = _skip(header, i + 1, " \t")
    if i < len(header) and header[i] == '"':
        out: list[str] = []
        i += 1
        while i < len(header):
            c = header[i]
            if c == "\\" and i + 1 < len(header):
                out.append(header[i + 1])
                i += 2
                continue
            if c == '"':
                return i + 1, name, "".join(out)
            out.append(c)
            i += 1
        raise _bad_link(header)
    m = _TOKEN.match(header, i)
    if m is None:
        raise _bad_link(header)
    return m.end(), name, m.group()


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _bad_link(header: str) -> RegistryError:
    return RegistryError(
        f"the registry sent a malformed Link header ({_shown(header)})",
        hint="the tag list cannot be followed past this page; the registry or a proxy is broken",
    )
