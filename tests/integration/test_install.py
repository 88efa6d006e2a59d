"""The install paths of a fresh Debian 12 (issue 10 item 2), tested as a user runs them.

- `dist/truedigest.pyz` (scripts/build-zipapp) runs under the system python3
  (/usr/bin/python3, no virtualenv, `-I`: no PYTHONPATH, no user site) and does the
  main job against the real registry and a real CP: `resolve` and `verify`.
- `pipx install DIR` of a clean copy of the repository, and `pipx install
  git+file://localhost/REPO@<commit>` (Debian's pipx, a PIPX_HOME of the test's
  own), each give a working `truedigest`.
- The shell scripts pass shellcheck; `scripts/demo --help` and
  `scripts/build-zipapp --help` print help without running anything.

scripts/test builds the archive before pytest; the fixture here calls the same
script, which does nothing when the archive is up to date.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.build_zipapp import heavy_imports, write_zip
from tests.support.cli import CliResult, registry_credentials, run_cli_many, transport_flags
from tests.support.cpserver import CPServer, PinRow, make_pin
from tests.support.images import Pusher, RegistryEndpoint, build_image, push_image
from tests.support.registry import RegistryServer
from tests.support.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
BUILD_TIMEOUT = 300.0
PIPX_TIMEOUT = 300.0
TEMPLATE = "app"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

PROXY_VARS = frozenset(
    {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
)
PusherFor = Callable[[RegistryEndpoint], Pusher]


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What a CI job on a fresh Debian has: system PATH, no virtualenv, no PYTHONPATH,
    nothing of the test runner's (its venv, its pip/truedigest/CI variables)."""
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        **extra,
    }


