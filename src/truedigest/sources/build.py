"""Build sources: what the publish job says it pushed (stdlib only).

Each reader turns one kind of build output into a `BuildClaim`:

- `--build-digest DIGEST`: a literal digest;
- `--build-metadata FILE`: buildx `--metadata-file` (`containerimage.digest`; bake
  writes one object per target);
- `--build-log FILE`: `docker push` output (`<tag>: digest: sha256:<hex> size: <n>`)
  or buildkit's `pushing manifest for <ref>@sha256:<hex>`;
- `--digest-file FILE`: podman/buildah `--digestfile`;
- `--oci-layout DIR`: an OCI image layout's `index.json`, chosen by
  `org.opencontainers.image.ref.name`.

A claim is only a claim: the registry decides what is true. Everything that makes
a file unusable raises `InputFileError` (a usage error, exit 2) naming the file.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from truedigest.base import fileio, jsonutil
from truedigest.errors import InputFileError, InvalidDigestError, InvalidReferenceError
from truedigest.oci.digest import Digest, clip
from truedigest.oci.reference import ImageRef, parse_reference

__all__ = [
    "MAX_INPUT_BYTES",
    "BuildClaim",
    "from_digest",
    "from_digest_file",
    "from_metadata",
    "from_oci_layout",
    "from_push_log",
    "read_input_text",
]

MAX_INPUT_BYTES = fileio.DEFAULT_CAP
"""Input files larger than this (16 MiB) are refused without being read whole."""
STDIN_FLAGS = ("--build-metadata", "--build-log", "--digest-file")
"""The flags whose value `-` means standard input (one build source per run)."""
_MAX_LISTED = 10

LAYOUT_MARKER_CAP = 64 * 1024
"""The `oci-layout` marker file holds one small JSON object."""

DIGEST_KEY = "containerimage.digest"
DESCRIPTOR_KEY = "containerimage.descriptor"
IMAGE_NAME_KEY = "image.name"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"

_SINGLE_BUILD_KEYS = frozenset(
    {DIGEST_KEY, DESCRIPTOR_KEY, IMAGE_NAME_KEY, "containerimage.config.digest", "buildx.build.ref"}
)

_METADATA_HINT = "pass the file buildx wrote with --metadata-file"
_LOG_HINT = (
    "pass the output of `docker push` (or of `docker buildx build --push --progress=plain`), "
    "e.g. `docker push IMAGE 2>&1 | tee push.log`"
)
_DIGEST_FILE_HINT = "pass the file podman/buildah wrote with --digestfile (one sha256:<hex> digest)"
_LAYOUT_HINT = (
    "pass the directory written by `docker buildx build --output type=oci,tar=false,dest=DIR` "
    "or `skopeo copy … oci:DIR:TAG`"
)


@dataclass(frozen=True, slots=True)
class BuildClaim:
    """The digest a build output says was pushed, and where it was read."""

    kind: str  # "digest" | "metadata" | "log" | "digest-file" | "oci-layout"
    digest: Digest
    where: str  # the file path, or "--build-digest"
    detail: str | None = None
    media_type: str | None = None
    size: int | None = None

    @property
    def source_id(self) -> str:
        """The report's source id: `build:<kind>`."""
        return f"build:{self.kind}"


# --- --build-digest -------------------------------------------------------------------


def from_digest(text: str) -> BuildClaim:
    """A digest given on the command line with `--build-digest`."""
    where = "--build-digest"
    if "@" in text:
        raise InputFileError(
            f"{where} {clip(text)!r}: is a reference, not a digest",
            hint="pass only the digest after '@' (sha256:<64 lowercase hex>)",
        )
    try:
        digest = Digest.parse(text)
    except InvalidDigestError as exc:
        raise InputFileError(
            f"{where}: {exc.message}",
            hint="pass the manifest digest the build printed: sha256:<64 lowercase hex>",
        ) from exc
    return BuildClaim(kind="digest", digest=digest, where=where)


# --- --build-metadata -----------------------------------------------------------------


