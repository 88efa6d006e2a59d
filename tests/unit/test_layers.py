"""Imports point down only (STYLE.md): a module may import its own layer or lower ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "truedigest"

# Lower number = lower layer. Unlisted modules fail the test until placed here.
LAYERS: dict[str, int] = {
    "truedigest": 0,
    "truedigest.errors": 0,
    "truedigest.jsonutil": 0,
    "truedigest.redact": 0,
    "truedigest.digest": 1,
    "truedigest.wire": 1,
    "truedigest.fileio": 1,
    "truedigest.safetext": 1,
    "truedigest.safeio": 1,
    "truedigest.reference": 2,
    "truedigest.models": 3,
    "truedigest.netguard": 4,
    "truedigest.httpclient": 4,
    "truedigest.transport": 4,
    "truedigest.credentials": 5,
    "truedigest.auth": 5,
    "truedigest.registry": 6,
    "truedigest.controlplane": 6,
    "truedigest.verify": 7,
    "truedigest.sources": 7,
    "truedigest.sources.build": 7,
    "truedigest.sources.pinfile": 7,
    "truedigest.sources.registry": 8,
    "truedigest.sources.controlplane": 8,
    "truedigest.forensics": 9,
    "truedigest.tagscan": 9,
    "truedigest.pinaudit": 9,
    "truedigest.run": 9,
    "truedigest.output": 10,
    "truedigest.output_forensics": 10,
    "truedigest.output_audit": 10,
    "truedigest.cli": 11,
    "truedigest.__main__": 12,
}
STDLIB_ONLY = {
    "truedigest.jsonutil",
    "truedigest.errors",
    "truedigest.redact",
    "truedigest.fileio",
    "truedigest.safetext",
    "truedigest.safeio",
    "truedigest.digest",
    "truedigest.wire",
    "truedigest.reference",
    "truedigest.models",
    "truedigest.verify",
    "truedigest.sources.build",
    "truedigest.sources.pinfile",
}
THIRD_PARTY = {"httpx", "click", "rich"}
# Only these may import the named third-party package at all.
ALLOWED_THIRD_PARTY = {
    "click": {"truedigest.cli"},
    "httpx": {
        "truedigest.transport",
        "truedigest.httpclient",
        "truedigest.auth",
        "truedigest.registry",
        "truedigest.controlplane",
    },
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = [_module_name(p) for p in MODULES if _module_name(p) not in LAYERS]
    assert missing == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path: Path) -> None:
    me = _module_name(path)
    mine = LAYERS[me]
    for name in _imports(path):
        if name in LAYERS and name != me:
            assert LAYERS[name] <= mine, f"{me} (layer {mine}) imports {name} ({LAYERS[name]})"
        top = name.split(".")[0]
        if top in THIRD_PARTY:
            assert me not in STDLIB_ONLY, f"{me} must stay stdlib-only but imports {name}"
            allowed = ALLOWED_THIRD_PARTY.get(top)
            if allowed is not None:
                assert me in allowed, f"{me} may not import {top}"


def test_rich_is_imported_only_inside_functions() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "rich" for n in names), (
                f"{_module_name(path)} imports rich at module level"
            )
