"""The shape of the command line: one module per command, `-o` choices are OutputFormats,
and no command branches on an output string (issue 8).
"""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from truedigest.cli.main import cli
from truedigest.render.formats import OutputFormat

CLI_DIR = Path(__file__).resolve().parents[2] / "src" / "truedigest" / "cli"
COMMANDS = ["inspect", "pins", "resolve", "running", "tags", "verify", "whatis"]


def test_the_group_has_exactly_the_documented_commands() -> None:
    assert sorted(cli.commands) == COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_lives_in_its_own_module(name: str) -> None:
    callback = cli.commands[name].callback
    assert callback is not None
    assert callback.__module__ == f"truedigest.cli.{name}"


@pytest.mark.parametrize("name", COMMANDS)
def test_output_choices_are_output_formats(name: str) -> None:
    (option,) = [p for p in cli.commands[name].params if p.name == "output"]
    assert isinstance(option, click.Option)
    choices = str(option.metavar).strip("[]").split("|")
    assert choices
    assert [OutputFormat(c) for c in choices] == choices
    assert option.default in choices


FORMAT_NAMES = {str(f) for f in OutputFormat}


@pytest.mark.parametrize("path", sorted(CLI_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_command_compares_output_with_a_string(path: Path) -> None:
    """Formats are matched as `OutputFormat` members (closed with assert_never)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            strings = [
                c.value
                for c in [node.left, *node.comparators]
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
            assert not FORMAT_NAMES.intersection(strings), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            value = node.pattern.value
            assert not (isinstance(value, ast.Constant) and value.value in FORMAT_NAMES)
