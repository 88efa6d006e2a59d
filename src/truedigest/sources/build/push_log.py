"""`--build-log FILE`: `docker push` output (`<tag>: digest: sha256:<hex> size: <n>`)
or buildkit's `pushing manifest for <ref>@sha256:<hex>`."""

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
    BuildKind,
    parse_digest,
    try_reference,
)
from truedigest.sources.reading import input_label, listed, read_input_text

__all__ = ["KIND", "from_push_log"]

_LOG_HINT = (
    "pass the output of `docker push` (or of `docker buildx build --push --progress=plain`), "
    "e.g. `docker push IMAGE 2>&1 | tee push.log`"
)
_FLAG = "--build-log"

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
    label = input_label(_FLAG, path, stdin=True)
    text = read_input_text(path, what=_FLAG, hint=_LOG_HINT, allow_stdin=True)
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
        f"{label}: {len(distinct_entries)} pushes (tags {listed(found)}) and none of "
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
            repository = try_reference(header.group("repo"))
            continue
        m = _PUSH_LINE.search(line)
        if m is not None:
            context = f"{label}: line {number}"
            digest = parse_digest(m.group("digest"), context=context, hint=_LOG_HINT)
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
            digest = parse_digest(b.group("digest"), context=context, hint=_LOG_HINT)
            ref = try_reference(b.group("ref"))
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


def _read(value: str, ctx: BuildContext) -> BuildClaim:
    return from_push_log(Path(value), image=ctx.image)


KIND = BuildKind(
    flag=_FLAG,
    stdin=True,
    help="`docker push` output (line `TAG: digest: sha256:… size: N`).",
    reader=_read,
)