def run(args: list[str], env: Mapping[str, str], timeout: float = 60.0) -> CliResult:
    proc = subprocess.run(
        args, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    return CliResult(tuple(args), proc.returncode, proc.stdout, proc.stderr, Path(args[0]).name)


# --------------------------------------------------------------------------- the archive


@dataclass(frozen=True)
class Built:
    path: Path
    printed_sha256: str


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3: the archive is tested with Debian's python3")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-zipapp")],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"scripts/build-zipapp failed:\n{proc.stdout}\n{proc.stderr}"
    last = proc.stdout.splitlines()[-1]
    match = re.fullmatch(r"([0-9a-f]{64})  truedigest\.pyz", last)
    assert match, f"the last line must be '<sha256>  truedigest.pyz': {proc.stdout!r}"
    return Built(ROOT / "dist" / "truedigest.pyz", match[1])


def pyz_program(built: Built) -> tuple[str, ...]:
    return (str(SYSTEM_PYTHON), "-I", str(built.path))


def test_build_prints_the_sha256_of_the_archive_last(pyz: Built) -> None:
    data = pyz.path.read_bytes()
    assert pyz.printed_sha256 == hashlib.sha256(data).hexdigest()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    sidecar = pyz.path.with_name("truedigest.pyz.sha256").read_text()
    assert sidecar == f"{hashlib.sha256(data).hexdigest()}  truedigest.pyz\n"


@dataclass(frozen=True)
class Seeded:
    registry: RegistryServer
    repo: str
    current: str
    old: str

    def ref(self, tag: str) -> str:
        return f"{self.registry.host}/{self.repo}:{tag}"

    def pin(self, digest: str) -> PinRow:
        return make_pin(TEMPLATE, digest, registry_repo=f"{self.registry.host}/{self.repo}")


@pytest.fixture(scope="module")
def seeded(registry_token: RegistryServer, pusher_for: PusherFor) -> Seeded:
    """Two images on the token registry (TLS, a token server, a password)."""
    repo = "install/app"
    current = build_image(repo, salt="install current")
    old = build_image(repo, salt="install old")
    pusher = pusher_for(registry_token)
    assert push_image(pusher, repo, current, "current") == current.digest
    assert push_image(pusher, repo, old, "old") == old.digest
    return Seeded(registry_token, repo, current.digest, old.digest)


def test_pyz_resolves_and_verifies_under_the_system_python(
    pyz: Built, seeded: Seeded, tmp_path: Path
) -> None:
    """The single-file artifact does the main job with Debian's python3 and no
    virtualenv: resolve (text, json), verify agree (exit 0) and stale pin (exit 1)."""
    token = secrets.token_urlsafe(24)
    server = seeded.registry
    assert server.password is not None
    with (
        CPServer.start(token=token, pins=[seeded.pin(seeded.current)]) as prod,
        CPServer.start(token=token, pins=[seeded.pin(seeded.old)]) as stale,
    ):
        env = bare_env(tmp_path, CP_ADMIN_API_TOKEN=token, **registry_credentials(server))
        flags = transport_flags(server)
        ref = seeded.ref("current")
        verify = ["verify", *flags, "--image", ref, "--template", TEMPLATE, "-o", "json"]
        results = run_cli_many(
            [
                (["resolve", *flags, ref], env),
                (["resolve", *flags, "-o", "json", ref], env),
                ([*verify, "--cp", f"prod={prod.url}"], env),
                ([*verify, "--cp", f"prod={stale.url}"], env),
            ],
            program=pyz_program(pyz),
        )
        assert len(prod.requests) == 1
        assert len(stale.requests) == 1

    text, as_json, agree, mismatch = results
    assert (text.code, text.stdout, text.stderr) == (0, f"{seeded.current}\n", ""), str(text)
    assert as_json.code == 0, str(as_json)
    assert as_json.json()["digest"] == seeded.current
    assert as_json.json()["schema"] == "truedigest.resolve/v1"
    assert agree.code == 0, str(agree)
    doc = agree.report()
    assert (doc["verdict"], doc["truth"]) == ("agree", seeded.current), str(agree)
    assert mismatch.code == 1, str(mismatch)
    doc = mismatch.report()
    assert doc["truth"] == seeded.current
    cp = mismatch.source("cp:prod")
    assert (cp["digest"], cp["relation"]) == (seeded.old, "other-image"), str(mismatch)
    for result in results:
        for secret in (token, server.password):
            assert secret not in result.stdout + result.stderr, str(result)


def test_pyz_runs_its_own_modules_not_the_hosts(pyz: Built, tmp_path: Path) -> None:
    """Everything truedigest imports comes from inside the archive, the interpreter is
    not a virtualenv's, and certifi's CA bundle is readable from the zip."""
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(pyz.path)!r})\n"
        "import truedigest, click, httpx, httpcore, h11, anyio, idna, certifi, rich\n"
        "import markdown_it, mdurl, pygments, typing_extensions\n"
        "import truedigest.cli.main\n"
        "mods = ['truedigest', 'click', 'httpx', 'httpcore', 'h11', 'anyio', 'idna',\n"
        "        'certifi', 'rich', 'markdown_it', 'mdurl', 'pygments', 'typing_extensions']\n"
        "bundle = open(certifi.where(), encoding='ascii').read()\n"
        "print(json.dumps({'files': {m: sys.modules[m].__file__ for m in mods},\n"
        "    'venv': sys.prefix != sys.base_prefix, 'executable': sys.executable,\n"
        "    'certs': bundle.count('BEGIN CERTIFICATE')}))\n"
    )
    result = run([str(SYSTEM_PYTHON), "-I", "-c", probe], bare_env(tmp_path))

    assert result.code == 0, str(result)
    doc = json.loads(result.stdout)
    assert doc["venv"] is False
    assert doc["executable"] == str(SYSTEM_PYTHON)
    for module, file in doc["files"].items():
        assert file.startswith(f"{pyz.path}/"), (module, file)
    assert doc["certs"] > 10


def test_pyz_runs_the_bytecode_it_carries(pyz: Built, tmp_path: Path) -> None:
    """zipimport cannot cache what it compiles: the archive carries `module.pyc` beside
    each module (hash-based, so the build stays reproducible), and a Python of the
    builder's minor version runs it instead of compiling every module on every run."""
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(pyz.path)!r})\n"
        "import truedigest.cli.main as m, httpx\n"
        "print(sys.version_info[:2] == tuple(map(int, sys.argv[1].split('.'))))\n"
        "print(m.__file__); print(httpx.__file__); print(m.main.__code__.co_filename)\n"
    )
    builder = f"{sys.version_info[0]}.{sys.version_info[1]}"
    result = run([str(SYSTEM_PYTHON), "-I", "-c", probe, builder], bare_env(tmp_path))

    assert result.code == 0, str(result)
    same, main_file, httpx_file, shown = result.stdout.splitlines()
    with zipfile.ZipFile(pyz.path) as zf:
        names = set(zf.namelist())
    assert {"truedigest/cli/main.pyc", "httpx/__init__.pyc"} <= names
    suffix = ".pyc" if same == "True" else ".py"
    assert main_file.endswith(f"/truedigest/cli/main{suffix}"), main_file
    assert httpx_file.endswith(f"/httpx/__init__{suffix}"), httpx_file
    if same == "True":  # the build directory does not leak into tracebacks
        assert shown == "truedigest.pyz/truedigest/cli/main.py"


