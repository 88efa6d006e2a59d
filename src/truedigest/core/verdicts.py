"""The pure core of `verify`: observations in, a Report with relations and a verdict out.

No I/O here. Working out *how* a disagreeing digest relates to the truth needs the
registry, so it is injected as a `RelationOracle`; it is consulted only for
digests that disagree (the agree path costs nothing extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, assert_never

from truedigest.model.diagnosis import Diagnosis, RelationOracle, RelationUnknown
from truedigest.model.observation import (
    PROBLEM_STATUSES,
    Observation,
    Relation,
    Report,
    SourceKind,
    Status,
    Verdict,
)
from truedigest.oci.digest import Digest


def evaluate(
    observations: Sequence[Observation],
    *,
    oracle: RelationOracle | None,
    rounds: int = 1,
    context: dict[str, Any] | None = None,
) -> Report:
    """Compare every source with the first registry source (the truth)."""
    registry = [o for o in observations if o.kind is SourceKind.REGISTRY]
    if not registry:
        raise ValueError("verify needs at least one registry source")
    truth_source = registry[0]
    truth = truth_source.digest if truth_source.status is Status.OK else None
    judged: list[Observation] = []
    for obs in observations:
        if truth is None:
            judged.append(obs)
        elif obs is truth_source:
            judged.append(replace(obs, relation=Relation.IDENTICAL))
        else:
            judged.append(_judge(obs, truth, truth_source, oracle))
    if truth is None:
        judged = _compare_without_truth(judged, truth_source)
    return Report(
        verdict=_verdict(judged),
        truth=truth,
        sources=tuple(judged),
        rounds=rounds,
        context=context or {},
    )


def digests_agree(observations: Sequence[Observation]) -> bool:
    """The cheap check the --wait loop repeats: every source read and equal."""
    registry = [o for o in observations if o.kind is SourceKind.REGISTRY]
    if not registry or registry[0].status is not Status.OK:
        return False
    truth = registry[0].digest
    return all(o.status is Status.OK and o.digest == truth for o in observations)


def _judge(
    obs: Observation, truth: Digest, truth_source: Observation, oracle: RelationOracle | None
) -> Observation:
    if obs.digest is None:
        return obs
    if obs.digest == truth:
        return replace(obs, relation=Relation.IDENTICAL)
    answer = oracle.relate(obs.digest) if oracle is not None else None
    status = Status.MISMATCH if obs.status in (Status.OK, Status.MISMATCH) else obs.status
    extra = obs.extra
    if isinstance(answer, RelationUnknown):
        diagnosis = None
        sentence = f"{explain(obs, truth, truth_source, None)}; {unknown_sentence(answer)}"
        extra = {**extra, RELATION_CAUSE: answer.cause or answer.reason}
    else:
        diagnosis = answer
        sentence = explain(obs, truth, truth_source, diagnosis)
    detail = sentence if not obs.detail else f"{obs.detail}; {sentence}"
    return replace(
        obs,
        status=status,
        relation=diagnosis.relation if diagnosis else None,
        detail=detail,
        extra=extra,
    )


RELATION_CAUSE = "relation_error"
"""Extra key of a source whose relation could not be worked out: the error behind it."""


def unknown_sentence(unknown: RelationUnknown) -> str:
    return f"how it relates to the truth is unknown: {unknown.reason}"


def relation_causes(report: Report) -> list[str]:
    """`-v` lines: for each source whose relation is unknown, the error behind it."""
    return [
        f"cause: {obs.id}: relation unknown: {obs.extra[RELATION_CAUSE]}"
        for obs in report.sources
        if obs.extra.get(RELATION_CAUSE)
    ]


def _compare_without_truth(
    observations: list[Observation], truth_source: Observation
) -> list[Observation]:
    """The registry could not be read: sources can still be proven to disagree."""
    read = [o for o in observations if o.status is Status.OK and o.digest is not None]
    distinct = {o.digest for o in read}
    out = []
    for obs in observations:
        if obs in read and len(distinct) > 1:
            others = sorted(str(d) for d in distinct if d != obs.digest)
            out.append(
                replace(
                    obs,
                    status=Status.MISMATCH,
                    detail=f"disagrees with {', '.join(others)} (the registry could not be "
                    "read, so which one is real is unknown)",
                )
            )
        elif obs in read and obs is not truth_source:
            out.append(
                replace(obs, detail="read, but not compared: the registry could not be read")
            )
        else:
            out.append(obs)
    return out


def verdict_of(observations: Sequence[Observation]) -> Verdict:
    """The verdict of judged sources (after later checks changed some, e.g. commits)."""
    return _verdict(observations)


def _verdict(observations: Sequence[Observation]) -> Verdict:
    images = [o for o in observations if o.kind is SourceKind.REGISTRY]
    if any(o.status is Status.ABSENT for o in images):
        return Verdict.ABSENT
    if any(o.status in PROBLEM_STATUSES for o in observations):
        return Verdict.MISMATCH
    if any(o.status in (Status.ERROR, Status.ABSENT) for o in observations):
        return Verdict.UNAVAILABLE
    if any(o.relation is not Relation.IDENTICAL for o in observations):
        return Verdict.UNAVAILABLE  # fail closed: something was not compared
    return Verdict.AGREE


def _tag_label(obs: Observation) -> str:
    """`:sha-1a2b3c4` for a tag reference (the full ref is in the registry row)."""
    ref = str(obs.extra.get("reference") or obs.where)
    name, _, tag = ref.rpartition(":")
    if name and "/" not in tag and "@" not in ref:
        return f":{tag}"
    return ref


def _reference(obs: Observation) -> str:
    """The registry source's fully qualified reference, as `truedigest resolve` takes it."""
    return str(obs.extra.get("reference") or obs.where)


