"""`--build-metadata FILE`: buildx `--metadata-file` output (`containerimage.digest`;
bake writes one object per target, chosen by `--build-target` or `image.name`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from truedigest.errors import InputFileError
from truedigest.oci.reference import ImageRef
from truedigest.sources.build.build_claim import (
    BuildClaim,
    BuildContext,
    BuildKind,
    listed_names,
    parse_digest,
    try_reference,
)
from truedigest.sources.reading import input_label, json_type, load_json

__all__ = ["DESCRIPTOR_KEY", "DIGEST_KEY", "IMAGE_NAME_KEY", "KIND", "from_metadata"]

DIGEST_KEY = "containerimage.digest"
DESCRIPTOR_KEY = "containerimage.descriptor"
IMAGE_NAME_KEY = "image.name"

_SINGLE_BUILD_KEYS = frozenset(
    {DIGEST_KEY, DESCRIPTOR_KEY, IMAGE_NAME_KEY, "containerimage.config.digest", "buildx.build.ref"}
)

_METADATA_HINT = "pass the file buildx wrote with --metadata-file"
_FLAG = "--build-metadata"


def from_metadata(path: Path, *, image: ImageRef, target: str | None) -> BuildClaim:
    """buildx `--metadata-file` output, from `buildx build` or `buildx bake`."""
    label = input_label(_FLAG, path, stdin=True)
    data = load_json(path, what=_FLAG, hint=_METADATA_HINT, allow_stdin=True)
    if not isinstance(data, dict):
        raise InputFileError(
            f"{label}: a JSON {json_type(data)}, not an object", hint=_METADATA_HINT
        )
    if _SINGLE_BUILD_KEYS.intersection(data):
        # One `buildx build`: a --build-target has nothing to choose from.
        return _claim_from_result(data, path, label=label)
    targets = _bake_targets(data)
    if not targets:
        raise InputFileError(
            f"{label}: no {DIGEST_KEY!r} key, at the top level or in any bake target",
            hint=f"{_METADATA_HINT}; the build must export an image (--push or --load)",
        )
    names = listed_names(targets)
    if target is not None:
        result = targets.get(target)
        if result is None:
            raise InputFileError(
                f"{label}: no bake target {target!r}; targets are {names}",
                hint="pass --build-target with one of the targets listed",
            )
        if DIGEST_KEY not in result:
            raise InputFileError(
                f"{label}: bake target {target!r} has no {DIGEST_KEY!r}",
                hint="pick a target that exports an image (--push or --load)",
            )
        return _claim_from_result(result, path, label=label, target=target)
    with_digest = {name: r for name, r in targets.items() if DIGEST_KEY in r}
    if not with_digest:
        raise InputFileError(
            f"{label}: no bake target has {DIGEST_KEY!r} (targets: {names})",
            hint=f"{_METADATA_HINT}; the build must export an image (--push or --load)",
        )
    if len(with_digest) == 1:
        name, result = next(iter(with_digest.items()))
        return _claim_from_result(result, path, label=label, target=name)
    chosen = _target_for_image(with_digest, image)
    if chosen is None:
        raise InputFileError(
            f"{label}: {len(with_digest)} bake targets pushed images and "
            f"{'none' if not _targets_naming(with_digest, image) else 'several'} "
            f"name {image.name} in image.name; targets are {listed_names(with_digest)}",
            hint="pass --build-target with the target that built --image",
        )
    return _claim_from_result(with_digest[chosen], path, label=label, target=chosen)


def _bake_targets(data: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Bake target name → result object; top-level `buildx.*` keys are not targets."""
    return {
        str(name): value
        for name, value in data.items()
        if isinstance(value, dict) and not str(name).startswith(("buildx.", "containerimage."))
    }


def _targets_naming(targets: Mapping[str, Mapping[str, object]], image: ImageRef) -> list[str]:
    return [
        name
        for name, result in targets.items()
        if any(ref.same_repository(image) for ref in _image_names(result))
    ]


def _target_for_image(targets: Mapping[str, Mapping[str, object]], image: ImageRef) -> str | None:
    """The single target whose `image.name` names the image's repository (then tag)."""
    naming = _targets_naming(targets, image)
    if len(naming) == 1:
        return naming[0]
    if len(naming) > 1 and image.tag is not None:
        tagged = [
            name
            for name in naming
            if any(
                ref.same_repository(image) and ref.tag == image.tag
                for ref in _image_names(targets[name])
            )
        ]
        if len(tagged) == 1:
            return tagged[0]
    return None


def _image_names(result: Mapping[str, object]) -> list[ImageRef]:
    """The parsable references of a result's comma-separated `image.name`."""
    raw = result.get(IMAGE_NAME_KEY)
    if not isinstance(raw, str):
        return []
    parsed = (try_reference(part.strip()) for part in raw.split(","))
    return [ref for ref in parsed if ref is not None]


def _claim_from_result(
    result: Mapping[str, object], path: Path, *, label: str, target: str | None = None
) -> BuildClaim:
    context = f"{label} (target {target!r})" if target is not None else label
    detail = f"target {target!r} of a bake metadata file" if target is not None else None
    raw = result.get(DIGEST_KEY)
    if raw is None:
        raise InputFileError(
            f"{context}: no {DIGEST_KEY!r} key",
            hint=f"{_METADATA_HINT}; the build must export an image (--push or --load)",
        )
    if not isinstance(raw, str):
        raise InputFileError(
            f"{context}: {DIGEST_KEY!r} is a JSON {json_type(raw)}, not a string",
            hint=_METADATA_HINT,
        )
    digest = parse_digest(raw, context=f"{context}: {DIGEST_KEY!r}", hint=_METADATA_HINT)
    media_type: str | None = None
    size: int | None = None
    descriptor = result.get(DESCRIPTOR_KEY)
    if descriptor is not None:
        if not isinstance(descriptor, dict):
            raise InputFileError(
                f"{context}: {DESCRIPTOR_KEY!r} is a JSON {json_type(descriptor)}, not an object",
                hint=_METADATA_HINT,
            )
        desc_digest = descriptor.get("digest")
        if desc_digest is not None:
            if not isinstance(desc_digest, str):
                raise InputFileError(
                    f"{context}: {DESCRIPTOR_KEY!r} digest is not a string", hint=_METADATA_HINT
                )
            parsed = parse_digest(
                desc_digest, context=f"{context}: {DESCRIPTOR_KEY!r} digest", hint=_METADATA_HINT
            )
            if parsed != digest:
                raise InputFileError(
                    f"{context}: {DESCRIPTOR_KEY!r} digest {parsed} disagrees with "
                    f"{DIGEST_KEY!r} {digest}",
                    hint="the metadata file is inconsistent; re-run the build and use its "
                    "fresh --metadata-file",
                )
        mt = descriptor.get("mediaType")
        media_type = mt if isinstance(mt, str) and mt else None
        sz = descriptor.get("size")
        size = sz if isinstance(sz, int) and not isinstance(sz, bool) and sz >= 0 else None
    return BuildClaim(
        kind="metadata",
        digest=digest,
        where=str(path),
        detail=detail,
        media_type=media_type,
        size=size,
    )


def _read(value: str, ctx: BuildContext) -> BuildClaim:
    return from_metadata(Path(value), image=ctx.image, target=ctx.target)


KIND = BuildKind(
    flag=_FLAG,
    stdin=True,
    target_help="Bake target to read from --build-metadata.",
    help="buildx --metadata-file output (bake files: one entry per target).",
    reader=_read,
)