def test_pyz_help_starts_without_httpx_or_rich(pyz: Built, tmp_path: Path) -> None:
    result = run(
        [str(SYSTEM_PYTHON), "-I", "-X", "importtime", str(pyz.path), "--help"],
        bare_env(tmp_path),
    )

    assert result.code == 0, str(result)
    assert result.stdout.startswith("Usage: "), str(result)
    imported = result.stderr
    assert re.search(r"\| +click$", imported, re.MULTILINE), "importtime output not parsed"
    assert heavy_imports(imported) == []


def test_pyz_version_is_the_projects(pyz: Built, tmp_path: Path) -> None:
    result = run([*pyz_program(pyz), "--version"], bare_env(tmp_path))
    assert result.code == 0, str(result)
    assert result.stdout == f"truedigest, version {VERSION}\n"


def test_pyz_on_an_older_python_says_what_it_needs(pyz: Built, tmp_path: Path) -> None:
    """The archive's own __main__ runs on any Python 3 and refuses one older than
    requires-python with one error line and exit 2 (here: 3.10 as sys.version_info)."""
    probe = (
        "import runpy, sys\n"
        "sys.version_info = (3, 10, 12, 'final', 0)\n"
        f"sys.argv = [{str(pyz.path)!r}, '--version']\n"
        f"runpy.run_path({str(pyz.path)!r}, run_name='__main__')\n"
    )
    result = run([str(SYSTEM_PYTHON), "-I", "-c", probe], bare_env(tmp_path))

    assert result.code == 2, str(result)
    assert result.stdout == ""
    assert result.stderr == "error: truedigest needs Python 3.11 or later; this is Python 3.10\n"


def test_pyz_bundles_every_runtime_dependency_with_pinned_hashes(pyz: Built) -> None:
    """Each distribution in the archive has all its Python-3.11 requirements in the
    archive too, every one is pinned with a sha256 in requirements/zipapp.txt, and
    the pins satisfy pyproject's ranges."""
    pins: dict[str, str] = {}
    text = (ROOT / "requirements" / "zipapp.txt").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)\s+--hash=sha256:[0-9a-f]{64}", line)
        assert match, f"not an exact pin with a sha256: {line!r}"
        pins[canonicalize_name(match[1])] = match[2]

    with zipfile.ZipFile(pyz.path) as zf:
        metadata = {
            name.split("/")[0]: zf.read(name).decode()
            for name in zf.namelist()
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name)
        }
    bundled: dict[str, str] = {}
    requires: list[Requirement] = []
    for doc in metadata.values():
        fields = dict(
            line.split(": ", 1) for line in doc.split("\n\n")[0].splitlines() if ": " in line
        )
        bundled[canonicalize_name(fields["Name"])] = fields["Version"]
        requires += [
            Requirement(line.split(": ", 1)[1])
            for line in doc.split("\n\n")[0].splitlines()
            if line.startswith("Requires-Dist: ")
        ]
    assert bundled == pins

    # Debian 12's python3 (evaluate() takes the rest of the environment from this one).
    target = {"python_version": "3.11", "python_full_version": "3.11.2", "extra": ""}
    target |= {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [Requirement(r) for r in project["dependencies"]]
    for req in [*direct, *requires]:
        if req.marker is not None and not req.marker.evaluate(target):
            continue
        name = canonicalize_name(req.name)
        assert name in bundled, f"{req} is needed at run time but not in the archive"
        assert req.specifier.contains(bundled[name], prereleases=True), (req, bundled[name])


def test_archive_bytes_do_not_depend_on_file_times_modes_or_order(tmp_path: Path) -> None:
    """The reproducible part of the build: the same files give the same zip."""
    trees = [tmp_path / "a", tmp_path / "b"]
    names = ["pkg/__init__.py", "pkg/mod.py", "pkg/data/cacert.pem", "__main__.py"]
    for number, tree in enumerate(trees):
        for name in names if number == 0 else reversed(names):
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"# {name}\n".encode())
            path.chmod(0o600 if number else 0o664)
            os.utime(path, (1_000_000_000 + number * 7777, 1_000_000_000 + number * 7777))

    archives = [tmp_path / "a.zip", tmp_path / "b.zip"]
    counts = [write_zip(tree, archive) for tree, archive in zip(trees, archives, strict=True)]

    assert counts == [len(names)] * 2
    assert archives[0].read_bytes() == archives[1].read_bytes()


