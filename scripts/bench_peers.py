"""The peers `scripts/bench` compares truedigest with: other tools that fetch a manifest.

skopeo (`inspect --raw`) is installed with the registry; oras, crane and regctl
are used when they are on PATH (their rows say "not installed" otherwise). Each
peer fetches the manifest bytes of one tag in one process, over plain HTTP, with
a private, empty configuration (a temporary HOME), and its output is hashed and
checked against the digest the bench pushed.

For many tags the fair way to run a one-tag tool is several processes at once:
`xargs -P8`, as a CI script would; the sequential loop is the other way such
scripts are written. Both count every process whole, start-up included.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.bench_proc import Json, Run, run_cmd, which

PEERS = ("skopeo", "oras", "crane", "regctl")


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Peer:
    """A tool on PATH and how to ask it for one manifest over plain HTTP."""

    name: str
    binary: str
    home: Path

    @property
    def env(self) -> dict[str, str]:
        home = str(self.home)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "DOCKER_"))}
        env.update(
            HOME=home,
            XDG_RUNTIME_DIR=home,
            XDG_CONFIG_HOME=str(self.home / "config"),
            XDG_CACHE_HOME=str(self.home / "cache"),
            XDG_DATA_HOME=str(self.home / "data"),
            CONTAINERS_REGISTRIES_CONF=str(self.home / "registries.conf"),
            DOCKER_CONFIG=str(self.home / "docker"),
        )
        return env

    def argv(self, host: str, repo: str, tag: str = "{}") -> list[str]:
        """The command for HOST/REPO:TAG (`{}` is xargs' placeholder)."""
        ref = f"{host}/{repo}:{tag}"
        match self.name:
            case "skopeo":
                # --tls-verify=false: skopeo tries https first, then plain http
                return [
                    self.binary,
                    "--registries.d",
                    str(self.home / "registries.d"),
                    "inspect",
                    "--raw",
                    "--tls-verify=false",
                    f"docker://{ref}",
                ]
            case "oras":
                return [self.binary, "manifest", "fetch", "--plain-http", ref]
            case "crane":
                return [self.binary, "manifest", "--insecure", ref]
            case "regctl":
                return [self.binary, "manifest", "get", "--format", "raw-body", ref]
        raise ValueError(self.name)

    def prepare(self, host: str) -> None:
        """Per-registry set-up a user does once (regctl: plain HTTP for HOST)."""
        if self.name == "regctl":
            subprocess.run(
                [self.binary, "registry", "set", "--tls", "disabled", host],
                env=self.env,
                capture_output=True,
                timeout=30,
                check=False,
            )

    def version(self) -> str | None:
        args = {"skopeo": ["--version"], "oras": ["version"], "crane": ["version"]}.get(
            self.name, ["version"]
        )
        try:
            proc = subprocess.run(
                [self.binary, *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = (proc.stdout or proc.stderr).strip().splitlines()
        return lines[0] if lines else None


def find_peers(work: Path) -> dict[str, Peer | None]:
    """Each known peer on PATH (None when not installed), with a fresh empty HOME."""
    out: dict[str, Peer | None] = {}
    for name in PEERS:
        binary = which(name)
        if binary is None:
            out[name] = None
            continue
        home = work / f"peer-{name}"
        for sub in ("registries.d", "config", "cache", "data", "docker"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        (home / "registries.conf").write_text("")
        (home / "docker" / "config.json").write_text('{"auths": {}}')
        out[name] = Peer(name, binary, home)
    return out


def fetch_one(peer: Peer, host: str, repo: str, tag: str, digest: str) -> Run:
    """One peer process for one tag; raises when the bytes are not the pushed manifest."""
    run = run_cmd(peer.argv(host, repo, tag), env=peer.env)
    if run.returncode != 0:
        raise RuntimeError(f"{peer.name} exited {run.returncode}: {run.tail()}")
    if digest not in (sha256(run.stdout), sha256(run.stdout.rstrip("\n"))):
        raise RuntimeError(f"{peer.name} printed bytes that are not {digest}")
    return run


def split_documents(text: str) -> list[str]:
    """The JSON documents printed one after another (each manifest's exact text)."""
    decoder = json.JSONDecoder()
    docs: list[str] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        _, end = decoder.raw_decode(text, i)
        docs.append(text[i:end])
        i = end


def xargs_row(
    peer: Peer,
    host: str,
    repo: str,
    expected: dict[str, str],
    *,
    parallel: int,
    work: Path,
) -> Json:
    """`xargs -P<parallel> -I{} <peer> …:{}` over the tags of `expected`, one process
    per tag; every printed manifest is hashed and the digests are counted."""
    tags_file = work / f"tags-{len(expected)}.txt"
    tags_file.write_text("".join(f"{tag}\n" for tag in expected))
    args: Sequence[str] = [
        "xargs",
        "-a",
        str(tags_file),
        f"-P{parallel}",
        "-I{}",
        *peer.argv(host, repo),
    ]
    run = run_cmd(args, env=peer.env)
    command = f"xargs -P{parallel} {peer.name} " + " ".join(peer.argv("HOST", "REPO", "TAG")[1:])
    if run.returncode != 0:
        return {"status": "error", "exit_code": run.returncode, "stderr": run.tail()}
    got = Counter(sha256(doc) for doc in split_documents(run.stdout))
    want = Counter(expected.values())
    return {
        "command": command.replace(str(peer.home), "$TMP"),
        "status": "ok" if got == want else "wrong-output",
        "seconds": round(run.seconds, 3),
        "client_cpu_s": round(run.cpu, 3),
        "manifests_ok": sum((got & want).values()),
        "per_call_ms": round(1000 * run.seconds * parallel / max(1, len(expected)), 1),
    }
