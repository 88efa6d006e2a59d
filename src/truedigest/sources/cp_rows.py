"""CP sources: the pin row for (template, region) in each control plane."""

from __future__ import annotations

from typing import Any

from truedigest.cp.client import (
    ROW_FIELDS,
    CPClient,
    CPTarget,
    PinTable,
    field_problem,
    malformed_rows,
    row_region,
    select_rows,
    show_value,
)
from truedigest.errors import (
    InvalidDigestError,
    InvalidReferenceError,
    TruedigestError,
    UsageError,
)
from truedigest.model.observation import Observation, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference

ROW_KEYS = ("image_ref", "git_sha", "promoted_at", "promoted_by", "notes")
_MAX_ROWS_SHOWN = 10


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
    except UsageError:
        raise  # a token that cannot be one (exit 2), not a CP that could not be read
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
    broken = malformed_rows(table.rows, template)
    if broken:
        # Never matched, never coerced: a row of the wrong shape is a broken pin (exit 1).
        first_at, _, first_problems = broken[0]
        more = f" (and {len(broken) - 1} more malformed rows)" if len(broken) > 1 else ""
        return _obs(
            target,
            None,
            Status.MISMATCH,
            f"pin row {first_at} for template {template!r} is malformed: "
            f"{'; '.join(first_problems)}{more}: a broken pin, never matched",
            {"rows": [_row_extra(r) for _, r, _ in broken[:_MAX_ROWS_SHOWN]]},
        )
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
    # image_digest was parsed by the caller; a missing or non-string template_name is
    # the caller's to report (pins says "the row has no template_name"), a string that
    # is not valid Unicode is ours.
    name = row.get("template_name")
    named = isinstance(name, str) and bool(name)
    skip = ("image_digest",) if named else ("template_name", "image_digest")
    problems = [
        problem
        for key in ROW_FIELDS
        if key not in skip and (problem := field_problem(row, key)) is not None
    ]
    if problems:
        problems[-1] += ": a malformed row, never matched"
        return problems
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
    """The row's fields for the report: a well-typed value as is, a malformed one as
    its clipped JSON text (never coerced, never a structure of the CP's choosing)."""
    extra: dict[str, Any] = {"region": row_region(row)}
    for key in ("template_name", "image_digest", *ROW_KEYS):
        value = row.get(key)
        extra[key] = value if field_problem(row, key) is None else show_value(value)
    return {k: extra[k] for k in ("template_name", "region", "image_digest", *ROW_KEYS)}


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
