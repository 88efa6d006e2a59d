"""`truedigest pins`: audit every pin row of every CP (and every pin in --pin-file files).

For each pin: a well-formed `image_digest`; an `image_ref` ending in `@<image_digest>`
(and naming `--repo` when given); the digest served by the registry (HEAD by digest
in `image_ref`'s repository, else `--repo`); whether `--track` (default `latest`)
has moved past it; duplicate rows for one (template, region) in one CP; and CPs
that disagree for one (template, region). The judgement is pure (`core.pin_judge`);
this module reads the CPs and files and asks the registry.

Requests: one HEAD per distinct (repository, digest), then the pin's revision for each
served one, in `verify`'s order (`engine.identity_run`): one manifest GET when it carries
the revision annotation; +1 config GET for a label; +2 (attestation manifest and its
in-toto layer) when only the buildx provenance holds it and the pin names a platform
child's index; for an index pin, each platform child's manifest and the steps above.
One GET of the tracked tag per repository. All concurrent (the client bounds them per
host); relations are worked out only for pins that differ from the tracked tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from truedigest.core.pin_audit import Candidate, PinAudit, PinEntry, PinPlan, TrackedTag
from truedigest.core.pin_judge import disagreements, judge, note_disagreement
from truedigest.core.revision import Revision
from truedigest.cp.client import CPClient
from truedigest.engine.identity_run import read_identity
from truedigest.engine.pin_candidates import file_candidates, table_candidates, unreadable
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient, Resolved
from truedigest.sources.registry_tag import RegistryDiagnoser

__all__ = ["audit_pins"]

_Found = tuple[bool | str, Revision | None]


def _with_revision(
    pin: PinEntry, c: Candidate, looked: Mapping[tuple[str, Digest], _Found]
) -> PinEntry:
    if c.digest is None or c.locate is None:
        return pin
    revision = looked.get((c.locate.name, c.digest), (False, None))[1]
    if revision is None:
        return pin
    return replace(pin, revision=revision.commit, revision_source=str(revision.source))


class _Lookups:
    """Memoised registry questions, submitted to one pool as soon as they are known."""

    def __init__(self, client: RegistryClient, pool: ThreadPoolExecutor, track: str) -> None:
        self.client = client
        self.pool = pool
        self.track = track
        self.exists: dict[tuple[str, Digest], Future[_Found]] = {}
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

    def _head(self, repo: ImageRef, digest: Digest) -> _Found:
        """Served (or why it could not be told), and the commit the manifest records."""
        try:
            served = self.client.manifest_exists(repo, digest)
        except TruedigestError as exc:
            return exc.message, None
        if not served:
            return False, None
        try:
            manifest = self.client.get_manifest(repo.with_digest(digest))
        except TruedigestError:
            return True, None  # the revision is an extra: the pin is still served
        pinned = Resolved(
            repo.with_digest(digest),
            digest,
            manifest.media_type,
            manifest.size,
            manifest.header_digest,
            manifest=manifest,
        )
        return True, read_identity(self.client, pinned).revision

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
                cp_cands.append(unreadable(target, exc.message))
                continue
            cands = table_candidates(table, template=plan.template, repo=plan.repo)
            for c in cands:
                lookups.want(c)
            cp_cands.extend(cands)
        looked = {k: f.result() for k, f in lookups.exists.items()}
        exists = {k: served for k, (served, _) in looked.items()}
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
        _with_revision(
            judge(c, exists=exists, tracked=tracked, relations=relations, track=plan.track),
            c,
            looked,
        )
        for c in candidates
    )
    found = disagreements(cp_cands)
    if found:
        pins = tuple(note_disagreement(p, found) for p in pins)
    return PinAudit(
        track=plan.track,
        pins=pins,
        disagreements=tuple(found),
        tracked=tuple(tracked[k] for k in sorted(tracked)),
    )
