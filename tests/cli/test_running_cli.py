"""`truedigest running` flag handling, inputs and `--from-cmd` bounds (issue 13).

The registry is an `httpx.MockTransport` passed through the `Wiring` seam, so every
request is counted and nothing touches the network; manifest bytes come from
`tests.support.images` and every expected digest is sha256 of them. `--from-cmd`
runs real commands (this interpreter running small scripts): a failing, hanging,
flooding or hostile command must end the run with one safe `error:` line.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.hostile import assert_safe
from tests.support.images import Image, build_image
from truedigest.cli.main import cli
from truedigest.cli.wiring import Wiring
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render.formats import OutputFormat

REG = "registry.test"
REPO = "team/app"
REF = f"{REG}/{REPO}:v1"
UNREACHABLE = "127.0.0.1:9/team/app:v1"  # nothing may be asked of it: inputs come first
_UNSET = ("TRUEDIGEST_OUTPUT", "TRUEDIGEST_CP", "TRUEDIGEST_CP_TOKEN_ENV", "CP_ADMIN_API_TOKEN")


@dataclass
class Fake:
    image: Image
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        wanted = request.url.path.removeprefix(f"/v2/{REPO}/manifests/")
        if request.method == "GET" and wanted in ("v1", self.image.digest):
            return httpx.Response(
                200,
                content=self.image.manifest,
                headers={
                    "Content-Type": self.image.media_type,
                    "Docker-Content-Digest": self.image.digest,
                },
            )
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(build_image(REPO, salt="running cli"))


def invoke(
    fake: Fake, args: list[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> Result:
    transport = httpx.MockTransport(fake.handle)

    def client(options: ClientOptions) -> RegistryClient:
        return RegistryClient(options, transport=transport, credentials=CredentialStore(env={}))

    full_env: dict[str, str | None] = dict.fromkeys(_UNSET)
    full_env.update(env or {})
    return CliRunner().invoke(
        cli,
        ["running", *args],
        input=stdin,
        env=full_env,
        catch_exceptions=False,
        obj=Wiring(registry_client=client),
    )


def pods(*image_ids: str) -> str:
    items = [
        {
            "kind": "Pod",
            "metadata": {"name": f"web-{i}", "namespace": "prod"},
            "status": {"containerStatuses": [{"name": "web", "image": REF, "imageID": image_id}]},
        }
        for i, image_id in enumerate(image_ids)
    ]
    return json.dumps({"kind": "List", "apiVersion": "v1", "items": items})


def assert_usage(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: "), result.stderr
    for word in words:
        assert word in first, result.stderr


# -- the command line ----------------------------------------------------------------------


def test_help_names_every_contract_option() -> None:
    result = CliRunner().invoke(cli, ["running", "--help"])
    assert result.exit_code == 0
    for option in (
        "--from FILE|-",
        "--from-cmd CMD",
        "--image REF",
        "--cp NAME=URL",
        "--cp-token-env NAME=VAR",
        "--template",
        "--region",
        "--pin-file",
        "--platform",
        "--wait SECONDS",
        "--interval SECONDS",
        "-o, --output [table|json|markdown]",
    ):
        assert option in result.output, option
    assert "kubectl get pods -o json" in result.output


def test_the_command_lives_in_its_module_and_its_formats_are_output_formats() -> None:
    command = cli.commands["running"]
    assert command.callback is not None
    assert command.callback.__module__ == "truedigest.cli.running"
    (option,) = [p for p in command.params if p.name == "output"]
    assert isinstance(option, click.Option)
    choices = str(option.metavar).strip("[]").split("|")
    assert [OutputFormat(c) for c in choices] == ["table", "json", "markdown"]


def test_stdin_pods_running_the_tag_pass(fake: Fake) -> None:
    result = invoke(
        fake,
        ["--image", REF, "--from", "-", "-o", "json"],
        stdin=pods(f"{REG}/{REPO}@{fake.image.digest}"),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["schema"], doc["verdict"], doc["exit_code"]) == (
        "truedigest.running/v1",
        "agree",
        0,
    )
    assert doc["truth"] == fake.image.digest
    [row] = doc["containers"]
    assert (row["pod"], row["status"], row["relation"]) == ("web-0", "ok", "identical")
    assert "verdict: agree (exit 0)" in result.stderr
    # the truth only: a running digest that is the truth is not asked for again
    assert len(fake.requests) == 1


def test_markdown_is_a_step_summary(fake: Fake) -> None:
    stale = build_image(REPO, salt="not pushed").digest
    result = invoke(
        fake, ["--image", REF, "--from", "-", "-o", "markdown"], stdin=pods(f"{REG}/{REPO}@{stale}")
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("### ❌ truedigest running: mismatch\n")
    assert f"`{stale}`" in result.stdout
    assert "not-in-registry" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--image", REF], ("--from",)),
        (["--image", REF, "--from", "-", "--from", "-"], ("once",)),
        (["--image", REF, "--from", "-", "--wait", "5"], ("--wait",)),
        (["--image", REF, "--from", "-", "--cp", "prod=https://cp.test"], ("--template",)),
        (["--image", REF, "--from-cmd", ""], ("empty",)),
        (["--image", REF, "--from-cmd", "kubectl 'get"], ("cannot split",)),
        (["--image", REF, "--from-cmd", "truedigest-no-such-program-x get pods"], ("no such",)),
    ],
)
def test_usage_errors_before_any_request(
    fake: Fake, args: list[str], words: tuple[str, ...]
) -> None:
    assert_usage(invoke(fake, args, stdin="{}"), *words)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", ("not JSON",)),
        ('{"kind": "Deployment"}', ("not the JSON of a supported runtime",)),
        ("[1, 2]", ("no entry is a container",)),
    ],
)
def test_a_file_that_is_not_runtime_json_is_a_usage_error(
    fake: Fake, tmp_path: Path, text: str, words: tuple[str, ...]
) -> None:
    path = tmp_path / "pods.json"
    path.write_text(text)
    assert_usage(invoke(fake, ["--image", REF, "--from", str(path)]), *words)
    assert fake.requests == []


# -- --from-cmd: bounded, and its output is data -------------------------------------------


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body)
    return shlex.join([sys.executable, str(path)])


def cmd_run(tmp_path: Path, command: str, *extra: str) -> CliResult:
    args = ["running", "--plain-http", "--image", UNREACHABLE, "--from-cmd", command, *extra]
    return run_cli(args, cli_env(tmp_path))


EVIL = "\x1b]0;owned\x07::error title=x::pwned ##[set-output name=a]b"


def test_a_failing_command_is_exit_3_with_its_last_line_made_safe(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        "fail.py",
        f"import sys\nsys.stderr.write('noise\\n' + {EVIL!r} + '\\n')\nsys.exit(4)\n",
    )
    result = cmd_run(tmp_path, command)
    assert_safe(result, code=3)
    first = result.stderr.splitlines()[0]
    assert "failed (exit status 4)" in first
    assert "pwned" in first  # said, but inert
    assert result.stdout == ""


def test_a_hanging_command_is_killed_with_its_children(tmp_path: Path) -> None:
    """--timeout bounds the command; its whole process group is ended.

    The command is `sh` (it starts in milliseconds, where a Python child took more
    than the timeout on a loaded machine): a background child writes its pid first."""
    pid_file = tmp_path / "child.pid"
    command = shlex.join(
        ["sh", "-c", f"sleep 600 & echo $! > {shlex.quote(str(pid_file))}; echo '{{'; wait"]
    )
    result = cmd_run(tmp_path, command, "--timeout", "3")
    assert_safe(result, code=3)
    assert "did not finish within 3 s" in result.stderr
    assert pid_file.exists(), "the command's child never started"
    child = int(pid_file.read_text())
    _assert_gone(child)


def _assert_gone(pid: int) -> None:
    """`pid` was killed: gone, or a zombie waiting for its (killed) parent's reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return
    assert state in ("Z", "X"), f"process {pid} still runs (state {state})"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("print('no json here')", "not JSON"),
        ('print(\'{"kind": "Deployment"}\')', "not the JSON of a supported runtime"),
        (
            "import sys\nsys.stdout.write('[' + '0,' * (9 * 1024 * 1024) + '0]')",
            "printed more than 16 MiB",
        ),
    ],
)
def test_command_output_that_is_no_runtime_json_is_exit_3(
    tmp_path: Path, body: str, words: str
) -> None:
    result = cmd_run(tmp_path, script(tmp_path, "out.py", body + "\n"))
    assert_safe(result, code=3)
    assert words in result.stderr.splitlines()[0], str(result)


