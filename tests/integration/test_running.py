"""`truedigest running` against a real registry and a real CP (issue 13).

The registry (Debian's docker-registry) is seeded once per module with two OCI
indexes built as exact bytes by `tests.support.images` (linux/amd64 + linux/arm64/v8
and an attestation each): `:v2` is what should run, `:v1` the old bytes. Pods are
written in the shape `kubectl get pods -o json` prints (core/v1 Pod, List), with
every digest taken from those bytes. A `--from-cmd` rollout is a small script that
prints the next state each time it runs and counts its calls: no test sleeps or
races a clock. The real-shape fixtures of tests/realworld/data/running also run
end to end, against the build corpus they name pushed byte for byte.
"""

from __future__ import annotations

import json
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import CliResult, cli_env, run_cli, run_cli_many
from tests.support.cpserver import CPServer, make_pin
from tests.support.hostile import assert_safe
from tests.support.images import (
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    push_image,
    push_index,
    push_layout_tag,
)
from tests.support.registry import RegistryServer, registry_binary
from tests.support.running_facts import HOST as CORPUS_HOST
from tests.support.running_facts import LAYOUT, RUNNING
from truedigest.engine.running_cmd import Command
from truedigest.engine.running_run import RunningPlan, run_running
from truedigest.model.running_state import RunningVerdict
from truedigest.oci.reference import parse_reference
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

PusherFor = Callable[[RegistryEndpoint], Pusher]
REPO = "running/app"
TEMPLATE = "web"
TOKEN = f"cp-token-{secrets.token_hex(8)}"
REPORT_KEYS = {"schema", "verdict", "exit_code", "truth", "containers"}
ROW_KEYS = {
    "pod",
    "namespace",
    "workload",
    "container",
    "image",
    "digest",
    "status",
    "relation",
    "detail",
}


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    server: RegistryServer
    new: Index  # :v2, what should run
    old: Index  # :v1, the old bytes

    @property
    def name(self) -> str:
        return f"{self.server.host}/{REPO}"

    def ref(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    @property
    def amd64(self) -> str:
        return self.new.images[0].digest

    @property
    def old_amd64(self) -> str:
        return self.old.images[0].digest


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    new = build_platform_index(REPO, "running new")
    old = build_platform_index(REPO, "running old")
    assert push_index(pusher, REPO, new, tag="v2") == new.digest
    assert push_index(pusher, REPO, old, tag="v1") == old.digest
    sidecar = build_image("running/sidecar", salt="sidecar")
    assert push_image(pusher, "running/sidecar", sidecar, "latest") == sidecar.digest
    return World(registry_plain, new, old)


@pytest.fixture(scope="module")
def cp() -> Iterator[CPServer]:
    with CPServer.start(token=TOKEN) as server:
        yield server


# --------------------------------------------------------------------------- pods


def container_status(
    name: str, image: str, image_id: str, *, running: bool = True
) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2026-11-27T08:00:02Z"}}
    if not running:
        state = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    return {
        "containerID": "containerd://" + secrets.token_hex(32),
        "image": image,
        "imageID": image_id,
        "lastState": {},
        "name": name,
        "ready": running,
        "restartCount": 0,
        "started": running,
        "state": state,
    }


def pod(
    name: str,
    image_id: str,
    *,
    template_hash: str = "6b8f7c9d5",
    namespace: str = "prod",
    container: str = "web",
    image: str = "",
    init: Sequence[dict[str, Any]] = (),
    deployment: str = "web",
) -> dict[str, Any]:
    """A core/v1 Pod of Deployment `deployment` (ReplicaSet `<deployment>-<hash>`)."""
    replica_set = f"{deployment}-{template_hash}"
    status: dict[str, Any] = {
        "phase": "Running",
        "containerStatuses": [container_status(container, image or image_id, image_id)],
    }
    if init:
        status["initContainerStatuses"] = list(init)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": deployment, "pod-template-hash": template_hash},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": replica_set,
                    "controller": True,
                    "blockOwnerDeletion": True,
                    "uid": "5c0ffee0-0000-4000-8000-000000000001",
                }
            ],
        },
        "spec": {"containers": [{"name": container, "image": image or image_id}]},
        "status": status,
    }


def pod_list(*pods: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(pods), "metadata": {}})


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def running(world: World, *args: str) -> list[str]:
    return ["running", "--plain-http", "--timeout", "10", *args]


def rows(doc: dict[str, Any], relation: str | None = None) -> list[dict[str, Any]]:
    found = [r for r in doc["containers"] if r["relation"] != "mixed"]
    return [r for r in found if relation is None or r["relation"] == relation]


