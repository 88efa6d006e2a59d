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


# -- docs/json.md: the key tables are generated from the schemas ------------------------

DOCUMENTS = ("verify", "resolve", "inspect", "tags", "pins", "whatis", "running")
JSON_MD = DOCS / "json.md"


def _type_text(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "$ref" in node:
        return f"`{node['$ref'].rsplit('/', 1)[-1]}` object"
    if "anyOf" in node:
        return " or ".join(_type_text(option) for option in node["anyOf"])
    kind = node.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "string" and "sha256" in node.get("pattern", ""):
        return "digest"
    if kind == "array":
        items = node.get("items")
        return f"array of {_type_text(items)}" if items else "array"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"object of {_type_text(node['additionalProperties'])}"
    return str(kind)


def _description(node: dict[str, Any]) -> str:
    text = node.get("description") or next(
        (o["description"] for o in node.get("anyOf", []) if o.get("description")), ""
    )
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(title: str, node: dict[str, Any]) -> list[str]:
    required = set(node.get("required", []))
    lines = [title, "", "| key | type | always | meaning |", "|---|---|---|---|"]
    for key, prop in node["properties"].items():
        always = "yes" if key in required else ""
        lines.append(f"| `{key}` | {_type_text(prop)} | {always} | {_description(prop)} |")
    for key, prop in node["properties"].items():  # nested objects of one key
        items = prop.get("items", {})
        if isinstance(items, dict) and "properties" in items:
            lines += ["", *_table(f"Each element of `{key}`:", items)]
    return lines


def markdown_tables(name: str) -> str:
    """The key tables of one document, as docs/json.md holds them."""
    schema = load_schema(name)
    lines = _table(f"[`schemas/{name}.json`](schemas/{name}.json) — `{name} -o json`:", schema)
    for def_name, node in schema.get("$defs", {}).items():
        lines += ["", *_table(f"A `{def_name}` object:", node)]
    return "\n".join(lines) + "\n"


def marked(name: str) -> tuple[str, str]:
    return f"<!-- generated: schema {name} -->\n", f"<!-- end: schema {name} -->"


def refresh_json_md(text: str) -> str:
    """`text` with each document's generated block replaced by the schema's tables."""
    for name in DOCUMENTS:
        start, end = marked(name)
        head, found, rest = text.partition(start)
        if not found:
            raise ValueError(f"docs/json.md has no {start.strip()} marker")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"docs/json.md has no {end} marker")
        text = head + start + markdown_tables(name) + end + tail
    return text


if __name__ == "__main__":  # python -m tests.support.jsonschemas: refresh docs/json.md
    JSON_MD.write_text(refresh_json_md(JSON_MD.read_text()))
