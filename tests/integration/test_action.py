"""The composite action (action.yml), run step by step as a runner runs it, against the
real registry and a real CP on loopback, with the system python3 (no virtualenv).

Checks what a workflow relies on: the `verdict` and `digest` outputs (the digest is
sha256 of the bytes pushed here), the step summary, `::error` annotations on failure, a
failing step on a mismatch, CP tokens read from the step's env by variable name and
never printed, and input values that never become shell code.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.actionrun import ActionRun, clean_env, run_action
from tests.support.cpserver import CPServer, make_pin
from tests.support.images import (
    Image,
    Pusher,
    RegistryEndpoint,
    build_image,
    push_image,
    sha256_digest,
)
from tests.support.registry import RegistryServer

pytest.importorskip("yaml")
PusherFor = Callable[[RegistryEndpoint], Pusher]
SYSTEM_PYTHON = Path("/usr/bin/python3")
PROD_TOKEN = f"prod-token-{secrets.token_hex(8)}"
STAGING_TOKEN = f"staging-token-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    current: Image  # :v1 and :latest
    old: Image  # :old

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    if not SYSTEM_PYTHON.exists() or shutil.which("sha256sum") is None:
        pytest.skip("the action runs with Debian's /usr/bin/python3 and coreutils")
    pusher = pusher_for(registry_plain)
    repo = f"action/app-{secrets.token_hex(4)}"
    current = build_image(repo, salt=f"{repo}-current")
    old = build_image(repo, salt=f"{repo}-old")
    push_image(pusher, repo, current, "v1")
    pusher.push_manifest(repo, "latest", current.manifest, current.media_type)
    push_image(pusher, repo, old, "old")
    return World(registry_plain, repo, current, old)


def _run(world: World, tmp_path: Path, inputs: dict[str, str], **env: str) -> ActionRun:
    job_env = {**clean_env(tmp_path / "home"), **env}
    (tmp_path / "home").mkdir(exist_ok=True)
    return run_action(
        {"python": str(SYSTEM_PYTHON), "plain-http": "true", **inputs}, job_env, tmp_path
    )


def test_agree_sets_outputs_and_summary(world: World, tmp_path: Path) -> None:
    digest = sha256_digest(world.current.manifest)
    with (
        CPServer.start(token=PROD_TOKEN, pins=[make_pin("app", digest)]) as prod,
        CPServer.start(token=STAGING_TOKEN, pins=[make_pin("app", digest)]) as staging,
    ):
        run = _run(
            world,
            tmp_path,
            {
                # blank lines and surrounding spaces are ignored
                "images": f"\n  {world.name}:v1  \n{world.name}:latest\n\n",
                "cps": f"prod={prod.url}\nstaging={staging.url}\n",
                "cp-token-envs": "staging=CP_STAGING_TOKEN",
                "template": "app",
                "build-digest": digest,
            },
            CP_ADMIN_API_TOKEN=PROD_TOKEN,
            CP_STAGING_TOKEN=STAGING_TOKEN,
        )
        assert len(prod.requests) == 1, str(run)
        assert len(staging.requests) == 1, str(run)
        assert prod.requests[0].headers["authorization"] == f"Bearer {PROD_TOKEN}"
        assert staging.requests[0].headers["authorization"] == f"Bearer {STAGING_TOKEN}"
    assert run.code == 0, str(run)
    assert run.outputs == {"verdict": "agree", "digest": digest}, str(run)
    assert "| registry" in run.summary or "registry:" in run.summary, run.summary
    assert digest in run.summary
    assert "::error" not in run.text
    for token in (PROD_TOKEN, STAGING_TOKEN):
        assert token not in run.text + run.summary


def test_mismatch_fails_the_step_with_annotations(world: World, tmp_path: Path) -> None:
    digest = sha256_digest(world.current.manifest)
    stale = sha256_digest(world.old.manifest)
    with CPServer.start(token=PROD_TOKEN, pins=[make_pin("app", stale)]) as prod:
        run = _run(
            world,
            tmp_path,
            {"images": f"{world.name}:v1", "cps": f"prod={prod.url}", "template": "app"},
            CP_ADMIN_API_TOKEN=PROD_TOKEN,
        )
    assert run.code == 1, str(run)
    assert [s.id for s in run.steps] == ["prepare", "verify"]
    assert run.outputs == {"verdict": "mismatch", "digest": digest}, str(run)
    assert "::error title=" in run.steps[-1].stderr, str(run)
    assert stale in run.summary
    assert PROD_TOKEN not in run.text + run.summary


def test_unset_token_variable_is_unavailable_not_a_pass(world: World, tmp_path: Path) -> None:
    digest = sha256_digest(world.current.manifest)
    with CPServer.start(token=PROD_TOKEN, pins=[make_pin("app", digest)]) as prod:
        run = _run(
            world,
            tmp_path,
            {
                "images": f"{world.name}:v1",
                "cps": f"prod={prod.url}",
                "cp-token-envs": "prod=PROD_CP_TOKEN",
                "template": "app",
            },
            CP_ADMIN_API_TOKEN=PROD_TOKEN,  # set, but not the variable the input names
        )
        assert prod.requests == [], "no request without the named token"
    assert run.code == 3, str(run)
    assert run.outputs["verdict"] == "unavailable"
    assert "PROD_CP_TOKEN" in run.text
    assert PROD_TOKEN not in run.text


def test_inputs_never_become_shell_code(world: World, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"$(touch {marker})`touch {marker}`;touch {marker}"
    run = _run(
        world,
        tmp_path,
        {
            "images": f"{world.name}:v1",
            "build-digest": sha256_digest(world.current.manifest),
            "template": payload,
            "region": f'" ; touch {marker} #',
        },
    )
    assert not marker.exists(), str(run)
    assert run.code == 0, str(run)  # --template without --cp: a warning, the build agrees
    assert run.outputs["verdict"] == "agree"


def test_bad_plain_http_value_is_a_usage_error(world: World, tmp_path: Path) -> None:
    run = _run(world, tmp_path, {"images": f"{world.name}:v1", "plain-http": "maybe"})
    assert run.code == 2, str(run)
    assert "::error title=truedigest::input plain-http must be true or false" in run.text
