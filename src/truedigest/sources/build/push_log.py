"""`--build-log FILE`: `docker push` output (`<tag>: digest: sha256:<hex> size: <n>`)
or buildkit's `pushing manifest for <ref>@sha256:<hex>`.

BuildKit before v0.9 printed `pushing manifest for <ref>` without the digest; the
pushed digest is then the last `exporting manifest [list] sha256:…` line of the same
step (`#N`, or the last one before the push in TTY output): a manifest list comes
after its platform manifests, so the last line is the top-level digest pushed.

podman, buildah and skopeo print no pushed digest at all (nor does `podman build`,
which ends with the image ID): such a log is refused with a hint to `--digestfile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from truedigest.errors import InputFileError
from truedigest.oci.digest import Digest, clip
from truedigest.oci.reference import ImageRef
from truedigest.sources.build.build_claim import (
    BuildClaim,
    BuildContext,
    parse_digest,
    try_reference,
)
from truedigest.sources.build.kinds import LOG_FLAG
from truedigest.sources.reading import input_label, listed, read_input_text

__all__ = ["from_push_log"]

_LOG_HINT = (
    "pass the output of `docker push` (or of `docker buildx build --push --progress=plain`), "
    "e.g. `docker push IMAGE 2>&1 | tee push.log`"
)
_DIGESTFILE_HINT = (
    "podman, buildah and skopeo print no pushed digest: add `--digestfile FILE` "
    "(`podman push`, `podman manifest push`, `buildah push`, `skopeo copy`) and pass that "
    "file with --digest-file FILE"
)
_PODMAN_BUILD_HINT = (
    "`podman build`/`buildah bud` end with the image ID (a config digest), not a pushed "
    "digest: push with `podman push --digestfile FILE IMAGE` and pass that file with "
    "--digest-file FILE"
)
_FLAG = LOG_FLAG

_TAG_CHARS = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_PUSH_LINE = re.compile(
    rf"(?<![\w.-])(?P<tag>{_TAG_CHARS}): digest: (?P<digest>\S+) size: (?P<size>\d+)"
)
_BUILDKIT_LINE = re.compile(r"pushing manifest for (?P<ref>[^\s@]+)@(?P<digest>\S+)")
# BuildKit before v0.9: no digest on the push line, only on the exporting lines before it.
_STEP = r"^\s*(?:#(?P<step>\d+) )?(?:=> => )?"
_OLD_BUILDKIT_PUSH = re.compile(rf"{_STEP}pushing manifest for (?P<ref>[^\s@]+)(?:\s|$)")
_EXPORTED = re.compile(rf"{_STEP}(?P<text>exporting manifest (?:list )?(?P<digest>sha\S*))")
# containers/image (podman, buildah, skopeo) copy output, and podman/buildah build steps.
_CONTAINERS_LINE = re.compile(
    r"^(?:Getting image (?:list |source )?signatures|Copying (?:blob|config|image) |"
    r"Writing manifest (?:list )?to image destination|Storing (?:list )?signatures)"
)
_PODMAN_BUILD_LINE = re.compile(r"^(?:STEP \d+(?:/\d+)?: |COMMIT(?: |$))")
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
    note: str = ""  # how the digest was found, when not on the push line itself


@dataclass(slots=True)
class _Scan:
    """What one pass over a log found."""

    pushes: list[_Push]
    undigested: list[tuple[int, str]]  # (line, ref) of old BuildKit pushes with no export
    containers_tool: bool = False  # podman/buildah/skopeo copy output
    podman_build: bool = False  # podman/buildah build steps


def from_push_log(path: Path, *, image: ImageRef) -> BuildClaim:
    """`docker push` (or buildkit `--push`) output: the entry for the image's tag."""
    label = input_label(_FLAG, path, stdin=True)
    text = read_input_text(path, what=_FLAG, hint=_LOG_HINT, allow_stdin=True)
    scan = _scan_push_log(text, label=label)
    pushes = scan.pushes
    if not pushes:
        if scan.undigested:
            line, ref = scan.undigested[0]
            raise InputFileError(
                f"{label}: line {line} pushes {clip(ref, 120)} without a digest (BuildKit "
                "before v0.9) and no `exporting manifest sha256:…` line of that step precedes it",
                hint=_LOG_HINT,
            )
        hint = _LOG_HINT
        if scan.containers_tool:
            hint = _DIGESTFILE_HINT
        elif scan.podman_build:
            hint = _PODMAN_BUILD_HINT
        raise InputFileError(
            f"{label}: no `<tag>: digest: sha256:… size: N` line "
            "(nor buildkit `pushing manifest for <ref>@sha256:…`)",
            hint=hint,
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
        f"{label}: {len(distinct_entries)} pushes (tags {listed(found)}) and none of "
        f"tag {expected}",
        hint="pass --image with the tag the log pushed, or a log of that one push",
    )