def mixed(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in doc["containers"] if r["relation"] == "mixed"]


def check_contract(result: CliResult) -> dict[str, Any]:
    doc = result.report()
    assert doc["schema"] == "truedigest.running/v1"
    assert doc.keys() >= REPORT_KEYS
    for row in doc["containers"]:
        assert row.keys() >= ROW_KEYS, row
    return doc


# --------------------------------------------------------------------------- acceptance


ROLLOUT = """\
import pathlib, sys
here = pathlib.Path(sys.argv[1])
calls = here / "calls"
n = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(n))
states = sorted(here.glob("state-*.json"))
sys.stdout.write(states[min(n, len(states)) - 1].read_text())
"""


def _rollout(world: World, where: Path) -> tuple[str, str]:
    """state-1: one of three pods still runs the old amd64 child; state-2: converged."""
    where.mkdir()
    new, old = f"{world.name}@{world.amd64}", f"{world.name}@{world.old_amd64}"
    stranded = "web-5f9d4b7c8-tq8vn"
    write(
        where / "state-1.json",
        pod_list(
            pod("web-6b8f7c9d5-4xq2m", new),
            pod("web-6b8f7c9d5-9kzt7", new),
            pod(stranded, old, template_hash="5f9d4b7c8"),
        ),
    )
    write(
        where / "state-2.json",
        pod_list(
            pod("web-6b8f7c9d5-4xq2m", new),
            pod("web-6b8f7c9d5-9kzt7", new),
            pod("web-6b8f7c9d5-x2v7p", new),
        ),
    )
    script = write(where.parent / "rollout.py", ROLLOUT)
    return shlex.join([sys.executable, script, str(where)]), stranded


def test_a_rollout_mid_way_is_mixed_naming_the_pod_then_converges(
    world: World, tmp_path: Path
) -> None:
    command, stranded = _rollout(world, tmp_path / "rollout")
    state_1 = str(tmp_path / "rollout" / "state-1.json")
    env = cli_env(tmp_path)
    mid, gate = run_cli_many(
        [
            (running(world, "--image", world.ref("v2"), "--from", state_1, "-o", "json"), env),
            (
                running(
                    world,
                    "--image",
                    world.ref("v2"),
                    "--from-cmd",
                    command,
                    "--wait",
                    "60",
                    "--interval",
                    "0.1",
                    "-o",
                    "json",
                ),
                env,
            ),
        ]
    )
    # mid-rollout: exit 1, `mixed` names the stranded pod and the digest it runs
    assert mid.code == 1, str(mid)
    doc = check_contract(mid)
    assert doc["verdict"] == "mixed"
    assert doc["truth"] == world.new.digest
    (row,) = mixed(doc)
    assert row["workload"] == "Deployment/web"
    assert stranded in row["detail"]
    assert row["pods"][world.old_amd64] == [stranded]
    by_pod = {r["pod"]: r for r in rows(doc)}
    assert by_pod[stranded]["relation"] == "other-image"
    assert by_pod[stranded]["status"] == "mismatch"
    for name in ("web-6b8f7c9d5-4xq2m", "web-6b8f7c9d5-9kzt7"):
        assert (by_pod[name]["status"], by_pod[name]["relation"]) == ("ok", "platform-manifest")
    assert "verdict: mixed (exit 1)" in mid.stderr
    # the gate: the command is read again each round until the rollout converged
    assert gate.code == 0, str(gate)
    doc = check_contract(gate)
    assert doc["verdict"] == "agree"
    assert doc["rounds"] == 2
    assert (tmp_path / "rollout" / "calls").read_text() == "2"
    assert len(rows(doc, "platform-manifest")) == 3
    assert "round 1: mixed" in gate.stderr


def test_wait_ends_when_time_runs_out_and_keeps_the_last_verdict(
    world: World, tmp_path: Path
) -> None:
    """A rollout that never converges: the last round's verdict (mixed) stands."""
    command, stranded = _rollout(world, tmp_path / "stuck")
    (tmp_path / "stuck" / "state-2.json").unlink()
    result = run_cli(
        running(
            world,
            *("--image", world.ref("v2"), "--from-cmd", command),
            *("--wait", "1", "--interval", "0.1", "-o", "json"),
        ),
        cli_env(tmp_path),
    )
    assert result.code == 1, str(result)
    doc = check_contract(result)
    calls = int((tmp_path / "stuck" / "calls").read_text())
    assert doc["rounds"] == calls  # each round read the command once
    assert stranded in mixed(doc)[0]["detail"]


