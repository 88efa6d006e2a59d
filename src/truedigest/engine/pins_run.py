"""`truedigest pins`: audit every pin row of every CP (and every pin in --pin-file files).

For each pin: a well-formed `image_digest`; an `image_ref` ending in `@<image_digest>`
(and naming `--repo` when given); the digest served by the registry (HEAD by digest
in `image_ref`'s repository, else `--repo`); whether `--track` (default `latest`)
has moved past it; duplicate rows for one (template, region) in one CP; and CPs
that disagree for one (template, region).

Judgement (DESIGN §3, fail closed):
- a pin behind the tracked tag (relation `other-image`) is *not* wrong by itself:
  status `ok`, the detail says the tag moved. Same for a pin that is a platform
  child of the tracked index, or an index holding the tracked manifest: pullable,
  current content;
- wrong (exit 1): a malformed digest, an `image_ref` problem, a dangling pin
  (`not-in-registry`), a pin naming an attestation or a config blob, duplicate rows
  (`ambiguous`), a CP with no row (for `--template`), and CPs that disagree;
- could not check (exit 3): a CP that cannot be read (a row-less `error` entry),
  a row that names no repository (no `image_ref`, no `--repo`), registry failures.

Requests: one HEAD per distinct (repository, digest), one GET of the tracked tag per
repository, all concurrent (the client bounds them per host); relations are worked
out only for pins that differ from the tracked tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from truedigest.core.verdicts import explain, unknown_sentence
from truedigest.cp.client import CPClient, CPTarget, PinTable, row_region
from truedigest.errors import (
    InvalidDigestError,
    InvalidReferenceError,
    NotFoundError,
    TruedigestError,
)
from truedigest.model.diagnosis import Diagnosis, Relating, RelationUnknown
from truedigest.model.observation import (
    PROBLEM_STATUSES,
    Observation,
    Relation,
    SourceKind,
    Status,
    Verdict,
)
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.sources import pinfile
from truedigest.sources.cp_rows import pin_problems
from truedigest.sources.registry_tag import RegistryDiagnoser

DEFAULT_TRACK = "latest"
# Relations that leave a pin pullable and current enough: not wrong by themselves.
_FINE = frozenset(
    {Relation.IDENTICAL, Relation.OTHER_IMAGE, Relation.PLATFORM_MANIFEST, Relation.INDEX_OF}
)


@dataclass(frozen=True, slots=True)
class PinPlan:
    cps: Sequence[CPTarget] = ()
    pin_files: Sequence[Path] = ()
    template: str | None = None
    track: str = DEFAULT_TRACK
    repo: ImageRef | None = None  # where rows without image_ref are looked up


@dataclass(frozen=True, slots=True)
class PinEntry:
    """One audited pin (a CP row or a pin-file reference), or a row-less CP entry."""

    source: str  # "cp:<NAME>" or "file:<path>:<line>"
    cp: str | None
    template_name: str | None
    region: str | None
    image_digest: str | None  # as written, even when malformed
    image_ref: str | None
    status: Status
    relation: Relation | None = None
    detail: str | None = None
    repository: str | None = None  # registry/repository the digest was looked up in
    exists: bool | None = None
    tracked: str | None = None  # the tracked tag's digest in that repository
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cp": self.cp,
            "template_name": self.template_name,
            "region": self.region,
            "image_digest": self.image_digest,
            "image_ref": self.image_ref,
            "status": str(self.status),
            "relation": str(self.relation) if self.relation else None,
            "detail": self.detail,
            "source": self.source,
            "repository": self.repository,
            "exists": self.exists,
            "tracked": self.tracked,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class Disagreement:
    template_name: str
    region: str
    digests: dict[str, str]  # CP name -> digest

    def to_json(self) -> dict[str, Any]:
        return {
            "template_name": self.template_name,
            "region": self.region,
            "digests": dict(self.digests),
        }


@dataclass(frozen=True, slots=True)
class TrackedTag:
    """`repo:--track` as the registry serves it (digest), or why it could not be read."""

    repository: str
    tag: str
    digest: Digest | None = None
    error: str | None = None
    absent: bool = False
    resolved: Resolved | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": str(self.digest) if self.digest else None,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PinAudit:
    track: str
    pins: tuple[PinEntry, ...]
    disagreements: tuple[Disagreement, ...]
    tracked: tuple[TrackedTag, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if self.disagreements or any(p.status in PROBLEM_STATUSES for p in self.pins):
            return Verdict.MISMATCH
        if any(p.status is Status.ERROR for p in self.pins):
            return Verdict.UNAVAILABLE
        if any(p.status is not Status.OK for p in self.pins):  # pragma: no cover - defensive
            return Verdict.UNAVAILABLE
        return Verdict.AGREE

    @property
    def exit_code(self) -> int:
        return int(self.verdict.exit_code)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "truedigest.pins/v1",
            "verdict": str(self.verdict),
            "exit_code": self.exit_code,
            "pins": [p.to_json() for p in self.pins],
            "disagreements": [d.to_json() for d in self.disagreements],
            "track": self.track,
            "tracked": [t.to_json() for t in self.tracked],
        }


# -- candidates: what each pin claims, before the registry is asked (pure) ---------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pin with its static checks done; `locate` is where its digest should live."""

    entry: PinEntry
    digest: Digest | None
    locate: ImageRef | None
    problems: tuple[str, ...] = ()
    duplicates: int = 1  # rows for this (template, region) in this CP


