"""`scripts/verify-runtime-pin.sh`, the drop-in for the CI verify-pin step.

A table of cases runs the real script (its shebang, `bash`) against the real
registry and a real CP server: the seed publish workflow's environment (the token in
CP_ADMIN_API_TOKEN, TOKEN_SECRET_NAME=CP_STAGING_ADMIN_API_TOKEN, no IMAGE_REF), every
red condition of the original script, the deliberate strictness beyond it and the
added registry checks. Every run: the exit code, exactly one
`::error::[verify-runtime-pin ENV]` line when red or one `::notice::` line when green,
no other workflow command, the token never printed. Expected digests are sha256 of
the bytes pushed here.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli_many
from tests.support.cpserver import CPServer, PinRow, make_pin
from tests.support.images import (
    Image,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    push_image,
    push_index,
)
from tests.support.registry import RegistryServer
from tests.support.requirements import require_tool

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify-runtime-pin.sh"
REPO = "verify-pin/app"
TEMPLATE = "app"
# The script's own variables (and bash's), besides the TRUEDIGEST_* ones cli_env drops.
_CONTRACT = (
    "CP_HOST",
    "CP_ADMIN_API_TOKEN",
    "TEMPLATE_NAME",
    "EXPECTED_DIGEST",
    "IMAGE_REF",
    "ENV_NAME",
    "REGION",
    "TOKEN_SECRET_NAME",
    "TRUEDIGEST",
    "SHELLOPTS",
    "BASH_ENV",
)


@dataclass(frozen=True)
class Seeded:
    """What the registry serves, as the names the case table uses."""

    server: RegistryServer
    current: Image
    old: Image
    names: Mapping[str, str]


@pytest.fixture(scope="module")
def seeded(
    registry_plain: RegistryServer,
    registry_basic: RegistryServer,
    pusher_for: Callable[[RegistryEndpoint], Pusher],
) -> Seeded:
    current = build_image(REPO, salt="runtime pin current")
    old = build_image(REPO, salt="runtime pin old")
    index = build_platform_index(REPO, "runtime pin multi-arch")
    never_pushed = build_image(REPO, salt="runtime pin never pushed")
    pusher = pusher_for(registry_plain)
    assert push_image(pusher, REPO, current, "v1") == current.digest
    assert push_image(pusher, REPO, old, "v0") == old.digest
    assert push_index(pusher, REPO, index, tag="multi") == index.digest
    repo = f"{registry_plain.host}/{REPO}"
    names = {
        "current": current.digest,
        "old": old.digest,
        "config": current.config_digest,
        "index": index.digest,
        "dangling": never_pushed.digest,
        "repo": repo,
        "tag": f"{repo}:v1",
        "old_tag": f"{repo}:v0",
        # A registry that wants credentials the job does not have: 401 at once.
        "locked_repo": f"{registry_basic.host}/{REPO}",
    }
    return Seeded(registry_plain, current, old, names)


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def cp(token: str) -> Iterator[CPServer]:
    with CPServer.start(token=token) as server:
        yield server


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    """A pin row; `digest` and `ref` are names of the table (`{current}`, `{repo}`…)."""

    digest: str = "{current}"
    ref: str | None = "{repo}@{current}"
    template: str = TEMPLATE
    region: str = "global"

    def pin(self, names: Mapping[str, str]) -> PinRow:
        row = make_pin(self.template, self.digest.format(**names), region=self.region)
        row.image_ref = None if self.ref is None else self.ref.format(**names)
        return row


@dataclass(frozen=True)
class Case:
    id: str
    code: int
    says: tuple[str, ...] = ()
    """Fragments of the one annotation (formatted with the table's names)."""
    rows: tuple[Row, ...] = (Row(),)
    shape: str | None = None
    env: Mapping[str, str | None] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    reaches_cp: bool = True
    """Whether the CP receives a request (not on a usage error, not over TLS)."""
    shown_env_name: str | None = None
    """ENV_NAME as the annotation shows it, when it is not the variable's value."""

    @property
    def env_name(self) -> str:
        if self.shown_env_name is not None:
            return self.shown_env_name
        name = self.env.get("ENV_NAME", SEED_ENV["ENV_NAME"])
        return name if name else "?"


def usage(
    id_: str,
    says: tuple[str, ...],
    *,
    env: Mapping[str, str | None] | None = None,
    args: tuple[str, ...] = (),
) -> Case:
    """A usage error: exit 2 before any request."""
    return Case(id_, 2, says, env=env or {}, args=args, reaches_cp=False)


# The environment the seed publish workflow gives the original script (the CP URL and
# the token are the test's own).
SEED_ENV: Mapping[str, str | None] = {
    "ENV_NAME": "staging",
    "TOKEN_SECRET_NAME": "CP_STAGING_ADMIN_API_TOKEN",
    "TEMPLATE_NAME": TEMPLATE,
    "EXPECTED_DIGEST": "{current}",
    "TRUEDIGEST_PLAIN_HTTP": "1",
}
GREEN_REGISTRY = ("the CP pins EXPECTED_DIGEST {current}", "{repo} serves it as a pullable image")
WITH_IMAGE = {"IMAGE_REF": "{tag}"}
REFUSED = ("answered HTTP", "check the secret CP_STAGING_ADMIN_API_TOKEN")

CASES = (
    # -- green where the original is green on healthy data
    Case("seed-env-healthy", 0, GREEN_REGISTRY),
    Case(
        "seed-env-row-without-image-ref",
        0,
        ("the CP pins EXPECTED_DIGEST {current}", "the registry was NOT checked", "no image_ref"),
        rows=(Row(ref=None),),
    ),
    Case(
        "multi-arch-index-pinned",
        0,
        ("the CP pins EXPECTED_DIGEST {index}", "application/vnd.oci.image.index.v1+json"),
        rows=(Row("{index}", "{repo}@{index}"),),
        env={"EXPECTED_DIGEST": "{index}"},
    ),
    Case(
        "region-chooses-the-row",
        0,
        ("region 'eu-west-1'",),
        rows=(Row("{old}", "{repo}@{old}"), Row(region="eu-west-1")),
        env={"REGION": "eu-west-1"},
    ),
    Case(
        "defaults-env-name-question-mark",
        0,
        GREEN_REGISTRY,
        env={"ENV_NAME": None, "TOKEN_SECRET_NAME": None},
    ),
    Case("full-url-https-prefix-not-added", 0, GREEN_REGISTRY, env={"CP_HOST": "{cp_url}/"}),
    # -- red where the original is red: variables
    *(
        usage(f"{var.lower()}-{how}", (var, "not set"), env={var: value})
        for var in ("CP_HOST", "CP_ADMIN_API_TOKEN", "TEMPLATE_NAME", "EXPECTED_DIGEST")
        for how, value in (("unset", None), ("empty", ""))
    ),
    usage(
        "all-unset-named-at-once",
        ("CP_HOST, CP_ADMIN_API_TOKEN, TEMPLATE_NAME, EXPECTED_DIGEST not set",),
        env=dict.fromkeys(("CP_HOST", "CP_ADMIN_API_TOKEN", "TEMPLATE_NAME", "EXPECTED_DIGEST")),
    ),
    *(
        usage(
            f"malformed-expected-digest-{how}",
            ("EXPECTED_DIGEST", "is not a digest"),
            env={"EXPECTED_DIGEST": value},
        )
        for how, value in (
            ("truncated", "{current_short}"),
            ("bare-hex", "{current_hex}"),
            ("uppercase", "{current_upper}"),
            ("trailing-newline", "{current}\n"),
            ("garbage", "latest"),
        )
    ),
    # -- red where the original is red: the CP
    Case("cp-401-names-token-secret", 3, REFUSED, shape="401"),
    Case("cp-403-names-token-secret", 3, REFUSED, shape="403"),
    Case(
        "cp-403-default-secret-name",
        3,
        ("answered HTTP 403", "check the secret CP_ADMIN_API_TOKEN"),
        shape="403",
        env={"TOKEN_SECRET_NAME": None},
    ),
    Case("cp-500", 3, ("answered HTTP 500",), shape="500"),
    Case("cp-empty-200", 3, ("empty body",), shape="empty-200"),
    Case("cp-not-json", 3, ("not JSON",), shape="not-json"),
    Case(
        "missing-row",
        1,
        ("no pin row for template 'app' in region 'global'",),
        rows=(Row(template="other"),),
    ),
    Case(
        "row-only-in-another-region",
        1,
        ("no pin row for template 'app' in region 'global'",),
        rows=(Row(region="eu-west-1"),),
    ),
    Case(
        "mismatch-stale-pin",
        1,
        ("the CP pins {old}", "EXPECTED_DIGEST is {current}"),
        rows=(Row("{old}", "{repo}@{old}"),),
    ),
    Case(
        "mismatch-malformed-pin",
        1,
        ("the CP pins sha256:abc", "EXPECTED_DIGEST is {current}"),
        rows=(Row("sha256:abc", None),),
    ),
    # -- deliberately stricter than the original
    Case(
        "duplicate-rows-both-expected",
        1,
        ("2 pin rows for template 'app'", "delete the duplicates"),
        rows=(Row(), Row()),
    ),
    Case(
        "image-ref-names-another-digest",
        1,
        ("holds EXPECTED_DIGEST but is broken", "image_ref names {old}"),
        rows=(Row(ref="{repo}@{old}"),),
    ),
    # -- the added registry checks (no IMAGE_REF: the row's repository)
    Case(
        "config-digest-pinned",
        1,
        ("the CP pins {config}", "not a pullable image", "config blob"),
        rows=(Row("{config}", "{repo}@{config}"),),
        env={"EXPECTED_DIGEST": "{config}"},
    ),
    Case(
        "dangling-digest-pinned",
        1,
        ("the CP pins {dangling}", "has no such manifest", "dangling"),
        rows=(Row("{dangling}", "{repo}@{dangling}"),),
        env={"EXPECTED_DIGEST": "{dangling}"},
    ),
    Case(
        "registry-unreadable",
        3,
        ("the registry could not be checked", "requires a username and password"),
        rows=(Row(ref="{locked_repo}@{current}"),),
    ),
    # -- the added registry checks (IMAGE_REF: the full three-way verify)
    Case(
        "image-ref-three-way-agree",
        0,
        ("{tag} is {current} in the registry", "the CP pin for template 'app'"),
        env=WITH_IMAGE,
    ),
    Case(
        "image-ref-three-way-stale-pin",
        1,
        ("mismatch", "cp:staging", "stale pin"),
        rows=(Row("{old}", "{repo}@{old}"),),
        env=WITH_IMAGE,
    ),
    Case(
        "image-ref-three-way-tag-moved",
        1,
        ("mismatch", "build:digest", "cp:staging"),
        env={"IMAGE_REF": "{old_tag}"},
    ),
    Case(
        "image-ref-absent",
        10,
        ("absent", "not found in the registry"),
        env={"IMAGE_REF": "{repo}:no-such-tag"},
    ),
    Case("image-ref-cp-403", 3, REFUSED, shape="403", env=WITH_IMAGE),
    Case(
        "image-ref-extra-arguments-go-to-verify",
        1,
        ("--git-sha", "git_sha"),
        rows=(Row(),),
        env=WITH_IMAGE,
        args=("--git-sha", "0123456"),
    ),
    Case(
        "image-ref-malformed",
        2,
        ("--image", "invalid reference"),
        env={"IMAGE_REF": "Not A Ref"},
        reaches_cp=False,
    ),
    usage(
        "arguments-without-image-ref",
        ("arguments (--wait 5)", "only with IMAGE_REF set"),
        args=("--wait", "5"),
    ),
    # -- safety
    Case(
        "inherited-xtrace-and-actions-env",
        3,
        REFUSED,
        shape="403",
        env={
            "SHELLOPTS": "braceexpand:hashall:interactive-comments:xtrace",
            "GITHUB_ACTIONS": "true",
            "GITEA_ACTIONS": "true",
        },
    ),
    Case(
        "row-echoes-the-token-and-a-command",
        1,
        ("holds EXPECTED_DIGEST but is broken", "***"),
        rows=(Row(ref="{repo}/{token}@{old}\n::warning::pwned ##[error]x"),),
    ),
    Case(
        "token-secret-name-is-only-text",
        3,
        ("check the secret x; echo pwned $(id) %25 ##\\[x]",),
        shape="401",
        env={"TOKEN_SECRET_NAME": "x; echo pwned $(id) % ##[x]"},
    ),
    Case(
        "env-name-cannot-start-a-line",
        0,
        GREEN_REGISTRY,
        env={"ENV_NAME": "prod\n::warning::x"},
        shown_env_name="prod?::warning::x",
    ),
    Case(
        "bare-host-means-https",
        3,
        ("could not read the pins", "TLS"),
        env={"CP_HOST": "{cp_host}", "TRUEDIGEST_TIMEOUT": "5"},
        reaches_cp=False,  # the TLS handshake with a plain-HTTP server fails first
    ),
)


def case_env(
    case: Case, names: Mapping[str, str], cp: CPServer, token: str, home: Path
) -> dict[str, str]:
    """The seed workflow's environment with the case's changes; None removes a variable."""
    values = {
        **names,
        "token": token,
        "cp_url": cp.url,
        "cp_host": cp.url.removeprefix("http://"),
        "current_short": names["current"][:19],
        "current_hex": names["current"].removeprefix("sha256:"),
        "current_upper": names["current"].upper(),
    }
    merged: dict[str, str | None] = {
        "CP_HOST": "{cp_url}",
        "CP_ADMIN_API_TOKEN": "{token}",
        **SEED_ENV,
        **case.env,
    }
    formatted = {k: None if v is None else v.format(**values) for k, v in merged.items()}
    return base_env(home, **formatted)


def base_env(home: Path, **extra: str | None) -> dict[str, str]:
    """The runner's env without anything the script or truedigest reads, the venv's
    `truedigest` first on PATH; then `extra` (None removes a variable)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return cli_env(home, **{**dict.fromkeys(_CONTRACT), "PATH": path, **extra})


def run(env: Mapping[str, str], *args: str) -> CliResult:
    return run_cli_many([(args, env)], program=[str(SCRIPT)])[0]


def workflow_commands(result: CliResult) -> list[str]:
    """Every line of stdout and stderr a runner would read as a workflow command."""
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    return [line for line in lines if line.lstrip().startswith("::") or "##[" in line]


def assert_one_annotation(result: CliResult, env_name: str, *, green: bool) -> str:
    """The one `::error::` (red) or `::notice::` (green) line, on stdout; its message."""
    kind = "notice" if green else "error"
    prefix = f"::{kind}::[verify-runtime-pin {env_name}] "
    lines = result.stdout.splitlines()
    assert len(lines) == 1, str(result)
    assert lines[0].startswith(prefix), str(result)
    assert workflow_commands(result) == lines, str(result)
    return lines[0].removeprefix(prefix)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_table(case: Case, seeded: Seeded, cp: CPServer, token: str, tmp_path: Path) -> None:
    names = {**seeded.names, "token": token}
    cp.set_pins([row.pin(names) for row in case.rows])
    if case.shape is not None:
        cp.set_shape(case.shape)

    result = run(case_env(case, seeded.names, cp, token, tmp_path), *case.args)

    assert result.code == case.code, str(result)
    message = assert_one_annotation(result, case.env_name, green=case.code == 0)
    for fragment in case.says:
        assert fragment.format(**names) in message, str(result)
    assert token not in result.stdout + result.stderr, str(result)
    if case.reaches_cp:
        assert cp.requests, "the CP was asked"
        assert {r.headers.get("authorization") for r in cp.requests} == {f"Bearer {token}"}
    else:
        assert cp.requests == [], "nothing is checked on a usage error"


@pytest.mark.parametrize(
    ("case", "outputs", "summary"),
    [
        (Case("registry-served", 0), "verdict=agree\ndigest={current}\n", False),
        (Case("no-image-ref", 0, rows=(Row(ref=None),)), "verdict=agree\n", False),
        (Case("broken-row", 1, rows=(Row(ref="{repo}@{old}"),)), "verdict=mismatch\n", False),
        (Case("cp-500", 3, shape="500"), "verdict=unavailable\n", False),
        (Case("usage", 2, env={"EXPECTED_DIGEST": "x"}), "", False),
        (Case("image-ref", 0, env=WITH_IMAGE), "verdict=agree\ndigest={current}\n", True),
    ],
    ids=lambda v: v.id if isinstance(v, Case) else "",
)
def test_github_output_and_step_summary(
    case: Case,
    outputs: str,
    summary: bool,
    seeded: Seeded,
    cp: CPServer,
    token: str,
    tmp_path: Path,
) -> None:
    cp.set_pins([row.pin(seeded.names) for row in case.rows])
    if case.shape is not None:
        cp.set_shape(case.shape)
    env = case_env(case, seeded.names, cp, token, tmp_path)
    env["GITHUB_OUTPUT"] = str(tmp_path / "output")
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary")

    result = run(env)

    assert result.code == case.code, str(result)
    written = (tmp_path / "output").read_text() if (tmp_path / "output").exists() else ""
    assert written == outputs.format(**seeded.names)
    assert (tmp_path / "summary").exists() == summary
    assert token not in written


# --------------------------------------------------------------------------- the script


def test_script_is_executable_bash() -> None:
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if re.search(r"\bset\s+-\w*x", line)]
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_shellcheck() -> None:
    require_tool(shutil.which("shellcheck") is not None, "shellcheck", "shellcheck")
    done = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_help_prints_the_contract(tmp_path: Path) -> None:
    result = run(base_env(tmp_path), "--help")

    assert result.code == 0, str(result)
    for name in ("CP_HOST", "TOKEN_SECRET_NAME", "IMAGE_REF", "stricter than the original"):
        assert name in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.lstrip().startswith("::")]


def test_without_truedigest_on_path_uses_python3_module(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "python3"  # the venv's python, as a CI image's python3 would be
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])
    env = case_env(Case("", 0), seeded.names, cp, token, tmp_path)
    env["PATH"] = os.pathsep.join([str(bindir), "/usr/bin", "/bin"])
    probe = subprocess.run(
        ["bash", "-c", "command -v truedigest || true"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout == "", "this test needs a PATH without truedigest"

    result = run(env)

    assert result.code == 0, str(result)
    assert "the registry was NOT checked" in assert_one_annotation(result, "staging", green=True)


def test_truedigest_variable_names_the_command(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    cp.set_pins([make_pin(TEMPLATE, seeded.current.digest)])
    env = case_env(Case("", 0), seeded.names, cp, token, tmp_path)
    env["TRUEDIGEST"] = f"{sys.executable} -m truedigest"
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin"])

    result = run(env)

    assert result.code == 0, str(result)
    assert_one_annotation(result, "staging", green=True)

    env["TRUEDIGEST"] = str(tmp_path / "no-such-truedigest")
    broken = run(env)

    assert broken.code == 3, str(broken)
    assert_one_annotation(broken, "staging", green=False)


def test_truedigest_not_installed_is_exit_3_not_1(
    seeded: Seeded, cp: CPServer, token: str, tmp_path: Path
) -> None:
    env = case_env(Case("", 0), seeded.names, cp, token, tmp_path)
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin"])
    probe = subprocess.run(
        ["bash", "-c", "command -v truedigest || python3 -c 'import truedigest' 2>/dev/null"],
        env=env,
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("truedigest is installed system-wide")

    result = run(env)

    assert result.code == 3, str(result)
    assert "truedigest is not installed" in assert_one_annotation(result, "staging", green=False)
    assert "pip install truedigest" not in result.stderr
    assert cp.requests == []