@pytest.mark.parametrize(
    ("platform", "pinned", "runs", "row_relation", "pin_relation"),
    [
        # kubelet (containerd) reports the index it pulled; the pin names the amd64 child
        (None, "amd64", "index", "identical", "platform-manifest"),
        ("linux/amd64", "amd64", "index", "index-of", "identical"),
        # the reverse: the pod runs the amd64 child, the pin names the index
        (None, "index", "amd64", "platform-manifest", "identical"),
        ("linux/amd64", "index", "amd64", "identical", "index-of"),
    ],
)
def test_index_and_child_are_one_image_for_pods_and_pins(
    world: World,
    cp: CPServer,
    tmp_path: Path,
    platform: str | None,
    pinned: str,
    runs: str,
    row_relation: str,
    pin_relation: str,
) -> None:
    digest = {"amd64": world.amd64, "index": world.new.digest}
    cp.set_pins([make_pin(TEMPLATE, digest[pinned], registry_repo=world.name)])
    pods = write(
        tmp_path / "pods.json",
        pod_list(
            pod("web-6b8f7c9d5-4xq2m", f"{world.name}@{digest[runs]}", image=world.ref("v2")),
            pod("web-6b8f7c9d5-9kzt7", f"docker-pullable://{world.name}@{digest[runs]}"),
        ),
    )
    args = ["--image", world.ref("v2"), "--from", pods, "--cp", f"prod={cp.url}"]
    args += ["--template", TEMPLATE, "-o", "json"]
    args += ["--platform", platform] if platform else []
    result = run_cli(running(world, *args), cli_env(tmp_path, CP_ADMIN_API_TOKEN=TOKEN))
    assert result.code == 0, str(result)
    doc = check_contract(result)
    assert doc["verdict"] == "agree"
    for row in rows(doc):
        assert (row["status"], row["relation"]) == ("ok", row_relation)
        assert row["digest"] == digest[runs]
        if runs != pinned:  # said, not hidden: the runtime and the pin wrap one image
            assert f"pins {digest[pinned]}" in row["detail"]
            assert "the same image" in row["detail"]
    [pin_row] = doc["pins"]
    assert (pin_row["id"], pin_row["status"], pin_row["relation"]) == (
        "cp:prod",
        "ok",
        pin_relation,
    )
    assert TOKEN not in result.stdout + result.stderr


def test_a_stale_pin_fails_though_every_pod_runs_the_tag(
    world: World, cp: CPServer, tmp_path: Path
) -> None:
    cp.set_pins([make_pin(TEMPLATE, world.old.digest, registry_repo=world.name)])
    pods = write(tmp_path / "pods.json", pod_list(pod("web-a", f"{world.name}@{world.new.digest}")))
    args = ["--image", world.ref("v2"), "--from", pods, "--cp", f"prod={cp.url}"]
    result = run_cli(
        running(world, *args, "--template", TEMPLATE, "-o", "json"),
        cli_env(tmp_path, CP_ADMIN_API_TOKEN=TOKEN),
    )
    assert result.code == 1, str(result)
    doc = check_contract(result)
    assert doc["verdict"] == "mismatch"
    [pin_row] = doc["pins"]
    assert (pin_row["status"], pin_row["relation"]) == ("mismatch", "other-image")
    [row] = rows(doc)
    assert row["relation"] == "identical"
    assert "fresh provisions will pull another image" in row["detail"]


def test_a_pin_file_is_compared_like_a_cp_pin(world: World, tmp_path: Path) -> None:
    values = write(tmp_path / "values.yaml", f"image: {world.name}@{world.amd64}\n")
    pods = write(tmp_path / "pods.json", pod_list(pod("web-a", f"{world.name}@{world.new.digest}")))
    result = run_cli(
        running(
            world, "--image", world.ref("v2"), "--from", pods, "--pin-file", values, "-o", "json"
        ),
        cli_env(tmp_path),
    )
    assert result.code == 0, str(result)
    [pin_row] = check_contract(result)["pins"]
    assert (pin_row["id"], pin_row["relation"]) == (f"file:{values}", "platform-manifest")


# --------------------------------------------------------------------------- untraceable


