"""Image references, following the distribution reference grammar.

    reference := name [":" tag] ["@" digest]
    name      := [domain "/"] path-component ["/" path-component]*
    domain    := host [":" port]

Normalisation is Docker's (distribution/reference `ParseNormalizedNamed`): no domain,
or the domain `docker.io` or `index.docker.io` exactly as written, means Docker Hub
(`registry-1.docker.io`), where a single-segment name gets `library/`; no tag and no
digest means `latest`. The first component is a domain when it is `localhost`,
contains `.` or `:`, or contains an uppercase letter (which repositories may not).
Any other domain, `registry-1.docker.io` and `Docker.io` included, is taken as
written, without `library/`: the Hub's API does not add it, and neither do docker,
containerd or skopeo. The 255-character limit counts the path only. A bare 64-hex
string is an image ID, not a name. Deliberately stricter than the grammar: a port
must be 1-65535 and a bracketed IPv6 literal a valid IPv6 address.
"""

from __future__ import annotations

import re

from truedigest.base.lazyre import LazyPattern
from truedigest.base.value import Value, setfield
from truedigest.errors import InvalidDigestError, InvalidReferenceError
from truedigest.oci.digest import Digest

DOCKER_HUB = "registry-1.docker.io"
# the names ParseNormalizedNamed canonicalises to Docker Hub, compared as written
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})
_PATH_MAX = 255
_IMAGE_ID = LazyPattern(r"[a-f0-9]{64}")

_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"^[\w][\w.-]{0,127}\Z", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?P<ipv6>[0-9a-fA-F:]+)\])"
    r"(?::(?P<port>[0-9]+))?"
)


class ImageRef(Value):
    """A fully qualified image reference."""

    _fields = ("registry", "repository", "tag", "digest")
    __slots__ = _fields
    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    def __init__(
        self, registry: str, repository: str, tag: str | None = None, digest: Digest | None = None
    ) -> None:
        setfield(self, "registry", registry)
        setfield(self, "repository", repository)
        setfield(self, "tag", tag)
        setfield(self, "digest", digest)

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest when there is one, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or "latest"

    @property
    def name(self) -> str:
        """`registry/repository`, no tag or digest."""
        return f"{self.registry}/{self.repository}"

    def same_repository(self, other: ImageRef) -> bool:
        """Same registry and repository; tag and digest do not matter."""
        return self.registry == other.registry and self.repository == other.repository

    def with_digest(self, digest: Digest) -> ImageRef:
        return ImageRef(self.registry, self.repository, self.tag, digest)

    def with_tag(self, tag: str) -> ImageRef:
        return ImageRef(self.registry, self.repository, tag)  # once per tag of `tags`

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, *, default_tag: str | None = "latest") -> ImageRef:
    """Parse and normalise `text`; raise InvalidReferenceError when it is not a reference."""
    if not isinstance(text, str) or not text or any(ch.isspace() for ch in text):
        raise InvalidReferenceError(f"invalid reference {_show(text)}: empty or has whitespace")
    if _IMAGE_ID.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid reference {_show(text)}: 64 hex characters read as an image ID, "
            "not a repository name (write docker.io/library/NAME for such a name)"
        )
    remainder = text
    digest: Digest | None = None
    if "@" in remainder:
        remainder, _, digest_text = remainder.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(f"invalid reference {_show(text)}: {exc}") from None
    tag: str | None = None
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidReferenceError(
                f"invalid reference {_show(text)}: tag {tag[:140]!r} is not "
                "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
            )
    registry, repository = _split_domain(remainder, text)
    if tag is None and digest is None:
        tag = default_tag
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def parse_repository(text: str) -> ImageRef:
    """A repository with no tag or digest (for `tags`, `whatis --repo`)."""
    ref = parse_reference(text, default_tag=None)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReferenceError(
            f"expected a repository without tag or digest, got {_show(text)}"
        )
    return ref


def _split_domain(name: str, original: str) -> tuple[str, str]:
    if not name:
        raise InvalidReferenceError(f"invalid reference {_show(original)}: no repository name")
    first, sep, rest = name.partition("/")
    is_domain = bool(sep) and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    hub_name = not is_domain or first in _HUB_ALIASES
    if is_domain:
        if not is_valid_domain(first):
            raise InvalidReferenceError(
                f"invalid reference {_show(original)}: {first!r} is not a valid host[:port]"
            )
        registry = DOCKER_HUB if hub_name else first
        path = rest
    else:
        registry, path = DOCKER_HUB, name
    if not path:
        raise InvalidReferenceError(f"invalid reference {_show(original)}: no repository name")
    if path.lower() != path:
        raise InvalidReferenceError(
            f"invalid reference {_show(original)}: repository name must be lowercase"
        )
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise InvalidReferenceError(
                f"invalid reference {_show(original)}: path component {component[:80]!r} "
                "must be lowercase letters and digits separated by '.', '_', '__' or '-'"
            )
    if hub_name and "/" not in path:
        path = f"library/{path}"
    if len(path) > _PATH_MAX:
        raise InvalidReferenceError(
            f"invalid reference {_show(original)}: repository path is longer than "
            f"{_PATH_MAX} characters"
        )
    return registry, path


def is_valid_domain(text: str) -> bool:
    """`host[:port]` as the grammar's domain, with a port of 1-65535 and a bracketed
    IPv6 literal that is a valid IPv6 address (no zone, no IPv4 tail)."""
    m = _HOST.fullmatch(text)
    if m is None:
        return False
    port = m.group("port")
    if port is not None and not (len(port) <= 5 and 0 < int(port) <= 65535):
        return False
    literal = m.group("ipv6")
    if literal is not None:
        import ipaddress  # only a bracketed IPv6 host pays for the import

        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
    return True


def _show(text: object) -> str:
    if not isinstance(text, str):
        return repr(text)
    clipped = text if len(text) <= 120 else text[:119] + "…"
    return repr(clipped)


def pull_scope(repository: str) -> str:
    """The token scope that lets a client pull `repository`."""
    return f"repository:{repository}:pull"
