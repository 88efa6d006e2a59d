"""Transport: retries, deadline, Retry-After, redirects, body caps, Secret.

Every test injects `sleep` (and where time matters `clock`), so none waits for real.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import respx

from truedigest import __version__
from truedigest.errors import (
    ExitCode,
    ManifestTooLargeError,
    NetworkError,
    RegistryError,
    TLSError,
    UsageError,
)
from truedigest.oci import httpmodel
from truedigest.oci.auth import Credentials
from truedigest.oci.httpconfig import ClientOptions
from truedigest.oci.secret import Secret
from truedigest.oci.transport import (
    MAX_REDIRECTS,
    Transport,
    build_client,
    join_url,
    origin,
    parse_retry_after,
    parse_url,
    redact_url,
    show_origin,
)

URL = "https://reg.example/v2/app/manifests/v1"


@dataclass
class FakeTime:
    """A clock that only moves when something sleeps."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_mocked=True)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_transport(router: respx.Router, fake_time: FakeTime, **options: float) -> Transport:
    opts = ClientOptions(**options)  # type: ignore[arg-type]
    client = build_client(opts, transport=httpx.MockTransport(router.handler))
    return Transport(client, opts, sleep=fake_time.sleep, clock=fake_time.clock)


# -- retries ---------------------------------------------------------------------


def test_success_is_one_request(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).respond(200, content=b"{}")
    transport = make_transport(router, fake_time)
    resp = transport.request("GET", URL)
    assert (resp.status, resp.body) == (200, b"{}")
    assert route.call_count == 1
    assert transport.stats.total == 1
    assert transport.stats.by_host == {"reg.example": 1}
    assert fake_time.slept == []
    assert route.calls.last.request.headers["user-agent"] == f"truedigest/{__version__}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_connect_errors_are_retried_with_growing_jittered_backoff(
    router: respx.Router, fake_time: FakeTime, method: str
) -> None:
    route = router.route(method=method, url=URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ConnectError("refused"),
            httpx.Response(200),
        ]
    )
    transport = make_transport(router, fake_time, backoff=1.0)
    assert transport.request(method, URL).status == 200
    assert route.call_count == 3
    first, second = fake_time.slept
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


def test_connect_timeout_is_retried(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).mock(side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200)])
    assert make_transport(router, fake_time).request("GET", URL).status == 200
    assert route.call_count == 2


def test_connect_errors_are_bounded(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    transport = make_transport(router, fake_time, retries=3)
    with pytest.raises(NetworkError) as info:
        transport.request("GET", URL)
    assert route.call_count == 4  # the first attempt and 3 retries
    assert len(fake_time.slept) == 3
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert "reg.example" in str(info.value)
    # The injected transport's httpx error, as the request path's own (its cause).
    assert isinstance(info.value.__cause__, httpmodel.ConnectError)
    assert isinstance(info.value.__cause__.__cause__, httpx.ConnectError)


def test_post_is_not_retried_on_connect_error(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(NetworkError):
        make_transport(router, fake_time).request("POST", URL, data={"a": "b"})
    assert route.call_count == 1
    assert fake_time.slept == []


def test_certificate_errors_are_not_retried(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).mock(
        side_effect=httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    )
    with pytest.raises(TLSError):
        make_transport(router, fake_time).request("GET", URL)
    assert route.call_count == 1


def test_read_errors_are_not_retried(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).mock(side_effect=httpx.ReadError("reset"))
    with pytest.raises(NetworkError, match=r"reg\.example"):
        make_transport(router, fake_time).request("GET", URL)
    assert route.call_count == 1


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses(
    router: respx.Router, fake_time: FakeTime, method: str, status: int
) -> None:
    route = router.route(method=method, url=URL).mock(
        side_effect=[httpx.Response(status), httpx.Response(200)]
    )
    transport = make_transport(router, fake_time)
    assert transport.request(method, URL).status == 200
    assert route.call_count == 2
    assert len(fake_time.slept) == 1
    assert transport.stats.total == 2


@pytest.mark.parametrize("status", [400, 404, 500, 501])
def test_other_statuses_are_not_retried(
    router: respx.Router, fake_time: FakeTime, status: int
) -> None:
    route = router.get(URL).respond(status)
    assert make_transport(router, fake_time).request("GET", URL).status == status
    assert route.call_count == 1
    assert fake_time.slept == []


@pytest.mark.parametrize("status", [429, 503])
def test_post_is_not_retried_on_retryable_status(
    router: respx.Router, fake_time: FakeTime, status: int
) -> None:
    route = router.post(URL).respond(status)
    assert make_transport(router, fake_time).request("POST", URL).status == status
    assert route.call_count == 1
    assert fake_time.slept == []


def test_retryable_status_is_bounded_and_last_answer_returned(
    router: respx.Router, fake_time: FakeTime
) -> None:
    route = router.get(URL).respond(503)
    resp = make_transport(router, fake_time, retries=2).request("GET", URL)
    assert resp.status == 503
    assert route.call_count == 3
    assert len(fake_time.slept) == 2


# -- Retry-After and the deadline ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cap", "expected"),
    [("3", 10.0, 3.0), ("0", 10.0, 0.0), ("120", 10.0, 10.0), ("7", 5.0, 5.0)],
)
def test_retry_after_seconds_up_to_cap(
    router: respx.Router, fake_time: FakeTime, header: str, cap: float, expected: float
) -> None:
    router.get(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200)]
    )
    make_transport(router, fake_time, retry_after_cap=cap).request("GET", URL)
    assert fake_time.slept == [expected]


