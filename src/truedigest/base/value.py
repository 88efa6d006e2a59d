"""Immutable value classes that cost nothing to define.

`@dataclass(frozen=True, slots=True)` writes each class's methods as source text and
compiles them when the module is imported: about 0.9 ms a class on the CI machine.
The six value types every `resolve` loads (Digest, ImageRef, Platform, Descriptor,
Manifest, Resolved) took about 5 ms of its start-up that way. `Value` gives them the
same behaviour from one base class, written once:

- fields are named in order by `_fields`, and `__slots__ = _fields` (a literal
  `__slots__` would be sorted by the linter, and the order is the constructor's);
  `__init__` is written by hand (it sets each field with `setfield`, as a frozen
  dataclass's does);
- equality compares the class and the fields not listed in `_uncompared`, and the
  hash is the hash of those fields (a frozen dataclass's `compare=False`);
- `repr` is `Name(field=value, ...)` without the fields in `_hidden` (`repr=False`);
- setting or deleting a field raises `FrozenError`, an AttributeError, as
  `dataclasses.FrozenInstanceError` is;
- `copy`, `deepcopy` and `pickle` rebuild through `__init__` with the fields in
  order, so `__init__` takes them positionally in `_fields` order;
- `__match_args__` is the fields, for `match` patterns.
"""

from __future__ import annotations

import operator
from typing import Any, ClassVar

setfield = object.__setattr__
"""Set a field in `__init__`: `setfield(self, "name", value)`."""


class FrozenError(AttributeError):
    """A value's field was set or deleted after it was made."""


class Value:
    """Base class of immutable, slotted, comparable values (see the module's text)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    _uncompared: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()
    _key: ClassVar[operator.attrgetter[Any]]  # not a function: no binding to self

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.__dict__.get("_fields", ())
        unknown = set(cls._uncompared + cls._hidden) - set(fields)
        if not fields or unknown or cls.__dict__.get("__slots__") != fields:
            raise TypeError(f"{cls.__qualname__}: _fields names every field, __slots__ = _fields")
        compared = [name for name in fields if name not in cls._uncompared]
        cls._fields = fields
        cls._shown = tuple(name for name in fields if name not in cls._hidden)
        cls._key = operator.attrgetter(*compared)
        setattr(cls, "__match_args__", fields)  # noqa: B010 - mypy will not assign a dunder

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._key(self) == self._key(other))

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Value], tuple[Any, ...]]:
        return (type(self), tuple(getattr(self, name) for name in self._fields))


__all__ = ["FrozenError", "Value", "setfield"]