def test_a_command_gets_no_shell(tmp_path: Path) -> None:
    """`;` and `$(…)` are words given to the program, never run by a shell."""
    marker = tmp_path / "ran"
    command = f"{shlex.quote(sys.executable)} -c 'print(1)' ; touch {marker}"
    result = cmd_run(tmp_path, command)
    assert result.code == 3, str(result)
    assert not marker.exists()


def test_command_output_pods_are_judged(fake: Fake, tmp_path: Path) -> None:
    doc = pods(f"{REG}/{REPO}@{fake.image.digest}", f"docker://{fake.image.config_digest}")
    source = tmp_path / "pods.json"
    source.write_text(doc)
    command = shlex.join([sys.executable, "-c", f"print(open({str(source)!r}).read())"])
    result = invoke(fake, ["--image", REF, "--from-cmd", command, "-o", "json"])
    # the second pod reports only an image ID: never a pass
    assert result.exit_code == 3, result.output
    rows = json.loads(result.stdout)["containers"]
    assert [(r["status"], r["relation"]) for r in rows] == [
        ("ok", "identical"),
        ("error", "untraceable"),
    ]
    assert "--from-cmd" in rows[1]["where"]


# -- -q/--quiet: the exit code is the answer -----------------------------------------------


@pytest.mark.parametrize("output", ["table", "json", "markdown"])
def test_quiet_prints_nothing_whatever_the_verdict_or_format(fake: Fake, output: str) -> None:
    stale = build_image(REPO, salt="not pushed").digest
    inputs = {0: pods(f"{REG}/{REPO}@{fake.image.digest}"), 1: pods(f"{REG}/{REPO}@{stale}")}
    for code, stdin in inputs.items():
        args = ["--image", REF, "--from", "-", "-o", output]
        loud = invoke(fake, args, stdin=stdin)
        assert loud.exit_code == code, loud.output
        assert loud.stdout != ""  # without -q: a report and a verdict line
        assert "verdict:" in loud.stderr
        for flag in ("-q", "--quiet"):
            silent = invoke(fake, [*args, flag], stdin=stdin)
            assert silent.exit_code == code, silent.output
            assert (silent.stdout, silent.stderr) == ("", ""), silent.output