def table_candidates(
    table: PinTable, *, template: str | None, repo: ImageRef | None
) -> list[Candidate]:
    """Every row of one CP (narrowed to `template`), with duplicates counted."""
    name = table.target.name
    rows = [r for r in table.rows if template is None or r.get("template_name") == template]
    if not rows:
        what = f"no pin row for template {template!r}" if template else "no pin rows at all"
        return [
            Candidate(
                PinEntry(
                    source=f"cp:{name}",
                    cp=name,
                    template_name=template,
                    region=None,
                    image_digest=None,
                    image_ref=None,
                    status=Status.MISSING,
                    detail=f"CP {name} has {what}: the promote did not land, or wrote "
                    "another template name",
                ),
                None,
                None,
            )
        ]

    def key(row: Mapping[str, Any]) -> tuple[str, str]:
        return (repr(row.get("template_name")), row_region(row))

    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[key(row)] = counts.get(key(row), 0) + 1
    return [row_candidate(name, row, repo=repo, duplicates=counts[key(row)]) for row in rows]


def row_candidate(
    cp: str, row: Mapping[str, Any], *, repo: ImageRef | None, duplicates: int = 1
) -> Candidate:
    template = row.get("template_name")
    raw_digest = row.get("image_digest")
    raw_ref = row.get("image_ref")
    entry = PinEntry(
        source=f"cp:{cp}",
        cp=cp,
        template_name=template if isinstance(template, str) else None,
        region=row_region(row),
        image_digest=raw_digest if isinstance(raw_digest, str) else _show(raw_digest),
        image_ref=raw_ref if isinstance(raw_ref, str) else _show(raw_ref),
        status=Status.OK,
    )
    problems: list[str] = []
    if not isinstance(template, str) or not template:
        problems.append("the row has no template_name")
    try:
        digest = Digest.parse(raw_digest) if isinstance(raw_digest, str) else None
    except InvalidDigestError:
        digest = None
    if digest is None:
        problems.append(f"image_digest {raw_digest!r} is not a well-formed digest: a broken pin")
    else:
        problems.extend(pin_problems(dict(row), digest, image=repo, git_sha=None))
    locate = repo
    if isinstance(raw_ref, str):
        try:
            locate = _repository_of(parse_reference(raw_ref))
        except (InvalidReferenceError, InvalidDigestError):
            locate = repo
    return Candidate(entry, digest, locate, tuple(problems), duplicates)


def file_candidates(path: Path, *, repo: ImageRef | None) -> list[Candidate]:
    """Every `<name>@sha256:…` reference in a pin file (only `repo`'s, when given).

    An unreadable file raises InputFileError (a usage error, exit 2).
    """
    scan = pinfile.scan_file(path, repo=repo)
    out: list[Candidate] = [
        Candidate(
            PinEntry(
                source=f"file:{path}:{pin.line}",
                cp=None,
                template_name=None,
                region=None,
                image_digest=str(pin.digest),
                image_ref=pin.reference,
                status=Status.OK,
                file=str(path),
                line=pin.line,
            ),
            pin.digest,
            _repository_of(pin.ref),
        )
        for pin in scan.pins
    ]
    out.extend(
        Candidate(
            PinEntry(
                source=f"file:{path}:{broken.line}",
                cp=None,
                template_name=None,
                region=None,
                image_digest=broken.text.rpartition("@")[2],
                image_ref=broken.text,
                status=Status.MISMATCH,
                file=str(path),
                line=broken.line,
            ),
            None,
            broken.repository,
            (f"malformed digest in {broken.text!r}: a broken pin",),
        )
        for broken in scan.malformed
    )
    if not out:
        whose = f"{repo.name}@sha256:…" if repo is not None else "<repo>@sha256:…"
        out.append(
            Candidate(
                PinEntry(
                    source=f"file:{path}",
                    cp=None,
                    template_name=None,
                    region=None,
                    image_digest=None,
                    image_ref=None,
                    status=Status.MISSING,
                    detail=f"no {whose} reference in the file",
                    file=str(path),
                ),
                None,
                None,
            )
        )
    out.sort(key=lambda c: c.entry.line or 0)
    return out


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


# -- judging: registry answers in, statuses out (pure) ------------------------------

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


def verdict_line(audit: PinAudit) -> str:
    n = len(audit.pins)
    wrong = sum(1 for p in audit.pins if p.status in PROBLEM_STATUSES)
    errors = sum(1 for p in audit.pins if p.status is Status.ERROR)
    parts = [f"{n} pins", f"{wrong} wrong", f"{errors} unreadable"]
    if audit.disagreements:
        parts.append(f"{len(audit.disagreements)} CP disagreements")
    return f"verdict: {audit.verdict} (exit {audit.exit_code}): {', '.join(parts)}"


