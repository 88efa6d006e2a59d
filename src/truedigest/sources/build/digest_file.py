"""`--digest-file FILE`: the `--digestfile` of `podman push`, `podman manifest push`,
`buildah push` or `skopeo copy` (the whole file is one digest)."""

from __future__ import annotations

from pathlib import Path

from truedigest.errors import InputFileError
from truedigest.sources.build.build_claim import BuildClaim, BuildContext, parse_digest
from truedigest.sources.build.kinds import DIGEST_FILE_FLAG
from truedigest.sources.reading import input_label, read_input_text

__all__ = ["from_digest_file"]

_DIGEST_FILE_HINT = (
    "pass the file `podman push`, `buildah push` or `skopeo copy` wrote with --digestfile "
    "(one sha256:<hex> digest)"
)
_FLAG = DIGEST_FILE_FLAG


def from_digest_file(path: Path) -> BuildClaim:
    """podman/buildah/skopeo `--digestfile`: the whole file is one digest."""
    label = input_label(_FLAG, path, stdin=True)
    text = read_input_text(path, what=_FLAG, hint=_DIGEST_FILE_HINT, allow_stdin=True)
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
    digest = parse_digest(content, context=label, hint=_DIGEST_FILE_HINT)
    return BuildClaim(kind="digest-file", digest=digest, where=str(path))


def read(value: str, ctx: BuildContext) -> BuildClaim:
    """The claim of a value given to this kind's flag (`kinds.BuildKind.claim`)."""
    return from_digest_file(Path(value))
