"""The `--help` blocks of README.md and docs/commands.md equal the real `--help`, and
the README's first screen holds the set-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from scripts.readme_help import BLOCK, HELP_FILES, README, help_text, render
from truedigest.cli.main import cli


def test_help_blocks_are_current() -> None:
    for path in HELP_FILES:
        text = path.read_text()
        assert BLOCK.findall(text), f"{path.name} lost its --help blocks"
        assert render(text) == text, (
            f"stale {path.name} --help blocks: python -m scripts.readme_help"
        )


def test_every_command_has_a_help_block() -> None:
    shown = {m.group(1) for path in HELP_FILES for m in BLOCK.finditer(path.read_text())}
    for name in cli.commands:
        assert f"truedigest {name} --help" in shown, f"no `truedigest {name} --help` block"


def test_help_text_is_what_the_installed_command_prints() -> None:
    """The real process, any terminal width: help is pinned to 80 columns."""
    proc = subprocess.run(
        [sys.executable, "-m", "truedigest", "resolve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert help_text("truedigest resolve --help") == proc.stdout


def test_first_screen_gives_exactly_the_two_setup_commands() -> None:
    head = README.read_text().split("---", 1)[0]
    commands = re.findall(r"^(scripts/\w+)", head, flags=re.MULTILINE)
    assert commands == ["scripts/demo", "scripts/test"]
    assert len(head.splitlines()) <= 25
