"""The verdict of `verify.evaluate` over every combination of source statuses (DESIGN §3).

When several apply: 10 (absent) if any --image is absent, else 1 (mismatch) if any
disagreement is proven, else 3 (unavailable) if any source could not be read, else
0 (agree). The expected verdict is computed by `spec_verdict`, a direct transcription
of that rule that shares no code with `verify`; every combination of the states each
source kind can be in (itertools.product) is checked against it, with and without a
relation oracle.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from truedigest.core.verdicts import digests_agree, evaluate
from truedigest.errors import ExitCode
from truedigest.model.diagnosis import Diagnosis, Relating, RelationUnknown
from truedigest.model.observation import Observation, Relation, SourceKind, Status, Verdict
from truedigest.oci.digest import Digest

TRUTH = Digest.of_bytes(b'{"schemaVersion":2,"the":"truth"}')
OTHER = Digest.of_bytes(b'{"schemaVersion":2,"the":"stale pin"}')
THIRD = Digest.of_bytes(b'{"schemaVersion":2,"the":"third"}')
IMAGE = "registry.test/team/app"


@dataclass(frozen=True)
class State:
    """One source's state before judging: its status and the digest it read."""

    label: str
    status: Status
    digest: Digest | None

    def observation(self, source_id: str, kind: SourceKind) -> Observation:
        extra = {"reference": source_id.removeprefix("registry:")}
        return Observation(source_id, kind, source_id, self.digest, self.status, extra=extra)


OK_TRUTH = State("ok=truth", Status.OK, TRUTH)
OK_OTHER = State("ok=other", Status.OK, OTHER)
OK_THIRD = State("ok=third", Status.OK, THIRD)
ABSENT = State("absent", Status.ABSENT, None)
ERROR = State("error", Status.ERROR, None)
MISSING = State("missing", Status.MISSING, None)
AMBIGUOUS = State("ambiguous", Status.AMBIGUOUS, None)
BROKEN = State("broken pin", Status.MISMATCH, None)
READ_NOTHING = State("ok, no digest", Status.OK, None)

# What each kind of source can be in; None: the source is not given.
FIRST_IMAGE = [OK_TRUTH, ABSENT, ERROR]
SECOND_IMAGE = [None, OK_TRUTH, OK_OTHER, ABSENT, ERROR]
CP = [None, OK_TRUTH, OK_OTHER, OK_THIRD, MISSING, AMBIGUOUS, BROKEN, ERROR, READ_NOTHING]
BUILD = [None, OK_TRUTH, OK_OTHER]
FILE = [None, OK_TRUTH, OK_THIRD, MISSING, BROKEN]

CHECKED_AND_WRONG = {Status.MISMATCH, Status.MISSING, Status.AMBIGUOUS}


def spec_verdict(images: Sequence[State], others: Sequence[State]) -> Verdict:
    """DESIGN §3, transcribed."""
    every = [*images, *others]
    if any(s.status is Status.ABSENT for s in images):
        return Verdict.ABSENT
    read = {s.digest for s in every if s.status is Status.OK and s.digest is not None}
    if any(s.status in CHECKED_AND_WRONG for s in every) or len(read) > 1:
        return Verdict.MISMATCH
    if any(s.status is not Status.OK or s.digest is None for s in every):
        return Verdict.UNAVAILABLE
    return Verdict.AGREE


EXIT_CODES = {Verdict.ABSENT: 10, Verdict.MISMATCH: 1, Verdict.UNAVAILABLE: 3, Verdict.AGREE: 0}


class FakeOracle:
    """Relations for the two wrong digests; an unknown relation for the third."""

    def relate(self, claimed: Digest) -> Relating | None:
        if claimed == OTHER:
            return Diagnosis(Relation.OTHER_IMAGE)
        if claimed == THIRD:
            return RelationUnknown("the registry answered 429", cause="RegistryError")
        return Diagnosis(Relation.NOT_IN_REGISTRY)


def observations(
    first: State, second: State | None, cp: State | None, build: State | None, file: State | None
) -> list[Observation]:
    out = [first.observation(f"registry:{IMAGE}:v1", SourceKind.REGISTRY)]
    slots = [
        (second, f"registry:{IMAGE}:latest", SourceKind.REGISTRY),
        (cp, "cp:prod", SourceKind.CP),
        (build, "build:digest", SourceKind.BUILD),
        (file, "file:values.yaml", SourceKind.FILE),
    ]
    out.extend(state.observation(sid, kind) for state, sid, kind in slots if state is not None)
    return out


