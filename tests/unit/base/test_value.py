"""`Value` behaves as the frozen, slotted dataclass each value type was before.

The oracle is `dataclasses` itself: a twin dataclass declared with the same fields,
`compare=False` and `repr=False` is held to the same equality, hash, repr,
immutability and copying as the `Value` subclass. The six real value types are
checked for the fields they exclude."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from truedigest.base.value import FrozenError, Value, setfield
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Descriptor, Manifest, Platform
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import Resolved


class Pair(Value):
    _fields = ("name", "size", "notes", "secret")
    __slots__ = _fields
    _uncompared = ("notes",)
    _hidden = ("secret",)
    name: str
    size: int
    notes: dict[str, str]
    secret: bytes

    def __init__(self, name: str, size: int, notes: dict[str, str], secret: bytes) -> None:
        setfield(self, "name", name)
        setfield(self, "size", size)
        setfield(self, "notes", notes)
        setfield(self, "secret", secret)


@dataclasses.dataclass(frozen=True, slots=True)
class Pair_:  # the oracle: what Pair replaced
    name: str
    size: int
    notes: dict[str, str] = dataclasses.field(compare=False)
    secret: bytes = dataclasses.field(repr=False)


ARGS = [
    ("a", 1, {"x": "1"}, b"s"),
    ("a", 1, {"y": "2"}, b"s"),
    ("a", 2, {}, b"s"),
    ("b", 1, {}, b"t"),
]


def _both(args: tuple[Any, ...]) -> tuple[Pair, Pair_]:
    return Pair(*args), Pair_(*args)


@pytest.mark.parametrize("left", ARGS)
@pytest.mark.parametrize("right", ARGS)
def test_equality_and_hash_follow_the_dataclass(
    left: tuple[Any, ...], right: tuple[Any, ...]
) -> None:
    (mine_l, oracle_l), (mine_r, oracle_r) = _both(left), _both(right)
    assert (mine_l == mine_r) == (oracle_l == oracle_r)
    assert (mine_l != mine_r) == (oracle_l != oracle_r)
    if oracle_l == oracle_r:
        assert hash(mine_l) == hash(mine_r)


def test_repr_hides_what_the_dataclass_hid() -> None:
    mine, oracle = _both(ARGS[0])
    assert repr(mine) == repr(oracle).replace("Pair_(", "Pair(")
    assert "secret" not in repr(mine)


def test_fields_cannot_be_set_or_deleted() -> None:
    mine, oracle = _both(ARGS[0])
    for obj, error in ((mine, FrozenError), (oracle, dataclasses.FrozenInstanceError)):
        with pytest.raises(error):
            obj.name = "z"  # type: ignore[misc]
        with pytest.raises(error):
            del obj.size
    assert issubclass(FrozenError, AttributeError)
    with pytest.raises(AttributeError):
        mine.other = 1
    assert mine.name == "a"


def test_another_class_with_the_same_fields_is_not_equal() -> None:
    class Other(Value):
        _fields = ("name", "size", "notes", "secret")
        __slots__ = _fields

        def __init__(self, name: str, size: int, notes: dict[str, str], secret: bytes) -> None:
            for key, value in zip(self._fields, (name, size, notes, secret), strict=True):
                setfield(self, key, value)

    assert Pair(*ARGS[0]) != Other(*ARGS[0])
    assert Pair(*ARGS[0]) != ("a", 1, {"x": "1"}, b"s")


@pytest.mark.parametrize(
    "clone",
    [copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))],  # noqa: S301
)
def test_copies_rebuild_every_field(clone: Any) -> None:
    mine = Pair(*ARGS[0])
    again = clone(mine)
    assert again == mine
    assert (again.notes, again.secret) == (mine.notes, mine.secret)


def test_match_args_are_the_fields() -> None:
    match Pair(*ARGS[0]):
        case Pair(name, size):
            assert (name, size) == ("a", 1)
        case _:
            pytest.fail("no match")


def test_slots_must_name_the_excluded_fields() -> None:
    with pytest.raises(TypeError):

        class Broken(Value):
            _fields = ("a",)
            __slots__ = _fields
            _uncompared = ("b",)

    with pytest.raises(TypeError):

        class Unslotted(Value):
            _fields = ("a",)


def _manifest(body: bytes) -> Manifest:
    return Manifest(
        "r/app", "application/vnd.oci.image.manifest.v1+json", body, Digest.of_bytes(body)
    )


def test_the_value_types_keep_their_dataclass_fields() -> None:
    digest = Digest.of_bytes(b"{}")
    assert repr(digest) == f"Digest(algorithm='sha256', hex='{digest.hex}')"
    assert Digest.parse(str(digest)) == digest
    assert hash(Digest.parse(str(digest))) == hash(digest)
    assert sorted([Digest("sha256", "b" * 64), Digest("sha256", "a" * 64)])[0].hex == "a" * 64
    assert Platform("linux", "amd64") < Platform("linux", "arm64", "v8")
    ref = ImageRef("r.example", "app", "v1")
    assert ref == ImageRef("r.example", "app", tag="v1")
    assert ref.digest is None
    # Descriptor: annotations are not compared (nor hashed)
    one = Descriptor("m", digest, 2, annotations={"a": "1"})
    assert one == Descriptor("m", digest, 2)
    assert hash(one) == hash(Descriptor("m", digest, 2))
    assert Descriptor("m", digest, 2).annotations == {}
    assert Descriptor("m", digest, 2).annotations is not Descriptor("m", digest, 2).annotations
    # Manifest: body and payload are not shown
    manifest = _manifest(b'{"schemaVersion":2}')
    assert "body" not in repr(manifest)
    assert "payload" not in repr(manifest)
    assert manifest == _manifest(b'{"schemaVersion":2}') != _manifest(b"{}")
    # Resolved: the index it came from is neither compared nor shown
    index = _manifest(b'{"manifests":[]}')
    a = Resolved(ref, digest, "m", 2, None, index=index)
    b = Resolved(ref, digest, "m", 2, None)
    assert a == b
    assert hash(a) == hash(b)
    assert "index=" not in repr(a).replace("index_digest=", "")
    assert copy.deepcopy(a).index == index
