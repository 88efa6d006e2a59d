"""What a manifest says about itself, and the shape of an `inspect` answer.

Pure: manifest bytes (and a parsed config) in, facts out. Deciding whether a
manifest is an attestation, and whether its config is worth a GET, happens here;
the requests themselves are made by `truedigest.engine.inspect_run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from truedigest.core.revision import RevisionSource
from truedigest.errors import ExitCode, RegistryError, TruedigestError
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import (
    ATTESTATION_DIGEST_KEY,
    CREATED,
    INDEX_MEDIA_TYPES,
    Descriptor,
    Manifest,
    Platform,
)
from truedigest.oci.reference import ImageRef

REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"
PREDICATE_TYPE_KEY = "in-toto.io/predicate-type"
ATTESTATION_LAYER_TYPES = frozenset(
    {
        "application/vnd.in-toto+json",
        "application/vnd.dsse.envelope.v1+json",
    }
)
IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """One manifest as served, with the image facts its config adds (when read)."""

    digest: Digest
    media_type: str
    size: int
    annotations: dict[str, str]
    config_digest: Digest | None = None
    config_media_type: str | None = None
    layers: int = 0
    layers_size: int = 0
    created: str | None = None
    revision: str | None = None
    revision_source: RevisionSource | None = None
    """annotation or label here; `inspect` sets provenance for an index child whose
    buildx provenance attestation alone names the commit."""
    source: str | None = None
    platform: Platform | None = None
    """From the config (`os`/`architecture`/`variant`), when the config was read."""
    artifact_type: str | None = None
    subject: Digest | None = None
    predicate_types: tuple[str, ...] = ()
    schema_version: int = 2
    """1 for a legacy Docker schema 1 manifest (no config blob; layers without sizes)."""
    problems: tuple[str, ...] = ()
    """Parts of the manifest that cannot be read (a malformed config descriptor …):
    the rest is still told; `inspect` exits 3."""

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def legacy(self) -> bool:
        return self.schema_version == 1


def manifest_facts(manifest: Manifest, config: Mapping[str, object] | None = None) -> ManifestFacts:
    """Facts from the manifest bytes, completed by its parsed config when given.

    created/revision/source: the manifest's annotations win, then the config's
    labels; `created` finally falls back to the config's own `created`. Schema 1 has
    no config blob: its newest history entry stands in, and its platform is its
    `architecture`. A config or subject descriptor that cannot be read is a problem
    on the facts, not an exception.
    """
    problems: list[str] = []
    legacy = manifest.schema_version == 1
    if legacy and config is None:
        config = manifest.legacy_config
    annotations = manifest.annotations
    labels = _config_labels(config)
    created = annotations.get(CREATED) or labels.get(CREATED)
    if created is None and config is not None:
        raw = config.get("created")
        created = raw if isinstance(raw, str) and raw else None
    cfg = _part(manifest, "config", problems)
    layers = manifest.layers
    subject = _part(manifest, "subject", problems)
    artifact_type = manifest.json.get("artifactType")
    predicate_types = tuple(
        dict.fromkeys(
            layer.annotations[PREDICATE_TYPE_KEY]
            for layer in layers
            if PREDICATE_TYPE_KEY in layer.annotations
        )
    )
    if legacy:
        platform = manifest.legacy_platform
    else:
        platform = Platform.from_json(config) if config is not None else None
    revision_source = None
    if annotations.get(REVISION):
        revision_source = RevisionSource.ANNOTATION
    elif labels.get(REVISION):
        revision_source = RevisionSource.LABEL
    return ManifestFacts(
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
        annotations=annotations,
        config_digest=cfg.digest if cfg is not None else None,
        config_media_type=cfg.media_type if cfg is not None else None,
        layers=len(layers),
        layers_size=sum(max(layer.size, 0) for layer in layers),
        created=created,
        revision=annotations.get(REVISION) or labels.get(REVISION),
        revision_source=revision_source,
        source=annotations.get(SOURCE) or labels.get(SOURCE),
        platform=platform,
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        subject=subject.digest if subject is not None else None,
        predicate_types=predicate_types,
        schema_version=manifest.schema_version,
        problems=tuple(problems),
    )


def _part(manifest: Manifest, name: str, problems: list[str]) -> Descriptor | None:
    """`manifest.config` or `manifest.subject`; None (and a problem) when malformed."""
    try:
        return manifest.config if name == "config" else manifest.subject
    except RegistryError as exc:
        problems.append(f"{name}: {exc.message}")
        return None


def looks_like_attestation(manifest: Manifest) -> bool:
    """An in-toto/DSSE payload manifest, or an artifact that names a `subject`."""
    if manifest.is_index:
        return False
    if _part(manifest, "subject", []) is not None:
        return True
    layers = manifest.layers
    return bool(layers) and all(
        layer.media_type in ATTESTATION_LAYER_TYPES or PREDICATE_TYPE_KEY in layer.annotations
        for layer in layers
    )


def has_image_config(manifest: Manifest) -> bool:
    """Worth a config GET: an image (not an attestation or artifact) with an image config."""
    if manifest.is_index or looks_like_attestation(manifest):
        return False
    config = _part(manifest, "config", [])
    return config is not None and config.media_type in IMAGE_CONFIG_TYPES


def _config_labels(config: Mapping[str, object] | None) -> dict[str, str]:
    if config is None:
        return {}
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): v for k, v in labels.items() if isinstance(v, str)}


# -- the answer of `inspect` ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CosignTag:
    """An object cosign's tag schema puts on a digest: `sha256-<hex>.sig` (a signature)
    or `sha256-<hex>.att` (attestations)."""

    tag: str
    digest: Digest
    kind: str  # "signature" | "attestation"


@dataclass(frozen=True, slots=True)
class ChildNode:
    """One entry of an index: the descriptor, and the manifest it points at."""

    descriptor: Descriptor
    facts: ManifestFacts | None
    referrers: tuple[Descriptor, ...] = ()
    error: str | None = None
    statement_subjects: tuple[Digest, ...] = ()
    """For a provenance attestation: the digests its in-toto statement names (read
    from its layer); they should equal `attests`."""
    cosign: tuple[CosignTag, ...] = ()

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def platform(self) -> Platform | None:
        return self.descriptor.platform

    @property
    def attestation(self) -> bool:
        return self.descriptor.is_attestation

    @property
    def attests(self) -> Digest | None:
        raw = self.descriptor.annotations.get(ATTESTATION_DIGEST_KEY)
        if raw is not None:
            try:
                return Digest.parse(raw)
            except TruedigestError:
                return None
        return self.facts.subject if self.facts is not None else None

    @property
    def statement_subject(self) -> Digest | None:
        """The digest the provenance statement names: the one it is attached to when
        among its subjects, else the first (None when no statement was read)."""
        subjects = self.statement_subjects
        if not subjects:
            return None
        return self.attests if self.attests in subjects else subjects[0]

    @property
    def annotations(self) -> dict[str, str]:
        """The index entry's annotations, overlaid with the manifest's own."""
        merged = dict(self.descriptor.annotations)
        if self.facts is not None:
            merged.update(self.facts.annotations)
        return merged


@dataclass(frozen=True, slots=True)
class Inspection:
    ref: ImageRef
    facts: ManifestFacts
    children: tuple[ChildNode, ...]
    referrers: tuple[Descriptor, ...]
    errors: tuple[str, ...] = ()
    cosign: tuple[CosignTag, ...] = ()

    @property
    def is_index(self) -> bool:
        return self.facts.is_index

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.UNAVAILABLE if self.errors else ExitCode.OK


__all__ = [
    "IMAGE_CONFIG_TYPES",
    "ChildNode",
    "CosignTag",
    "Inspection",
    "ManifestFacts",
    "has_image_config",
    "looks_like_attestation",
    "manifest_facts",
]
