"""Read which commit the truth digest was built from (`core.revision` has the rules).

Requests, only when `verify` is asked about commits: none when the manifest carries
the revision annotation; one config GET when it is a label; when only the buildx
provenance holds it, the index (one GET, already in memory unless --platform picked
a child), the attestation manifest and its in-toto layer (two GETs). For an index
truth, the index's own revision annotation settles it (no request); else each platform
child adds its own manifest GET and the steps above.
"""

from __future__ import annotations

from collections.abc import Callable

from truedigest.core.revision import (
    ImageRevision,
    Revision,
    TruthIdentity,
    from_annotations,
    from_config,
    from_statement,
    is_provenance,
    load_statement,
)
from truedigest.errors import NotFoundError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import ATTESTATION_DIGEST_KEY, Manifest
from truedigest.oci.registry import RegistryClient, Resolved

PROVENANCE_CAP = 4 * 1024 * 1024
_PREDICATE_TYPE_KEY = "in-toto.io/predicate-type"


class _Reader:
    """Manifests by digest, fetched at most once per run."""

    def __init__(self, client: RegistryClient, truth: Resolved) -> None:
        self.client = client
        self.truth = truth
        self._manifests: dict[Digest, Manifest] = {}
        if truth.manifest is not None:
            self._manifests[truth.digest] = truth.manifest
        if truth.index is not None:
            self._manifests[truth.index.digest] = truth.index

    def manifest(self, digest: Digest) -> Manifest:
        if digest not in self._manifests:
            self._manifests[digest] = self.client.get_manifest(self.truth.ref, digest)
        return self._manifests[digest]


def read_identity(client: RegistryClient, truth: Resolved) -> TruthIdentity:
    """The revision of the truth (or of each platform child when it is an index)."""
    reader = _Reader(client, truth)
    try:
        top = reader.manifest(truth.digest)
    except TruedigestError as exc:
        return TruthIdentity((ImageRevision(truth.digest, None, None, exc.message),))
    if not top.is_index:
        platform = str(truth.platform) if truth.platform else None
        index = truth.index_digest
        return TruthIdentity((_image(reader, top, platform, lambda: _maybe(reader, index)),))
    on_index = from_annotations(top.annotations)
    if on_index is not None:  # `--annotation index:…`: the whole index, no request
        return TruthIdentity((ImageRevision(truth.digest, None, on_index),))
    images = []
    for child in top.children:
        if child.is_attestation or (child.platform is not None and child.platform.is_unknown):
            continue
        platform = str(child.platform) if child.platform else None
        try:
            manifest = reader.manifest(child.digest)
        except TruedigestError as exc:
            images.append(ImageRevision(child.digest, platform, None, exc.message))
            continue
        if manifest.is_index:
            continue  # a nested index is no runnable image
        images.append(_image(reader, manifest, platform, lambda: top))
    return TruthIdentity(tuple(images))


def _maybe(reader: _Reader, digest: Digest | None) -> Manifest | None:
    return reader.manifest(digest) if digest is not None else None


def _image(
    reader: _Reader,
    manifest: Manifest,
    platform: str | None,
    index: Callable[[], Manifest | None],
) -> ImageRevision:
    def done(revision: Revision | None, problem: str | None = None) -> ImageRevision:
        return ImageRevision(manifest.digest, platform, revision, problem)

    try:
        found = from_annotations(manifest.annotations)
        if found is None and manifest.schema_version != 1:
            found = _from_config(reader, manifest)
        if found is None:
            parent = index()
            if parent is not None:
                found = _from_provenance(reader, parent, manifest.digest)
    except TruedigestError as exc:
        return done(None, exc.message)
    return done(found)


def _from_config(reader: _Reader, manifest: Manifest) -> Revision | None:
    """The revision label; a config the registry does not hold has none (data, not an
    error: the provenance may still name the commit)."""
    try:
        return from_config(reader.client.get_config(reader.truth.ref, manifest))
    except NotFoundError:
        return None


def _from_provenance(reader: _Reader, index: Manifest, subject: Digest) -> Revision | None:
    """The commit in the provenance attestation the index holds for `subject`."""
    for child in index.children:
        if not child.is_attestation:
            continue
        if child.annotations.get(ATTESTATION_DIGEST_KEY) != str(subject):
            continue
        attestation = reader.manifest(child.digest)
        for layer in attestation.layers:
            predicate_type = layer.annotations.get(_PREDICATE_TYPE_KEY, "")
            if not is_provenance(predicate_type):
                continue
            data = reader.client.get_blob(
                reader.truth.ref, layer.digest, cap=PROVENANCE_CAP, kind="provenance attestation"
            )
            statement = load_statement(data)
            found = from_statement(statement) if statement is not None else None
            if found is not None:
                return found
    return None


__all__ = ["read_identity"]
