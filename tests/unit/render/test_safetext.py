"""safetext and safeio: the one place output is made, property-tested.

Any text in, and out comes: no control character, no line a runner executes, no
known secret; JSON that parses back to the exact (secret-masked) value, or an
OutputError for NaN; markdown with no live image, link, HTML or cell break; and
streams that record lost output instead of crashing or passing.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.hostile import runner_lines
from truedigest.base import redact
from truedigest.errors import ExitCode, OutputError
from truedigest.render.safeio import GuardedStream, Streams
from truedigest.render.safetext import (
    LINE_LIMIT,
    clean,
    diagnostic_lines,
    json_text,
    one_line,
    safe_block,
    scrub_headers,
)
from truedigest.render.verify_report import md_text

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
SECRET = "s3cr3t-t0ken-value-91ab"

# Text as hostile servers write it: commands, escapes, surrogates, newlines, markup.
_PIECES = [
    *"::##[]()!<>|`*_\\ \t\n\r",
    *("\x1b", "\x07", "\x9b", "\x85", "\x7f", "\x00", "\u2028", "\udc80", "\ud800"),
    *("error", "set-output", "a", "é", "🙂", SECRET, "x\n::"),
]
hostile_text = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@pytest.fixture(autouse=True)
def known_secret() -> Iterator[None]:
    redact.remember(SECRET)
    yield
    redact.forget_all()


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_a_cleaned_value_is_one_inert_secret_free_line(text: str) -> None:
    redact.remember(SECRET)
    out = clean(text)
    assert "\n" not in out
    assert "\r" not in out
    assert not CONTROL.search(out)
    assert "##[" not in out
    assert SECRET not in out
    out.encode("utf-8")  # always encodable: no lone surrogate left
    assert not runner_lines("prefix " + out)


@given(st.lists(hostile_text, max_size=6), st.booleans())
@settings(max_examples=300, deadline=None)
def test_no_written_line_is_a_runner_command(parts: list[str], tty: bool) -> None:
    redact.remember(SECRET)
    text = "\n".join(parts) + "\n"
    out = safe_block(text, tty=tty)
    assert not runner_lines(out)
    assert SECRET not in out
    if not tty:
        assert not CONTROL.search(out)
    assert out.count("\n") == text.count("\n")  # line structure kept


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


def _masked(value: object) -> object:
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    return value


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_json_is_exact_strict_ascii_and_never_a_command(value: object) -> None:
    redact.remember(SECRET)
    text = json_text({"v": value})
    assert text.isascii()
    assert not runner_lines(text)
    assert SECRET not in text
    # exact, as far as JSON can say it (a surrogate pair reads back as one character)
    assert json.loads(text) == json.loads(json.dumps({"v": _masked(value)}))


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_json_refuses_a_number_json_cannot_carry(number: float) -> None:
    with pytest.raises(OutputError) as caught:
        json_text({"pins": [{"region": number}]})
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_markdown_text_is_inert(text: str) -> None:
    out = md_text(text)
    assert "<" not in out
    assert ">" not in out
    assert "\n" not in out
    # every `[`, `]`, `|`, backtick and `!` is escaped: no image, link, code or cell break
    assert not re.search(r"(?<!\\)(?:\\\\)*[\[\]|`!]", out)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("![img](https://evil.test/x.png)", "\\!\\[img\\](https://evil.test/x.png)"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("a | b", "a \\| b"),
    ],
)
def test_markdown_shows_markup_as_text(text: str, shown: str) -> None:
    assert md_text(text) == shown


def test_a_long_line_is_clipped_with_a_count() -> None:
    line = one_line("error: " + "x" * 240_000)
    assert len(line) < LINE_LIMIT + 40
    assert line.endswith(f"({240_007 - LINE_LIMIT} more characters)")


@pytest.mark.parametrize(
    "text",
    [
        "Illegal header value b'Bearer abc.def-ghi\\r\\nX-Evil: 1'",
        "{'Authorization': 'Basic cm9ib3Q6aHVudGVyMg=='}",
        "headers: authorization=Bearer-abcdef12345",
        "Cookie: session=abcdef0123",
    ],
)
def test_header_values_are_scrubbed_from_library_text(text: str) -> None:
    out = scrub_headers(text)
    for secret in ("abc.def-ghi", "cm9ib3Q6aHVudGVyMg==", "Bearer-abcdef12345", "abcdef0123"):
        assert secret not in out


class _Quiet(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_the_http_librarys_own_exception_is_scrubbed() -> None:
    """The real failure of item 4: httpx/h11 quote a header holding CR/LF."""
    token = "tok-first-part-55aa\r\ntok-second-part-66bb"
    redact.remember(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client() as client:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            with pytest.raises(httpx.HTTPError) as caught:
                client.get(url, headers={"Authorization": f"Bearer {token}"})
    finally:
        server.shutdown()
        server.server_close()
    raw = f"{type(caught.value).__name__}: {caught.value}"
    lines = diagnostic_lines(raw)
    shown = "\n".join(lines)
    for part in ("tok-first-part-55aa", "tok-second-part-66bb"):
        assert part not in shown
    assert not CONTROL.search(shown)


# -- the guarded streams -----------------------------------------------------------------


def _guard(raw: io.StringIO | None = None) -> tuple[GuardedStream, io.StringIO]:
    raw = raw if raw is not None else io.StringIO()
    return GuardedStream(raw, "<test>"), raw


def test_a_stream_neutralises_foreign_commands_and_keeps_its_own() -> None:
    guard, raw = _guard()
    guard.write("ok\n  ::error::foreign\nx ##[group]y\n")
    guard.command("::error title=truedigest::ours ##[x] \x1b")
    guard.write("::warn")  # a partial line is judged when it is whole
    guard.flush()
    guard.write("ing::late\n")
    lines = raw.getvalue().splitlines()
    assert lines[0] == "ok"
    assert lines[1] == "  :\\:error::foreign"
    assert lines[2] == "x ##\\[group]y"
    assert lines[3] == "::error title=truedigest::ours ##\\[x] \\x1b"
    assert lines[4] == ":\\:warning::late"
    assert runner_lines(raw.getvalue(), allow_own=True) == []


def test_a_secret_split_across_writes_is_still_masked() -> None:
    guard, raw = _guard()
    guard.write("token: " + SECRET[:6])
    guard.write(SECRET[6:] + "\n")
    assert SECRET not in raw.getvalue()
    assert "***" in raw.getvalue()


def test_a_closed_stdout_that_was_written_turns_a_pass_into_3() -> None:
    out, err = GuardedStream(None, "<stdout>"), GuardedStream(io.StringIO(), "<stderr>")
    said: list[str] = []
    out.write("sha256:abc\n")
    assert Streams(out, err).settle(0, lambda m, _h: said.append(m)) == ExitCode.UNAVAILABLE
    assert said == ["stdout could not be written (it is closed): the result was not delivered"]
    assert Streams(out, err).settle(1, lambda m, _h: said.append(m)) == 1  # a failure stands


def test_a_full_device_is_a_recorded_failure_not_a_crash() -> None:
    fd = os.open("/dev/full", os.O_WRONLY)
    raw = open(fd, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        guard = GuardedStream(raw, "<stdout>")
        guard.write("x" * 100_000 + "\n")
        guard.flush()
        assert guard.failure is not None
        guard.write("more\n")  # later writes go nowhere, quietly
        guard.flush()
    finally:
        raw.close()


def test_a_secret_with_a_lone_surrogate_is_remembered_and_masked() -> None:
    # A non-UTF-8 password from the environment arrives as a lone surrogate.
    redact.remember("pass\udc80word")
    assert redact.scrub("x pass\udc80word y") == "x *** y"
