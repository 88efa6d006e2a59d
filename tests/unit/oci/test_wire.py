"""wire, netguard and manifest parsing: any input ends in a value or a TruedigestError.

Property tests (hypothesis) for Retry-After, Link, the bounded body decoder and
manifest parsing; table tests for the formats each accepts; the run deadline and the
dead-host guard of the transport with a fake clock (no test waits for real).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truedigest.errors import NetworkError, RegistryError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.httpconfig import ClientOptions
from truedigest.oci.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    manifest_media_type,
)
from truedigest.oci.transport import Transport, build_client
from truedigest.oci.wire import BodyDecoder, next_link, parse_http_date, parse_retry_after

NOW = 1_000_000_000.0

# -- Retry-After -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("²", None),
        ("-1", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("9" * 400, 1e12),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
    ],
)
def test_parse_retry_after_table(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_the_three_http_date_formats_agree(text: str) -> None:
    assert parse_http_date(text) == 784111777.0


@pytest.mark.parametrize(
    "text", ["Fri, 31 Feb 2025 00:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "yesterday"]
)
def test_impossible_dates_are_none(text: str) -> None:
    assert parse_http_date(text) is None


@settings(max_examples=300)
@given(st.text())
def test_parse_retry_after_is_total(value: str) -> None:
    got = parse_retry_after(value, now=NOW)
    assert got is None or (got >= 0 and got == got and got != float("inf"))


# -- Link --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ('</v2/a/tags/list?n=1&last=x>; rel="next"', "/v2/a/tags/list?n=1&last=x"),
        ("</p2>; rel=next", "/p2"),
        ('</p0>; rel="prev", </p2>; rel="next"', "/p2"),
        ('</p2>; title="a, b; c"; rel="next last"', "/p2"),
        ('</p2>; REL="Next"', "/p2"),
        ('</p0>; rel="prev"', None),
        ("", None),
        (None, None),
    ],
)
def test_next_link_table(header: str | None, target: str | None) -> None:
    assert next_link(header) == target


@pytest.mark.parametrize(
    "header",
    ["/p2; rel=next", "</p2", "<>; rel=next", '</p2>; rel="next', "</p2> junk", "<a b>", "²"],
)
def test_malformed_link_headers_raise(header: str) -> None:
    with pytest.raises(RegistryError, match="malformed Link"):
        next_link(header)


@settings(max_examples=500)
@given(st.text())
def test_next_link_is_total(header: str) -> None:
    try:
        got = next_link(header)
    except TruedigestError:
        return
    assert got is None or (got and all(" " < c <= "~" for c in got))


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1).filter(
                lambda t: ">" not in t
            ),
            st.sampled_from(["next", "prev", "last", "next last"]),
        ),
        max_size=4,
    )
)
def test_next_link_finds_the_first_next_of_well_formed_headers(
    links: list[tuple[str, str]],
) -> None:
    header = ", ".join(f'<{target}>; rel="{rel}"' for target, rel in links)
    expected = next((t for t, rel in links if "next" in rel.split()), None)
    assert next_link(header) == expected


# -- the bounded decoder ---------------------------------------------------------------


def _decode(coding: str | None, body: bytes, cap: int, chunk: int = 7) -> bytes:
    decoder = BodyDecoder(coding, "test body")
    out = b""
    for i in range(0, len(body), chunk):
        piece = decoder.feed(body[i : i + chunk], cap - len(out))
        assert len(piece) <= cap - len(out) + 1
        out += piece
        if len(out) > cap:
            return out
    decoder.finish()
    return out


@given(st.binary(max_size=2000), st.sampled_from(["gzip", "deflate", "x-gzip", None]))
def test_decoding_round_trips(data: bytes, coding: str | None) -> None:
    body = {
        "gzip": gzip.compress,
        "x-gzip": gzip.compress,
        "deflate": zlib.compress,
        None: lambda d: d,
    }[coding](data)
    assert _decode(coding, body, cap=1 << 20) == data


def test_a_bomb_never_yields_more_than_the_room() -> None:
    bomb = gzip.compress(bytes(50 << 20))
    assert len(_decode("gzip", bomb, cap=1000, chunk=65536)) == 1001


@settings(max_examples=300)
@given(st.binary(max_size=300), st.text(max_size=30))
def test_the_decoder_is_total(body: bytes, coding: str) -> None:
    with contextlib.suppress(TruedigestError):
        _decode(coding, body, cap=4096)


@pytest.mark.parametrize("coding", ["gzip, gzip", "deflate,gzip", "br", "zstd", "compress"])
def test_stacked_and_unknown_encodings_are_refused(coding: str) -> None:
    with pytest.raises(RegistryError, match="refused"):
        BodyDecoder(coding, "test body")


# -- manifest parsing ------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    ["mediaType", "manifests", "config", "layers", "annotations", "subject", "schemaVersion"]
)
_TYPES = st.sampled_from(["", OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, "text/plain"])


@settings(max_examples=400)
@given(st.dictionaries(_KEYS, _JSON, max_size=6), _TYPES)
def test_manifest_parsing_is_total(doc: dict[str, Any], content_type: str) -> None:
    try:
        media_type = manifest_media_type(doc, content_type, "m")
    except TruedigestError:
        media_type = ""
    body = json.dumps(doc).encode()
    manifest = Manifest("r", media_type, body, Digest.of_bytes(body))
    for prop in ("is_index", "children", "config", "layers", "annotations", "subject"):
        with contextlib.suppress(TruedigestError):
            getattr(manifest, prop)


def test_a_boolean_size_is_a_malformed_descriptor() -> None:
    desc = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": True}
    body = json.dumps({"mediaType": OCI_INDEX, "manifests": [desc]}).encode()
    with pytest.raises(RegistryError, match="malformed descriptor"):
        _ = Manifest("r", OCI_INDEX, body, Digest.of_bytes(body)).children


# -- the transport's run deadline and dead-host guard ------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _transport(handler: Any, clock: Clock, **options: Any) -> tuple[Transport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result: httpx.Response = handler(request)
        return result

    opts = ClientOptions(**options)
    client = build_client(opts, transport=httpx.MockTransport(record))
    return Transport(client, opts, sleep=clock.sleep, clock=clock), seen


def test_a_dead_host_is_given_up_after_retries_plus_one_connect_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = Clock()
    transport, seen = _transport(refuse, clock, retries=4)
    with pytest.raises(NetworkError):
        transport.request("GET", "http://dead.example/v2/a/manifests/1")
    assert len(seen) == 5
    for _ in range(10):
        with pytest.raises(NetworkError, match=r"gave up on dead\.example"):
            transport.request("GET", "http://dead.example/v2/a/manifests/2")
    assert len(seen) == 5  # not one more attempt
    # another host is not affected
    with pytest.raises(NetworkError, match=r"cannot reach other\.example"):
        transport.request("GET", "http://other.example/v2/a/manifests/1")


def test_an_answer_resets_the_failure_count() -> None:
    answers = iter([None, None, 200, None, None, 200])

    def flaky(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status)

    transport, seen = _transport(flaky, Clock(), retries=2)
    assert transport.request("GET", "http://flaky.example/a").status == 200
    assert transport.request("GET", "http://flaky.example/b").status == 200
    assert len(seen) == 6


def test_the_run_deadline_stops_requests_and_retries() -> None:
    clock = Clock()
    transport, seen = _transport(
        lambda _r: httpx.Response(503), clock, run_deadline=5.0, retries=100, deadline=1e9
    )
    resp = transport.request("GET", "http://slow.example/a")  # retries until the run ends
    assert resp.status == 503
    assert clock.now < 5.0
    clock.now = 5.0
    with pytest.raises(NetworkError, match="run's deadline of 5 s"):
        transport.request("GET", "http://slow.example/b")
    assert all(r.url.path == "/a" for r in seen)


def test_the_default_run_deadline_follows_timeout() -> None:
    assert ClientOptions(timeout=30).run_seconds == 300
    assert ClientOptions(timeout=1).run_seconds == 60
    assert ClientOptions(timeout=1).with_wait(100).run_seconds == 160
