"""Nothing a user runs or reads in the repository cites a document that is not in it.

The design notes the project was built from live outside the repository; a hint,
a docstring or a doc that says "DESIGN §5" sends the reader nowhere. Point at
docs/ (control-plane.md, json.md, exit-codes.md, environment.md) or the README.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"DESIGN(\.md)?\s*§|\.\./shared/|/work/shared")


def _files() -> list[Path]:
    found: list[Path] = [ROOT / "README.md", ROOT / "action.yml"]
    for folder in ("src", "scripts", "docs", "tests/support"):
        found.extend(p for p in sorted((ROOT / folder).rglob("*")) if p.is_file())
    return [p for p in found if p.exists() and "__pycache__" not in p.parts]


FILES = _files()


def test_the_scan_covers_code_scripts_and_docs() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "action.yml", "src/truedigest/errors.py", "scripts/bench"} <= names
    assert any(name.startswith("docs/") for name in names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_citation_of_a_document_outside_the_repository(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    bad = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not bad, "cite docs/ or the README instead:\n" + "\n".join(bad)


def test_the_pattern_catches_the_forms_seen() -> None:
    for cited in ("(DESIGN §5)", "DESIGN.md §9", "see ../shared/DESIGN.md"):
        assert OUTSIDE.search(cited), cited
    for fine in ("RFC 9110 §5.6.7", "docs/control-plane.md", "design notes"):
        assert not OUTSIDE.search(fine), fine
