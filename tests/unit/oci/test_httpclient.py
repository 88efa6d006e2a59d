"""The lean client under the transport: requests go straight to httpx's transport with
the headers httpx.Client used to add, and nothing of a response is kept between
requests (no cookie jar: docker, containerd and crane keep none either)."""

from __future__ import annotations

import httpx

from truedigest import __version__
from truedigest.oci.httpconfig import ClientOptions
from truedigest.oci.transport import Transport, build_client

URL = "https://reg.example/v2/app/manifests/v1"


def _transport(seen: list[httpx.Request]) -> Transport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, content=b"{}")

    opts = ClientOptions()
    return Transport(build_client(opts, transport=httpx.MockTransport(answer)), opts)


def test_every_request_carries_the_default_headers_under_the_callers() -> None:
    seen: list[httpx.Request] = []
    resp = _transport(seen).request("GET", URL, headers={"Accept": "application/json"})
    assert resp.status == 200
    assert resp.body == b"{}"
    (request,) = seen
    assert request.headers["user-agent"] == f"truedigest/{__version__}"
    assert request.headers["accept-encoding"] == "gzip"
    assert request.headers["accept"] == "application/json"
    assert request.extensions["timeout"]["read"] == ClientOptions().timeout


def test_a_cookie_set_by_a_registry_is_never_sent_back() -> None:
    seen: list[httpx.Request] = []
    transport = _transport(seen)
    for _ in range(2):
        transport.request("GET", URL)
    assert len(seen) == 2
    assert all("cookie" not in r.headers for r in seen)
