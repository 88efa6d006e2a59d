"""The `-o json` documents of `inspect` and `whatis` (`docs/schemas/inspect.json`,
`whatis.json`); `truedigest.render.forensics_view` draws the same answers as trees."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from truedigest.core.classify import WhatIs
from truedigest.core.facts import ChildNode, CosignTag, Inspection, ManifestFacts
from truedigest.oci.manifest import Descriptor

INSPECT_SCHEMA = "truedigest.inspect/v1"
WHATIS_SCHEMA = "truedigest.whatis/v1"


# -- JSON ------------------------------------------------------------------------------


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def referrer_json(desc: Descriptor) -> dict[str, Any]:
    return {
        "digest": str(desc.digest),
        "artifact_type": desc.artifact_type,
        "media_type": desc.media_type,
        "size": desc.size,
        "annotations": dict(desc.annotations),
    }


def cosign_json(tags: Iterable[CosignTag]) -> list[dict[str, Any]]:
    return [{"tag": t.tag, "digest": str(t.digest), "kind": t.kind} for t in tags]


def _image_keys(facts: ManifestFacts | None, *, index: bool = False) -> dict[str, Any]:
    """config_digest, layers, layers_size, created, revision, source (null when unknown)."""
    if facts is None:
        return dict.fromkeys(
            (
                "config_digest",
                "layers",
                "layers_size",
                "created",
                "revision",
                "revision_source",
                "source",
            )
        )
    return {
        "config_digest": _opt(facts.config_digest),
        "layers": None if index else facts.layers,
        "layers_size": None if index or facts.legacy else facts.layers_size,
        "created": facts.created,
        "revision": facts.revision,
        "revision_source": _opt(facts.revision_source) if facts.revision else None,
        "source": facts.source,
    }


def child_json(child: ChildNode) -> dict[str, Any]:
    facts = child.facts
    doc: dict[str, Any] = {
        "digest": str(child.digest),
        "media_type": child.descriptor.media_type,
        "size": child.descriptor.size,
        "platform": _opt(child.platform),
        "attestation": child.attestation,
    }
    doc.update(_image_keys(facts, index=facts is not None and facts.is_index))
    doc["annotations"] = child.annotations
    doc["attests"] = _opt(child.attests)
    doc["attached_to"] = _opt(child.attests) if child.attestation else None
    doc["subject"] = _opt(child.statement_subject)
    doc["artifact_type"] = facts.artifact_type if facts else None
    doc["predicate_types"] = list(facts.predicate_types) if facts else []
    doc["referrers"] = [referrer_json(r) for r in child.referrers]
    doc["cosign"] = cosign_json(child.cosign)
    doc["error"] = child.error
    return doc


def inspect_document(result: Inspection) -> dict[str, Any]:
    facts, ref = result.facts, result.ref
    doc: dict[str, Any] = {
        "schema": INSPECT_SCHEMA,
        "reference": str(ref),
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "kind": "index" if facts.is_index else "manifest",
        "digest": str(facts.digest),
        "media_type": facts.media_type,
        "schema_version": facts.schema_version,
        "size": facts.size,
        "annotations": dict(facts.annotations),
    }
    doc.update(_image_keys(facts, index=facts.is_index))
    doc["platform"] = _opt(facts.platform)
    doc["artifact_type"] = facts.artifact_type
    doc["subject"] = _opt(facts.subject)
    doc["children"] = [child_json(c) for c in result.children]
    doc["referrers"] = [referrer_json(r) for r in result.referrers]
    doc["cosign"] = cosign_json(result.cosign)
    doc["errors"] = list(result.errors)
    return doc


def whatis_document(result: WhatIs) -> dict[str, Any]:
    return {
        "schema": WHATIS_SCHEMA,
        "digest": str(result.digest),
        "repository": result.repository.name,
        "kind": str(result.kind),
        "platform": _opt(result.platform),
        "tags": list(result.tags),
        "parents": [str(p) for p in result.parents],
        "indexes": [str(i) for i in result.indexes],
        "media_type": result.media_type,
        "size": result.size,
        "attests": _opt(result.attests),
        "artifact_type": result.artifact_type,
        "revision": result.revision,
        "revision_source": result.revision_source,
        "detail": result.detail,
        "tags_checked": result.tags_checked,
        "errors": [
            {"tag": e.tag, "digest": _opt(e.digest), "error": e.error} for e in result.errors
        ],
    }


__all__ = ["child_json", "cosign_json", "inspect_document", "referrer_json", "whatis_document"]
