"""Renderers: JSON documents, tables, markdown, workflow annotations.

rich is imported only inside the functions that draw with it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from truedigest.registry import Resolved


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def resolve_document(resolved: Resolved) -> dict[str, Any]:
    ref = resolved.ref
    return {
        "schema": "truedigest.resolve/v1",
        "reference": str(ref),
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "digest": str(resolved.digest),
        "media_type": resolved.media_type,
        "size": resolved.size,
        "header_digest": str(resolved.header_digest) if resolved.header_digest else None,
        "platform": str(resolved.platform) if resolved.platform else None,
        "index_digest": str(resolved.index_digest) if resolved.index_digest else None,
    }