def test_quiet_leaves_out_the_wait_rounds(fake: Fake, tmp_path: Path) -> None:
    """A rollout that converges on the second read: no `round 1:` line under -q."""
    stale, fresh = tmp_path / "stale.json", tmp_path / "fresh.json"
    stale.write_text(pods(f"{REG}/{REPO}@{build_image(REPO, salt='old bytes').digest}"))
    fresh.write_text(pods(f"{REG}/{REPO}@{fake.image.digest}"))
    calls = tmp_path / "calls"
    command = script(
        tmp_path,
        "rollout.py",
        "import pathlib, sys\n"
        f"calls = pathlib.Path({str(calls)!r})\n"
        "n = int(calls.read_text()) + 1 if calls.exists() else 1\n"
        "calls.write_text(str(n))\n"
        f"state = pathlib.Path({str(stale)!r} if n == 1 else {str(fresh)!r})\n"
        "sys.stdout.write(state.read_text())\n",
    )
    args = ["--image", REF, "--from-cmd", command, "--wait", "60", "--interval", "0.1"]
    loud = invoke(fake, args)
    assert loud.exit_code == 0, loud.output
    assert "round 1: mismatch" in loud.stderr
    calls.unlink()
    silent = invoke(fake, [*args, "-q"])
    assert silent.exit_code == 0, silent.output
    assert calls.read_text() == "2"  # it did wait a round
    assert (silent.stdout, silent.stderr) == ("", ""), silent.output


def test_quiet_still_prints_the_error_that_stopped_the_run(fake: Fake, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-pods.json"
    assert_usage(invoke(fake, ["--image", REF, "--from", str(missing), "-q"]), "--from")
    command = script(tmp_path, "fail.py", "import sys\nsys.stderr.write('boom\\n')\nsys.exit(4)\n")
    failed = cmd_run(tmp_path, command, "-q")
    assert_safe(failed, code=3)
    assert failed.stderr.startswith("error: ")
    assert "failed (exit status 4)" in failed.stderr
    assert failed.stdout == ""


def test_the_verdict_line_agrees_in_number(fake: Fake) -> None:
    stale = [build_image(REPO, salt=f"old {i}").digest for i in range(2)]
    one = pods(f"{REG}/{REPO}@{stale[0]}", f"{REG}/{REPO}@{fake.image.digest}")
    two = pods(*(f"{REG}/{REPO}@{d}" for d in stale))
    said = [invoke(fake, ["--image", REF, "--from", "-"], stdin=s).stderr for s in (one, two)]
    assert "1 of 2 containers does not run" in said[0]
    assert "2 of 2 containers do not run" in said[1]
