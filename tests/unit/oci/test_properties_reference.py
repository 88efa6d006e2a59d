"""Properties of the three parsers users feed text to: `parse_reference`,
`parse_repository` and `Digest.parse`.

For any text at all (control characters, lone surrogates, non-ASCII digits, near
misses of the grammar made by editing valid references one character at a time):
the parser returns a value or raises a `UsageError` (a `TruedigestError`, exit 2)
with a one-line message, and nothing else. A value round-trips: `str()` then parse
gives the same value and the same text.

No deadline: a property must not fail because the machine is busy.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from truedigest.errors import ExitCode, TruedigestError, UsageError
from truedigest.oci.digest import ALGORITHMS, Digest
from truedigest.oci.reference import ImageRef, parse_reference, parse_repository

PROPERTY = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

T = TypeVar("T")
HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# Every character class the parsers must survive: the grammar's own, its separators,
# whitespace and controls (C0, DEL, C1), non-ASCII letters and digits, lone surrogates.
_any_char = st.characters(exclude_categories=())
_grammar_char = st.sampled_from(string.ascii_letters + string.digits + "._-:/@+=[]")
_nasty_char = st.sampled_from(
    [
        *(" ", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u00a0", "\u2028"),
        *("\ud800", "\udfff", "\u00b2", "\u0663", "\u0130", "\u00df", "\uff21", "\u200b"),
        *("\ufeff", "\u00e9"),
    ]
)
_char = st.one_of(_grammar_char, _grammar_char, _nasty_char, _any_char)

_host = st.one_of(
    st.sampled_from(["localhost", "docker.io", "index.docker.io", "registry-1.docker.io"]),
    st.from_regex(r"\A[a-z0-9]{1,8}(\.[a-z0-9]{1,6}){1,2}\Z"),
    st.sampled_from(["[::1]", "127.0.0.1", "Reg.Example"]),
)
_port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:[._]|__|-+)[a-z0-9]{1,6}){0,2}\Z")
_plain_first = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:_|__|-+)[a-z0-9]{1,6}){0,2}\Z")
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    algorithm = draw(st.sampled_from(ALGORITHMS))
    return Digest.of_bytes(draw(st.binary(max_size=16)), algorithm)


@st.composite
def repositories(draw: st.DrawFn) -> str:
    """A valid repository text, with or without a host."""
    if draw(st.booleans()):
        host = draw(_host) + (draw(_port) if draw(_host) != "[::1]" else "")
        path = [draw(_component), *draw(st.lists(_component, max_size=2))]
        return f"{host}/{'/'.join(path)}"
    return "/".join([draw(_plain_first), *draw(st.lists(_component, max_size=2))])


@st.composite
def references(draw: st.DrawFn) -> str:
    text = draw(repositories())
    if draw(st.booleans()):
        text += f":{draw(_tag)}"
    if draw(st.booleans()):
        text += f"@{draw(digests())}"
    return text


@st.composite
def edited(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    """A valid text with a few characters inserted, replaced or deleted."""
    text = draw(valid)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["insert", "replace", "delete"])):
            case "insert":
                text = text[:at] + draw(_char) + text[at:]
            case "replace":
                text = text[:at] + draw(_char) + text[at + 1 :]
            case _:
                text = text[:at] + text[at + 1 :]
    return text


def texts(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(_char, max_size=80),
        st.text(_any_char, max_size=40),
        valid,
        edited(valid),
        edited(valid),
    )


def value_or_usage_error(parse: Callable[[str], T], text: str) -> T | None:
    """The parser's value, or None after checking the error is a one-line UsageError.

    Any other exception propagates and fails the test.
    """
    error: UsageError | None = None
    try:
        return parse(text)
    except UsageError as exc:
        error = exc
    assert isinstance(error, TruedigestError)
    assert error.exit_code is ExitCode.USAGE
    assert error.message
    assert "\n" not in error.message
    assert "\r" not in error.message
    assert error.instance_hint
    return None


# ------------------------------------------------------------------ parse_reference


@PROPERTY
@given(texts(references()))
@example("ubuntu\ud800")
@example("localhost:99999/app")
@example("host:\u0663/app")
@example("[::1%eth0]/app")
@example("app@sha256:" + "A" * 64)
@example("a" * 64)
@example("x/" + "y" * 300)
def test_any_text_is_a_reference_or_a_usage_error(text: str) -> None:
    ref = value_or_usage_error(parse_reference, text)
    if ref is None:
        return
    assert isinstance(ref, ImageRef)
    again = parse_reference(str(ref))
    assert again == ref
    assert str(again) == str(ref)
    assert ref.tag is not None or ref.digest is not None


@PROPERTY
@given(references())
def test_a_valid_reference_parses_and_round_trips(text: str) -> None:
    ref = parse_reference(text)
    assert parse_reference(str(ref)) == ref
    assert ref.repository == ref.repository.lower()
    assert str(ref).isascii()
    if "@" in text:
        assert ref.digest is not None
        assert ref.reference == str(ref.digest)
    # the repository alone parses to the same place
    assert parse_repository(ref.name) == ImageRef(ref.registry, ref.repository)


# ----------------------------------------------------------------- parse_repository


@PROPERTY
@given(texts(repositories()))
@example("app:latest")
@example("app@sha256:" + "0" * 64)
@example("localhost:5000")
def test_any_text_is_a_repository_or_a_usage_error(text: str) -> None:
    repo = value_or_usage_error(parse_repository, text)
    if repo is None:
        return
    assert (repo.tag, repo.digest) == (None, None)
    assert parse_repository(str(repo)) == repo
    assert str(repo) == repo.name
    # as a reference, the same repository with the default tag
    assert parse_reference(text) == ImageRef(repo.registry, repo.repository, "latest")


@PROPERTY
@given(references())
def test_a_reference_with_a_tag_or_digest_is_not_a_repository(text: str) -> None:
    ref = parse_reference(text, default_tag=None)
    got = value_or_usage_error(parse_repository, text)
    if ref.tag is None and ref.digest is None:
        assert got == ref
    else:
        assert got is None


# ---------------------------------------------------------------------- Digest.parse


@st.composite
def digest_texts(draw: st.DrawFn) -> str:
    return str(draw(digests()))


@PROPERTY
@given(texts(digest_texts()))
@example("sha256:" + "\u0663" * 64)
@example("sha256:" + "A" * 64)
@example("sha256:" + "0" * 63)
@example("md5:" + "0" * 32)
@example("sha256:\ud800")
@example(" sha256:" + "0" * 64 + "\n")
def test_any_text_is_a_digest_or_a_usage_error(text: str) -> None:
    digest = value_or_usage_error(Digest.parse, text)
    if digest is None:
        return
    assert digest.algorithm in HEX_LENGTHS
    assert len(digest.hex) == HEX_LENGTHS[digest.algorithm]
    assert set(digest.hex) <= set("0123456789abcdef")
    assert Digest.parse(str(digest)) == digest
    assert str(Digest.parse(str(digest))) == str(digest)


@PROPERTY
@given(digests())
def test_a_digest_round_trips_alone_and_inside_a_reference(digest: Digest) -> None:
    assert Digest.parse(str(digest)) == digest
    ref = parse_reference(f"registry.test/team/app@{digest}")
    assert ref.digest == digest
    assert parse_reference(str(ref)) == ref
