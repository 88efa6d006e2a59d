"""An httpx transport under truedigest's client: the seam a program or a test uses
to run truedigest on a transport it built (`httpx.MockTransport`, respx, an
`httpx.HTTPTransport`). The one module of the request path that imports httpx, and
only when such a transport is given.

Requests go over as `httpx.Request`s; answers come back as `httpmodel.RawResponse`s,
httpx's exceptions (raised sending or while the body is read) as the `httpmodel`
exception of the same name (or its nearest ancestor's).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from truedigest.oci import httpmodel
from truedigest.oci.httpmodel import Headers, RawResponse, Request


class HttpxBridge:
    """Sends truedigest requests through an httpx transport. Thread-safe when it is."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self.transport = transport

    def handle_request(self, request: Request) -> RawResponse:
        outgoing = httpx.Request(
            request.method,
            str(request.url),
            headers=request.raw_headers,
            content=request.content or None,
            extensions={"timeout": dict(request.timeout)},
        )
        try:
            response = self.transport.handle_request(outgoing)
            response.request = outgoing
            if response.is_stream_consumed:
                # Built in memory by a handler (`content=`): its body is there, decoded.
                body = _Body(iter([response.content]), response)
                return RawResponse(response.status_code, _headers(response), body, decoded=True)
        except httpx.HTTPError as exc:
            raise _ours(exc) from exc
        return RawResponse(
            response.status_code, _headers(response), _Body(response.iter_raw(), response)
        )

    def close(self) -> None:
        self.transport.close()


def _headers(response: httpx.Response) -> Headers:
    return Headers(response.headers.raw)


class _Body:
    def __init__(self, chunks: Iterator[bytes], response: httpx.Response) -> None:
        self._chunks = chunks
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except httpx.HTTPError as exc:
            raise _ours(exc) from exc

    def close(self) -> None:
        self._response.close()


def _ours(exc: httpx.HTTPError) -> httpmodel.HTTPError:
    """httpx's exception as the httpmodel one of its name (or its nearest ancestor's)."""
    for kind in type(exc).__mro__:
        name = "NetworkFailure" if kind.__name__ == "NetworkError" else kind.__name__
        ours = getattr(httpmodel, name, None)
        if isinstance(ours, type) and issubclass(ours, httpmodel.HTTPError):
            return ours(str(exc))
    return httpmodel.TransportError(str(exc))
