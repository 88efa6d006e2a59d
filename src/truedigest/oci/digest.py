"""Content digests: parse, compute, print.

The algorithms are the OCI image-spec's registered ones, `sha256`, `sha384` and
`sha512` (distribution/reference accepts the same set once they are registered);
a digest is always compared with a hash of the body made with its own algorithm.
"""

from __future__ import annotations

import functools
import hashlib
import re

from truedigest.base.value import Value, setfield
from truedigest.errors import InvalidDigestError

_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
ALGORITHMS = tuple(_HEX_LENGTHS)
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)\Z")
_LOWER_HEX = re.compile(r"[0-9a-f]+")


@functools.total_ordering
class Digest(Value):
    """A content digest such as `sha256:9f86…`. (A `Value`, not a frozen dataclass:
    the same behaviour without the dataclass's start-up cost.)"""

    _fields = ("algorithm", "hex")
    __slots__ = _fields
    algorithm: str
    hex: str

    def __init__(self, algorithm: str, hex: str) -> None:
        setfield(self, "algorithm", algorithm)
        setfield(self, "hex", hex)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Digest):
            return NotImplemented
        return (self.algorithm, self.hex) < (other.algorithm, other.hex)

    @classmethod
    def parse(cls, text: str) -> Digest:
        if not isinstance(text, str):
            raise InvalidDigestError(f"not a digest: {text!r}")
        candidate = text.strip()
        m = _DIGEST_RE.match(candidate)
        if m is None:
            raise InvalidDigestError(f"malformed digest {clip(text)!r}")
        algorithm, hexpart = m.group(1), m.group(2)
        expected = _HEX_LENGTHS.get(algorithm)
        if expected is None:
            raise InvalidDigestError(
                f"unsupported digest algorithm {algorithm!r} in {clip(text)!r}"
            )
        if len(hexpart) != expected or not _LOWER_HEX.fullmatch(hexpart):
            raise InvalidDigestError(
                f"malformed {algorithm} digest {clip(text)!r}: "
                f"want {expected} lowercase hex characters"
            )
        return cls(algorithm, hexpart)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of `data` with `algorithm` (one of ALGORITHMS)."""
        if algorithm not in _HEX_LENGTHS:
            raise InvalidDigestError(f"unsupported digest algorithm {algorithm!r}")
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def verify(self, data: bytes) -> bool:
        """True when `data` hashes to this digest (with this digest's algorithm)."""
        return Digest.of_bytes(data, self.algorithm) == self

    @property
    def short(self) -> str:
        """`sha256:` plus the first 12 hex characters, for narrow tables."""
        return f"{self.algorithm}:{self.hex[:12]}"

    @property
    def encoded_tag(self) -> str:
        """The referrers tag-schema name: `sha256-<hex>`."""
        return f"{self.algorithm}-{self.hex}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def clip(text: str, limit: int = 80) -> str:
    """`text` for a message: control characters as spaces, at most `limit` characters."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
