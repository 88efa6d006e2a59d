"""Shell completion (click's): the setup scripts for bash, zsh and fish, and the
completion of command names, options and -o values, as the shells ask for them.

The scripts are compared with what click's own completion classes make for the
group, so the test holds for any click version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.shell_completion import get_completion_class
from click.testing import CliRunner, Result

from tests.support.cli import cli_env, run_cli
from truedigest.cli.main import cli

VAR = "_TRUEDIGEST_COMPLETE"
SHELLS = ["bash", "zsh", "fish"]


def complete(instruction: str, **env: str) -> Result:
    return CliRunner().invoke(cli, [], prog_name="truedigest", env={VAR: instruction, **env})


def click_source(shell: str) -> str:
    comp_cls = get_completion_class(shell)
    assert comp_cls is not None
    return comp_cls(cli, {}, "truedigest", VAR).source()


@pytest.mark.parametrize("shell", SHELLS)
def test_source_prints_the_setup_script(shell: str) -> None:
    result = complete(f"{shell}_source")

    assert result.exit_code == 0, result.output
    assert result.stdout == click_source(shell)
    assert result.stderr == ""


def test_source_through_the_real_entry_point(tmp_path: Path) -> None:
    result = run_cli([], cli_env(tmp_path, **{VAR: "bash_source"}))

    assert result.code == 0, str(result)
    assert result.stdout == click_source("bash")
    assert "complete -o nosort -F _truedigest_completion truedigest" in result.stdout
    assert result.stderr == ""


def bash(words: str) -> list[str]:
    """bash's answer lines (`type,value`) for the command line `words`, last word completed."""
    parts = words.split(" ")
    result = complete("bash_complete", COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_bash_completes_a_command_name() -> None:
    assert bash("truedigest ve") == ["plain,verify"]
    assert {"plain,pins", "plain,resolve", "plain,tags"} <= set(bash("truedigest "))


def test_bash_completes_an_option() -> None:
    assert bash("truedigest verify --git-") == ["plain,--git-sha"]
    assert bash("truedigest pins --tr") == ["plain,--track"]


def test_bash_completes_output_formats_of_the_command() -> None:
    assert bash("truedigest verify -o ") == ["plain,table", "plain,json", "plain,markdown"]
    assert bash("truedigest pins --output j") == ["plain,json"]


def test_zsh_completes_an_option_with_its_help() -> None:
    result = complete("zsh_complete", COMP_WORDS="truedigest resolve --he", COMP_CWORD="2")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["plain", "--head"]


def test_fish_completes_a_command_name() -> None:
    result = complete("fish_complete", COMP_WORDS="truedigest wha", COMP_CWORD="wha")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("plain,whatis\t")


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = complete("tcsh_source")

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(f"error: {VAR}='tcsh_source': expected bash")


def documented_line(shell: str) -> str:
    """The set-up line docs/cli.md gives for `shell`."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    (line,) = re.findall(rf"^\| {shell} \| `(.+?)` \|", doc, flags=re.MULTILINE)
    return str(line).replace("\\|", "|")


def test_the_documented_setup_lines_name_each_shell() -> None:
    for shell in SHELLS:
        assert f"_TRUEDIGEST_COMPLETE={shell}_source truedigest" in documented_line(shell)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_with_the_documented_line(tmp_path: Path) -> None:
    """A real bash: the line from docs/cli.md, then the completion function bash calls
    on <TAB>, which runs the installed `truedigest` command."""
    bindir = Path(sys.executable).parent
    assert (bindir / "truedigest").exists()
    script = (
        documented_line("bash")
        + "\ncomplete -p truedigest"
        + "\nCOMP_WORDS=(truedigest verify --git-); COMP_CWORD=2"
        + '\n_truedigest_completion truedigest; printf "reply:%s\\n" "${COMPREPLY[@]}"'
    )
    env = cli_env(tmp_path, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")

    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "complete -o nosort -F _truedigest_completion truedigest"
    assert lines[1:] == ["reply:--git-sha"]
