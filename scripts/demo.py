"""The demo behind `scripts/demo`: a real registry and two CPs on loopback, then truedigest.

1. start Debian's docker-registry and two test CP servers (prod, staging) on free
   loopback ports;
2. push a buildx-style multi-arch image (an index of linux/amd64, linux/arm64/v8 and
   a provenance attestation) as `:sha-1a2b3c4` and `:latest`, and yesterday's build;
3. `truedigest resolve` the tag and compare with `skopeo inspect --raw | sha256sum`;
4. stage the incidents truedigest exists for, and `truedigest verify` them (exit 1):
   prod pins yesterday's build (a stale pin: other-image), staging pins the amd64
   config digest (`docker image inspect .Id`: config-digest), the build metadata names
   the amd64 child (buildx: platform-manifest), a Kubernetes manifest pins a digest
   that was never pushed (a dangling pin: not-in-registry); `truedigest pins` shows
   the two CPs disagree;
5. fix every pin and verify again: exit 0; then say what to try next.

On a terminal the commands write to it directly, so the real table is what you see
(colours unless NO_COLOR is set). Ctrl-C stops everything quietly. `--keep` leaves the
registry and the CPs running at the end and prints how to reach them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Pusher, build_image, build_platform_index, push_image, push_index
from tests.support.oracle import SkopeoError, skopeo_raw
from tests.support.registry import RegistryServer

TRUEDIGEST = [sys.executable, "-m", "truedigest"]
REPO = "demo/app"
TAG = "sha-1a2b3c4"


class DemoError(Exception):
    """A step did not do what the demo expects (one line, no traceback)."""


def _tty() -> bool:
    return sys.stdout.isatty()


def step(text: str) -> None:
    bold = _tty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    text = textwrap.shorten(text, _width() - 5, placeholder="…")
    print(f"\n\033[1m==> {text}\033[0m" if bold else f"\n==> {text}", flush=True)


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def say(text: str) -> None:
    """Lines of the demo's own, wrapped between words at the terminal's width."""
    for line in text.splitlines() or [""]:
        indent = " " * (len(line) - len(line.lstrip()))
        wrapped = textwrap.wrap(line, _width() - 1, subsequent_indent=indent + "  ")
        print("\n".join(wrapped or [""]), flush=True)


def show_command(args: Sequence[str]) -> None:
    """`$ truedigest …`, continued with `\\` between arguments, never inside one."""
    words = ["truedigest", *(shlex.quote(a) for a in args)]
    lines, line = [], "$"
    for word in words:
        if len(line) + 1 + len(word) > _width() - 3 and line != "$":
            lines.append(line + " \\")
            line = "   "
        line += " " + word
    print("\n".join([*lines, line]), flush=True)


def run(args: Sequence[str], env: dict[str, str], cwd: Path, *, expect: int) -> None:
    """Run a truedigest command on this terminal (its real table), check its exit code."""
    show_command(args)
    code = subprocess.run([*TRUEDIGEST, *args], env=env, cwd=cwd, check=False).returncode
    print(f"(exit {code})", flush=True)
    if code != expect:
        raise DemoError(f"expected exit {expect}, got {code}")


def capture(args: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    show_command(args)
    proc = subprocess.run(
        [*TRUEDIGEST, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise DemoError(f"truedigest {args[0]} exited {proc.returncode}")
    return proc.stdout.strip()


def write_pins(path: Path, ref: str) -> None:
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        f"          image: {ref}\n",
        encoding="utf-8",
    )


def demo(keep: bool) -> int:
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "CP_ADMIN_API_TOKEN": token, "TRUEDIGEST_PLAIN_HTTP": "1"}
    for name in ("GITHUB_ACTIONS", "GITEA_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        env.pop(name, None)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="truedigest-demo-")))
        step("starting docker-registry and two control planes (prod, staging) on loopback")
        registry = stack.enter_context(RegistryServer.start("plain", work / "registry"))
        prod = stack.enter_context(CPServer.start(token=token))
        staging = stack.enter_context(CPServer.start(token=token))
        image = f"{registry.host}/{REPO}"
        ref = f"{image}:{TAG}"
        say(f"registry: {registry.url}\nprod CP: {prod.url}\nstaging CP: {staging.url}")
        say("(the commands below run with TRUEDIGEST_PLAIN_HTTP=1 and CP_ADMIN_API_TOKEN set)")

        step("pushing a buildx-style multi-arch image, and yesterday's build")
        # built from the commit its tag names (verify compares the two)
        commit = "1a2b3c4" + hashlib.sha1(b"truedigest demo").hexdigest()[7:]  # noqa: S324
        index = build_platform_index(
            REPO, salt="today", annotations={"org.opencontainers.image.revision": commit}
        )
        amd64 = index.images[0]
        old = build_image(REPO, salt="yesterday")
        never = "sha256:" + hashlib.sha256(b"truedigest demo: never pushed").hexdigest()
        with Pusher(registry) as pusher:
            push_index(pusher, REPO, index, tag=TAG)
            pusher.push_manifest(REPO, "latest", index.body, index.media_type)
            push_image(pusher, REPO, old, tag="sha-0ffee00")
        say(f"pushed {ref} and :latest (an index), and :sha-0ffee00")

        step("what does the tag point at? ask the registry; check with skopeo")
        digest = capture(["resolve", ref], env, work)
        try:
            oracle = "sha256:" + hashlib.sha256(skopeo_raw(registry, REPO, TAG)).hexdigest()
        except SkopeoError as exc:
            say(f"(skopeo not available: {exc})")
        else:
            say(f"skopeo inspect --raw | sha256sum:\n{oracle}")
            if oracle != digest:
                raise DemoError("truedigest and skopeo disagree")
            say("truedigest and skopeo agree.")
        if digest != index.digest:
            raise DemoError("the registry serves another digest than the one pushed")

        step("four incidents: stale pin, config digest, platform child, dangling pin")
        say(
            "prod pins yesterday's build; staging pins the amd64 config digest (docker image\n"
            "inspect .Id); buildx's metadata names the amd64 child; deploy.yaml pins a digest\n"
            "that was never pushed."
        )
        prod.set_pins([make_pin("app", old.digest, registry_repo=image)])
        staging.set_pins([make_pin("app", amd64.config_digest, registry_repo=image)])
        metadata = work / "metadata.json"
        metadata.write_text(json.dumps({"containerimage.digest": amd64.digest}), "utf-8")
        write_pins(work / "deploy.yaml", f"{image}@{never}")
        verify = [
            "verify",
            "--image",
            ref,
            "--cp",
            f"prod={prod.url}",
            "--cp",
            f"staging={staging.url}",
            "--template",
            "app",
            "--build-metadata",
            "metadata.json",
            "--pin-file",
            "deploy.yaml",
        ]
        run(verify, env, work, expect=1)

        step("every pin row of both CPs: they disagree with each other too")
        pins = ["pins", "--cp", f"prod={prod.url}", "--cp", f"staging={staging.url}"]
        run(pins, env, work, expect=1)

        step("the fix: the registry's digest everywhere")
        prod.set_pins([make_pin("app", digest, registry_repo=image)])
        staging.set_pins([make_pin("app", digest, registry_repo=image)])
        metadata.write_text(json.dumps({"containerimage.digest": digest}), "utf-8")
        write_pins(work / "deploy.yaml", f"{image}@{digest}")
        run(verify, env, work, expect=0)
        run(pins, env, work, expect=0)

        step("what to try next")
        say(
            f"  truedigest inspect {ref}\n"
            f"  truedigest tags {image}\n"
            f"  truedigest whatis {amd64.config_digest[:19]} --repo {image}\n"
            "  truedigest verify … -o json        (the contract for scripts)\n"
            "  truedigest verify … | cut -f1-4    (piped: one tab-separated line per source)"
        )
        if keep:
            keep_running(registry, prod, staging, token, ref)
        step("stopping the registry and the control planes")
    return 0


def keep_running(
    registry: RegistryServer, prod: CPServer, staging: CPServer, token: str, ref: str
) -> None:
    """Print how to reach the servers, then wait for Ctrl-C (the normal way out)."""
    say(
        "\nstill running (Ctrl-C stops them):\n"
        f"  registry:    {registry.url}   (plain HTTP: --plain-http)\n"
        f"  prod CP:     {prod.url}\n"
        f"  staging CP:  {staging.url}\n"
        f"  export TRUEDIGEST_PLAIN_HTTP=1 CP_ADMIN_API_TOKEN={token}\n"
        f"  truedigest verify --image {ref} --cp prod={prod.url} --template app"
    )
    try:
        signal.pause()
    except KeyboardInterrupt:
        return


def _interrupted(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the cleanup
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keep", action="store_true", help="leave the registry and CPs running at the end"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        return demo(args.keep)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; the registry and the control planes are stopped", flush=True)
        return 130
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
