"""skopeo as an independent oracle for manifest digests.

`skopeo inspect --raw` prints the manifest bytes the registry serves; their
sha256 is the digest any correct client must report. Each call runs with a fresh
temporary HOME/XDG tree and an empty registries.conf, so neither the machine's
container configuration nor its stored credentials take part.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

__all__ = ["OracleEndpoint", "SkopeoError", "skopeo_available", "skopeo_digest", "skopeo_raw"]

_TIMEOUT = 30.0
_DROPPED_ENV = ("REGISTRY_", "XDG_", "CONTAINERS_", "DOCKER_")


class OracleEndpoint(Protocol):
    """What the oracle needs from a `RegistryServer`."""

    @property
    def host(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def ca_dir(self) -> Path | None: ...


class SkopeoError(RuntimeError):
    """skopeo exited non-zero."""


def skopeo_binary() -> str | None:
    return shutil.which("skopeo")


def skopeo_available() -> bool:
    return skopeo_binary() is not None


def skopeo_raw(server: OracleEndpoint, repo: str, ref: str, *, creds: bool = True) -> bytes:
    """The manifest bytes skopeo fetches for `repo:ref` (or `repo@digest`).

    `creds=False` makes an anonymous request even when the server has credentials.
    The password is passed in argv (`--creds`): acceptable for throwaway test secrets.
    """
    binary = skopeo_binary()
    if binary is None:
        raise SkopeoError("skopeo not found on PATH")
    separator = "@" if ref.startswith("sha256:") else ":"
    with tempfile.TemporaryDirectory(prefix="skopeo-") as tmp:
        home = Path(tmp)
        registries_conf = home / "registries.conf"
        registries_conf.write_text("")
        (home / "registries.d").mkdir()
        authfile = home / "auth.json"
        authfile.write_text('{"auths": {}}')
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV)}
        env.update(
            HOME=tmp,
            XDG_RUNTIME_DIR=tmp,
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            XDG_DATA_HOME=str(home / "data"),
            CONTAINERS_REGISTRIES_CONF=str(registries_conf),
        )
        args = [binary, "--registries.d", str(home / "registries.d"), "inspect", "--raw"]
        if server.ca_dir is not None:
            args += ["--cert-dir", str(server.ca_dir)]
        elif server.url.startswith("http://"):
            args.append("--tls-verify=false")
        if creds and server.username is not None and server.password is not None:
            args += ["--creds", f"{server.username}:{server.password}"]
        else:
            args += ["--authfile", str(authfile)]
        args.append(f"docker://{server.host}/{repo}{separator}{ref}")
        proc = subprocess.run(args, capture_output=True, env=env, timeout=_TIMEOUT, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        if server.password:
            stderr = stderr.replace(server.password, "***")
        raise SkopeoError(f"skopeo inspect {server.host}/{repo}{separator}{ref}: {stderr}")
    return proc.stdout


def skopeo_digest(server: OracleEndpoint, repo: str, ref: str, *, creds: bool = True) -> str:
    """`sha256:` + sha256 of the manifest bytes skopeo fetched."""
    return "sha256:" + hashlib.sha256(skopeo_raw(server, repo, ref, creds=creds)).hexdigest()