def from_metadata(path: Path, *, image: ImageRef, target: str | None) -> BuildClaim:
    """buildx `--metadata-file` output, from `buildx build` or `buildx bake`."""
    label = _label("--build-metadata", path)
    data = _load_json(path, what="--build-metadata", hint=_METADATA_HINT, allow_stdin=True)
    if not isinstance(data, dict):
        raise InputFileError(
            f"{label}: a JSON {_json_type(data)}, not an object", hint=_METADATA_HINT
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
    names = _names(targets)
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
            f"name {image.name} in image.name; targets are {_names(with_digest)}",
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
    refs: list[ImageRef] = []
    for part in raw.split(","):
        try:
            refs.append(parse_reference(part.strip(), default_tag=None))
        except InvalidReferenceError:
            continue
    return refs


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
            f"{context}: {DIGEST_KEY!r} is a JSON {_json_type(raw)}, not a string",
            hint=_METADATA_HINT,
        )
    digest = _parse_digest(raw, context=f"{context}: {DIGEST_KEY!r}", hint=_METADATA_HINT)
    media_type: str | None = None
    size: int | None = None
    descriptor = result.get(DESCRIPTOR_KEY)
    if descriptor is not None:
        if not isinstance(descriptor, dict):
            raise InputFileError(
                f"{context}: {DESCRIPTOR_KEY!r} is a JSON {_json_type(descriptor)}, not an object",
                hint=_METADATA_HINT,
            )
        desc_digest = descriptor.get("digest")
        if desc_digest is not None:
            if not isinstance(desc_digest, str):
                raise InputFileError(
                    f"{context}: {DESCRIPTOR_KEY!r} digest is not a string", hint=_METADATA_HINT
                )
            parsed = _parse_digest(
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


# --- --build-log ----------------------------------------------------------------------

_TAG_CHARS = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_PUSH_LINE = re.compile(
    rf"(?<![\w.-])(?P<tag>{_TAG_CHARS}): digest: (?P<digest>\S+) size: (?P<size>\d+)"
)
_BUILDKIT_LINE = re.compile(r"pushing manifest for (?P<ref>[^\s@]+)@(?P<digest>\S+)")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PUSH_HEADER = re.compile(r"The push refers to (?:a )?repository \[(?P<repo>[^\]\s]+)\]")


@dataclass(frozen=True, slots=True)
class _Push:
    line: int
    tag: str | None
    digest: Digest
    size: int | None
    repository: ImageRef | None
    text: str


def from_push_log(path: Path, *, image: ImageRef) -> BuildClaim:
    """`docker push` (or buildkit `--push`) output: the entry for the image's tag."""
    label = _label("--build-log", path)
    text = read_input_text(path, what="--build-log", hint=_LOG_HINT, allow_stdin=True)
    pushes = _scan_push_log(text, label=label)
    if not pushes:
        raise InputFileError(
            f"{label}: no `<tag>: digest: sha256:… size: N` line "
            "(nor buildkit `pushing manifest for <ref>@sha256:…`)",
            hint=_LOG_HINT,
        )
    in_repo = [p for p in pushes if p.repository is None or p.repository.same_repository(image)]
    # Repository names in the log only narrow the choice: a registry reached under
    # another host name (service alias, 127.0.0.1 vs localhost) must still work, and a
    # wrong claim shows up as a mismatch against the registry anyway.
    scoped = in_repo or pushes
    tagged = [p for p in scoped if image.tag is not None and p.tag == image.tag]
    if tagged:
        chosen = tagged[-1]
        distinct = {p.digest for p in tagged}
        note = (
            f" (the last of {len(distinct)} digests pushed as {image.tag!r})"
            if len(distinct) > 1
            else ""
        )
        return _log_claim(chosen, path, note)
    distinct_entries = {(p.tag, p.digest): p for p in scoped}
    if len(distinct_entries) == 1:
        return _log_claim(scoped[-1], path, "")
    found = sorted({p.tag or "(no tag)" for p in scoped})
    expected = repr(image.tag) if image.tag is not None else "none (--image has no tag)"
    raise InputFileError(
        f"{label}: {len(distinct_entries)} pushes (tags {_listed(found)}) and none of "
        f"tag {expected}",
        hint="pass --image with the tag the log pushed, or a log of that one push",
    )


def _scan_push_log(text: str, *, label: str) -> list[_Push]:
    pushes: list[_Push] = []
    repository: ImageRef | None = None
    # Split on "\n" only, so line numbers agree with `grep -n` even when a TTY log holds
    # carriage returns; drop colour escapes CI runners leave in the text.
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = _ANSI_ESCAPE.sub("", raw_line)
        header = _PUSH_HEADER.search(line)
        if header is not None:
            repository = _try_reference(header.group("repo"))
            continue
        m = _PUSH_LINE.search(line)
        if m is not None:
            context = f"{label}: line {number}"
            digest = _parse_digest(m.group("digest"), context=context, hint=_LOG_HINT)
            pushes.append(
                _Push(
                    line=number,
                    tag=m.group("tag"),
                    digest=digest,
                    size=int(m.group("size")),
                    repository=repository,
                    text=m.group(0),
                )
            )
            continue
        b = _BUILDKIT_LINE.search(line)
        if b is not None:
            context = f"{label}: line {number}"
            digest = _parse_digest(b.group("digest"), context=context, hint=_LOG_HINT)
            ref = _try_reference(b.group("ref"))
            pushes.append(
                _Push(
                    line=number,
                    tag=ref.tag if ref is not None else None,
                    digest=digest,
                    size=None,
                    repository=ref,
                    text=b.group(0),
                )
            )
    return pushes


def _log_claim(push: _Push, path: Path, note: str) -> BuildClaim:
    return BuildClaim(
        kind="log",
        digest=push.digest,
        where=str(path),
        detail=f"line {push.line}: {clip(push.text, 160)}{note}",
        size=push.size,
    )


# --- --digest-file --------------------------------------------------------------------


def from_digest_file(path: Path) -> BuildClaim:
    """podman/buildah `--digestfile`: the whole file is one digest."""
    label = _label("--digest-file", path)
    text = read_input_text(path, what="--digest-file", hint=_DIGEST_FILE_HINT, allow_stdin=True)
    content = text.strip()
    if not content:
        raise InputFileError(f"{label}: is empty", hint=_DIGEST_FILE_HINT)
    if len(content.split()) > 1:
        raise InputFileError(
            f"{label}: holds {len(content.split())} words, not one digest", hint=_DIGEST_FILE_HINT
        )
    if len(content) > 200:
        raise InputFileError(
            f"{label}: holds {len(content)} characters, not one digest", hint=_DIGEST_FILE_HINT
        )
    digest = _parse_digest(content, context=label, hint=_DIGEST_FILE_HINT)
    return BuildClaim(kind="digest-file", digest=digest, where=str(path))


# --- --oci-layout ---------------------------------------------------------------------


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
    label = _label("--oci-layout", path)
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputFileError(f"{label}: no such directory", hint=_LAYOUT_HINT) from None
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"{label}: cannot read ({_os_reason(exc)})", hint=_LAYOUT_HINT
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
    layout = _load_json(marker, what="--oci-layout", hint=_LAYOUT_HINT, cap=LAYOUT_MARKER_CAP)
    version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
    if not isinstance(version, str) or not version:
        raise InputFileError(
            f"{_label('--oci-layout', marker)}: no imageLayoutVersion string", hint=_LAYOUT_HINT
        )
    index_path = path / "index.json"
    index_label = _label("--oci-layout", index_path)
    index = _load_json(index_path, what="--oci-layout", hint=_LAYOUT_HINT)
    if not isinstance(index, dict):
        raise InputFileError(
            f"{index_label}: a JSON {_json_type(index)}, not an object", hint=_LAYOUT_HINT
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
    digest = _parse_digest(raw, context=context, hint=_LAYOUT_HINT)
    mt = item.get("mediaType")
    sz = item.get("size")
    annotations = item.get("annotations")
    notes: Mapping[str, object] = annotations if isinstance(annotations, dict) else {}
    ref_name = notes.get(REF_NAME_ANNOTATION)
    ref_name = ref_name if isinstance(ref_name, str) and ref_name else None
    full: list[ImageRef] = []
    for candidate in (ref_name, notes.get(CONTAINERD_NAME_ANNOTATION)):
        if isinstance(candidate, str) and any(c in candidate for c in ":/@"):
            ref = _try_reference(candidate)
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
                    f"digests ({_listed(_ref_names(tier))})",
                    hint="keep one image per tag in the layout",
                )
    if len(entries) == 1:
        return entries[0]
    expected = repr(tag) if tag is not None else "none (--image has no tag)"
    raise InputFileError(
        f"{label}: {len(entries)} manifests ({_listed(_ref_names(entries))}) and none named "
        f"for tag {expected}",
        hint=f"pass --image with one of the tags in {REF_NAME_ANNOTATION}",
    )


def _ref_names(entries: Sequence[_Entry]) -> list[str]:
    return [clip(e.ref_name or f"manifests[{e.index}] (no ref.name)", 80) for e in entries]


# --- shared helpers -------------------------------------------------------------------


def read_input_text(
    path: Path,
    *,
    what: str,
    hint: str,
    cap: int = MAX_INPUT_BYTES,
    allow_stdin: bool = False,
) -> str:
    """The text of a user-supplied input file, or `InputFileError` naming `what` (the
    flag) and the file.

    The bytes come from `fileio.read_input`: a regular file only (a FIFO, a device such
    as /dev/zero, a directory or a socket is refused without blocking), at most `cap`
    bytes (16 MiB), `-` for standard input only with `allow_stdin`. Then refuses binary
    content (NUL bytes) and text that is not UTF-8 (or UTF-16 with a BOM, as
    PowerShell writes). The result may be empty.
    """
    label = _label(what, path)
    try:
        data = fileio.read_input(path, what=what, cap=cap, allow_stdin=allow_stdin)
    except InputFileError as exc:
        raise InputFileError(exc.message, hint=hint) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{label}: not valid UTF-16 text (bad bytes at offset {exc.start})", hint=hint
            ) from None
    if b"\x00" in data:
        raise InputFileError(f"{label}: binary content (NUL bytes), not text", hint=hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{label}: not UTF-8 text (invalid byte at offset {exc.start})", hint=hint
        ) from None


