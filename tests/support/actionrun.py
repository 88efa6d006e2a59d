"""Run a composite action's steps the way an Actions runner does, for tests.

Small on purpose: it evaluates only the expression forms `action.yml` may use
(`${{ inputs.NAME }}`, `${{ github.action_path }}`, `${{ steps.ID.outputs.NAME }}`; the
docs test checks that no other form appears), runs each `run:` step as the runner runs
`shell: bash` (`bash --noprofile --norc -eo pipefail FILE`), gives each step its own
`$GITHUB_OUTPUT` file and reads `name=value` / `name<<DELIMITER` entries back as
`steps.ID.outputs`, shares one `$GITHUB_STEP_SUMMARY`, and stops at the first failed step.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ALLOWED = re.compile(
    r"inputs\.[A-Za-z0-9_-]+|github\.action_path|steps\.[A-Za-z0-9_-]+\.outputs\.[A-Za-z0-9_-]+"
)


def load_action(path: Path = ACTION) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


@dataclass
class StepRun:
    id: str | None
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class ActionRun:
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def code(self) -> int:
        """The exit code of the last step that ran (0 when all succeeded)."""
        return self.steps[-1].code if self.steps else 0

    @property
    def text(self) -> str:
        """Everything every step printed (stdout and stderr): the job log."""
        return "".join(s.stdout + s.stderr for s in self.steps)

    def __str__(self) -> str:
        lines = [f"action exit {self.code}, outputs {self.outputs}"]
        for step in self.steps:
            lines.append(f"step {step.id}: exit {step.code} outputs {step.outputs}")
            lines.append(f"  stdout: {step.stdout[-3000:]!r}")
            lines.append(f"  stderr: {step.stderr[-3000:]!r}")
        return "\n".join(lines)


def read_outputs(path: Path) -> dict[str, str]:
    """`name=value` lines and `name<<DELIM` … `DELIM` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


def run_action(
    inputs: Mapping[str, str],
    env: Mapping[str, str],
    workdir: Path,
    *,
    action_path: Path = ROOT,
    timeout: float = 600.0,
) -> ActionRun:
    """Run `action.yml` with `inputs` (the `with:` map) and `env` (the job's environment,
    plus the `env:` of the step that uses the action)."""
    action = load_action(action_path / "action.yml")
    declared: dict[str, Any] = action.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    if unknown:  # the runner warns; a test passing a wrong name is a bug in the test
        raise AssertionError(f"inputs not declared by action.yml: {sorted(unknown)}")
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    values.update(inputs)
    result = ActionRun()
    step_outputs: dict[str, dict[str, str]] = {}
    summary = workdir / "step_summary.md"
    summary.touch()
    temp = workdir / "runner_temp"
    temp.mkdir(exist_ok=True)

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expr = match.group(1)
            if not ALLOWED.fullmatch(expr):
                raise AssertionError(f"expression the test runner does not know: {expr}")
            parts = expr.split(".")
            if parts[0] == "inputs":
                return values[parts[1]]
            if parts[0] == "github":
                return str(action_path)
            return step_outputs.get(parts[1], {}).get(parts[3], "")

        return EXPRESSION.sub(one, text)

    for n, step in enumerate(action["runs"]["steps"]):
        assert step.get("shell") == "bash", step
        step_id = step.get("id")
        output_file = workdir / f"github_output_{n}"
        output_file.touch()
        script = workdir / f"step_{n}.sh"
        script.write_text(step["run"])  # the runner does not expand ${{ }} in our scripts
        step_env = {
            **env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(action_path),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(temp),
        }
        for key, value in (step.get("env") or {}).items():
            step_env[key] = evaluate(str(value))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=step_env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        outputs = read_outputs(output_file)
        if step_id:
            step_outputs[step_id] = outputs
        result.steps.append(StepRun(step_id, proc.returncode, proc.stdout, proc.stderr, outputs))
        if proc.returncode != 0:
            break
    result.outputs = {
        name: evaluate(str(spec["value"])) for name, spec in (action.get("outputs") or {}).items()
    }
    result.summary = summary.read_text()
    return result


def clean_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A job's environment: the test runner's minus virtualenv, Python and truedigest
    steering, CI variables and tokens; HOME of the test's own."""
    dropped = ("TRUEDIGEST_", "DOCKER_", "REGISTRY_AUTH_FILE", "XDG_", "GITHUB_", "GITEA_", "CP_")
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if not k.startswith(dropped) and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != venv_bin
    )
    env["HOME"] = str(home)
    env["NO_COLOR"] = "1"
    return env
