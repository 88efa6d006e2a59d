"""The pure pin judgement of `truedigest pins`: candidates and registry answers in,
statuses, relations and details out.

- a pin behind the tracked tag (relation `other-image`) is *not* wrong by itself:
  status `ok`, the detail says the tag moved. Same for a pin that is a platform
  child of the tracked index, or an index holding the tracked manifest: pullable,
  current content;
- wrong (exit 1): a malformed digest, an `image_ref` problem, a dangling pin
  (`not-in-registry`), a pin naming an attestation or a config blob, duplicate rows
  (`ambiguous`), a CP with no row (for `--template`), and CPs that disagree;
- could not check (exit 3): a CP that cannot be read (a row-less `error` entry),
  a row that names no repository (no `image_ref`, no `--repo`), registry failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from truedigest.core.pin_audit import DEFAULT_TRACK, Candidate, Disagreement, PinEntry, TrackedTag
from truedigest.core.verdicts import explain, unknown_sentence
from truedigest.model.diagnosis import Diagnosis, Relating, RelationUnknown
from truedigest.model.observation import Observation, Relation, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef

__all__ = ["Exists", "Relations", "disagreements", "judge", "note_disagreement"]

# Relations that leave a pin pullable and current enough: not wrong by themselves.
_FINE = frozenset(
    {Relation.IDENTICAL, Relation.OTHER_IMAGE, Relation.PLATFORM_MANIFEST, Relation.INDEX_OF}
)


def disagreements(candidates: Sequence[Candidate]) -> list[Disagreement]:
    """(template, region) pairs whose single, well-formed CP rows name different digests."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for c in candidates:
        e = c.entry
        if e.cp is None or c.digest is None or c.duplicates > 1 or e.template_name is None:
            continue
        seen.setdefault((e.template_name, e.region or "global"), {})[e.cp] = str(c.digest)
    return [
        Disagreement(template, region, digests)
        for (template, region), digests in sorted(seen.items())
        if len(set(digests.values())) > 1
    ]


Exists = Mapping[tuple[str, Digest], bool | str]
Relations = Mapping[tuple[str, Digest], Relating | None]


def judge(
    c: Candidate,
    *,
    exists: Exists,
    tracked: Mapping[str, TrackedTag],
    relations: Relations,
    track: str = DEFAULT_TRACK,
) -> PinEntry:
    """The row's status, relation and detail from what the registry answered."""
    entry, digest, locate = c.entry, c.digest, c.locate
    if entry.status in (Status.MISSING, Status.ERROR):  # row-less entries: nothing to judge
        return entry
    notes = list(c.problems)
    wrong = bool(notes)
    unchecked = False
    relation: Relation | None = None
    found: bool | None = None
    truth: TrackedTag | None = None
    if digest is not None and locate is None:
        unchecked = True
        notes.append(
            "the row has no image_ref and no --repo was given: cannot tell which "
            "repository to look the digest up in"
        )
    elif digest is not None and locate is not None:
        key = (locate.name, digest)
        answer = exists.get(key, "not looked up")
        truth = tracked.get(locate.name)
        related = relations.get(key)
        diagnosis = related if isinstance(related, Diagnosis) else None
        unknown = related if isinstance(related, RelationUnknown) else None
        if isinstance(answer, str) and diagnosis is not None:
            # The HEAD failed but the diagnosis stands on its own (distribution answers
            # 500, not 404, to a manifest HEAD for a config blob's digest).
            answer = diagnosis.relation not in (Relation.NOT_IN_REGISTRY, Relation.CONFIG_DIGEST)
        if isinstance(answer, str):
            unchecked = True
            notes.append(f"could not check the registry: {answer}")
        else:
            found = answer
            relation, sentence, outcome = _relate(
                c, digest, locate, found, truth, diagnosis, track, unknown
            )
            if sentence:
                notes.append(sentence)
            wrong = wrong or outcome == "wrong"
            unchecked = unchecked or outcome == "unchecked"
    if c.duplicates > 1:
        notes.insert(
            0,
            f"{c.duplicates} rows for template {entry.template_name!r} in region "
            f"{entry.region!r} in CP {entry.cp}: which one provisions use is undefined; "
            "delete the duplicates",
        )
    if wrong:
        status = Status.MISMATCH
    elif c.duplicates > 1:
        status = Status.AMBIGUOUS
    elif unchecked:
        status = Status.ERROR
    else:
        status = Status.OK
    return replace(
        entry,
        status=status,
        relation=relation,
        detail="; ".join(notes) or None,
        repository=locate.name if locate is not None else None,
        exists=found,
        tracked=str(truth.digest) if truth is not None and truth.digest else None,
    )


def _relate(
    c: Candidate,
    digest: Digest,
    locate: ImageRef,
    found: bool,
    truth: TrackedTag | None,
    diagnosis: Diagnosis | None,
    track: str,
    unknown: RelationUnknown | None = None,
) -> tuple[Relation | None, str | None, str]:
    """(relation, sentence, "ok" | "wrong" | "unchecked") for a pin whose existence is known."""
    tag = f"{locate.name}:{track}"
    if truth is not None and truth.digest is not None:
        if digest == truth.digest:
            return Relation.IDENTICAL, None, "ok"
        if diagnosis is None:
            if not found:
                return Relation.NOT_IN_REGISTRY, _dangling(digest), "wrong"
            return (
                None,
                f"differs from {tag} ({truth.digest}); "
                + (unknown_sentence(unknown) if unknown else "how they relate could not be read"),
                "unchecked",
            )
        if diagnosis.relation is Relation.OTHER_IMAGE:
            return (
                Relation.OTHER_IMAGE,
                f"{track} has moved past this pin: {tag} is now {truth.digest}; the registry "
                "still serves the pinned image (a stale pin, or a deliberate hold or rollback)",
                "ok",
            )
        obs = Observation(
            c.entry.source,
            SourceKind.CP if c.entry.cp is not None else SourceKind.FILE,
            c.entry.source,
            digest,
        )
        head = Observation(f"registry:{tag}", SourceKind.REGISTRY, tag, truth.digest)
        sentence = explain(obs, truth.digest, head, diagnosis)
        return diagnosis.relation, sentence, "ok" if diagnosis.relation in _FINE else "wrong"
    if not found:
        return Relation.NOT_IN_REGISTRY, _dangling(digest), "wrong"
    if truth is None or truth.absent:
        return None, f"{tag} does not exist, so whether the pin is current is unknown", "ok"
    return (
        None,
        f"could not read {tag} to tell whether the pin is current: {truth.error}",
        "unchecked",
    )


def _dangling(digest: Digest) -> str:
    return (
        f"the repository has no manifest {digest}: a dangling pin, provisions will fail to pull it"
    )


def note_disagreement(entry: PinEntry, found: Sequence[Disagreement]) -> PinEntry:
    for d in found:
        if (entry.template_name, entry.region) == (d.template_name, d.region) and entry.cp in (
            d.digests
        ):
            others = ", ".join(f"{cp} {dg}" for cp, dg in sorted(d.digests.items()))
            note = f"CPs disagree for this template and region ({others})"
            return replace(entry, detail=f"{entry.detail}; {note}" if entry.detail else note)
    return entry
