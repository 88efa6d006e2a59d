"""`--oci-layout DIR`: an OCI image layout's `index.json`, the entry chosen by
`org.opencontainers.image.ref.name` (or `io.containerd.image.name`)."""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from truedigest.base import fileio
from truedigest.errors import InputFileError
from truedigest.oci.digest import Digest, clip
from truedigest.oci.reference import ImageRef
from truedigest.sources.build.build_claim import (
    BuildClaim,
    BuildContext,
    parse_digest,
    try_reference,
)
from truedigest.sources.build.kinds import OCI_LAYOUT_FLAG
from truedigest.sources.reading import input_label, json_type, listed, load_json, os_reason

__all__ = ["LAYOUT_MARKER_CAP", "REF_NAME_ANNOTATION", "from_oci_layout"]

LAYOUT_MARKER_CAP = 64 * 1024
"""The `oci-layout` marker file holds one small JSON object."""

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"

_LAYOUT_HINT = (
    "pass the directory written by `docker buildx build --output type=oci,tar=false,dest=DIR` "
    "or `skopeo copy … oci:DIR:TAG`"
)
_FLAG = OCI_LAYOUT_FLAG


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int
    digest: Digest
    media_type: str | None
    size: int | None
    ref_name: str | None
    full_names: tuple[ImageRef, ...]


def from_oci_layout(path: Path, *, image: ImageRef) -> BuildClaim:
    """An OCI image layout directory: the `index.json` entry named by the image's tag."""
    label = input_label(_FLAG, path)
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputFileError(f"{label}: no such directory", hint=_LAYOUT_HINT) from None
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"{label}: cannot read ({os_reason(exc)})", hint=_LAYOUT_HINT
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        kind = "a file" if stat.S_ISREG(st.st_mode) else fileio.describe_mode(st.st_mode)
        raise InputFileError(
            f"{label}: is {kind}, not a directory",
            hint="an OCI layout is a directory; extract a tar first "
            "(`mkdir layout && tar -xf FILE -C layout`)",
        )
    marker = path / "oci-layout"
    if not marker.exists() and not marker.is_symlink():
        raise InputFileError(
            f"{label}: no oci-layout file, so not an OCI image layout", hint=_LAYOUT_HINT
        )
    layout = load_json(marker, what=_FLAG, hint=_LAYOUT_HINT, cap=LAYOUT_MARKER_CAP)
    version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
    if not isinstance(version, str) or not version:
        raise InputFileError(
            f"{input_label(_FLAG, marker)}: no imageLayoutVersion string", hint=_LAYOUT_HINT
        )
    index_path = path / "index.json"
    index_label = input_label(_FLAG, index_path)
    index = load_json(index_path, what=_FLAG, hint=_LAYOUT_HINT)
    if not isinstance(index, dict):
        raise InputFileError(
            f"{index_label}: a JSON {json_type(index)}, not an object", hint=_LAYOUT_HINT
        )
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise InputFileError(f"{index_label}: no manifests list", hint=_LAYOUT_HINT)
    if not manifests:
        raise InputFileError(
            f"{index_label}: manifests is empty; the layout holds no image", hint=_LAYOUT_HINT
        )
    entries = [_layout_entry(i, item, index_label) for i, item in enumerate(manifests)]
    chosen = _choose_layout_entry(entries, image, index_label)
    name = chosen.ref_name
    detail = f"ref.name {name}" if name is not None else f"manifests[{chosen.index}]"
    return BuildClaim(
        kind="oci-layout",
        digest=chosen.digest,
        where=str(path),
        detail=detail,
        media_type=chosen.media_type,
        size=chosen.size,
    )


def _layout_entry(position: int, item: object, label: str) -> _Entry:
    context = f"{label}: manifests[{position}]"
    if not isinstance(item, dict):
        raise InputFileError(f"{context} is not an object", hint=_LAYOUT_HINT)
    raw = item.get("digest")
    if not isinstance(raw, str):
        raise InputFileError(f"{context} has no digest string", hint=_LAYOUT_HINT)
    digest = parse_digest(raw, context=context, hint=_LAYOUT_HINT)
    mt = item.get("mediaType")
    sz = item.get("size")
    annotations = item.get("annotations")
    notes: Mapping[str, object] = annotations if isinstance(annotations, dict) else {}
    ref_name = notes.get(REF_NAME_ANNOTATION)
    ref_name = ref_name if isinstance(ref_name, str) and ref_name else None
    full: list[ImageRef] = []
    for candidate in (ref_name, notes.get(CONTAINERD_NAME_ANNOTATION)):
        if isinstance(candidate, str) and any(c in candidate for c in ":/@"):
            ref = try_reference(candidate)
            if ref is not None:
                full.append(ref)
    return _Entry(
        index=position,
        digest=digest,
        media_type=mt if isinstance(mt, str) and mt else None,
        size=sz if isinstance(sz, int) and not isinstance(sz, bool) and sz >= 0 else None,
        ref_name=ref_name,
        full_names=tuple(full),
    )


def _choose_layout_entry(entries: Sequence[_Entry], image: ImageRef, label: str) -> _Entry:
    tag = image.tag
    if tag is not None:
        exact = [
            e
            for e in entries
            if any(r.same_repository(image) and r.tag == tag for r in e.full_names)
        ]
        by_tag = [
            e for e in entries if e.ref_name == tag or any(r.tag == tag for r in e.full_names)
        ]
        for tier in (exact, by_tag):
            if len({e.digest for e in tier}) == 1:
                return tier[0]
            if tier:
                raise InputFileError(
                    f"{label}: {len(tier)} manifests named for tag {tag!r} with different "
                    f"digests ({listed(_ref_names(tier))})",
                    hint="keep one image per tag in the layout",
                )
    if len(entries) == 1:
        return entries[0]
    expected = repr(tag) if tag is not None else "none (--image has no tag)"
    raise InputFileError(
        f"{label}: {len(entries)} manifests ({listed(_ref_names(entries))}) and none named "
        f"for tag {expected}",
        hint=f"pass --image with one of the tags in {REF_NAME_ANNOTATION}",
    )


def _ref_names(entries: Sequence[_Entry]) -> list[str]:
    return [clip(e.ref_name or f"manifests[{e.index}] (no ref.name)", 80) for e in entries]


def read(value: str, ctx: BuildContext) -> BuildClaim:
    """The claim of a value given to this kind's flag (`kinds.BuildKind.claim`)."""
    return from_oci_layout(Path(value), image=ctx.image)
