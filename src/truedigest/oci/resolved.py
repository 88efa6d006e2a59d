"""Resolved: what a reference points at, straight from the registry (the answer of
`RegistryClient.resolve`, re-exported by `truedigest.oci.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from truedigest.base.value import Value, setfield
from truedigest.oci import schema1
from truedigest.oci.manifest import INDEX_MEDIA_TYPES

if TYPE_CHECKING:
    from truedigest.oci.digest import Digest
    from truedigest.oci.manifest import Manifest, Platform
    from truedigest.oci.reference import ImageRef


class Resolved(Value):
    """What a reference points at, straight from the registry.

    `index`, with `platform`: the index the child was picked from, as served (so what
    follows the child to its index, e.g. its provenance, need not fetch it again); it
    is neither compared nor shown."""

    _fields = (
        "ref",
        "digest",
        "media_type",
        "size",
        "header_digest",
        "manifest",
        "platform",
        "index_digest",
        "index",
    )
    __slots__ = _fields
    _uncompared = ("index",)
    _hidden = ("index",)
    ref: ImageRef
    digest: Digest
    media_type: str
    size: int
    header_digest: Digest | None
    manifest: Manifest | None
    platform: Platform | None
    index_digest: Digest | None
    index: Manifest | None

    def __init__(
        self,
        ref: ImageRef,
        digest: Digest,
        media_type: str,
        size: int,
        header_digest: Digest | None,
        manifest: Manifest | None = None,
        platform: Platform | None = None,
        index_digest: Digest | None = None,
        index: Manifest | None = None,
    ) -> None:
        setfield(self, "ref", ref)
        setfield(self, "digest", digest)
        setfield(self, "media_type", media_type)
        setfield(self, "size", size)
        setfield(self, "header_digest", header_digest)
        setfield(self, "manifest", manifest)
        setfield(self, "platform", platform)
        setfield(self, "index_digest", index_digest)
        setfield(self, "index", index)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def schema_version(self) -> int:
        """1 for a legacy Docker schema 1 manifest, else 2."""
        return 1 if self.media_type in schema1.SCHEMA1_MEDIA_TYPES else 2


__all__ = ["Resolved"]
