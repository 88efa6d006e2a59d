"""CP sources: the pin row for (template, region) in each control plane."""

from __future__ import annotations

from typing import Any

from truedigest.controlplane import CPClient, CPTarget, PinTable, row_region, select_rows
from truedigest.digest import Digest
from truedigest.errors import InvalidDigestError, InvalidReferenceError, TruedigestError
from truedigest.models import Observation, SourceKind, Status
from truedigest.reference import ImageRef, parse_reference

ROW_KEYS = ("image_ref", "git_sha", "promoted_at", "promoted_by", "notes")


def observe_cp(
    client: CPClient,
    target: CPTarget,
    *,
    template: str,
    region: str,
    image: ImageRef,
    git_sha: str | None,
    require_git_sha: bool = False,
) -> Observation:
    try:
        table = client.fetch(target)
    except TruedigestError as exc:
        hint = {"hint": exc.instance_hint} if exc.instance_hint else {}
        return _obs(target, None, Status.ERROR, exc.message, hint)
    return observe_rows(
        table,
        template=template,
        region=region,
        image=image,
        git_sha=git_sha,
        require_git_sha=require_git_sha,
    )


def observe_rows(
    table: PinTable,
    *,
    template: str,
    region: str,
    image: ImageRef,
    git_sha: str | None,
    require_git_sha: bool = False,
) -> Observation:
    target = table.target
    rows = select_rows(table.rows, template, region)
    if not rows:
        regions = sorted({row_region(r) for r in table.rows if r.get("template_name") == template})
        elsewhere = f" (it has rows for region {', '.join(regions)})" if regions else ""
        return _obs(
            target,
            None,
            Status.MISSING,
            f"no pin row for template {template!r} in region {region!r}{elsewhere}: "
            "the promote did not land, or wrote another template name",
            {},
        )
    if len(rows) > 1:
        digests = ", ".join(str(r.get("image_digest")) for r in rows)
        return _obs(
            target,
            None,
            Status.AMBIGUOUS,
            f"{len(rows)} pin rows for template {template!r} in region {region!r} ({digests}): "
            "which one provisions use is undefined; delete the duplicates",
            {"rows": [_row_extra(r) for r in rows]},
        )
    return observe_row(
        target, rows[0], image=image, git_sha=git_sha, require_git_sha=require_git_sha
    )


def observe_row(
    target: CPTarget,
    row: dict[str, Any],
    *,
    image: ImageRef,
    git_sha: str | None,
    require_git_sha: bool = False,
) -> Observation:
    extra = _row_extra(row)
    raw = row.get("image_digest")
    try:
        digest = Digest.parse(raw) if isinstance(raw, str) else None
    except InvalidDigestError:
        digest = None
    if digest is None:
        return _obs(
            target,
            None,
            Status.MISMATCH,
            f"image_digest {raw!r} is not a well-formed digest: a broken pin",
            extra,
        )
    problems = pin_problems(
        row, digest, image=image, git_sha=git_sha, require_git_sha=require_git_sha
    )
    status = Status.MISMATCH if problems else Status.OK
    return _obs(target, digest, status, "; ".join(problems) or None, extra)


def pin_problems(
    row: dict[str, Any],
    digest: Digest,
    *,
    image: ImageRef | None,
    git_sha: str | None,
    require_git_sha: bool = False,
) -> list[str]:
    """What is wrong with a row apart from its digest: image_ref and git_sha.

    A row without git_sha passes a commit taken from a `sha-<7>` tag (many CPs do
    not record it), but not an explicit --git-sha (`require_git_sha`): fail closed.
    """
    problems: list[str] = []
    image_ref = row.get("image_ref")
    if image_ref is not None:
        problems.extend(_image_ref_problems(image_ref, digest, image))
    row_sha = row.get("git_sha")
    if not git_sha:
        return problems
    if isinstance(row_sha, str) and row_sha.strip():
        if not sha_matches(row_sha, git_sha):
            problems.append(f"git_sha {row_sha!r} is not the expected commit {git_sha}")
    elif row_sha is not None and row_sha != "":
        problems.append(f"git_sha {row_sha!r} is not a commit SHA")
    elif require_git_sha:
        problems.append(f"the row has no git_sha to compare with --git-sha {git_sha}")
    return problems


def _image_ref_problems(image_ref: object, digest: Digest, image: ImageRef | None) -> list[str]:
    if not isinstance(image_ref, str):
        return [f"image_ref {image_ref!r} is not a string"]
    try:
        ref = parse_reference(image_ref)
    except InvalidReferenceError:
        return [f"image_ref {image_ref!r} is not a valid reference"]
    problems = []
    if ref.digest is None:
        problems.append(f"image_ref {image_ref} does not end in @{digest}")
    elif ref.digest != digest:
        problems.append(f"image_ref names {ref.digest} but image_digest is {digest}")
    if image is not None and ref.name != image.name:
        problems.append(f"image_ref names repository {ref.name}, not {image.name}")
    return problems


def sha_matches(a: str, b: str) -> bool:
    """Short and full commit SHAs match by prefix (7 chars at least)."""
    a, b = a.strip().lower(), b.strip().lower()
    n = min(len(a), len(b))
    return n >= 7 and a[:n] == b[:n]


def _row_extra(row: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "template_name": row.get("template_name"),
        "region": row_region(row),
        "image_digest": row.get("image_digest"),
    }
    for key in ROW_KEYS:
        extra[key] = row.get(key)
    return extra


def _obs(
    target: CPTarget,
    digest: Digest | None,
    status: Status,
    detail: str | None,
    extra: dict[str, Any],
) -> Observation:
    return Observation(
        f"cp:{target.name}",
        SourceKind.CP,
        f"{target.name} {target.url}",
        digest,
        status,
        detail=detail,
        extra={"cp": target.name, "url": target.url, **extra},
    )
