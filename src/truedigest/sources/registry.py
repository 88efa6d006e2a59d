"""Registry sources: what each `--image` tag points at, and the diagnosis oracle."""

from __future__ import annotations

import threading

from truedigest.digest import Digest
from truedigest.errors import NotFoundError, RegistryError, TruedigestError
from truedigest.models import Manifest, Observation, Platform, Relation, SourceKind, Status
from truedigest.reference import ImageRef
from truedigest.registry import RegistryClient, Resolved
from truedigest.verify import Diagnosis


def observe_image(
    client: RegistryClient, ref: ImageRef, platform: Platform | None
) -> tuple[Observation, Resolved | None]:
    """Resolve one --image; failures become observations, not exceptions."""
    source_id = f"registry:{ref}"
    try:
        resolved = client.resolve(ref, platform=platform)
    except NotFoundError as exc:
        return Observation(
            source_id,
            SourceKind.REGISTRY,
            str(ref),
            None,
            Status.ABSENT,
            detail=exc.message,
            extra=_hint(exc),
        ), None
    except TruedigestError as exc:
        return Observation(
            source_id,
            SourceKind.REGISTRY,
            str(ref),
            None,
            Status.ERROR,
            detail=exc.message,
            extra={"exit_code": int(exc.exit_code), **_hint(exc)},
        ), None
    extra: dict[str, object] = {"reference": str(ref), "media_type": resolved.media_type}
    if resolved.platform is not None:
        extra["platform"] = str(resolved.platform)
    if resolved.index_digest is not None:
        extra["index_digest"] = str(resolved.index_digest)
    return Observation(
        source_id,
        SourceKind.REGISTRY,
        str(ref),
        resolved.digest,
        Status.OK,
        extra=extra,
    ), resolved


class RegistryDiagnoser:
    """Works out how a claimed digest relates to the truth, with as few requests as it can.

    Memoised per digest. Order: children of the truth's index (in memory), the
    truth's own config (in memory), GET the claimed digest as a manifest (exists?
    an index containing the truth?), then the configs of the index's children,
    then HEAD it as a blob (to say what a dangling digest probably was).
    """

    def __init__(self, client: RegistryClient, truth: Resolved) -> None:
        self.client = client
        self.truth = truth
        self.repo = truth.ref
        self._memo: dict[Digest, Diagnosis | None] = {}
        self._lock = threading.Lock()
        self._children_configs: dict[Digest, str | None] | None = None

    def relate(self, claimed: Digest) -> Diagnosis | None:
        """None when the registry could not be asked (the mismatch stands regardless)."""
        with self._lock:
            if claimed not in self._memo:
                try:
                    self._memo[claimed] = self._relate(claimed)
                except TruedigestError:
                    self._memo[claimed] = None
            return self._memo[claimed]

    def _truth_manifest(self) -> Manifest:
        if self.truth.manifest is None:
            return self.client.get_manifest(self.repo, self.truth.digest)
        return self.truth.manifest

    def _relate(self, claimed: Digest) -> Diagnosis:
        truth = self._truth_manifest()
        if truth.is_index:
            for child in truth.children:
                if child.digest == claimed:
                    if child.is_attestation or (child.platform and child.platform.is_unknown):
                        return Diagnosis(Relation.ATTESTATION)
                    return Diagnosis(
                        Relation.PLATFORM_MANIFEST,
                        platform=str(child.platform) if child.platform else None,
                    )
        if self.truth.index_digest is not None and claimed == self.truth.index_digest:
            return Diagnosis(Relation.INDEX_OF, platform=_plat(self.truth.platform))
        config = truth.config
        if config is not None and config.digest == claimed:
            return Diagnosis(Relation.CONFIG_DIGEST, platform=_plat(self.truth.platform))
        try:
            other = self.client.get_manifest(self.repo, claimed)
        except NotFoundError:
            other = None
        except RegistryError as exc:
            # Asked for a config or layer blob as a manifest, distribution answers 500
            # UNKNOWN (others 400 MANIFEST_INVALID): not a manifest, so keep looking.
            if exc.status is None or exc.status in (401, 403, 429):
                raise
            other = None
        if other is not None:
            if other.is_index:
                for child in other.children:
                    if child.digest == self.truth.digest:
                        return Diagnosis(Relation.INDEX_OF, platform=_plat(child.platform))
            return Diagnosis(Relation.OTHER_IMAGE, note=self._sibling_note(claimed))
        if truth.is_index:
            platform = self._child_config_platform(truth, claimed)
            if platform is not None:
                return Diagnosis(Relation.CONFIG_DIGEST, platform=platform or None)
        note = None
        try:
            if self.client.blob_exists(self.repo, claimed):
                note = "it does hold a blob with that digest: a config or layer, not a manifest"
        except TruedigestError:
            note = None
        return Diagnosis(Relation.NOT_IN_REGISTRY, note=note)

    def _sibling_note(self, claimed: Digest) -> str | None:
        """With --platform: is `claimed` another platform's child of the same index?"""
        if self.truth.index_digest is None:
            return None
        parent = self.client.get_manifest(self.repo, self.truth.index_digest)
        for child in parent.children:
            if child.digest == claimed and child.platform is not None:
                return f"the {child.platform} image of the same index, not {self.truth.platform}"
        return None

    def _child_config_platform(self, index: Manifest, claimed: Digest) -> str | None:
        """The platform whose config blob is `claimed` ('' if unknown), else None."""
        if self._children_configs is None:
            configs: dict[Digest, str | None] = {}
            for child in index.children:
                if child.is_attestation or (child.platform and child.platform.is_unknown):
                    continue
                manifest = self.client.get_manifest(self.repo, child.digest)
                cfg = manifest.config
                if cfg is not None:
                    configs[cfg.digest] = str(child.platform) if child.platform else ""
            self._children_configs = configs
        return self._children_configs.get(claimed)


def _hint(exc: TruedigestError) -> dict[str, object]:
    """The error's hint (what to try), kept for the report: `{"hint": …}` or nothing."""
    return {"hint": exc.instance_hint} if exc.instance_hint else {}


def _plat(platform: Platform | None) -> str | None:
    return str(platform) if platform else None


__all__ = ["RegistryDiagnoser", "observe_image"]
