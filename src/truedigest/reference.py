"""Image references, following the distribution reference grammar.

    reference := name [":" tag] ["@" digest]
    name      := [domain "/"] path-component ["/" path-component]*
    domain    := host [":" port]

Normalisation is Docker's: no domain means Docker Hub (`registry-1.docker.io`),
a single-segment Hub name gets `library/`, no tag and no digest means `latest`.
The first component is a domain when it is `localhost`, contains `.` or `:`,
or contains an uppercase letter (which repositories may not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from truedigest.digest import Digest
from truedigest.errors import InvalidDigestError, InvalidReferenceError

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_NAME_TOTAL_MAX = 255

_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?$"
)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A fully qualified image reference."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

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
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> ImageRef:
        return replace(self, tag=tag, digest=None)

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
    # distribution counts the name as written in canonical form (docker.io for the Hub)
    canonical_domain = "docker.io" if registry == DOCKER_HUB else registry
    if len(f"{canonical_domain}/{repository}") > _NAME_TOTAL_MAX:
        raise InvalidReferenceError(
            f"invalid reference {_show(text)}: name is longer than {_NAME_TOTAL_MAX} characters"
        )
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
    if is_domain:
        port = first.rsplit(":", 1)[1] if first.rfind(":") > first.rfind("]") else None
        if not _HOST.match(first) or (port is not None and not 0 < int(port) <= 65535):
            raise InvalidReferenceError(
                f"invalid reference {_show(original)}: {first!r} is not a valid host[:port]"
            )
        registry = DOCKER_HUB if first.lower() in _HUB_ALIASES else first
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
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(path) > _NAME_TOTAL_MAX:
        raise InvalidReferenceError(
            f"invalid reference {_show(original)}: repository name is longer than 255"
        )
    return registry, path


def _show(text: object) -> str:
    if not isinstance(text, str):
        return repr(text)
    clipped = text if len(text) <= 120 else text[:119] + "…"
    return repr(clipped)