def _http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


def test_retry_after_http_date_is_honoured(router: respx.Router, fake_time: FakeTime) -> None:
    router.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": _http_date(30)}),
            httpx.Response(200),
        ]
    )
    make_transport(router, fake_time, retry_after_cap=100.0).request("GET", URL)
    (delay,) = fake_time.slept
    assert 27.0 <= delay <= 31.0  # HTTP-dates have whole seconds


def test_retry_after_http_date_is_capped(router: respx.Router, fake_time: FakeTime) -> None:
    router.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": _http_date(3600)}),
            httpx.Response(200),
        ]
    )
    make_transport(router, fake_time, retry_after_cap=4.0).request("GET", URL)
    assert fake_time.slept == [4.0]


def test_retry_after_garbage_falls_back_to_backoff(
    router: respx.Router, fake_time: FakeTime
) -> None:
    router.get(URL).mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "soon"}), httpx.Response(200)]
    )
    make_transport(router, fake_time, backoff=0.2).request("GET", URL)
    (delay,) = fake_time.slept
    assert 0.1 <= delay <= 0.2


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 5 ", 5.0),
        ("-1", None),
        ("1.5", None),
        ("later", None),
        (email.utils.formatdate(NOW + 42, usegmt=True), 42.0),
        (email.utils.formatdate(NOW - 42, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_total_deadline_stops_retries(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).respond(503, headers={"Retry-After": "2"})
    transport = make_transport(router, fake_time, retries=100, deadline=5.0)
    assert transport.request("GET", URL).status == 503
    # t=0 → wait 2 → t=2 → wait 2 → t=4: a third wait would end past the 5 s deadline
    assert fake_time.slept == [2.0, 2.0]
    assert route.call_count == 3


def test_deadline_counts_time_spent_in_requests(router: respx.Router, fake_time: FakeTime) -> None:
    def slow_refusal(request: httpx.Request) -> httpx.Response:
        fake_time.now += 4.0  # each attempt takes 4 s before it fails
        raise httpx.ConnectTimeout("slow", request=request)

    route = router.get(URL).mock(side_effect=slow_refusal)
    transport = make_transport(router, fake_time, retries=100, deadline=10.0, backoff=0.1)
    with pytest.raises(NetworkError, match="timed out"):
        transport.request("GET", URL)
    assert route.call_count == 3  # at t=4 and t=8 a retry fits; at t=12 it does not


# -- redirects -----------------------------------------------------------------------


def _redirect(location: str, status: int = 307) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


AUTH = {"Authorization": "Bearer tok-redirect-5b1"}


def test_same_origin_redirect_keeps_authorization(
    router: respx.Router, fake_time: FakeTime
) -> None:
    router.get(URL).mock(return_value=_redirect("/v2/app/blobs/x", 302))
    target = router.get("https://reg.example/v2/app/blobs/x").respond(200, content=b"ok")
    resp = make_transport(router, fake_time).request("GET", URL, headers=AUTH)
    assert resp.body == b"ok"
    assert str(resp.url) == "https://reg.example/v2/app/blobs/x"
    assert resp.redirected  # the session takes no round-trip sample from it
    assert target.calls.last.request.headers["Authorization"] == AUTH["Authorization"]
    direct = make_transport(router, fake_time).request("GET", "https://reg.example/v2/app/blobs/x")
    assert not direct.redirected


@pytest.mark.parametrize(
    "other",
    [
        pytest.param("https://cdn.example/blob", id="other-host"),
        pytest.param("https://reg.example:8443/blob", id="other-port"),
        pytest.param("https://reg.example/blob", id="other-scheme"),
    ],
)
def test_cross_origin_redirect_drops_authorization(
    router: respx.Router, fake_time: FakeTime, other: str
) -> None:
    start = "http://reg.example/v2/app/blobs/x"
    first = router.get(start).mock(return_value=_redirect(other))
    target = router.get(other).respond(200, content=b"blob")
    resp = make_transport(router, fake_time).request("GET", start, headers=AUTH)
    assert resp.body == b"blob"
    assert first.calls.last.request.headers["Authorization"] == AUTH["Authorization"]
    assert "Authorization" not in target.calls.last.request.headers


def test_authorization_stays_dropped_after_coming_back(
    router: respx.Router, fake_time: FakeTime
) -> None:
    router.get(URL).mock(return_value=_redirect("https://cdn.example/hop"))
    router.get("https://cdn.example/hop").mock(
        return_value=_redirect("https://reg.example/v2/app/final")
    )
    final = router.get("https://reg.example/v2/app/final").respond(200)
    make_transport(router, fake_time).request("GET", URL, headers=AUTH)
    assert "Authorization" not in final.calls.last.request.headers


def test_https_to_http_redirect_is_refused(router: respx.Router, fake_time: FakeTime) -> None:
    router.get(URL).mock(return_value=_redirect("http://reg.example/v2/app/manifests/v1"))
    downgraded = router.get("http://reg.example/v2/app/manifests/v1").respond(200)
    with pytest.raises(RegistryError, match="plain-http") as info:
        make_transport(router, fake_time).request("GET", URL, headers=AUTH)
    assert downgraded.call_count == 0
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def _chain(router: respx.Router, hops: int) -> list[respx.Route]:
    routes = [
        router.get(f"https://reg.example/hop{i}").mock(return_value=_redirect(f"/hop{i + 1}"))
        for i in range(hops)
    ]
    routes.append(router.get(f"https://reg.example/hop{hops}").respond(200, content=b"end"))
    return routes


def test_up_to_five_redirects_are_followed(router: respx.Router, fake_time: FakeTime) -> None:
    routes = _chain(router, MAX_REDIRECTS)
    transport = make_transport(router, fake_time)
    assert transport.request("GET", "https://reg.example/hop0").body == b"end"
    assert all(route.call_count == 1 for route in routes)
    assert transport.stats.total == MAX_REDIRECTS + 1 == 6


def test_a_sixth_redirect_is_an_error(router: respx.Router, fake_time: FakeTime) -> None:
    routes = _chain(router, MAX_REDIRECTS + 1)
    with pytest.raises(RegistryError, match="redirects"):
        make_transport(router, fake_time).request("GET", "https://reg.example/hop0")
    assert routes[-1].call_count == 0


def test_redirect_loop_is_an_error(router: respx.Router, fake_time: FakeTime) -> None:
    route = router.get(URL).mock(return_value=_redirect(URL))
    with pytest.raises(RegistryError, match="redirects"):
        make_transport(router, fake_time).request("GET", URL)
    assert route.call_count == MAX_REDIRECTS + 1


def test_post_redirect_is_not_followed(router: respx.Router, fake_time: FakeTime) -> None:
    router.post(URL).mock(return_value=_redirect("https://other.example/token"))
    other = router.post("https://other.example/token").respond(200)
    resp = make_transport(router, fake_time).request("POST", URL, data={"refresh_token": "x"})
    assert resp.status == 307
    assert other.call_count == 0


def test_follow_false_returns_the_redirect(router: respx.Router, fake_time: FakeTime) -> None:
    router.get(URL).mock(return_value=_redirect("/elsewhere"))
    assert make_transport(router, fake_time).request("GET", URL, follow=False).status == 307


def test_redirect_without_location_is_returned(router: respx.Router, fake_time: FakeTime) -> None:
    router.get(URL).respond(302)
    assert make_transport(router, fake_time).request("GET", URL).status == 302


# -- body caps -------------------------------------------------------------------------


def test_content_length_over_cap_fails_before_reading(
    router: respx.Router, fake_time: FakeTime
) -> None:
    read: list[bytes] = []

    def body() -> Iterator[bytes]:
        read.append(b"x")
        yield b"x"

    router.get(URL).mock(
        return_value=httpx.Response(200, headers={"Content-Length": "1025"}, content=body())
    )
    with pytest.raises(ManifestTooLargeError, match="1025") as info:
        make_transport(router, fake_time).request("GET", URL, cap=1024, what="manifest app:v1")
    assert read == []
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert "manifest app:v1" in str(info.value)


def test_streamed_body_over_cap_stops_reading(router: respx.Router, fake_time: FakeTime) -> None:
    chunks_sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for i in range(10_000):
            chunks_sent.append(i)
            yield b"y" * 1000

    router.get(URL).mock(return_value=httpx.Response(200, content=endless()))
    with pytest.raises(ManifestTooLargeError):
        make_transport(router, fake_time).request("GET", URL, cap=4096)
    assert len(chunks_sent) <= 6  # stopped right after the cap, not at the end


@pytest.mark.parametrize("streamed", [False, True])
def test_body_exactly_at_cap_is_fine(
    router: respx.Router, fake_time: FakeTime, streamed: bool
) -> None:
    data = b"z" * 1024
    content: bytes | Iterator[bytes] = iter([data[:500], data[500:]]) if streamed else data
    router.get(URL).mock(return_value=httpx.Response(200, content=content))
    assert make_transport(router, fake_time).request("GET", URL, cap=1024).body == data


def test_head_reads_no_body(router: respx.Router, fake_time: FakeTime) -> None:
    router.head(URL).respond(200, headers={"Content-Length": "512"})
    resp = make_transport(router, fake_time).request("HEAD", URL)
    assert resp.body == b""
    assert resp.headers["content-length"] == "512"


# -- client construction, redaction, secrets ---------------------------------------------


def test_missing_ca_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="ca-file"):
        build_client(ClientOptions(ca_file=tmp_path / "missing.pem"))


def test_redact_url_drops_query_and_userinfo() -> None:
    shown = redact_url(parse_url("https://user:pw-9c1@reg.example/v2/x?_state=SECRET#frag"))
    assert shown == "https://reg.example/v2/x"


def test_redact_url_takes_text_too() -> None:
    assert redact_url("https://user:pw-9c1@cp.example/cp/pins?t=SECRET") == (
        "https://cp.example/cp/pins"
    )


@pytest.mark.parametrize(
    "text",
    [
        "https://reg.example:x/v2/",  # not a port
        "https://reg.example/v2/\x00",  # a NUL
        "https://reg\u3000example/",  # an ideographic space in the host
        "http://[::1/",  # an unclosed IPv6 literal
    ],
)
def test_parse_url_raises_value_error_only(text: str) -> None:
    """Callers above the transport catch ValueError: no httpx exception escapes."""
    with pytest.raises(ValueError, match="malformed URL") as caught:
        parse_url(text)
    assert type(caught.value) is ValueError
    assert "reg" not in str(caught.value)  # the message never echoes the URL


def test_join_url_resolves_relative_targets_and_refuses_malformed_ones() -> None:
    base = parse_url("https://reg.example/v2/app/tags/list")
    joined = join_url(base, "/v2/app/tags/list?last=b&n=2")
    assert (joined.host, joined.path, joined.query) == (
        "reg.example",
        "/v2/app/tags/list",
        b"last=b&n=2",
    )
    with pytest.raises(ValueError, match="malformed URL"):
        join_url(base, "//reg.example:x/v2/")


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("https://reg.example/v2/", "https://REG.example:443/token", True),
        ("http://reg.example/v2/", "http://reg.example:80/token", True),
        ("https://reg.example/v2/", "http://reg.example/v2/", False),
        ("https://reg.example/v2/", "https://reg.example:5000/v2/", False),
        ("https://reg.example/v2/", "https://auth.reg.example/token", False),
    ],
)
def test_origin_fills_the_default_port_and_ignores_case(one: str, other: str, same: bool) -> None:
    assert (origin(parse_url(one)) == origin(parse_url(other))) is same


def test_show_origin_prints_no_path_query_or_userinfo() -> None:
    shown = show_origin(parse_url("https://user:pw-9c1@Reg.Example/v2/x?_state=SECRET"))
    assert shown == "https://reg.example:443"


SECRET_TEXT = "s3cr3t-value-ab12"


def test_secret_never_prints_itself() -> None:
    secret = Secret(SECRET_TEXT)
    renderings = [
        str(secret),
        repr(secret),
        f"{secret}",
        "%s %r" % (secret, secret),  # noqa: UP031
        repr([secret]),
        repr({"k": secret}),
        repr(Credentials("env", "user", password=secret, identity_token=secret)),
    ]
    for text in renderings:
        assert SECRET_TEXT not in text
        assert "***" in text
    assert secret.reveal() == SECRET_TEXT


def test_secret_value_semantics() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1
    assert not Secret("")
    assert Secret("x")
