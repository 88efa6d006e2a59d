"""The response-head parser and the request encoder's checks against their previous
implementation, as the oracle.

`leanwire` finds the blank line with two `find`s and frames the body from the fields
it parsed, where it used regular expressions over the whole head (`OLD_*` below, as
they were). For any buffer and any head, the new code must find the same blank line,
accept exactly the heads the old code accepted, and read the same fields and framing.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from truedigest.oci import httpmodel
from truedigest.oci.httpmodel import URL, Request
from truedigest.oci.leanwire import Head, _blank_line, encode_request, read_head

OLD_BLANK = re.compile(rb"\r?\n\r?\n")
OLD_FIELDS = re.compile(rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE)
OLD_FRAMING = re.compile(
    rb"^(content-length|transfer-encoding|connection):[ \t]*(.*?)[ \t]*\r?$",
    re.MULTILINE | re.IGNORECASE,
)
OLD_BAD_HEAD = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
OLD_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
OLD_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f-\xff]")

LINE_BYTES = st.binary(max_size=12) | st.sampled_from(
    [b"a", b" ", b"\t", b":", b"\r", b"\n", b"\r\n", b"\x01", b"\x7f", b"\xff", b","]
)
NAMES = st.sampled_from(
    [b"Content-Length", b"content-length", b"Transfer-Encoding", b"Connection", b"X-A", b"Etag"]
)
VALUES = st.sampled_from(
    [b"12", b" 12 ", b"12, 12", b"chunked", b"gzip, chunked", b"close", b"keep-alive", b""]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"x"]), max_size=24), st.integers(0, 30))
@example([b"\r", b"\n", b"\r", b"\n"], 1)
@example([b"a", b"\r", b"\n", b"\n"], 2)
def test_the_blank_line_is_where_the_old_pattern_found_it(parts: list[bytes], start: int) -> None:
    buf = bytearray(b"".join(parts))
    old = OLD_BLANK.search(buf, start)
    assert _blank_line(buf, start) == (None if old is None else old.span())


class _Buffered:
    """A connection whose whole answer is already buffered (read_head's only use)."""

    def __init__(self, data: bytes) -> None:
        self.buf = bytearray(data)
        self.reused = False
        self.got = True

    def recv(self, size: int, limit: float | None) -> bytes:
        return b""


def _old_parse(rest: bytes) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None:
    """Fields and framing fields as the old code read them; None: refused."""
    fields: list[tuple[bytes, bytes]] = []
    if rest:
        fields = OLD_FIELDS.findall(rest)
        if len(fields) != rest.count(b"\n") + 1 or OLD_BAD_HEAD.search(rest):
            return None
    return fields, OLD_FRAMING.findall(rest)


def _new_parse(rest: bytes) -> Head | str:
    conn = _Buffered(b"HTTP/1.1 200 OK\r\n" + rest + b"\r\n\r\n")
    request = Request("GET", URL("http://r.example/"), [], b"", {})
    try:
        return read_head(conn, request, None)  # type: ignore[arg-type]
    except httpmodel.RemoteProtocolError as exc:
        return str(exc)


def _framing(head: Head) -> tuple[int | None, bool, bool]:
    return head.length, head.chunked, head.keep


@settings(max_examples=800, deadline=None)
@given(
    st.lists(
        st.tuples(NAMES, VALUES, st.sampled_from([b"", b" ", b"\t", b" \t"]), LINE_BYTES),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
@example([(b"Content-Length", b"12", b" ", b"")], False)
@example([(b"Content-Length", b"12", b"", b"\r"), (b"Etag", b"", b"", b"")], False)
def test_heads_are_accepted_and_read_as_before(
    lines: list[tuple[bytes, bytes, bytes, bytes]], lf_only: bool
) -> None:
    eol = b"\n" if lf_only else b"\r\n"
    rest = eol.join(name + b":" + pad + value + pad + junk for name, value, pad, junk in lines)
    # what the old code took as the head's fields: up to the first blank line
    whole = b"HTTP/1.1 200 OK\r\n" + rest + b"\r\n\r\n"
    blank = OLD_BLANK.search(whole)
    assert blank is not None
    old = _old_parse(whole[: blank.start()].partition(b"\n")[2])
    new = _new_parse(rest)
    if old is None:
        assert isinstance(new, str)
        assert new == "malformed header field line"
        return
    fields, framing = old
    expected = _old_framing(framing)
    if isinstance(new, str):
        assert new == expected
        return
    assert new.fields == fields
    assert _framing(new) == expected


def _old_framing(framing: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, bool] | str:
    """What the old `_frame` made of the framing fields (for a GET answered 200)."""
    keep = True
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for name, value in framing:
        lower = name.lower()
        if lower == b"content-length":
            lengths.extend(v.strip(b" \t") for v in value.split(b","))
        elif lower == b"transfer-encoding":
            codings.extend(v.strip(b" \t").lower() for v in value.split(b","))
        elif lower == b"connection":
            keep = keep and b"close" not in {v.strip(b" \t") for v in value.lower().split(b",")}
    if codings:
        if codings != [b"chunked"]:
            return "unsupported Transfer-Encoding"
        return None, True, keep and not lengths
    if lengths:
        if len(set(lengths)) != 1:
            return "conflicting Content-Length values"
        if not (lengths[0].isdigit() and len(lengths[0]) <= 18):
            return "malformed Content-Length"
        return int(lengths[0]), False, keep
    return None, False, False


@pytest.mark.parametrize(
    "rest",
    [b"A: 1\r\nB: 2\r", b"A: 1\x00", b"A: 1\rB: 2", b" A: 1", b"A : 1", b"A: 1\r\n B: 2"],
)
def test_what_the_old_parser_refused_is_refused(rest: bytes) -> None:
    assert _old_parse(rest) is None
    assert _new_parse(rest) == "malformed header field line"


def _encodes(target: bytes, value: bytes) -> bool:
    request = Request("GET", URL("http://r.example/"), [], b"", {})
    request.url.raw_path = target  # the target as the URL would carry it
    request.raw_headers = [(b"X-A", value)]
    try:
        encode_request(request)
    except httpmodel.LocalProtocolError:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=1, max_size=16), st.binary(max_size=16))
@example(b"/a b", b"ok")
@example(b"/\xff", b"ok")
@example(b"/v2/", b"tab\there")
@example(b"/v2/", b"new\nline")
@example(b"/v2/", b"del\x7f")
@example(b"/v2/", b"high\xff")
def test_a_request_is_refused_exactly_when_the_old_checks_refused_it(
    target: bytes, value: bytes
) -> None:
    old_ok = not OLD_BAD_TARGET.search(target) and not OLD_BAD_VALUE.search(value)
    assert _encodes(target, value) == old_ok
