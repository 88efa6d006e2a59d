"""Pin files: `<name>[:tag]@sha256:<hex>` references in any text file (stdlib only).

Kubernetes YAML, Helm values, compose files, Terraform, `.env`, JSON: rather than
parse each format, scan the text for runs of reference characters that end in
`@sha256:<64 hex>`, `@sha384:<96 hex>` or `@sha512:<128 hex>` (the three OCI digest
algorithms) and keep the runs that parse as a
distribution reference. `scan_file` reads a file once and returns those for
one repository (after Docker Hub normalisation), with the references whose digest
is broken (wrong length, uppercase), so verify and pins can flag them.

A reference whose name follows a template expression (`{{ .Values.registry }}/app@…`,
`${var.registry}/app@…`) is skipped: its registry cannot be known from the text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from pathlib import Path

from truedigest.errors import InvalidDigestError, InvalidReferenceError
from truedigest.model.observation import Observation, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources.reading import read_input_text

__all__ = [
    "MalformedPin",
    "PinRef",
    "PinScan",
    "find_pins",
    "malformed_pins",
    "observe_pin_file",
    "pin_file_sources",
    "scan_file",
    "scan_text",
]

_PIN_FILE_HINT = (
    "pass a text file (Kubernetes YAML, Helm values, compose, Terraform, JSON) that holds "
    "<repo>@sha256:<hex> references"
)

# Reference characters: host (with port and IPv6 brackets), path, tag.
_NAME_CHARS = r"A-Za-z0-9._:/\[\]\-"
# Not preceded by a reference character (we would be inside a longer run that did not
# start with a letter or digit) nor by the end of a template expression.
_NAME = rf"(?<![{_NAME_CHARS}{{}}$@])(?P<name>[A-Za-z0-9\[][{_NAME_CHARS}]*)"
_PIN_RE = re.compile(
    rf"{_NAME}@(?P<digest>sha256:[0-9a-f]{{64}}|sha384:[0-9a-f]{{96}}|sha512:[0-9a-f]{{128}})"
    r"(?![0-9A-Za-z])"
)
_ANY_DIGEST_RE = re.compile(
    rf"{_NAME}@(?P<algorithm>(?i:sha256|sha384|sha512)):(?P<hex>[0-9A-Za-z]*)"
)


@dataclass(frozen=True, slots=True)
class PinRef:
    """One `<name>[:tag]@<digest>` reference found in a pin file."""

    path: Path
    line: int  # 1-based
    reference: str  # the text matched, e.g. "registry.example.com/team/app:v1@sha256:…"
    ref: ImageRef
    digest: Digest


@dataclass(frozen=True, slots=True)
class MalformedPin:
    """A reference whose digest is broken: `@sha256:` not followed by 64 lowercase hex
    (`@sha384:` by 96, `@sha512:` by 128)."""

    line: int  # 1-based
    text: str  # the reference as written, clipped to 240 characters
    repository: ImageRef  # the repository it names (no tag, no digest)


@dataclass(frozen=True, slots=True)
class PinScan:
    """What one read of a pin file found: well-formed pins and broken ones, in text order."""

    pins: tuple[PinRef, ...]
    malformed: tuple[MalformedPin, ...]


def scan_file(path: Path, *, repo: ImageRef | None) -> PinScan:
    """The pins in `path` (read once): `repo`'s only, or every repository's for None.

    Without `repo`, broken references count only for a repository that also has a
    well-formed pin in the file (else any `x@sha256:` typo in a comment would).
    An unusable file (missing, not a regular file — a FIFO, a device, a directory —,
    over 16 MiB, binary, not UTF-8) raises InputFileError (a usage error, exit 2)
    naming `--pin-file`; `-` is a file name here, never standard input.
    """
    text = read_input_text(path, what="--pin-file", hint=_PIN_FILE_HINT)
    pins = tuple(p for p in scan_text(text, path) if repo is None or p.ref.same_repository(repo))
    wanted = [repo] if repo is not None else [p.ref for p in pins]
    malformed = tuple(
        m for m in _scan_malformed(text) if any(m.repository.same_repository(w) for w in wanted)
    )
    return PinScan(pins, malformed)


def observe_pin_file(path: Path, *, repo: ImageRef | None) -> list[Observation]:
    """Each pin in `path` as a source: one Observation per well-formed reference (in
    text order), then one MISMATCH per broken one; one MISSING when there is neither.

    Every id is `file:<path>` (docs/json.md, `verify`); `where` is `<path>:<line>`, `ref` the
    reference (for a broken pin its repository), `written` the text as written.
    """
    scan = scan_file(path, repo=repo)
    source_id = f"file:{path}"
    out = [
        Observation(
            source_id,
            SourceKind.FILE,
            f"{path}:{pin.line}",
            pin.digest,
            Status.OK,
            extra={"path": str(path), "lines": [pin.line], "reference": pin.reference},
            ref=pin.ref,
            written=pin.reference,
        )
        for pin in scan.pins
    ]
    out.extend(
        Observation(
            source_id,
            SourceKind.FILE,
            f"{path}:{broken.line}",
            None,
            Status.MISMATCH,
            detail=f"malformed digest in {broken.text!r}: a broken pin",
            extra={"path": str(path), "lines": [broken.line]},
            ref=broken.repository,
            written=broken.text,
        )
        for broken in scan.malformed
    )
    if not out:
        whose = f"{repo.name}@sha256:…" if repo is not None else "<repo>@sha256:…"
        out.append(
            Observation(
                source_id,
                SourceKind.FILE,
                str(path),
                None,
                Status.MISSING,
                detail=f"no {whose} reference in the file",
                extra={"path": str(path)},
            )
        )
    return out


def pin_file_sources(path: Path, *, image: ImageRef) -> list[Observation]:
    """`verify`'s view of a pin file: one source per distinct digest of `image`'s
    repository (`lines` lists where it is pinned), then the broken pins, or MISSING."""
    by_digest: dict[Digest, list[Observation]] = {}
    rest: list[Observation] = []
    for obs in observe_pin_file(path, repo=image):
        if obs.status is Status.OK and obs.digest is not None:
            by_digest.setdefault(obs.digest, []).append(obs)
        else:
            rest.append(obs)
    merged = []
    for same in by_digest.values():
        first = same[0]
        lines = [line for obs in same for line in obs.extra["lines"]]
        merged.append(
            replace(
                first,
                extra={**first.extra, "lines": lines},
                detail=None if len(same) == 1 else f"lines {', '.join(map(str, lines))}",
            )
        )
    return [*merged, *rest]


def find_pins(path: Path, *, image: ImageRef) -> list[PinRef]:
    """The references in `path` that name the image's registry and repository."""
    return list(scan_file(path, repo=image).pins)