def _scan_push_log(text: str, *, label: str) -> _Scan:
    scan = _Scan(pushes=[], undigested=[])
    repository: ImageRef | None = None
    # BuildKit step ("" in TTY output) → its last exporting line: (number, match)
    exported: dict[str, tuple[int, re.Match[str]]] = {}
    # Split on "\n" only, so line numbers agree with `grep -n` even when a TTY log holds
    # carriage returns; drop colour escapes CI runners leave in the text.
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = _ANSI_ESCAPE.sub("", raw_line)
        header = _PUSH_HEADER.search(line)
        if header is not None:
            repository = try_reference(header.group("repo"))
            continue
        m = _PUSH_LINE.search(line)
        if m is not None:
            context = f"{label}: line {number}"
            digest = parse_digest(m.group("digest"), context=context, hint=_LOG_HINT)
            scan.pushes.append(
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
            digest = parse_digest(b.group("digest"), context=context, hint=_LOG_HINT)
            ref = try_reference(b.group("ref"))
            scan.pushes.append(
                _Push(
                    line=number,
                    tag=ref.tag if ref is not None else None,
                    digest=digest,
                    size=None,
                    repository=ref,
                    text=b.group(0),
                )
            )
            continue
        e = _EXPORTED.search(line)
        if e is not None:
            exported[e.group("step") or ""] = (number, e)
            continue
        old = _OLD_BUILDKIT_PUSH.search(line)
        if old is not None:
            _old_buildkit_push(scan, old, number, exported.get(old.group("step") or ""), label)
            continue
        scan.containers_tool = scan.containers_tool or bool(_CONTAINERS_LINE.match(line))
        scan.podman_build = scan.podman_build or bool(_PODMAN_BUILD_LINE.match(line))
    return scan


def _old_buildkit_push(
    scan: _Scan,
    push: re.Match[str],
    number: int,
    exported: tuple[int, re.Match[str]] | None,
    label: str,
) -> None:
    """`pushing manifest for REF` at line `number`, without a digest: the digest is on
    the step's last exporting line, `exported` (its number and match)."""
    ref_text = push.group("ref")
    if exported is None:
        scan.undigested.append((number, ref_text))
        return
    line, export = exported
    digest = parse_digest(export.group("digest"), context=f"{label}: line {line}", hint=_LOG_HINT)
    ref = try_reference(ref_text)
    scan.pushes.append(
        _Push(
            line=line,
            tag=ref.tag if ref is not None else None,
            digest=digest,
            size=None,
            repository=ref,
            text=export.group("text"),
            note=(
                f"; pushed as {clip(ref_text, 120)} at line {number} (BuildKit before v0.9 "
                "prints the digest only on the exporting line)"
            ),
        )
    )


def _log_claim(push: _Push, path: Path, note: str) -> BuildClaim:
    return BuildClaim(
        kind="log",
        digest=push.digest,
        where=str(path),
        detail=f"line {push.line}: {clip(push.text, 160)}{push.note}{note}",
        size=push.size,
    )


def read(value: str, ctx: BuildContext) -> BuildClaim:
    """The claim of a value given to this kind's flag (`kinds.BuildKind.claim`)."""
    return from_push_log(Path(value), image=ctx.image)
