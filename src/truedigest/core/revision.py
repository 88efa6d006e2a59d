"""Which commit an image was built from: the rules, over bytes already read (pure).

In order: the manifest's `org.opencontainers.image.revision` annotation, the same key
among the config's labels, then the buildx provenance attestation — an in-toto
statement (possibly inside a DSSE envelope) whose SLSA predicate names the commit:

- SLSA v0.2 (BuildKit's default): `predicate.metadata[buildkit metadata].vcs.revision`,
  `predicate.invocation.configSource.digest.sha1`, or a git `materials[]` entry's
  `digest.sha1`;
- SLSA v1: `predicate.runDetails.metadata.buildkit_metadata.vcs.revision`,
  `buildDefinition.externalParameters` / `internalParameters` `vcs.revision`,
  `externalParameters.configSource.digest`, or a git `resolvedDependencies[]` entry's
  `digest.gitCommit` / `digest.sha1`.

`truedigest.engine.identity_run` fetches the config and the attestation only when the
step before found nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from truedigest.errors import TruedigestError
from truedigest.oci.digest import Digest

REVISION_KEY = "org.opencontainers.image.revision"
BUILDKIT_METADATA_V02 = "https://mobyproject.org/buildkit@v1#metadata"
PROVENANCE_MARK = "slsa.dev/provenance"
"""Part of every SLSA provenance predicate type (`https://slsa.dev/provenance/v0.2`, `/v1`)."""
_MAX_REVISION = 128


class RevisionSource(StrEnum):
    ANNOTATION = "annotation"
    LABEL = "label"
    PROVENANCE = "provenance"


@dataclass(frozen=True, slots=True)
class Revision:
    commit: str
    source: RevisionSource


@dataclass(frozen=True, slots=True)
class ImageRevision:
    """The revision of one runnable manifest (the truth, or one platform child of it).

    `revision` None with `problem` None: the image records no commit anywhere looked;
    `problem`: it could not be read (a request failed), so nothing is known.
    """

    digest: Digest
    platform: str | None
    revision: Revision | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class TruthIdentity:
    """The revision of each runnable manifest behind the truth digest."""

    images: tuple[ImageRevision, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(i.problem for i in self.images if i.problem is not None)

    @property
    def known(self) -> tuple[ImageRevision, ...]:
        return tuple(i for i in self.images if i.revision is not None)

    @property
    def revision(self) -> Revision | None:
        """The one commit every image records; None when any lacks it or they differ."""
        revisions = [i.revision for i in self.images]
        if not revisions or any(r is None for r in revisions):
            return None
        commits = {r.commit for r in revisions if r is not None}
        return revisions[0] if len(commits) == 1 else None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_REVISION:
        return None
    return value


def from_annotations(annotations: Mapping[str, str]) -> Revision | None:
    commit = _clean(annotations.get(REVISION_KEY))
    return Revision(commit, RevisionSource.ANNOTATION) if commit else None


def from_config(config: Mapping[str, object] | None) -> Revision | None:
    """The config's `org.opencontainers.image.revision` label."""
    if config is None:
        return None
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return None
    commit = _clean(labels.get(REVISION_KEY))
    return Revision(commit, RevisionSource.LABEL) if commit else None


def load_statement(data: bytes) -> dict[str, Any] | None:
    """An in-toto statement from a layer's bytes: the JSON itself, or a DSSE envelope's
    base64 payload. None for anything else (not JSON, not an object)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    payload = doc.get("payload")
    if "predicate" not in doc and isinstance(payload, str):
        try:
            inner = json.loads(base64.b64decode(payload, validate=True))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return inner if isinstance(inner, dict) else None
    return doc


def statement_subjects(statement: Mapping[str, Any]) -> tuple[Digest, ...]:
    """The digests the statement's `subject[]` entries name (malformed ones skipped)."""
    subjects = statement.get("subject")
    out: list[Digest] = []
    for entry in subjects if isinstance(subjects, list) else []:
        digests = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(digests, dict):
            continue
        for algorithm, hexpart in digests.items():
            if not isinstance(algorithm, str) or not isinstance(hexpart, str):
                continue
            try:
                out.append(Digest.parse(f"{algorithm}:{hexpart}"))
            except TruedigestError:
                continue
    return tuple(dict.fromkeys(out))


def from_statement(statement: Mapping[str, Any]) -> Revision | None:
    """The commit a SLSA provenance statement names (v0.2 or v1), else None."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return None
    for found in (*_v02(predicate), *_v1(predicate)):
        commit = _clean(found)
        if commit:
            return Revision(commit, RevisionSource.PROVENANCE)
    return None


def _get(obj: object, *path: str) -> object:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _is_git(uri: object) -> bool:
    if not isinstance(uri, str):
        return False
    uri = uri.lower()
    return uri.startswith(("git+", "git@", "git://", "ssh://git")) or ".git" in uri


def _git_entries(entries: object, *keys: str) -> list[object]:
    """`digest[key]` of each git entry of a materials/resolvedDependencies list."""
    found: list[object] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        digest = entry.get("digest")
        if not isinstance(digest, dict):
            continue
        if "gitCommit" in digest and "gitCommit" in keys:
            found.append(digest["gitCommit"])
        elif _is_git(entry.get("uri")):
            found.extend(digest[k] for k in keys if k in digest)
    return found


def _v02(predicate: dict[str, Any]) -> list[object]:
    return [
        _get(predicate, "metadata", BUILDKIT_METADATA_V02, "vcs", "revision"),
        _get(predicate, "invocation", "configSource", "digest", "sha1"),
        *_git_entries(predicate.get("materials"), "sha1", "gitCommit"),
    ]


def _v1(predicate: dict[str, Any]) -> list[object]:
    definition = predicate.get("buildDefinition")
    return [
        _get(predicate, "runDetails", "metadata", "buildkit_metadata", "vcs", "revision"),
        _get(definition, "externalParameters", "vcs", "revision"),
        _get(definition, "internalParameters", "vcs", "revision"),
        _get(definition, "externalParameters", "configSource", "digest", "gitCommit"),
        _get(definition, "externalParameters", "configSource", "digest", "sha1"),
        *_git_entries(_get(definition, "resolvedDependencies"), "gitCommit", "sha1"),
    ]


def is_provenance(predicate_type: str) -> bool:
    return PROVENANCE_MARK in predicate_type


__all__ = [
    "ImageRevision",
    "Revision",
    "RevisionSource",
    "TruthIdentity",
    "from_annotations",
    "from_config",
    "from_statement",
    "is_provenance",
    "load_statement",
    "statement_subjects",
]