# --------------------------------------------------------------------------- pipx


def clean_copy(destination: Path) -> Path:
    """The repository as a fresh clone has it: tracked (and new, not ignored) files,
    no .venv, dist/, caches or build leftovers."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_pipx_install_from_a_clean_copy_and_from_a_git_url_at_a_commit(
    seeded: Seeded, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`pipx install .` in a clean clone, and `pipx install git+URL@<commit>` (here
    file://localhost/<this repository>: the network form cannot run offline), with
    Debian's pipx and python3: each gives a truedigest that resolves."""
    require_tool(shutil.which("pipx", path="/usr/bin:/bin") is not None, "pipx", "pipx")
    require_tool(shutil.which("git") is not None, "git", "git")
    source = clean_copy(tmp_path_factory.mktemp("clone") / "truedigest")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    pipx_home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env = bare_env(tmp_path, PIPX_HOME=str(pipx_home), PIPX_BIN_DIR=str(bin_dir))
    # The machine's route to PyPI (pip settings, proxies), if it has one.
    env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in PROXY_VARS}
    server = seeded.registry

    for spec, suffix in [(str(source), ""), (f"git+file://localhost{ROOT}@{commit}", "-git")]:
        suffixed = [f"--suffix={suffix}"] if suffix else []
        installed = run(["pipx", "install", *suffixed, spec], env, timeout=PIPX_TIMEOUT)

        assert installed.code == 0, str(installed)
        truedigest = bin_dir / f"truedigest{suffix}"
        version = run([str(truedigest), "--version"], env)
        assert version.code == 0, str(version)
        assert version.stdout == f"truedigest, version {VERSION}\n"
        resolved = run(
            [str(truedigest), "resolve", *transport_flags(server), seeded.ref("current")],
            {**env, **registry_credentials(server)},
        )
        assert (resolved.code, resolved.stdout) == (0, f"{seeded.current}\n"), str(resolved)
        # The app's own virtualenv under PIPX_HOME runs Debian's python3.
        cfg = (pipx_home / "venvs" / f"truedigest{suffix}" / "pyvenv.cfg").read_text()
        assert re.search(r"^home = /usr/bin$", cfg, re.MULTILINE), cfg


# --------------------------------------------------------------------------- scripts

# Shell scripts this suite owns pass shellcheck at every severity; the others at
# warning and above (scripts/bench sources _bootstrap.sh without a source directive).
STRICT_SHELL = ["scripts/_bootstrap.sh", "scripts/test", "scripts/demo", "scripts/build-zipapp"]
OTHER_SHELL = [".ci/run", "scripts/bench", "scripts/verify-runtime-pin.sh"]


@pytest.mark.parametrize(
    ("files", "severity"), [(STRICT_SHELL, "style"), (OTHER_SHELL, "warning")], ids=str
)
def test_shell_scripts_pass_shellcheck(files: list[str], severity: str) -> None:
    require_tool(shutil.which("shellcheck") is not None, "shellcheck", "shellcheck")
    present = [name for name in files if (ROOT / name).exists()]
    result = subprocess.run(
        ["shellcheck", "-x", "-S", severity, *present],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("script", "usage"),
    [
        ("scripts/demo", "Usage: scripts/demo"),
        ("scripts/build-zipapp", "usage: scripts/build-zipapp"),
    ],
)
def test_script_help_prints_help_and_runs_nothing(script: str, usage: str, tmp_path: Path) -> None:
    """With only bash, cat and python3 on PATH: installing or starting anything would
    fail (no apt-get, no registry), so exit 0 with the usage means nothing ran."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "cat", "dirname", "python3"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    venv = tmp_path / "venv"
    env = {"PATH": str(tools), "HOME": str(tmp_path), "TRUEDIGEST_VENV": str(venv)}

    result = run([str(tools / "bash"), str(ROOT / script), "--help"], env)

    assert result.code == 0, str(result)
    assert result.stdout.startswith(usage), str(result)
    assert not venv.exists()
