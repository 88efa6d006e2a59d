"""`--build-metadata FILE`: buildx `--metadata-file` output (`containerimage.digest`;
bake writes one object per target, chosen by `--build-target` or `image.name`).

`docker buildx imagetools create --metadata-file` writes only `containerimage.descriptor`
(with its `digest`) and `image.name`: the descriptor's digest is the claim then. When
both are present they must agree. The docker driver (`--load` without a
docker-container builder) writes the image ID (the config digest) as
`containerimage.digest`, equal to `containerimage.config.digest`: the claim says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from truedigest.errors import InputFileError
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef
from truedigest.sources.build.build_claim import (
    BuildClaim,
    BuildContext,
    listed_names,
    parse_digest,
    try_reference,
)
from truedigest.sources.build.kinds import METADATA_FLAG
from truedigest.sources.reading import input_label, json_type, load_json

__all__ = [
    "CONFIG_DIGEST_KEY",
    "DESCRIPTOR_KEY",
    "DIGEST_KEY",
    "IMAGE_ID_NOTE",
    "IMAGE_NAME_KEY",
    "from_metadata",
]

DIGEST_KEY = "containerimage.digest"
DESCRIPTOR_KEY = "containerimage.descriptor"
CONFIG_DIGEST_KEY = "containerimage.config.digest"
IMAGE_NAME_KEY = "image.name"

_SINGLE_BUILD_KEYS = frozenset(
    {DIGEST_KEY, DESCRIPTOR_KEY, IMAGE_NAME_KEY, CONFIG_DIGEST_KEY, "buildx.build.ref"}
)
_NO_DIGEST = f"no {DIGEST_KEY!r} (nor a {DESCRIPTOR_KEY!r} digest)"

IMAGE_ID_NOTE = (
    f"{DIGEST_KEY} equals {CONFIG_DIGEST_KEY}: the docker driver wrote the image ID "
    "(config digest), not a pushed manifest digest"
)

_METADATA_HINT = "pass the file buildx wrote with --metadata-file"
_FLAG = METADATA_FLAG


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
            f"{label}: {_NO_DIGEST}, at the top level or in any bake target",
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
        if not _has_digest(result):
            raise InputFileError(
                f"{label}: bake target {target!r} has {_NO_DIGEST}",
                hint="pick a target that exports an image (--push or --load)",
            )
        return _claim_from_result(result, path, label=label, target=target)
    with_digest = {name: r for name, r in targets.items() if _has_digest(r)}
    if not with_digest:
        raise InputFileError(
            f"{label}: no bake target has {DIGEST_KEY!r} or a {DESCRIPTOR_KEY!r} digest "
            f"(targets: {names})",
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


def _has_digest(result: Mapping[str, object]) -> bool:
    """A result that claims an image: `containerimage.digest`, or a descriptor's digest
    (all `imagetools create` writes)."""
    descriptor = result.get(DESCRIPTOR_KEY)
    return DIGEST_KEY in result or (isinstance(descriptor, dict) and "digest" in descriptor)


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
    notes = [f"target {target!r} of a bake metadata file"] if target is not None else []
    digest = _result_digest(result, DIGEST_KEY, f"{context}: {DIGEST_KEY!r}")
    media_type: str | None = None
    size: int | None = None
    descriptor = result.get(DESCRIPTOR_KEY)
    if descriptor is not None:
        if not isinstance(descriptor, dict):
            raise InputFileError(
                f"{context}: {DESCRIPTOR_KEY!r} is a JSON {json_type(descriptor)}, not an object",
                hint=_METADATA_HINT,
            )
        desc_digest = _result_digest(descriptor, "digest", f"{context}: {DESCRIPTOR_KEY!r} digest")
        if digest is None:
            # `imagetools create --metadata-file`: the descriptor is all there is.
            digest = desc_digest
        elif desc_digest is not None and desc_digest != digest:
            raise InputFileError(
                f"{context}: {DESCRIPTOR_KEY!r} digest {desc_digest} disagrees with "
                f"{DIGEST_KEY!r} {digest}",
                hint="the metadata file is inconsistent; re-run the build and use its "
                "fresh --metadata-file",
            )
        mt = descriptor.get("mediaType")
        media_type = mt if isinstance(mt, str) and mt else None
        sz = descriptor.get("size")
        size = sz if isinstance(sz, int) and not isinstance(sz, bool) and sz >= 0 else None
    if digest is None:
        raise InputFileError(
            f"{context}: {_NO_DIGEST}",
            hint=f"{_METADATA_HINT}; the build must export an image (--push or --load)",
        )
    config = result.get(CONFIG_DIGEST_KEY)
    if isinstance(config, str) and config.strip() == str(digest):
        notes.append(IMAGE_ID_NOTE)
    return BuildClaim(
        kind="metadata",
        digest=digest,
        where=str(path),
        detail="; ".join(notes) or None,
        media_type=media_type,
        size=size,
    )


def _result_digest(result: Mapping[str, object], key: str, context: str) -> Digest | None:
    """The digest under `key` (`context` names it), None when the key is absent;
    anything but a well-formed digest string is an error."""
    raw = result.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InputFileError(
            f"{context} is a JSON {json_type(raw)}, not a string", hint=_METADATA_HINT
        )
    return parse_digest(raw, context=context, hint=_METADATA_HINT)


def read(value: str, ctx: BuildContext) -> BuildClaim:
    """The claim of a value given to this kind's flag (`kinds.BuildKind.claim`)."""
    return from_metadata(Path(value), image=ctx.image, target=ctx.target)
