"""Short digests: the `sha256:` + 12 hex the tables print, looked up in a walked tag graph.

Pure. A registry has no "find by prefix" API, so a prefix is matched against what
the `whatis` walk has read: the tags' manifests, the entries of their indexes, and
the configs and layers of every manifest fetched so far. The engine widens the walk
(image children, then every child) only while nothing matches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from truedigest.core.taggraph import TagGraph
from truedigest.errors import AmbiguousDigestError, InvalidDigestError, TruedigestError
from truedigest.oci.digest import ALGORITHMS, Digest, clip

MIN_HEX = 12
"""The short digest the tables print: `sha256:` + 12 hex."""
SHOWN_CANDIDATES = 5
"""An ambiguous prefix names at most this many of its candidates."""

_PREFIX = re.compile(r"(?:(?P<algorithm>[a-z0-9]+):)?(?P<hex>[0-9a-f]+)")


class Role(StrEnum):
    """Where the walk saw a candidate digest."""

    MANIFEST = "manifest"  # a tag's manifest or index, or an index entry
    CONFIG = "config"
    LAYER = "layer"


@dataclass(frozen=True, slots=True)
class DigestPrefix:
    """At least MIN_HEX lowercase hex characters, with or without `algorithm:`."""

    algorithm: str | None
    hex: str

    def matches(self, digest: Digest) -> bool:
        if self.algorithm is not None and digest.algorithm != self.algorithm:
            return False
        return digest.hex.startswith(self.hex)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}" if self.algorithm else self.hex


@dataclass(frozen=True, slots=True)
class Candidate:
    digest: Digest
    role: Role
    tags: tuple[str, ...] = ()


def parse_digest_or_prefix(text: str) -> Digest | DigestPrefix:
    """A full digest, or a unique-prefix query (`sha256:5c1fbb4331ca`, `5c1fbb4331ca…`).

    Fewer than MIN_HEX hex characters, an unknown algorithm or anything but
    lowercase hex is a usage error (exit 2)."""
    candidate = text.strip() if isinstance(text, str) else ""
    m = _PREFIX.fullmatch(candidate)
    if m is None:
        return Digest.parse(text)  # its own error names what is wrong
    algorithm, hex_part = m.group("algorithm"), m.group("hex")
    lengths = {a: hashlib.new(a).digest_size * 2 for a in ALGORITHMS}
    if algorithm is not None and algorithm not in lengths:
        return Digest.parse(text)
    if algorithm is not None and len(hex_part) == lengths[algorithm]:
        return Digest(algorithm, hex_part)
    if algorithm is None and len(hex_part) == lengths["sha256"]:
        return Digest("sha256", hex_part)
    longest = lengths[algorithm] if algorithm is not None else max(lengths.values())
    if len(hex_part) < MIN_HEX or len(hex_part) > longest:
        raise InvalidDigestError(
            f"{clip(text)!r} is neither a digest nor a short digest: give at least "
            f"{MIN_HEX} hex characters (e.g. sha256:{'0' * MIN_HEX}) or the full digest"
        )
    return DigestPrefix(algorithm, hex_part)


def candidates(graph: TagGraph) -> list[Candidate]:
    """Every digest the walk has seen: manifests and index entries, then configs and
    layers of the fetched manifests (each digest once, its first role kept)."""
    seen: dict[Digest, Candidate] = {}

    def add(digests: Iterable[Digest], role: Role, user: Digest | None = None) -> None:
        for digest in digests:
            if digest not in seen:
                seen[digest] = Candidate(digest, role, graph.tags_of(user or digest))

    add(graph.direct, Role.MANIFEST)
    add(graph.manifests, Role.MANIFEST)
    add(graph.parents, Role.MANIFEST)
    for digest, manifest in list(graph.manifests.items()):
        if manifest.is_index:
            continue
        try:
            config, layers = manifest.config, manifest.layers
        except TruedigestError:  # a manifest that cannot be read names no blob
            continue
        if config is not None:
            add([config.digest], Role.CONFIG, digest)
        add((x.digest for x in layers), Role.LAYER, digest)
    return list(seen.values())


def matching(graph: TagGraph, prefix: DigestPrefix) -> list[Candidate]:
    """The candidates `prefix` matches, sorted by digest."""
    found = [c for c in candidates(graph) if prefix.matches(c.digest)]
    return sorted(found, key=lambda c: str(c.digest))


def ambiguous(prefix: DigestPrefix, repo_name: str, found: list[Candidate]) -> AmbiguousDigestError:
    """The usage error (exit 2) that lists the candidates, at most SHOWN_CANDIDATES."""
    shown = [_described(c) for c in found[:SHOWN_CANDIDATES]]
    more = len(found) - len(shown)
    listing = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return AmbiguousDigestError(
        f"short digest {prefix} is ambiguous in {repo_name}: {len(found)} digests start "
        f"with it: {listing}"
    )


def _described(c: Candidate) -> str:
    tags = f", tags {', '.join(c.tags[:3])}{' …' if len(c.tags) > 3 else ''}" if c.tags else ""
    return f"{c.digest} ({c.role}{tags})"


__all__ = [
    "MIN_HEX",
    "SHOWN_CANDIDATES",
    "Candidate",
    "DigestPrefix",
    "Role",
    "ambiguous",
    "candidates",
    "matching",
    "parse_digest_or_prefix",
]
