"""HTTP's nouns on the request path: URL, header fields, a request, a raw response,
and the transport's failures. Standard library only.

The request path (`httpclient` → `lean`) is built on these, not on httpx: importing
httpx loads `urllib.request`, `http.client`, `http.cookiejar`, `email` and `logging`,
about 95 ms of a 14 ms interpreter's start-up on the CI machine, more than every
other import of `truedigest resolve` together, for models truedigest used a few
fields of. An httpx transport a program or a test injects still works: it is
bridged (`httpxbridge`), and only then is httpx imported.

`URL` parses like httpx.URL where truedigest relies on it: scheme and host
lower-cased, an IDNA host encoded, the scheme's default port dropped, characters a
request line cannot carry percent-encoded, `join` by RFC 3986. The exceptions keep
httpx's names (and hierarchy) so a message or a test reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from truedigest.base.lazyre import LazyPattern
from truedigest.oci.httpheaders import Headers as Headers

DEFAULT_PORTS = {"http": 80, "https": 443}

# RFC 3986 characters kept as they are in a path (and `?` in a query); `%` stays when
# it starts an escape, anything else is percent-encoded as UTF-8.
_PATH_SAFE = "!$&'()*+,;=:@/-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = LazyPattern(r"%(?![0-9A-Fa-f]{2})")
_HOST = LazyPattern(r"[a-z0-9!$&'()*+,;=._~%-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What `URL._simple` reads: the characters of a path and query that need no escaping.
_SIMPLE = re.compile(
    r"(https?)://([a-z0-9][a-z0-9.-]*)(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)(?:\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]*))?"
)


class HTTPError(Exception):
    """Any failure of a request below the transport (httpx.RequestError's place)."""


class InvalidURL(HTTPError, ValueError):
    """Text that is not a URL a request can be sent to."""


class TransportError(HTTPError):
    pass


class TimeoutException(TransportError):
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class WriteTimeout(TimeoutException):
    pass


class PoolTimeout(TimeoutException):
    pass


class NetworkFailure(TransportError):
    """httpx.NetworkError's place (named apart from truedigest.errors.NetworkError)."""


class ConnectError(NetworkFailure):
    pass


class ReadError(NetworkFailure):
    pass


class WriteError(NetworkFailure):
    pass


class ProtocolError(TransportError):
    pass


class RemoteProtocolError(ProtocolError):
    pass


class LocalProtocolError(ProtocolError):
    pass


class UnsupportedProtocol(TransportError):
    pass


class DecodingError(HTTPError):
    """A body an injected transport decoded did not decode (httpx.DecodingError)."""


class URL:
    """An absolute or relative URL, normalised; immutable."""

    __slots__ = (
        "_netloc",
        "fragment",
        "host",
        "path",
        "port",
        "query",
        "raw_path",
        "scheme",
        "userinfo",
    )
    _netloc: bytes  # set on first use of `netloc`

    def __init__(self, text: str | URL) -> None:
        if isinstance(text, URL):
            text = str(text)
        if not isinstance(text, str) or _CONTROL.search(text):
            raise InvalidURL("malformed URL")
        simple = _SIMPLE.fullmatch(text)
        if simple is not None and self._simple(simple):
            return
        from urllib.parse import unquote, urlsplit  # not for the URLs truedigest builds

        try:
            parts = urlsplit(text)
            port = parts.port
            host = parts.hostname or ""
        except ValueError:  # a bad port, an unbalanced IPv6 bracket
            raise InvalidURL("malformed URL") from None
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidURL("malformed URL host") from None
        if ":" in host:  # an IPv6 literal (urlsplit checked its brackets)
            if not re.fullmatch(r"[0-9a-f:.]+(%[0-9a-z._~-]+)?", host):
                raise InvalidURL("malformed URL host")
        elif not _HOST.fullmatch(host):
            raise InvalidURL("malformed URL host")
        self.scheme = parts.scheme.lower()
        self.host = host
        self.port = None if port == DEFAULT_PORTS.get(self.scheme) else port
        netloc = parts.netloc
        self.userinfo = netloc.rpartition("@")[0].encode("ascii", "backslashreplace")
        path = _quote(parts.path, _PATH_SAFE) or ("/" if host else "")
        query = _quote(parts.query, _QUERY_SAFE)
        self.query = query.encode("ascii")
        self.path = unquote(path)
        self.raw_path = (path + "?" + query if query else path).encode("ascii")
        self.fragment = parts.fragment

    def _simple(self, match: re.Match[str]) -> bool:
        """A URL as truedigest builds them (lower-case http(s), a plain host, no escapes,
        userinfo or fragment), read without urlsplit and quote: the result the general
        path gives, at a fraction of the cost (every request parses one)."""
        scheme, host, port, path, query = match.groups()
        number = None if port is None else int(port)
        if number is not None and number > 65535:
            return False  # the general path refuses it
        self.scheme, self.host, self.path, self.fragment = scheme, host, path, ""
        self.port = None if number == DEFAULT_PORTS[scheme] else number
        self.userinfo = b""
        # netloc now: its property's first use would otherwise raise and catch an AttributeError
        self._netloc = (host if self.port is None else f"{host}:{self.port}").encode("ascii")
        self.query = (query or "").encode("ascii")
        self.raw_path = (f"{path}?{query}" if query else path).encode("ascii")
        return True

    @property
    def netloc(self) -> bytes:
        """Host (IPv6 in brackets) and the port when it is not the scheme's default."""
        try:
            return self._netloc
        except AttributeError:  # first use: every request asks several times
            host = f"[{self.host}]" if ":" in self.host else self.host
            self._netloc = (host if self.port is None else f"{host}:{self.port}").encode("ascii")
            return self._netloc

    @property
    def username(self) -> str:
        from urllib.parse import unquote

        return unquote(self.userinfo.decode("ascii").partition(":")[0])

    @property
    def password(self) -> str:
        from urllib.parse import unquote

        return unquote(self.userinfo.decode("ascii").partition(":")[2])

    def join(self, target: str) -> URL:
        """`target` resolved against this URL (RFC 3986); InvalidURL when malformed."""
        if not isinstance(target, str) or _CONTROL.search(target):
            raise InvalidURL("malformed URL")
        from urllib.parse import urljoin

        try:
            return URL(urljoin(str(self), target))
        except ValueError:
            raise InvalidURL("malformed URL") from None

    def copy_merge_params(self, params: Mapping[str, str]) -> URL:
        """This URL with `params` in its query, replacing parameters of those names."""
        from urllib.parse import parse_qsl, urlencode

        kept = [
            (k, v)
            for k, v in parse_qsl(self.query.decode("ascii"), keep_blank_values=True)
            if k not in params
        ]
        return self._with(query=urlencode([*kept, *params.items()]))

    def without_secrets(self) -> str:
        """The URL without userinfo, query or fragment: safe to print."""
        return f"{self.scheme}://{self.netloc.decode()}{self._raw_path_only}"

    @property
    def _raw_path_only(self) -> str:
        """The path as sent (escapes kept: `%2F` stays, unlike `path`)."""
        return self.raw_path.decode("ascii").partition("?")[0]

    def _with(self, *, query: str) -> URL:
        auth = self.userinfo.decode("ascii") + "@" if self.userinfo else ""
        fragment = f"#{self.fragment}" if self.fragment else ""
        path = self._raw_path_only
        return URL(f"{self.scheme}://{auth}{self.netloc.decode()}{path}?{query}{fragment}")

    def __str__(self) -> str:
        auth = self.userinfo.decode("ascii") + "@" if self.userinfo else ""
        fragment = f"#{self.fragment}" if self.fragment else ""
        start = f"{self.scheme}://{auth}{self.netloc.decode()}" if self.scheme or self.host else ""
        return f"{start}{self.raw_path.decode('ascii')}{fragment}"

    def __repr__(self) -> str:
        return f"URL({self.without_secrets()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URL) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _quote(text: str, safe: str) -> str:
    from urllib.parse import quote

    return quote(_LONE_PERCENT.sub("%25", text), safe=safe)


class Request:
    """What is sent: method, URL, the header fields as bytes (in order), the body, and
    the timeouts (seconds; None: unbounded) of its connect, read, write and pool wait."""

    __slots__ = ("content", "method", "raw_headers", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: URL,
        headers: Iterable[tuple[str, str]],
        content: bytes = b"",
        timeout: Mapping[str, float | None] | None = None,
    ) -> None:
        """UnicodeEncodeError (a ValueError) when a header is not ASCII."""
        self.method = method
        self.url = url
        self.raw_headers = [(k.encode("ascii"), v.encode("ascii")) for k, v in headers]
        self.content = content
        self.timeout: Mapping[str, float | None] = timeout or {}

    def header(self, name: str) -> str | None:
        lower = name.lower().encode("ascii")
        for key, value in self.raw_headers:
            if key.lower() == lower:
                return value.decode("ascii")
        return None


class Stream(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class RawResponse:
    """A response whose body is still to be read: `iter_raw()` yields it as sent
    (Content-Encoding still applied) unless `decoded` (an injected transport built it
    in memory, already decoded); `close()` hands the connection back."""

    __slots__ = ("decoded", "headers", "request", "status_code", "stream")

    def __init__(
        self, status_code: int, headers: Headers, stream: Stream, *, decoded: bool = False
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.stream = stream
        self.decoded = decoded
        self.request: Request | None = None

    def iter_raw(self) -> Iterator[bytes]:
        return iter(self.stream)

    def close(self) -> None:
        self.stream.close()


class Sender(Protocol):
    """What carries a request: `lean.LeanTransport`, or a bridged httpx transport."""

    def handle_request(self, request: Request) -> RawResponse: ...

    def close(self) -> None: ...


def form_body(data: Mapping[str, str]) -> bytes:
    """`data` as application/x-www-form-urlencoded bytes."""
    from urllib.parse import urlencode

    return urlencode(list(data.items())).encode("ascii")
