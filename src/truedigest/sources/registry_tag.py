"""Registry sources: what each `--image` tag points at, and the diagnosis oracle."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from truedigest.errors import NotFoundError, RegistryError, TruedigestError
from truedigest.model.diagnosis import Diagnosis, Relating, RelationUnknown
from truedigest.model.observation import Observation, Relation, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Manifest, Platform
from truedigest.oci.reference import ImageRef
from truedigest.oci.registry import RegistryClient, Resolved

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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


class _Slot(Generic[V]):
    """One key's answer, or its exception, once the computing thread has it
    (concurrent.futures.Future would import logging: start-up every verify pays)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: V | None = None
        self._error: BaseException | None = None

    def set(self, value: V | None, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._done.set()

    def result(self) -> V:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set() without an error gave it


class _Once(Generic[K, V]):
    """A per-key memo: each key is computed once, by the first thread that asks.

    The lock guards only the table of futures, never the computation, so lookups of
    different keys run in parallel while a second caller of a key in flight waits for
    the first one's answer (or its exception) instead of fetching it again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, _Slot[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = _Slot()
        if owner:
            try:
                future.set(compute(), None)
            except BaseException as exc:  # handed to every waiter, re-raised below
                future.set(None, exc)
        return future.result()


class RegistryDiagnoser:
    """Works out how a claimed digest relates to the truth, with as few requests as it can.

    Memoised per digest. Order: children of the truth's index (in memory), the
    truth's own config (in memory), GET the claimed digest as a manifest (exists?
    an index containing the truth?), then the configs of the index's children,
    then HEAD it as a blob (to say what a dangling digest probably was).

    Thread-safe: concurrent lookups of different digests fetch concurrently; each
    manifest is fetched at most once per diagnoser.
    """

    def __init__(self, client: RegistryClient, truth: Resolved) -> None:
        self.client = client
        self.truth = truth
        self.repo = truth.ref
        self._relations: _Once[Digest, Relating] = _Once()
        self._manifests: _Once[Digest, Manifest] = _Once()
        self._configs: _Once[Digest, dict[Digest, str]] = _Once()

    def relate(self, claimed: Digest) -> Relating:
        """A relation, or why none could be worked out (the mismatch stands regardless)."""
        return self._relations.get(claimed, lambda: self._relate_or_unknown(claimed))

    def _relate_or_unknown(self, claimed: Digest) -> Relating:
        try:
            return self._relate(claimed)
        except TruedigestError as exc:
            return RelationUnknown.from_error(exc)

    def _manifest(self, digest: Digest) -> Manifest:
        return self._manifests.get(digest, lambda: self.client.get_manifest(self.repo, digest))

    def _truth_manifest(self) -> Manifest:
        if self.truth.manifest is None:
            return self._manifest(self.truth.digest)
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
            other = self._manifest(claimed)
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
        parent = self._manifest(self.truth.index_digest)
        for child in parent.children:
            if child.digest == claimed and child.platform is not None:
                return f"the {child.platform} image of the same index, not {self.truth.platform}"
        return None

    def _child_config_platform(self, index: Manifest, claimed: Digest) -> str | None:
        """The platform whose config blob is `claimed` ('' if unknown), else None."""
        return self._configs.get(index.digest, lambda: self._children_configs(index)).get(claimed)

    def _children_configs(self, index: Manifest) -> dict[Digest, str]:
        configs: dict[Digest, str] = {}
        for child in index.children:
            if child.is_attestation or (child.platform and child.platform.is_unknown):
                continue
            cfg = self._manifest(child.digest).config
            if cfg is not None:
                configs[cfg.digest] = str(child.platform) if child.platform else ""
        return configs


def _hint(exc: TruedigestError) -> dict[str, object]:
    """The error's hint (what to try), kept for the report: `{"hint": …}` or nothing."""
    return {"hint": exc.instance_hint} if exc.instance_hint else {}


def _plat(platform: Platform | None) -> str | None:
    return str(platform) if platform else None


__all__ = ["RegistryDiagnoser", "observe_image"]
