"""What each pin claims before the registry is asked: CP rows and pin-file sources
turned into the `Candidate`s the pure judgement (`core.pin_judge`) reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from truedigest.core.pin_audit import Candidate, PinEntry
from truedigest.cp.client import CPTarget, PinTable, row_region
from truedigest.errors import InvalidDigestError, InvalidReferenceError
from truedigest.model.observation import Observation, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources.cp_rows import pin_problems
from truedigest.sources.pinfile import observe_pin_file

__all__ = [
    "file_candidates",
    "observation_candidate",
    "row_candidate",
    "table_candidates",
    "unreadable",
]


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
        git_sha=_git_sha(row.get("git_sha")),
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
    """Every `<name>@sha256:…` reference in a pin file (only `repo`'s, when given), in
    line order.

    An unreadable file raises InputFileError (a usage error, exit 2).
    """
    out = [observation_candidate(obs) for obs in observe_pin_file(path, repo=repo)]
    out.sort(key=lambda c: c.entry.line or 0)
    return out


def observation_candidate(obs: Observation) -> Candidate:
    """One pin-file source (`observe_pin_file`) as a pin to audit."""
    file = str(obs.extra["path"])
    lines: list[int] = obs.extra.get("lines", [])
    line = lines[0] if lines else None
    written = obs.written
    if obs.status is Status.MISSING or written is None:
        entry = PinEntry(
            source=obs.id,
            cp=None,
            template_name=None,
            region=None,
            image_digest=None,
            image_ref=None,
            status=obs.status,
            detail=obs.detail,
            file=file,
        )
        return Candidate(entry, None, None)
    broken = obs.digest is None
    entry = PinEntry(
        source=f"file:{obs.where}",
        cp=None,
        template_name=None,
        region=None,
        image_digest=written.rpartition("@")[2] if broken else str(obs.digest),
        image_ref=written,
        status=obs.status,
        file=file,
        line=line,
    )
    locate = obs.ref if obs.ref is None or broken else _repository_of(obs.ref)
    problems = (obs.detail,) if broken and obs.detail else ()
    return Candidate(entry, obs.digest, locate, problems)


def unreadable(target: CPTarget, message: str) -> Candidate:
    """A CP that could not be read: a row-less `error` entry (exit 3)."""
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


def _git_sha(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _show(value: object) -> str | None:
    return None if value is None else repr(value)