def _label(what: str, path: Path) -> str:
    """`--flag 'path'` (or `--flag (standard input)`): one line, whatever the path holds."""
    text = str(path)
    if text == fileio.STDIN and what in STDIN_FLAGS:
        return f"{what} (standard input)"
    return f"{what} {clip(repr(text), 200)}"


def _load_json(
    path: Path, *, what: str, hint: str, cap: int = MAX_INPUT_BYTES, allow_stdin: bool = False
) -> object:
    label = _label(what, path)
    text = read_input_text(path, what=what, hint=hint, cap=cap, allow_stdin=allow_stdin)
    if not text.strip():
        raise InputFileError(f"{label}: is empty", hint=hint)
    try:
        return jsonutil.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{label}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", hint=hint
        ) from None
    except ValueError as exc:  # nested too deeply, NaN, out-of-range numbers
        raise InputFileError(f"{label}: not usable JSON ({exc})", hint=hint) from None


def _listed(names: Iterable[str]) -> str:
    """At most ten names, then how many more: an error stays one readable line."""
    items = list(names)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown} … and {len(items) - _MAX_LISTED} more"


def _parse_digest(text: str, *, context: str, hint: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigestError as exc:
        raise InputFileError(f"{context}: {exc.message}", hint=hint) from exc


def _try_reference(text: str) -> ImageRef | None:
    try:
        return parse_reference(text, default_tag=None)
    except InvalidReferenceError:
        return None


def _names(mapping: Mapping[str, object]) -> str:
    return _listed(clip(repr(name), 80) for name in sorted(mapping))


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return type(value).__name__


def _os_reason(exc: OSError | ValueError) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
