"""Start-up cost, checked by structure (never by a clock): what a run imports and builds.

Every CI job pays truedigest's start-up, so a command imports only what it needs:
its own module (not every command's), no httpx command line, no async backends, no
rich when nothing is drawn; and a plain-HTTP run never loads a CA store (the TLS
context, 25-50 ms of certificate parsing, waits for the first https request).
`scripts/bench` measures the time; these tests keep the shape that makes it small.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cli_env
from tests.support.hostile import Answer, HostileServer, Request, closed_port
from tests.support.images import OCI_MANIFEST, build_image, sha256_digest

REPO = "startup/app"
IMAGE = build_image(REPO, salt="startup")

# Modules a resolve must not import: httpx and what it drags in, async backends, the
# terminal renderer, and the modules of commands not run.
NOT_FOR_RESOLVE = (
    # The request path is standard library only (httpx: ~95 ms of imports here).
    "httpx",
    "httpcore",
    "h11",
    "urllib.request",
    "http.client",
    "http.cookiejar",
    "email.",
    "logging",
    "ssl",  # plain HTTP: no TLS
    # Standard modules a resolve without a secret, a file or an IPv6 host never uses.
    "pathlib",  # --ca-file and the other file options load it when given
    "urllib.parse",  # URLs truedigest builds are read without it; it loads ipaddress
    "ipaddress",  # a bracketed IPv6 registry host only
    "base64",  # the first secret (redaction forms, Basic) and schema 1 signatures
    "rich",
    "pygments",
    "anyio",
    "trio",
    "truedigest.cli.verify",
    "truedigest.cli.tags",
    "truedigest.cli.pins",
    "truedigest.cli.inspect",
    "truedigest.cli.whatis",
    "truedigest.cli.running",
    "truedigest.sources.build",
    "truedigest.engine",
    "truedigest.cp",
)

# Run the CLI in this interpreter with every CA-store load counted (the expensive part
# of a TLS context); the count goes to the file named by argv[1] when the process
# exits (main() always exits).
COUNTING_DRIVER = """
import atexit, ssl, sys
made = []
def counting(original):
    def load(*args, **kwargs):
        made.append(original.__name__)
        return original(*args, **kwargs)
    return load
for name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
    setattr(ssl.SSLContext, name, counting(getattr(ssl.SSLContext, name)))
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(str(len(made))))
from truedigest.cli.main import main
main(sys.argv[2:])
"""


def _handler(req: Request) -> Answer:
    if req.path == f"/v2/{REPO}/manifests/v1":
        return Answer(200, [("Content-Type", OCI_MANIFEST)], IMAGE.manifest)
    if req.path == f"/v2/{REPO}/tags/list":
        listing = json.dumps({"name": REPO, "tags": ["v1"]}).encode()
        return Answer(200, [("Content-Type", "application/json")], listing)
    return Answer(404)


@pytest.fixture
def registry() -> Iterator[HostileServer]:
    with HostileServer(_handler) as server:
        yield server


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=60,
        check=False,
    )


def _imported(stderr: str) -> set[str]:
    """The modules `python -X importtime` reports (those imported, or tried)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def _heavy(modules: set[str], names: tuple[str, ...]) -> set[str]:
    """The modules that are one of `names` or inside one (`pkg.`: inside only)."""
    return {
        m for m in modules for n in names if m.startswith(n if n.endswith(".") else (n, n + "."))
    }


def test_resolve_imports_only_what_it_uses(registry: HostileServer, tmp_path: Path) -> None:
    ref = f"{registry.host}/{REPO}:v1"
    proc = _run(["-X", "importtime", "-m", "truedigest", "resolve", "--plain-http", ref], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == sha256_digest(IMAGE.manifest) + "\n"
    assert registry.count() == 1
    modules = _imported(proc.stderr)
    assert {"truedigest.cli.resolve", "truedigest.oci.registry", "truedigest.oci.lean"} <= modules
    assert _heavy(modules, NOT_FOR_RESOLVE) == set()


def test_tags_piped_imports_no_logging_and_no_renderer(
    registry: HostileServer, tmp_path: Path
) -> None:
    """`tags` in a CI log: its fan-outs are plain threads (concurrent.futures loads
    logging), and piped output draws no progress bar (no rich)."""
    repo = f"{registry.host}/{REPO}"
    args = ["-X", "importtime", "-m", "truedigest", "tags", "--plain-http", "-o", "json", repo]
    proc = _run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)
    modules = _imported(proc.stderr)
    assert "truedigest.engine.tags_run" in modules
    heavy = ("logging", "concurrent.futures", "rich", "httpx", "truedigest.cli.verify")
    assert _heavy(modules, heavy) == set()


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_command_stack(flag: str, tmp_path: Path) -> None:
    proc = _run(["-X", "importtime", "-m", "truedigest", flag], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = _imported(proc.stderr)
    assert _heavy(modules, ("httpx", "httpcore", "rich", "truedigest.oci.registry")) == set()
    if flag == "--version":  # --help lists every command's summary; --version needs none
        assert _heavy(modules, ("truedigest.sources", "truedigest.cli.resolve")) == set()


def test_plain_http_run_loads_no_ca_store(registry: HostileServer, tmp_path: Path) -> None:
    count = tmp_path / "contexts"
    ref = f"{registry.host}/{REPO}:v1"
    proc = _run(["-c", COUNTING_DRIVER, str(count), "resolve", "--plain-http", ref], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == sha256_digest(IMAGE.manifest) + "\n"
    assert count.read_text() == "0"


def test_https_run_builds_its_tls_context_on_the_first_request(tmp_path: Path) -> None:
    # The counter sees CA loads: an https request (here refused) builds the context.
    count = tmp_path / "contexts"
    ref = f"127.0.0.1:{closed_port()}/{REPO}:v1"
    proc = _run(["-c", COUNTING_DRIVER, str(count), "resolve", "--timeout", "1", ref], tmp_path)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert int(count.read_text()) >= 1
