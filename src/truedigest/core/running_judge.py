"""The pure core of `truedigest running`: is what runs the truth (and the pins)?

Records (what each container's runtime reported) and a RegistryView (what the
engine read from the registry) in, a RunningReport out. No I/O here.

A container passes when its registry digest *is* the truth or the same image in
another wrapping: `identical`, `platform-manifest` (it runs a platform child of
the truth's index) or `index-of` (it reports the index that holds the truth:
containerd pulled the tag). The same holds against every pin given. Otherwise:
- another digest: status `mismatch` with the relation (`other-image`,
  `not-in-registry` …);
- only an image ID (`untraceable`): never a pass. When the ID is the config of
  the truth (the same content, but an image ID names no manifest, and another
  manifest may share the config) the row is `error` (exit 3, could not check);
  when the registry facts prove it is neither a manifest nor a config of the
  truth, `mismatch` (exit 1). The detail says how to get a registry digest;
- `mixed`: one workload (controller owner; else the same container name in a
  namespace) runs more than one image: one extra row naming the pods on each;
- a container of another repository (a sidecar) is `skipped` unless its digest
  belongs to the truth; a container without any digest yet is `error`.
Verdict: absent (10) if `--image` is absent; else mixed/mismatch (1); else
unavailable (3) if anything could not be checked or nothing was compared; else agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from truedigest.core.running_mixed import mixed_rows
from truedigest.core.running_relate import (
    EQUIVALENT,
    RANK,
    Link,
    family,
    relate,
    relevant,
    truth_configs_complete,
)
from truedigest.model.observation import Observation, Status
from truedigest.model.running_state import (
    ContainerRow,
    DigestKind,
    PinRow,
    RegistryView,
    RowStatus,
    RunningRecord,
    RunningRelation,
    RunningReport,
    RunningVerdict,
    TruthState,
)
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_repository

R = RunningRelation


# -- judging ---------------------------------------------------------------------------


def judge_running(
    records: Sequence[RunningRecord],
    view: RegistryView,
    pins: Sequence[Observation] = (),
    *,
    rounds: int = 1,
) -> RunningReport:
    target = parse_repository(view.repository)
    kin = family(view)
    pin_rows = tuple(_judge_pin(p, view) for p in pins)
    rows = [_judge(rec, view, target, kin, pin_rows) for rec in records]
    rows.extend(mixed_rows(records, rows, view))
    if all(r.status is RowStatus.SKIPPED for r in rows):
        rows.append(_nothing_compared(view, bool(records)))
    verdict = _verdict(view, rows, pin_rows)
    return RunningReport(verdict, view.truth, view.reference, tuple(rows), pin_rows, rounds)


def converged(report: RunningReport) -> bool:
    """What `--wait` repeats until: every container runs the truth."""
    return report.verdict is RunningVerdict.AGREE


def _row(
    rec: RunningRecord, status: RowStatus, relation: R | None, detail: str | None
) -> ContainerRow:
    return ContainerRow(
        pod=rec.pod,
        namespace=rec.namespace,
        workload=rec.workload,
        container=rec.container,
        image=rec.image,
        digest=rec.digest,
        status=status,
        relation=relation,
        detail=detail,
        where=rec.where,
        digest_kind=rec.digest_kind,
    )


def _judge(
    rec: RunningRecord,
    view: RegistryView,
    target: ImageRef,
    kin: frozenset[Digest],
    pins: Sequence[PinRow],
) -> ContainerRow:
    if rec.error is not None:
        return _row(rec, RowStatus.ERROR, None, f"malformed entry: {rec.error}")
    if not relevant(rec, target, kin):
        return _row(
            rec, RowStatus.SKIPPED, None, f"another repository than {view.repository}: not compared"
        )
    if rec.digest is None:
        state = f" (state: {rec.state})" if rec.state else ""
        return _row(
            rec,
            RowStatus.ERROR,
            None,
            f"the runtime reports no image digest{state}: not started yet, or "
            "pulling; check again once it runs",
        )
    if view.truth is None:
        return _row(rec, RowStatus.ERROR, None, f"not compared: {view.problem or 'no truth'}")
    truth = view.truth
    if rec.digest_kind is DigestKind.IMAGE_ID:
        return _judge_image_id(rec, rec.digest, truth, view)
    best: tuple[Digest, Link | None] = (rec.digest, None)
    for digest in rec.candidates:
        link = relate(digest, truth, view)
        if link is not None and (best[1] is None or RANK.index(link.relation) < _rank(best[1])):
            best = (digest, link)
    digest, link = best
    row = replace(_row(rec, RowStatus.OK, None, None), digest=digest)
    if link is None:
        reason = view.unknown.get(digest, "the registry was not asked about it")
        return replace(
            row,
            status=RowStatus.MISMATCH,
            detail=f"runs {digest}, not {view.reference} ({truth}); how it relates "
            f"is unknown: {reason}",
        )
    row = replace(row, relation=link.relation)
    if link.relation not in EQUIVALENT:
        return replace(
            row, status=RowStatus.MISMATCH, detail=_mismatch_sentence(digest, link, view)
        )
    return _against_pins(replace(row, detail=_same_sentence(link, view)), digest, pins, view)


def _rank(link: Link) -> int:
    return RANK.index(link.relation) if link.relation in RANK else len(RANK)


def _same_sentence(link: Link, view: RegistryView) -> str | None:
    match link.relation:
        case R.PLATFORM_MANIFEST:
            return (
                f"runs the {link.platform or 'platform'} child of the index "
                f"{view.reference} points at: the same image"
            )
        case R.INDEX_OF:
            return (
                f"reports the index that holds {view.reference} ({link.platform or 'its'} "
                "platform): the runtime pulled the tag; the same image on that platform"
            )
        case _:
            return None


def _mismatch_sentence(digest: Digest, link: Link, view: RegistryView) -> str:
    ref, truth = view.reference, view.truth
    match link.relation:
        case R.NOT_IN_REGISTRY:
            return (
                f"runs {digest}, which the repository no longer serves (deleted or never "
                f"pushed here); {ref} is {truth}: redeploy"
            )
        case R.CONFIG_DIGEST:
            return f"names the config digest of {ref}, not a manifest"
        case R.ATTESTATION:
            return (
                f"reports {digest}, an attestation manifest (provenance/SBOM) inside the "
                f"index {ref} points at, not an image: no runtime runs it; check the "
                "runtime's image reference"
            )
        case _:
            note = f" ({link.note})" if link.note else ""
            return (
                f"runs {digest}{note}, another image than {ref} ({truth}): stranded on "
                "old bytes or rolled back; restart it or finish the rollout"
            )


def _how_to_trace(rec: RunningRecord) -> str:
    match rec.runtime:
        case "kubernetes":
            how = (
                "run a runtime whose imageID is a registry digest (containerd, dockershim's "
                "docker-pullable://), or deploy by digest (image: REPO@sha256:…)"
            )
        case "cri":
            how = "use `crictl inspect` (its imageRef is the registry digest), not `crictl ps`"
        case "docker" | "podman":
            how = (
                f"give `{rec.runtime} image inspect IMAGE` (RepoDigests) as another --from, "
                "or pull and run the image by digest (REPO@sha256:…); an image built or "
                "loaded locally has none"
            )
        case _:
            how = "give the runtime's registry digest (REPO@sha256:…)"
    return f"to check it, {how}"


def _judge_image_id(
    rec: RunningRecord, ident: Digest, truth: Digest, view: RegistryView
) -> ContainerRow:
    link = relate(ident, truth, view)
    if link is not None and link.relation in EQUIVALENT:
        sentence = _same_sentence(link, view)
        detail = "the image ID is a manifest digest (Docker's containerd image store)"
        return _row(
            rec, RowStatus.OK, link.relation, f"{detail}; {sentence}" if sentence else detail
        )
    head = f"the runtime reports only the image ID {ident}, no registry digest"
    how = _how_to_trace(rec)
    if link is not None and link.relation is R.CONFIG_DIGEST:
        where = f"the {link.platform} child of " if link.platform and view.platform is None else ""
        others = sorted(
            str(k.digest)
            for k in view.manifests.values()
            if k.config == ident and k.digest not in family(view)
        )
        also = f"; other manifests share this config ({', '.join(others)})" if others else ""
        return _row(
            rec,
            RowStatus.ERROR,
            R.UNTRACEABLE,
            f"{head}: it is the config (config-digest) of {where}{view.reference}, the "
            f"same content, but an image ID names no manifest{also}; {how}",
        )
    if (link is not None and link.relation is R.OTHER_IMAGE) or truth_configs_complete(view):
        return _row(
            rec,
            RowStatus.MISMATCH,
            R.UNTRACEABLE,
            f"{head}, and it is neither a manifest nor a config of {view.reference} "
            f"({truth}): another image; {how}",
        )
    return _row(
        rec,
        RowStatus.ERROR,
        R.UNTRACEABLE,
        f"{head}, and the registry facts cannot tell whether it is {view.reference}; {how}",
    )


def _against_pins(
    row: ContainerRow, digest: Digest, pins: Sequence[PinRow], view: RegistryView
) -> ContainerRow:
    notes = [row.detail] if row.detail else []
    status = row.status
    for pin in pins:
        if pin.digest is None or pin.status is RowStatus.ERROR:
            continue
        link = relate(digest, pin.digest, view)
        if link is not None and link.relation in EQUIVALENT:
            if link.relation is not R.IDENTICAL:
                notes.append(
                    f"{pin.id} pins {pin.digest} ({link.relation} of what runs): the same image"
                )
            continue
        status = RowStatus.MISMATCH
        what = link.relation if link else "relation unknown"
        notes.append(
            f"{pin.id} pins {pin.digest} ({what}): fresh provisions will pull "
            f"another image than this one runs; promote {view.truth} or check "
            "`truedigest verify`"
        )
    return replace(row, status=status, detail="; ".join(notes) or None)


def _judge_pin(pin: Observation, view: RegistryView) -> PinRow:
    if pin.status is not Status.OK or pin.digest is None:
        bad = pin.status in (Status.MISMATCH, Status.MISSING, Status.AMBIGUOUS)
        status = RowStatus.MISMATCH if bad else RowStatus.ERROR
        return PinRow(pin.id, pin.digest, status, None, pin.detail or f"pin {pin.status}")
    if view.truth is None:
        return PinRow(pin.id, pin.digest, RowStatus.ERROR, None, "not compared: no truth")
    link = relate(pin.digest, view.truth, view)
    if link is None:
        return PinRow(
            pin.id,
            pin.digest,
            RowStatus.MISMATCH,
            None,
            f"names {pin.digest}, not {view.truth}; relation unknown",
        )
    status = RowStatus.OK if link.relation in EQUIVALENT else RowStatus.MISMATCH
    detail = (
        None
        if status is RowStatus.OK
        else f"names {pin.digest}: {link.relation} of {view.reference}"
    )
    return PinRow(pin.id, pin.digest, status, link.relation, detail)


def _nothing_compared(view: RegistryView, had_records: bool) -> ContainerRow:
    what = "no container in the input" if not had_records else "no container but sidecars"
    return ContainerRow(
        pod=None,
        namespace=None,
        workload=None,
        container=None,
        image=None,
        digest=None,
        status=RowStatus.ERROR,
        relation=None,
        where="input",
        detail=f"{what} runs {view.repository}: nothing to check (wrong selector, "
        "namespace or file?)",
    )


def _verdict(
    view: RegistryView, rows: Sequence[ContainerRow], pins: Sequence[PinRow]
) -> RunningVerdict:
    if view.state is TruthState.ABSENT:
        return RunningVerdict.ABSENT
    if any(r.relation is R.MIXED for r in rows):
        return RunningVerdict.MIXED
    statuses = [r.status for r in rows] + [p.status for p in pins]
    if RowStatus.MISMATCH in statuses:
        return RunningVerdict.MISMATCH
    if RowStatus.ERROR in statuses or view.truth is None or view.state is not TruthState.READ:
        return RunningVerdict.UNAVAILABLE
    return RunningVerdict.AGREE


__all__ = ["converged", "judge_running"]
