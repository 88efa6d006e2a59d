"""The demo behind `scripts/demo`: a real registry and CP on loopback, then truedigest.

1. start Debian's docker-registry and the test CP server on free loopback ports;
2. push an image with oras (and an older one, to have something stale to pin);
3. `truedigest resolve` it (text and JSON) and compare with `skopeo inspect --raw | sha256sum`;
4. pin the *old* digest in the CP and `truedigest verify`: exit 1, the table names the relation;
5. re-pin the registry's digest and verify again: exit 0.
Everything started here is stopped on the way out.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Pusher, build_image, push_image, push_with_oras
from tests.support.oracle import skopeo_raw
from tests.support.registry import RegistryServer

TRUEDIGEST = [sys.executable, "-m", "truedigest"]


def step(text: str) -> None:
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    print(f"\n\033[1m==> {text}\033[0m" if bold else f"\n==> {text}", flush=True)


def run(args: list[str], env: dict[str, str], *, expect: int) -> str:
    shown = ["truedigest", *args[len(TRUEDIGEST) :]] if args[:3] == TRUEDIGEST else args
    print("$ " + shlex.join(shown), flush=True)
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    print(f"(exit {proc.returncode})", flush=True)
    if proc.returncode != expect:
        raise SystemExit(f"demo: expected exit {expect}, got {proc.returncode}")
    return proc.stdout


def main() -> int:
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "CP_ADMIN_API_TOKEN": token, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    with tempfile.TemporaryDirectory(prefix="truedigest-demo-") as tmp:
        work = Path(tmp)
        step("starting docker-registry and a control plane on loopback")
        with (
            RegistryServer.start("plain", work / "registry") as registry,
            CPServer.start(token=token) as cp,
        ):
            print(f"registry: {registry.url}\ncontrol plane: {cp.url}")
            repo = "demo/app"
            tag = "sha-1a2b3c4"
            ref = f"{registry.host}/{repo}:{tag}"

            step("pushing an image with oras, and an older build of it")
            (work / "oras").mkdir()
            pushed = push_with_oras(registry, repo, tag, work / "oras")
            old = build_image(repo, salt="yesterday")
            with Pusher(registry) as pusher:
                push_image(pusher, repo, old, tag="sha-0ffee00")
            print(f"pushed {ref}")

            step("resolving the tag straight from the registry")
            digest = run([*TRUEDIGEST, "resolve", "--plain-http", ref], env, expect=0).strip()
            run([*TRUEDIGEST, "resolve", "--plain-http", ref, "-o", "json"], env, expect=0)
            oracle = "sha256:" + hashlib.sha256(skopeo_raw(registry, repo, tag)).hexdigest()
            print(f"skopeo inspect --raw | sha256sum: {oracle}")
            if digest != oracle or digest != pushed:
                raise SystemExit("demo: truedigest and skopeo disagree")
            print("truedigest and skopeo agree.")

            verify = [
                *TRUEDIGEST,
                "verify",
                "--plain-http",
                "--image",
                ref,
                "--cp",
                f"prod={cp.url}",
                "--template",
                "app",
                "--build-digest",
                digest,
            ]
            step("the promote job pinned yesterday's build: verify catches the stale pin")
            cp.set_pins([make_pin("app", old.digest, registry_repo=f"{registry.host}/{repo}")])
            run(verify, env, expect=1)

            step("re-pinning the registry's digest: everything agrees")
            cp.set_pins([make_pin("app", digest, registry_repo=f"{registry.host}/{repo}")])
            run(verify, env, expect=0)
        step("stopped the registry and the control plane")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
