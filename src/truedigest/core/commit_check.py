"""Commit checks of `verify` (pure): each commit claim about the truth digest — `--git-sha`,
a `sha-<hex>` tag, a CP row's `git_sha` — against the commit the image records.

`commit_claims` lists the claims from a judged report (no claim: no identity work,
no request); `apply_identity` marks a claim the image contradicts as a mismatch with
relation `other-commit`, says "unverifiable" where the image records no commit (a
failure only with --require-revision), and puts `revision`/`revision_source` on the
truth's registry source.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from truedigest.core.verdicts import verdict_of
from truedigest.model.observation import Observation, Relation, Report, SourceKind, Status

if TYPE_CHECKING:  # the revision reader loads only when identity is checked
    from truedigest.core.revision import ImageRevision, TruthIdentity

_SHA_TAG = re.compile(r"^sha-([0-9a-f]{7,40})\Z")
_HEX = re.compile(r"^[0-9a-fA-F]{7,64}\Z")
WHERE_REVISIONS_LIVE = (
    "the org.opencontainers.image.revision annotation or label, or a buildx provenance attestation"
)


class Claim(NamedTuple):
    """`commit`, said by `said`, about the truth digest; judged on report source `source`."""

    source: int  # an index into the report's sources
    commit: str
    said: str


def commit_claims(report: Report, git_sha: str | None) -> list[Claim]:
    """Every commit claim about the truth digest (none when the registry was not read)."""
    truth = report.truth
    if truth is None:
        return []
    claims: list[Claim] = []
    if git_sha:
        claims.append(Claim(0, git_sha.lower(), "--git-sha"))
    for i, obs in enumerate(report.sources):
        if obs.digest != truth or obs.status is Status.ERROR:
            continue
        if obs.kind is SourceKind.REGISTRY:
            tag = _tag(obs)
            m = _SHA_TAG.match(tag or "")
            if m:
                claims.append(Claim(i, m.group(1), f"the tag :{tag}"))
        elif obs.kind is SourceKind.CP:
            row_sha = obs.extra.get("git_sha")
            if isinstance(row_sha, str) and _HEX.match(row_sha.strip()):
                claims.append(Claim(i, row_sha.strip().lower(), "the row's git_sha"))
    return claims


def _tag(obs: Observation) -> str | None:
    ref = str(obs.extra.get("reference") or obs.where)
    if "@" in ref:
        return None
    name, _, tag = ref.rpartition(":")
    return tag if name and "/" not in tag else None


def same_commit(a: str, b: str) -> bool:
    """Short and full commit SHAs match by prefix at the shorter length (7 at least)."""
    a, b = a.strip().lower(), b.strip().lower()
    n = min(len(a), len(b))
    return n >= 7 and a[:n] == b[:n]


def apply_identity(
    report: Report,
    claims: list[Claim],
    identity: TruthIdentity,
    *,
    require_revision: bool = False,
) -> Report:
    """The report with every claim judged against `identity`, and the verdict again."""
    sources = list(report.sources)
    truth_at = next(i for i, o in enumerate(sources) if o.kind is SourceKind.REGISTRY)
    notes: dict[int, list[str]] = {}
    contradicted: set[int] = set()
    unverifiable: set[int] = set()
    for claim in claims:
        wrong = [
            img
            for img in identity.known
            if img.revision is not None and not same_commit(img.revision.commit, claim.commit)
        ]
        if wrong:
            contradicted.add(claim.source)
            notes.setdefault(claim.source, []).append(_other_commit(claim, wrong, identity))
        elif not identity.known and not identity.problems:
            unverifiable.add(claim.source)
            notes.setdefault(claim.source, []).append(
                f"commit {claim.commit} ({claim.said}) is unverifiable: the image records no "
                f"revision ({WHERE_REVISIONS_LIVE})"
            )
    for i, obs in enumerate(sources):
        said = notes.get(i, [])
        if i == truth_at:
            # "unverifiable" already says the image records no revision
            quiet = truth_at in unverifiable and not require_revision
            said = [*_truth_notes(identity, require_revision, quiet), *said]
        if not said:
            continue
        status = obs.status
        relation = obs.relation
        if i in contradicted:
            status, relation = Status.MISMATCH, Relation.OTHER_COMMIT
        if i == truth_at:
            status = _truth_status(identity, require_revision, status)
        detail = "; ".join([*([obs.detail] if obs.detail else []), *said])
        sources[i] = replace(obs, status=status, relation=relation, detail=detail)
    sources[truth_at] = replace(
        sources[truth_at], extra={**sources[truth_at].extra, **_revision_keys(identity)}
    )
    return replace(report, sources=tuple(sources), verdict=verdict_of(sources))


def _label(img: ImageRevision, identity: TruthIdentity) -> str:
    return f"the {img.platform} image" if len(identity.images) > 1 and img.platform else "it"


def _other_commit(claim: Claim, wrong: list[ImageRevision], identity: TruthIdentity) -> str:
    built = ", ".join(
        f"{_label(img, identity)} was built from commit {img.revision.commit} "
        f"({img.revision.source})"
        for img in wrong
        if img.revision is not None
    )
    return (
        f"the pinned digest is served, but {built}, not {claim.commit} ({claim.said}): "
        "the right digest of the wrong build, or a commit claim that is stale"
    )


def _truth_notes(identity: TruthIdentity, require_revision: bool, quiet: bool) -> list[str]:
    out = [f"the image's revision could not be read: {p}" for p in identity.problems]
    several = len(identity.images) > 1
    for img in identity.images:
        who = f"the {img.platform or img.digest} image" if several else "the image"
        if img.revision is not None:
            built = f"built from commit {img.revision.commit} ({img.revision.source})"
            out.append(f"{who} was {built}" if several else built)
        elif img.problem is None and not quiet:
            flag = " (--require-revision)" if require_revision else ""
            out.append(f"{who} records no revision{flag}: look for {WHERE_REVISIONS_LIVE}")
    return out


def _truth_status(identity: TruthIdentity, require_revision: bool, status: Status) -> Status:
    if status is Status.MISMATCH:
        return status
    lacking = any(img.revision is None and img.problem is None for img in identity.images)
    if require_revision and (lacking or not identity.images):
        return Status.MISMATCH
    if identity.problems:
        return Status.ERROR
    return status


def _revision_keys(identity: TruthIdentity) -> dict[str, Any]:
    common = identity.revision
    first = identity.known[0].revision if identity.known else None
    keys: dict[str, Any] = {
        "revision": common.commit if common else None,
        "revision_source": str(common.source) if common else None,
    }
    if len(identity.images) > 1 or (first is not None and common is None):
        keys["revisions"] = {
            img.platform or str(img.digest): img.revision.commit if img.revision else None
            for img in identity.images
        }
    return keys


__all__ = ["Claim", "apply_identity", "commit_claims", "same_commit"]