def scan_text(text: str, path: Path) -> list[PinRef]:
    """Every well-formed `<name>[:tag]@sha256:<hex>` reference in `text`, in order."""
    lines = _LineIndex(text)
    pins: list[PinRef] = []
    for m in _PIN_RE.finditer(text):
        digest_text = m.group("digest")
        found = _resolve_name(m.group("name"), suffix=f"@{digest_text}")
        if found is None:
            continue
        reference, ref = found
        if ref.digest is None:  # pragma: no cover - the suffix always carries the digest
            continue
        pins.append(
            PinRef(
                path=path,
                line=lines.line_of(m.start("name")),
                reference=reference,
                ref=ref,
                digest=ref.digest,
            )
        )
    return pins


def malformed_pins(path: Path, *, image: ImageRef) -> list[tuple[int, str]]:
    """(line, text) of each reference to the image's repository with a broken digest."""
    return [(m.line, m.text) for m in scan_file(path, repo=image).malformed]


def _scan_malformed(text: str) -> list[MalformedPin]:
    """Every reference in `text` with a broken digest, in order.

    A broken digest is `@sha256:` (`@sha384:`, `@sha512:`) followed by anything but
    exactly 64 (96, 128) lowercase hex characters: truncated, too long, uppercase, `SHA256:`.
    """
    lines = _LineIndex(text)
    broken: list[MalformedPin] = []
    for m in _ANY_DIGEST_RE.finditer(text):
        digest_text = f"{m.group('algorithm')}:{m.group('hex')}"
        try:
            Digest.parse(digest_text)
        except InvalidDigestError:
            pass
        else:
            continue
        found = _resolve_name(m.group("name"), suffix="")
        if found is None:
            continue
        name, ref = found
        shown = f"{name}@{digest_text}"
        if len(shown) > 240:
            shown = shown[:239] + "…"
        repository = ImageRef(ref.registry, ref.repository)
        broken.append(MalformedPin(lines.line_of(m.start("name")), shown, repository))
    return broken


def _resolve_name(name: str, *, suffix: str) -> tuple[str, ImageRef] | None:
    """Parse `name + suffix` as a reference, dropping a `key:` / `scheme://` prefix if needed.

    Returns the reference text that parsed and its value, or None.
    """
    for candidate in _name_candidates(name):
        try:
            return candidate + suffix, parse_reference(candidate + suffix, default_tag=None)
        except (InvalidReferenceError, InvalidDigestError):
            continue
    return None


def _name_candidates(name: str) -> list[str]:
    """`name`, then what follows each `:` in its first path component.

    This recovers `registry.example.com/app` from `image:registry.example.com/app`
    (no space after a YAML/compose key) and from `docker://registry.example.com/app`.
    """
    candidates = [name]
    slash = name.find("/")
    head_end = slash if slash >= 0 else len(name)
    for i, char in enumerate(name[:head_end]):
        if char == ":":
            rest = name[i + 1 :].lstrip("/")
            if rest and rest not in candidates:
                candidates.append(rest)
    return candidates


class _LineIndex:
    """Offset → 1-based line number, without rescanning the text per match."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        self._starts = [0]
        self._starts.extend(m.end() for m in re.finditer("\n", text))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)
