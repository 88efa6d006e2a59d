"""httpmodel against httpx, the library it stands in for on the request path.

httpx (installed for the test suite and for programs that inject a transport) is
the oracle: every URL below is parsed by both, and the fields truedigest reads must
agree, except the deviations listed in DEVIATIONS, each stricter than httpx on
purpose (a request line carries only what HTTP allows; a host is what goes on the
wire).
"""

from __future__ import annotations

import gzip

import httpx
import pytest

from truedigest.oci import httpmodel
from truedigest.oci.httpmodel import URL, Headers, InvalidURL
from truedigest.oci.httpxbridge import HttpxBridge

AGREE = [
    "http://A.com:80/x",
    "https://a:443/p?q=1#f",
    "http://a/x y?z=ä",
    "http://[::1]:5000/v2/",
    "http://user:pw@a/",
    "https://reg.example:5000/v2/app/manifests/sha256:abc",
    "http://a/%41%2F",
    "https://127.0.0.1:8443/token?scope=repository:a/b:pull&service=reg",
    "HTTPS://Reg.Example/V2/",
    "http://a/p?x=a%20b+c",
    "http://a/#frag",
    "http://a/?q=1&q=2",
    "http://[fe80::1%25eth0]:80/",
    "http://a.b-c_d~e/",
    "http://a/p;x=1",
    "http://a/~user/",
    "https://reg.example/v2/team/app/tags/list?n=100&last=v1",
    # the shapes truedigest builds itself (read without urlsplit: URL._simple)
    "http://127.0.0.1:80/v2/team/app/manifests/v1.2_rc-3",
    "https://reg:443/v2/",
    "http://localhost:5000/v2/a/manifests/sha256:0123?x=&y=1",
]
REFUSED_BY_BOTH = ["http://a:x/", "http://[::1/", "http://a/\x00", "http://a/\r\nX: 1"]
# input: (what httpx gives, what httpmodel gives), for the field that differs
DEVIATIONS = {
    "http://a/%zz": ("/%zz", "/%25zz"),  # a lone % is escaped: the request line stays valid
    "http://a/x\\y": ("/x\\y", "/x%5Cy"),  # so is a backslash
    "http://bücher.example/x": ("bücher.example", "xn--bcher-kva.example"),  # the A-label
    "http://a:99999/": ("99999", "InvalidURL"),  # no such port
    "http://127.0.0.1:65536/v2/": ("65536", "InvalidURL"),
    "http://a b/": ("a%20b", "InvalidURL"),  # no such host
}


def _fields(url: httpx.URL | URL) -> tuple[object, ...]:
    return (str(url), url.scheme, url.host, url.port, url.netloc, url.raw_path, url.path, url.query)


@pytest.mark.parametrize("text", AGREE)
def test_a_url_reads_as_httpx_reads_it(text: str) -> None:
    assert _fields(URL(text)) == _fields(httpx.URL(text))


@pytest.mark.parametrize("text", REFUSED_BY_BOTH)
def test_a_malformed_url_is_refused(text: str) -> None:
    with pytest.raises(httpx.InvalidURL):
        httpx.URL(text)
    with pytest.raises(InvalidURL):
        URL(text)


@pytest.mark.parametrize(("text", "expected"), DEVIATIONS.items())
def test_the_deviations_from_httpx_are_the_listed_ones(
    text: str, expected: tuple[str, str]
) -> None:
    theirs, ours = expected
    oracle = httpx.URL(text)
    assert theirs in (oracle.raw_path.decode(), oracle.host, str(oracle.port))
    if ours == "InvalidURL":
        with pytest.raises(InvalidURL):
            URL(text)
        return
    mine = URL(text)
    assert ours in (mine.raw_path.decode(), mine.host)
    assert _fields(mine) != _fields(oracle)  # a deviation that starts to agree is stale


@pytest.mark.parametrize(
    "target",
    [
        "/v2/a/tags/list?n=2&last=x",
        "?last=y",
        "../b",
        "//evil/x",
        "https://other/x",
        "tags/list?x= y",
        "",
    ],
)
def test_join_resolves_as_httpx_does(target: str) -> None:
    base = "http://reg/v2/a/tags/list?n=1"
    assert str(URL(base).join(target)) == str(httpx.URL(base).join(target))


@pytest.mark.parametrize(
    ("base", "params"),
    [
        ("http://a/t?x=1&scope=a", {"scope": "b c", "service": "s"}),
        ("https://auth/token", {"scope": "repository:a/b:pull", "service": "reg.example"}),
        ("https://auth/a%2Fb/token?x=%20y", {"scope": "s"}),  # an escaped slash stays
    ],
)
def test_merged_query_parameters_are_encoded_as_httpx_encodes_them(
    base: str, params: dict[str, str]
) -> None:
    assert str(URL(base).copy_merge_params(params)) == str(
        httpx.URL(base).copy_merge_params(params)
    )


def test_without_secrets_drops_userinfo_query_and_fragment() -> None:
    url = URL("https://user:pw@reg.example:5000/v2/x?_state=SECRET#frag")
    assert url.without_secrets() == "https://reg.example:5000/v2/x"
    assert URL("http://a/v2/a%2Fb/x?q=1").without_secrets() == "http://a/v2/a%2Fb/x"
    assert (url.username, url.password) == ("user", "pw")


def test_headers_join_and_list_repeated_fields_as_httpx_does() -> None:
    raw = [(b"Link", b"<a>"), (b"WWW-Authenticate", b"Basic"), (b"www-authenticate", b"Bearer")]
    ours, theirs = Headers(raw), httpx.Headers(raw)
    for name in ("www-authenticate", "LINK", "missing"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get_list(name) == theirs.get_list(name)
    assert ("link" in ours, "missing" in ours) == (True, False)


def test_a_header_value_http_cannot_carry_is_refused_when_the_request_is_built() -> None:
    with pytest.raises(ValueError, match="ascii"):
        httpmodel.Request("GET", URL("http://a/"), [("X-Name", "é")])


def test_an_injected_transports_errors_keep_their_names() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    bridge = HttpxBridge(httpx.MockTransport(refuse))
    with pytest.raises(httpmodel.ConnectTimeout) as caught:
        bridge.handle_request(httpmodel.Request("GET", URL("http://a/"), []))
    assert isinstance(caught.value, httpmodel.TimeoutException)
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)


def test_an_injected_transports_in_memory_body_arrives_decoded() -> None:
    body = b'{"ok": true}'

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-seen"] == "1"
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, content=gzip.compress(body)
        )

    bridge = HttpxBridge(httpx.MockTransport(answer))
    response = bridge.handle_request(httpmodel.Request("GET", URL("http://a/"), [("X-Seen", "1")]))
    assert response.decoded
    assert b"".join(response.iter_raw()) == body
    response.close()


def test_an_injected_transports_unread_stream_arrives_as_sent() -> None:
    # `stream=` (not `content=`): httpx has not read it; its bytes come raw.
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"abc"))

    bridge = HttpxBridge(httpx.MockTransport(answer))
    response = bridge.handle_request(httpmodel.Request("GET", URL("http://a/"), []))
    assert not response.decoded
    assert b"".join(response.iter_raw()) == b"abc"
    response.close()