@pytest.mark.parametrize("oracle", [None, FakeOracle()], ids=["no-oracle", "oracle"])
@pytest.mark.parametrize(
    ("first", "second"),
    list(itertools.product(FIRST_IMAGE, SECOND_IMAGE)),
    ids=lambda s: "-" if s is None else s.label,
)
def test_every_combination_of_statuses(
    first: State, second: State | None, oracle: FakeOracle | None
) -> None:
    wrong: list[str] = []
    for cp, build, file in itertools.product(CP, BUILD, FILE):
        obs = observations(first, second, cp, build, file)
        images = [first] + ([second] if second is not None else [])
        others = [s for s in (cp, build, file) if s is not None]
        expected = spec_verdict(images, others)
        report = evaluate(obs, oracle=oracle)
        got = (report.verdict, int(report.exit_code))
        if got != (expected, EXIT_CODES[expected]):
            labels = [s.label if s else "-" for s in (cp, build, file)]
            wrong.append(f"cp/build/file={labels}: {got} != {expected}")
        elif (expected is Verdict.AGREE) != digests_agree(obs):
            wrong.append(f"digests_agree disagrees with the verdict for {obs}")
        elif expected is Verdict.AGREE and not all(
            s.relation is Relation.IDENTICAL for s in report.sources
        ):
            wrong.append(f"agree without every source identical: {report.sources}")
        elif report.truth != (TRUTH if first is OK_TRUTH else None):
            wrong.append(f"truth {report.truth} for first image {first.label}")
    assert not wrong, "\n".join(wrong[:20])


PRECEDENCE = [
    pytest.param(ABSENT, None, OK_OTHER, None, Verdict.ABSENT, id="absent beats mismatch"),
    pytest.param(
        OK_TRUTH, ABSENT, BROKEN, None, Verdict.ABSENT, id="a second image absent beats mismatch"
    ),
    pytest.param(OK_TRUTH, ABSENT, ERROR, None, Verdict.ABSENT, id="absent beats unavailable"),
    pytest.param(
        OK_TRUTH, ERROR, OK_OTHER, None, Verdict.MISMATCH, id="mismatch beats unavailable"
    ),
    pytest.param(
        OK_TRUTH, None, MISSING, ERROR, Verdict.MISMATCH, id="a missing row beats unavailable"
    ),
    pytest.param(
        ERROR, None, OK_OTHER, OK_TRUTH, Verdict.MISMATCH, id="unreadable registry, pins disagree"
    ),
    pytest.param(
        ERROR, None, OK_OTHER, OK_OTHER, Verdict.UNAVAILABLE, id="unreadable registry, pins agree"
    ),
    pytest.param(
        OK_TRUTH, None, ERROR, OK_TRUTH, Verdict.UNAVAILABLE, id="unavailable beats agree"
    ),
    pytest.param(
        OK_TRUTH, None, READ_NOTHING, None, Verdict.UNAVAILABLE, id="a source read without a digest"
    ),
    pytest.param(OK_TRUTH, OK_TRUTH, OK_TRUTH, OK_TRUTH, Verdict.AGREE, id="everything agrees"),
]


@pytest.mark.parametrize(("first", "second", "cp", "build", "verdict"), PRECEDENCE)
def test_precedence_10_then_1_then_3_then_0(
    first: State,
    second: State | None,
    cp: State | None,
    build: State | None,
    verdict: Verdict,
) -> None:
    report = evaluate(observations(first, second, cp, build, None), oracle=FakeOracle())
    assert report.verdict is verdict
    assert report.exit_code == EXIT_CODES[verdict]
    assert report.to_json()["verdict"] == str(verdict)
    assert report.to_json()["exit_code"] == EXIT_CODES[verdict]


def test_verdict_exit_codes_are_the_design_table() -> None:
    assert {v: int(v.exit_code) for v in Verdict} == EXIT_CODES
    assert {v: v.exit_code for v in Verdict} == {
        Verdict.AGREE: ExitCode.OK,
        Verdict.MISMATCH: ExitCode.MISMATCH,
        Verdict.UNAVAILABLE: ExitCode.UNAVAILABLE,
        Verdict.ABSENT: ExitCode.ABSENT,
    }


def test_a_disagreeing_source_is_a_mismatch_with_its_relation() -> None:
    obs = observations(OK_TRUTH, None, OK_OTHER, OK_THIRD, OK_TRUTH)
    report = evaluate(obs, oracle=FakeOracle())
    assert [(o.id, o.status, o.relation) for o in report.sources] == [
        (f"registry:{IMAGE}:v1", Status.OK, Relation.IDENTICAL),
        ("cp:prod", Status.MISMATCH, Relation.OTHER_IMAGE),
        ("build:digest", Status.MISMATCH, None),  # the oracle could not tell
        ("file:values.yaml", Status.OK, Relation.IDENTICAL),
    ]
    build = report.sources[2]
    assert build.detail is not None
    assert build.detail.endswith(
        "how it relates to the truth is unknown: the registry answered 429"
    )


def test_without_the_registry_disagreeing_sources_are_named() -> None:
    report = evaluate(observations(ERROR, None, OK_OTHER, OK_TRUTH, None), oracle=None)
    cp, build = report.sources[1:]
    assert (cp.status, build.status) == (Status.MISMATCH, Status.MISMATCH)
    assert cp.detail is not None
    assert str(TRUTH) in cp.detail
    assert "which one is real is unknown" in cp.detail


def test_evaluate_needs_a_registry_source() -> None:
    with pytest.raises(ValueError, match="registry source"):
        evaluate([OK_TRUTH.observation("cp:prod", SourceKind.CP)], oracle=None)
