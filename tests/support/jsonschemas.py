"""The JSON Schemas docs/json.md publishes (docs/schemas/*.json), and how tests use them.

`validate(schema, doc)` lists every error (draft 2020-12, formats not asserted);
`closed(schema)` is the same schema with `additionalProperties: false` on every object
that lists `properties`, so a key the code emits but the schema does not document fails.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCHEMA_DIR = DOCS / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    return schema


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every object that lists `properties` closed to other keys."""
    result = copy.deepcopy(schema)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


def validate(schema: dict[str, Any], doc: object) -> list[str]:
    """Every validation error of `doc`, as `path: message` lines (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]