def test_an_image_id_never_passes(world: World, tmp_path: Path) -> None:
    config = world.new.images[0].config_digest
    stranger = world.old.images[0].config_digest
    own = write(tmp_path / "own.json", pod_list(pod("web-a", f"docker://{config}")))
    other = write(tmp_path / "other.json", pod_list(pod("web-b", stranger, image=world.ref("v2"))))
    env = cli_env(tmp_path)
    same, different = run_cli_many(
        [
            (running(world, "--image", world.ref("v2"), "--from", own, "-o", "json"), env),
            (running(world, "--image", world.ref("v2"), "--from", other, "-o", "json"), env),
        ]
    )
    # the config of the truth's amd64 child: the same content, but no manifest named: exit 3
    assert same.code == 3, str(same)
    [row] = rows(check_contract(same))
    assert (row["status"], row["relation"], row["digest"]) == ("error", "untraceable", config)
    assert "config-digest" in row["detail"]
    assert "linux/amd64" in row["detail"]
    assert "deploy by digest" in row["detail"]
    # another image's config (every config of the truth was read): checked and wrong
    assert different.code == 1, str(different)
    [row] = rows(check_contract(different))
    assert (row["status"], row["relation"]) == ("mismatch", "untraceable")


def test_init_containers_and_sidecars(world: World, tmp_path: Path) -> None:
    init = container_status(
        "migrate", world.ref("v1"), f"{world.name}@{world.old_amd64}", running=False
    )
    sidecar_ref = f"{world.server.host}/running/sidecar:latest"
    item = pod("web-a", f"{world.name}@{world.new.digest}", init=[init])
    item["status"]["containerStatuses"].append(
        container_status("proxy", sidecar_ref, f"{world.server.host}/running/sidecar@{world.amd64}")
    )
    pods = write(tmp_path / "pods.json", pod_list(item))
    result = run_cli(
        running(world, "--image", world.ref("v2"), "--from", pods, "-o", "json"), cli_env(tmp_path)
    )
    doc = check_contract(result)
    by_name = {r["container"]: r for r in rows(doc)}
    # the init container ran the old image: that is a mismatch too
    assert by_name["migrate"]["relation"] == "other-image"
    assert by_name["web"]["relation"] == "identical"
    assert result.code == 1, str(result)


# --------------------------------------------------------------------------- failures


def test_absent_image_unreadable_registry_and_nothing_to_compare(
    world: World, tmp_path: Path
) -> None:
    pods = write(tmp_path / "pods.json", pod_list(pod("web-a", f"{world.name}@{world.new.digest}")))
    sidecars = write(
        tmp_path / "sidecars.json",
        pod_list(pod("web-a", f"{world.server.host}/running/sidecar@{world.old.digest}")),
    )
    env = cli_env(tmp_path)
    absent, down, nothing = run_cli_many(
        [
            (running(world, "--image", world.ref("nope"), "--from", pods, "-o", "json"), env),
            (
                [
                    *("running", "--plain-http", "--timeout", "1"),
                    *("--image", "127.0.0.1:9/x/y:1", "--from", pods, "-o", "json"),
                ],
                env,
            ),
            (running(world, "--image", world.ref("v2"), "--from", sidecars), env),
        ]
    )
    assert absent.code == 10, str(absent)
    assert check_contract(absent)["verdict"] == "absent"
    assert down.code == 3, str(down)
    assert check_contract(down)["verdict"] == "unavailable"
    assert "could not be read from the registry" in down.stderr
    assert nothing.code == 3, str(nothing)
    assert "nothing to check" in nothing.stdout


# --------------------------------------------------------------------------- hostile names


def test_hostile_names_go_out_inert(world: World, cp: CPServer, tmp_path: Path) -> None:
    cp.set_pins([make_pin(TEMPLATE, world.new.digest, registry_repo=world.name)])
    evil = "::error title=pwned::owned\x1b[31m##[set-output name=x]y\u202e"
    new, old = f"{world.name}@{world.amd64}", f"{world.name}@{world.old_amd64}"
    items = [
        pod(f"web-1{evil}", new, namespace=evil, deployment=f"web{evil}"),
        pod(f"web-2{evil}", old, namespace=evil, deployment=f"web{evil}", template_hash="5f9"),
    ]
    items[0]["status"]["containerStatuses"][0]["name"] = f"web{evil}"
    items[1]["status"]["containerStatuses"][0]["name"] = f"web{evil}"
    pods = write(tmp_path / "pods.json", pod_list(*items))
    env = cli_env(tmp_path, CP_ADMIN_API_TOKEN=TOKEN, NO_COLOR=None)
    base = running(world, "--image", world.ref("v2"), "--from", pods, "--cp", f"prod={cp.url}")
    base += ["--template", TEMPLATE]
    results = run_cli_many([([*base, "-o", fmt], env) for fmt in ("table", "markdown", "json")])
    for result in results:
        assert_safe(result, code=1, secrets=[TOKEN])
        assert "\x1b" not in result.stdout + result.stderr
    doc = check_contract(results[2])
    assert doc["verdict"] == "mixed"
    # JSON keeps every value exact (escaped on the wire, the same value for a reader)
    assert {r["namespace"] for r in rows(doc)} == {evil}
    assert f"web-2{evil}" in mixed(doc)[0]["detail"]
    assert "\\|" not in results[1].stdout.split("\n")[0]