def _subject(obs: Observation) -> str:
    match obs.kind:
        case SourceKind.CP:
            return "the pin"
        case SourceKind.FILE:
            return "the file's pin"
        case SourceKind.BUILD:
            return "the build output"
        case SourceKind.REGISTRY:
            return _tag_label(obs)
        case SourceKind.ATTESTATION:  # rows added after judging (--require-attestation)
            return "the attestation"
        case _:
            assert_never(obs.kind)


def explain(
    obs: Observation, truth: Digest, truth_source: Observation, diagnosis: Diagnosis | None
) -> str:
    """One sentence: what probably happened and what to do."""
    who = _subject(obs)
    claimed = obs.digest
    tag = _tag_label(truth_source)
    if diagnosis is None:
        return f"{who} names {claimed}, but {tag} is {truth}"
    platform = f" ({diagnosis.platform})" if diagnosis.platform else ""
    match obs.kind:
        case SourceKind.REGISTRY:
            fix = "re-point the tag or re-push so both agree on one digest"
        case SourceKind.BUILD:
            fix = f"downstream jobs should use the registry's {truth}"
        case SourceKind.CP | SourceKind.FILE:
            fix = f"pin {truth} instead"
        case SourceKind.ATTESTATION:
            fix = f"attest {truth}"
        case _:
            assert_never(obs.kind)
    note = f" ({diagnosis.note})" if diagnosis.note else ""
    match diagnosis.relation:
        case Relation.IDENTICAL:
            return f"{who} matches {tag}"
        case Relation.PLATFORM_MANIFEST:
            return (
                f"{who} names the {diagnosis.platform or 'platform'} child manifest of the index "
                f"{tag} points at, not the index itself (buildx wrapped the image in an index); "
                f"{fix}, or verify with --platform {diagnosis.platform or 'OS/ARCH'}"
            )
        case Relation.INDEX_OF:
            return (
                f"{who} names an index that contains {truth}{platform}; the truth here is the "
                f"platform manifest, so {fix}"
            )
        case Relation.ATTESTATION:
            return (
                f"{who} names the attestation (provenance/SBOM) manifest inside the index, "
                f"not a runnable image; {fix}"
            )
        case Relation.CONFIG_DIGEST if obs.kind is SourceKind.BUILD:
            # The docker driver (`--load`) and build-push-action's `digest` output of
            # several known issues hand over the image ID: say it in a CI author's words.
            return (
                f"{who} names the image ID, the image config digest{platform} (what "
                "`docker image inspect --format {{.Id}}` and the docker driver's "
                "`containerimage.digest` print), not a pullable manifest digest; use the "
                f"registry's {truth} (`truedigest resolve {_reference(truth_source)}`) or "
                "build with a docker-container or remote builder"
            )
        case Relation.CONFIG_DIGEST:
            return (
                f"{who} names the image config digest{platform} — `docker image inspect .Id` — "
                f"not the manifest digest; {fix}"
            )
        case Relation.OTHER_IMAGE:
            if obs.kind is SourceKind.REGISTRY:
                return (
                    f"{who} points at {claimed}, another image than {tag} ({truth}): one of "
                    f"the tags moved; {fix}"
                )
            if obs.kind is SourceKind.BUILD:
                return (
                    f"the repository serves {claimed}{note}, but {tag} points at {truth}: the "
                    f"tag moved after this push, or the build pushed another tag; {fix}"
                )
            return (
                f"the repository serves {claimed}{note}, but {tag} points at {truth}: a stale "
                f"pin, a rollback or a tag that moved; {fix} if {tag} is what should run"
            )
        case Relation.NOT_IN_REGISTRY:
            if obs.kind is SourceKind.BUILD:
                return (
                    f"the repository has no manifest {claimed}{note}: the push did not land "
                    f"here, or went to another repository; {fix}"
                )
            return (
                f"the repository has no manifest {claimed}{note}: a dangling pin, provisions "
                f"will fail to pull it; {fix}"
            )
        case Relation.OTHER_COMMIT:  # said by core.commit_check, never by the oracle
            return f"{who} names {claimed}, served, but built from another commit"
        case _:
            assert_never(diagnosis.relation)
