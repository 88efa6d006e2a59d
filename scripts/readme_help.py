"""Keep the `--help` blocks of README.md and docs/commands.md equal to the real
`--help` (tests check it).

A block is a fenced ```text block whose first line is `$ truedigest … --help`.
`python -m scripts.readme_help` rewrites every such block in place;
`--check` exits 1 when one is stale.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner

from truedigest.cli.main import cli

_ROOT = Path(__file__).resolve().parent.parent
README = _ROOT / "README.md"
COMMANDS_DOC = _ROOT / "docs" / "commands.md"
HELP_FILES = (README, COMMANDS_DOC)
BLOCK = re.compile(r"```text\n\$ (truedigest[^\n]*--help)\n(.*?)```", re.DOTALL)


def help_text(command_line: str) -> str:
    args = shlex.split(command_line)[1:]
    result = CliRunner().invoke(cli, args, prog_name="truedigest", terminal_width=80)
    if result.exit_code != 0:
        raise SystemExit(f"{command_line}: exit {result.exit_code}\n{result.output}")
    return result.output


def render(text: str) -> str:
    return BLOCK.sub(lambda m: f"```text\n$ {m.group(1)}\n{help_text(m.group(1))}```", text)


def main(argv: list[str]) -> int:
    stale = []
    for path in HELP_FILES:
        text = path.read_text()
        new = render(text)
        if new == text:
            continue
        stale.append(path.name)
        if "--check" not in argv:
            path.write_text(new)
    if "--check" in argv and stale:
        print(f"{', '.join(stale)}: --help blocks are stale: run python -m scripts.readme_help")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