# -- the run: read CPs and files, ask the registry, judge ----------------------------


class _Lookups:
    """Memoised registry questions, submitted to one pool as soon as they are known."""

    def __init__(self, client: RegistryClient, pool: ThreadPoolExecutor, track: str) -> None:
        self.client = client
        self.pool = pool
        self.track = track
        self.exists: dict[tuple[str, Digest], Future[bool | str]] = {}
        self.tracked: dict[str, Future[TrackedTag]] = {}

    def want(self, c: Candidate) -> None:
        if c.digest is None or c.locate is None:
            return
        repo = c.locate
        key = (repo.name, c.digest)
        if key not in self.exists:
            self.exists[key] = self.pool.submit(self._head, repo, c.digest)
        if repo.name not in self.tracked:
            self.tracked[repo.name] = self.pool.submit(self._resolve, repo)

    def _head(self, repo: ImageRef, digest: Digest) -> bool | str:
        try:
            return self.client.manifest_exists(repo, digest)
        except TruedigestError as exc:
            return exc.message

    def _resolve(self, repo: ImageRef) -> TrackedTag:
        try:
            resolved = self.client.resolve(repo.with_tag(self.track))
        except NotFoundError:
            return TrackedTag(repo.name, self.track, absent=True)
        except TruedigestError as exc:
            return TrackedTag(repo.name, self.track, error=exc.message)
        return TrackedTag(repo.name, self.track, resolved.digest, resolved=resolved)


def audit_pins(
    plan: PinPlan,
    client: RegistryClient,
    *,
    env: Mapping[str, str] | None = None,
) -> PinAudit:
    """Read every CP and pin file, check every pin against the registry, judge."""
    file_cands = [c for path in plan.pin_files for c in file_candidates(path, repo=plan.repo)]
    cp_client = CPClient(client.transport, env)
    workers = max(4, client.max_per_host + len(plan.cps))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pins") as pool:
        lookups = _Lookups(client, pool, plan.track)
        fetches = [(t, pool.submit(cp_client.fetch, t)) for t in plan.cps]
        for c in file_cands:
            lookups.want(c)
        cp_cands: list[Candidate] = []
        for target, future in fetches:
            try:
                table = future.result()
            except TruedigestError as exc:
                cp_cands.append(_unreadable(target, exc.message))
                continue
            cands = table_candidates(table, template=plan.template, repo=plan.repo)
            for c in cands:
                lookups.want(c)
            cp_cands.extend(cands)
        exists = {k: f.result() for k, f in lookups.exists.items()}
        tracked = {k: f.result() for k, f in lookups.tracked.items()}
        diagnosers = {
            name: RegistryDiagnoser(client, t.resolved)
            for name, t in tracked.items()
            if t.resolved is not None
        }
        wanted = {
            (name, digest): pool.submit(diagnosers[name].relate, digest)
            for (name, digest) in exists
            if name in diagnosers and tracked[name].digest != digest
        }
        relations = {k: f.result() for k, f in wanted.items()}
    candidates = [*cp_cands, *file_cands]
    pins = tuple(
        judge(c, exists=exists, tracked=tracked, relations=relations, track=plan.track)
        for c in candidates
    )
    found = disagreements(cp_cands)
    if found:
        pins = tuple(_note_disagreement(p, found) for p in pins)
    return PinAudit(
        track=plan.track,
        pins=pins,
        disagreements=tuple(found),
        tracked=tuple(tracked[k] for k in sorted(tracked)),
    )


def _note_disagreement(entry: PinEntry, found: Sequence[Disagreement]) -> PinEntry:
    for d in found:
        if (entry.template_name, entry.region) == (d.template_name, d.region) and entry.cp in (
            d.digests
        ):
            others = ", ".join(f"{cp} {dg}" for cp, dg in sorted(d.digests.items()))
            note = f"CPs disagree for this template and region ({others})"
            return replace(entry, detail=f"{entry.detail}; {note}" if entry.detail else note)
    return entry


def _unreadable(target: CPTarget, message: str) -> Candidate:
    return Candidate(
        PinEntry(
            source=f"cp:{target.name}",
            cp=target.name,
            template_name=None,
            region=None,
            image_digest=None,
            image_ref=None,
            status=Status.ERROR,
            detail=message,
        ),
        None,
        None,
    )


def _repository_of(ref: ImageRef) -> ImageRef:
    return ImageRef(ref.registry, ref.repository)


def _show(value: object) -> str | None:
    return None if value is None else repr(value)


__all__ = [
    "Candidate",
    "Disagreement",
    "PinAudit",
    "PinEntry",
    "PinPlan",
    "TrackedTag",
    "audit_pins",
    "disagreements",
    "file_candidates",
    "judge",
    "row_candidate",
    "table_candidates",
    "verdict_line",
]
