"""How a disagreeing digest relates to the truth: what a registry source answers and
the verdict core reads (stdlib only).

Sources work these out (they need the registry); the core only reads them, so the
types live below both.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from truedigest.errors import TruedigestError
from truedigest.model.observation import Relation
from truedigest.oci.digest import Digest


class Diagnosis(NamedTuple):
    relation: Relation
    platform: str | None = None
    note: str | None = None


class RelationUnknown(NamedTuple):
    """The registry could not be asked how a digest relates (401, 429, 5xx …).

    The disagreement stands regardless; `reason` goes into the detail, `cause`
    (the error's class and hint) is what `-v` adds.
    """

    reason: str
    cause: str | None = None

    @classmethod
    def from_error(cls, exc: TruedigestError) -> RelationUnknown:
        cause = type(exc).__name__
        if exc.__cause__ is not None:
            cause += f" (caused by {type(exc.__cause__).__name__})"
        if exc.instance_hint:
            cause += f"; hint: {exc.instance_hint}"
        return cls(reason=exc.message, cause=cause)


Relating = Diagnosis | RelationUnknown
"""What an oracle answers for one digest: a relation, or why none could be worked out."""


class RelationOracle(Protocol):
    def relate(self, claimed: Digest) -> Relating | None:
        """None: not asked (the mismatch is reported without a relation)."""


__all__ = ["Diagnosis", "Relating", "RelationOracle", "RelationUnknown"]