# --------------------------------------------------------------------------- requests


def test_requests_truth_children_and_each_new_digest_once(world: World, tmp_path: Path) -> None:
    """The truth, its platform children, then one GET per running digest not yet known;
    a --wait round asks only about digests it has not seen."""
    command, _ = _rollout(world, tmp_path / "rollout")
    options = ClientOptions(plain_http=True, timeout=10.0)
    plan = RunningPlan(
        image=parse_reference(world.ref("v2")),
        commands=(Command.parse(command),),
        wait=60,
        interval=0.1,
    )
    sleeps: list[float] = []
    with RegistryClient(options) as client:
        report = run_running(plan, client, sleep=sleeps.append)
        made = client.requests_made
    assert report.verdict is RunningVerdict.AGREE
    assert report.rounds == 2
    assert sleeps == [0.1]
    # GET :v2, its amd64 and arm64 children (an attestation manifest is never run, so
    # it is not read), the old amd64 child: 4
    assert made == 4


# --------------------------------------------------------------------------- real shapes


CORPUS_TAGS = ("multi", "buildah-v2s2", "podman")


@pytest.fixture(scope="module")
def corpus_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if registry_binary() is None:
        pytest.skip("needs the registry binary (apt-get install docker-registry)")
    with (
        RegistryServer.start("plain", tmp_path_factory.mktemp("running-corpus")) as server,
        Pusher(server) as pusher,
    ):
        for tag in CORPUS_TAGS:
            push_layout_tag(pusher, LAYOUT, "corpus/app", tag)
        yield server


PROVENANCE = json.loads((RUNNING / "PROVENANCE.json").read_text())["files"]
RECORDED = [e for e in PROVENANCE if "expected" in e and "relations" in e["expected"]]
# Pairs read together, and what they must give against :multi (none may pass silently).
PAIRS = [
    (("docker-inspect-containers.json", "docker-image-inspect.json"), (), 0),
    (("docker-inspect-containers.json", "docker-image-inspect-no-repodigest.json"), (), 3),
    (("crictl-inspect.json",), ("--platform", "linux/amd64"), 0),
    (("crictl-ps.json",), (), 3),
]


def _localised(server: RegistryServer, name: str, into: Path) -> str:
    text = (RUNNING / name).read_text().replace(CORPUS_HOST, server.host)
    return write(into / Path(name).name, text)


def test_the_recorded_fixtures_on_a_real_registry(
    corpus_registry: RegistryServer, tmp_path: Path
) -> None:
    env = cli_env(tmp_path)
    calls = []
    for entry in RECORDED:
        extra = entry["expect_with"].split()[2:]  # after --image REF
        ref = entry["expect_with"].split()[1].replace(CORPUS_HOST, corpus_registry.host)
        path = _localised(corpus_registry, entry["file"], tmp_path)
        calls.append(
            (["running", "--plain-http", "--image", ref, "--from", path, *extra, "-o", "json"], env)
        )
    for (names, extra, _), _ in zip(PAIRS, range(len(PAIRS)), strict=True):
        ref = f"{corpus_registry.host}/corpus/app:multi"
        froms = [a for n in names for a in ("--from", _localised(corpus_registry, n, tmp_path))]
        calls.append(
            (["running", "--plain-http", "--image", ref, *froms, *extra, "-o", "json"], env)
        )
    results = run_cli_many(calls)
    for entry, result in zip(RECORDED, results, strict=False):
        doc = check_contract(result)
        expected = entry["expected"]
        if "verdict" in expected:
            assert doc["verdict"] == expected["verdict"], str(result)
        if "names_pod" in expected:
            assert expected["names_pod"] in mixed(doc)[0]["detail"]
        for row in rows(doc):
            if row["status"] == "skipped":
                continue
            want = expected["relations"].get("*") or expected["relations"].get(row["pod"] or "")
            want = want or expected["relations"][row["container"]]
            assert row["relation"] == want, (entry["file"], row)
        assert result.code != 0 or doc["verdict"] == "agree"
    for (names, _, code), result in zip(PAIRS, results[len(RECORDED) :], strict=True):
        assert result.code == code, (names, str(result))
        check_contract(result)
