"""`Secret`: a string that never prints itself (standard library only).

Passwords, identity tokens, bearer tokens and CP tokens are held in one from the
moment they are read; creating one also tells `base.redact` to mask the value
wherever it might still appear.
"""

from __future__ import annotations

from truedigest.base import redact


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redact.remember(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
