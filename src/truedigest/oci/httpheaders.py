"""HTTP header fields as truedigest reads them: in order, names matched without regard
to case, values decoded only when asked for (standard library only)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload


def _decode(value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    if value.isascii():  # nearly always: skip the UTF-8 decoder's checks
        return value.decode("ascii")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class Headers:
    """Header fields in order, names matched without regard to case. `get` joins a
    repeated field's values with ", " (as HTTP and httpx do); `get_list` keeps them.

    Fields are kept as they came (bytes off the wire) and a value is decoded only
    when asked for: a response has a dozen fields and a request reads about four."""

    __slots__ = ("_index", "_raw")

    def __init__(
        self, fields: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] = ()
    ) -> None:
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        self._raw: list[tuple[str | bytes, str | bytes]] = list(pairs)
        self._index = _index_of(self._raw)

    @classmethod
    def from_wire(cls, fields: list[tuple[bytes, bytes]]) -> Headers:
        """Fields as the response head parser found them (names are ASCII tokens)."""
        headers = cls.__new__(cls)
        headers._raw = fields  # type: ignore[assignment]  # bytes pairs: a subtype
        index: dict[bytes, list[int]] = {}
        for position, (name, _) in enumerate(fields):
            index.setdefault(name.lower(), []).append(position)
        headers._index = index
        return headers

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        key = _KEYS.get(name)  # the names the code asks for: no encode, no lower()
        positions = self._index.get(_key(name) if key is None else key)
        if not positions:
            return default
        raw = self._raw
        if len(positions) == 1:  # nearly always: no list, no join
            return _decode(raw[positions[0]][1])
        return ", ".join([_decode(raw[i][1]) for i in positions])

    def get_list(self, name: str) -> list[str]:
        raw = self._raw
        return [_decode(raw[i][1]) for i in self._index.get(_key(name), ())]

    def items(self) -> list[tuple[str, str]]:
        return [(_decode(name), _decode(value)) for name, value in self._raw]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._index

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter([_decode(name) for name, _ in self._raw])

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"


def _key(name: str | bytes) -> bytes:
    """A field name as compared: lower-case bytes (the few names the code asks for
    are remembered)."""
    if isinstance(name, bytes):
        return name.lower()
    key = _KEYS.get(name)
    if key is None:
        key = name.encode("latin-1", "replace").lower()
        if len(_KEYS) < 256:
            _KEYS[name] = key
    return key


_KEYS: dict[str, bytes] = {}


def _index_of(fields: Sequence[tuple[str | bytes, str | bytes]]) -> dict[bytes, list[int]]:
    """Each field name (as compared) → the positions of its fields, in order."""
    index: dict[bytes, list[int]] = {}
    for position, (name, _) in enumerate(fields):
        index.setdefault(_key(name), []).append(position)
    return index


__all__ = ["Headers"]
