"""Every `-o json` document, as the real CLI prints it, validates against its schema in
docs/schemas/ (the schemas docs/json.md publishes), and every key it holds is documented.

One registry (plain HTTP) is seeded once with exact bytes: a single manifest (`v1`,
`latest`), an older image (`old`), and an OCI index of linux/amd64 + linux/arm64/v8 with a
buildx-style attestation (`multi`). Real CP servers on loopback serve pin rows that cover
every verify status (ok, mismatch of each relation, missing, ambiguous, malformed, error)
and every pins status. Each scenario is one CLI run; all run at once.

Two checks per document:
- it is valid against the published schema (open: unknown keys are allowed, as the
  JSON contract lets keys be added);
- it is valid against the schema *closed* (every object's `additionalProperties` set to
  false): a key the code emits that the schema does not document fails, naming the key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.cli import CliResult, cli_env, run_cli_many
from tests.support.cpserver import CPServer, PinRow, make_pin
from tests.support.images import (
    Image,
    Index,
    Pusher,
    RegistryEndpoint,
    build_image,
    build_platform_index,
    push_image,
    push_index,
    sha256_digest,
)
from tests.support.jsonschemas import SCHEMA_DIR, closed, load_schema, validate
from tests.support.registry import RegistryServer

jsonschema = pytest.importorskip("jsonschema")

PusherFor = Callable[[RegistryEndpoint], Pusher]
TOKEN = f"cp-token-{secrets.token_hex(8)}"
OTHER_TOKEN = f"cp-other-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    current: Image  # :v1 and :latest
    old: Image  # :old, served but not what :v1 points at
    multi: Index  # :multi, amd64 + arm64/v8 + an attestation of amd64
    never: Image  # built, never pushed: a dangling pin

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"

    def ref(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    def pin(self, template: str, digest: str, **kwargs: Any) -> PinRow:
        return make_pin(template, digest, registry_repo=self.name, **kwargs)


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    repo = f"schemas/app-{secrets.token_hex(4)}"
    # built from commit a*40: what verify-agree's --git-sha and pin row say
    current = build_image(
        repo, salt=f"{repo}-current", created="2024-05-06T07:08:09Z", label="a" * 40
    )
    old = build_image(repo, salt=f"{repo}-old")
    never = build_image(repo, salt=f"{repo}-never")
    multi = build_platform_index(
        repo,
        f"{repo}-multi",
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    )
    push_image(pusher, repo, current, "v1")
    pusher.push_manifest(repo, "latest", current.manifest, current.media_type)
    push_image(pusher, repo, old, "old")
    push_index(pusher, repo, multi, tag="multi")
    assert current.digest == sha256_digest(current.manifest)
    assert multi.digest == sha256_digest(multi.body)
    return World(registry_plain, repo, current, old, multi, never)


@dataclass
class Scenario:
    schema: str  # the file name in docs/schemas/ without .json
    args: list[str]
    cps: dict[str, list[PinRow]] = field(default_factory=dict)  # name -> rows
    shapes: dict[str, str] = field(default_factory=dict)  # name -> failure shape
    files: dict[str, str] = field(default_factory=dict)  # file name -> text
    codes: tuple[int, ...] = (0,)


def _scenarios(w: World) -> dict[str, Scenario]:
    cur, old, multi = w.current, w.old, w.multi
    amd64, arm64 = multi.images
    attestation = multi.manifests[-1]
    deploy = f"image: {w.name}@{cur.digest}\nimage: {w.name}@{w.never.digest}\n"
    return {
        "verify-agree": Scenario(
            "verify",
            [
                "verify",
                "--image",
                w.ref("v1"),
                "--image",
                w.ref("latest"),
                "--cp",
                "prod=CP",
                "--template",
                "app",
                "--git-sha",
                "a" * 40,
                "--build-digest",
                cur.digest,
                "--pin-file",
                "FILE:ok.yaml",
            ],
            cps={"prod": [w.pin("app", cur.digest, git_sha="a" * 7)]},
            files={"ok.yaml": f"image: {w.name}@{cur.digest}\n"},
        ),
        "verify-mismatch": Scenario(
            "verify",
            [
                "verify",
                "--image",
                w.ref("v1"),
                "--image",
                w.ref("old"),
                "--cp",
                "stale=CP",
                "--cp",
                "config=CP",
                "--cp",
                "dangling=CP",
                "--cp",
                "dupes=CP",
                "--cp",
                "missing=CP",
                "--cp",
                "broken=CP",
                "--cp",
                "badref=CP",
                "--cp",
                "refused=CP",
                "--cp",
                "othercommit=CP",
                "--cp-token-env",
                "refused=OTHER",
                "--template",
                "app",
                "--build-digest",
                w.never.digest,
                "--pin-file",
                "FILE:deploy.yaml",
            ],
            cps={
                "stale": [w.pin("app", old.digest)],
                "config": [w.pin("app", cur.config_digest)],
                "dangling": [w.pin("app", w.never.digest)],
                "dupes": [w.pin("app", cur.digest), w.pin("app", old.digest)],
                "missing": [w.pin("other", cur.digest)],
                "broken": [PinRow("app", "sha256:" + "ab" * 20, notes=None)],
                "badref": [PinRow("app", cur.digest, image_ref=f"{w.name}@{old.digest}")],
                "refused": [w.pin("app", cur.digest)],
                # the served digest, but a git_sha the image (built from a*40) disowns
                "othercommit": [w.pin("app", cur.digest, git_sha="b" * 7)],
            },
            shapes={"refused": "401"},
            files={"deploy.yaml": deploy},
            codes=(1,),
        ),
        "verify-index": Scenario(
            "verify",
            [
                "verify",
                "--image",
                w.ref("multi"),
                "--cp",
                "child=CP",
                "--cp",
                "att=CP",
                "--template",
                "app",
                "--build-digest",
                amd64.digest,
            ],
            cps={
                "child": [w.pin("app", arm64.digest)],
                "att": [w.pin("app", attestation.digest)],
            },
            codes=(1,),
        ),
        "verify-platform": Scenario(
            "verify",
            [
                "verify",
                "--image",
                w.ref("multi"),
                "--platform",
                "linux/amd64",
                "--cp",
                "idx=CP",
                "--template",
                "app",
            ],
            cps={"idx": [w.pin("app", multi.digest)]},
            codes=(1,),
        ),
        "verify-absent": Scenario(
            "verify",
            ["verify", "--image", w.ref("nope"), "--build-digest", cur.digest],
            codes=(10,),
        ),
        "verify-unavailable": Scenario(
            "verify",
            ["verify", "--image", w.ref("v1"), "--cp", "down=CP", "--template", "app"],
            cps={"down": [w.pin("app", cur.digest)]},
            shapes={"down": "500"},
            codes=(3,),
        ),
        "resolve": Scenario("resolve", ["resolve", w.ref("v1")]),
        "resolve-head": Scenario("resolve", ["resolve", "--head", w.ref("latest")]),
        "resolve-platform": Scenario(
            "resolve", ["resolve", "--platform", "linux/arm64/v8", w.ref("multi")]
        ),
        "inspect-index": Scenario("inspect", ["inspect", w.ref("multi")]),
        "inspect-manifest": Scenario("inspect", ["inspect", w.ref("v1")]),
        "tags": Scenario("tags", ["tags", w.name]),
        "tags-match": Scenario("tags", ["tags", "--match", "v*", w.name]),
        "pins": Scenario(
            "pins",
            ["pins", "--cp", "prod=CP", "--cp", "staging=CP", "--pin-file", "FILE:deploy.yaml"],
            cps={
                "prod": [
                    w.pin("app", cur.digest),
                    w.pin("web", w.never.digest),
                    PinRow("api", "garbage"),
                    w.pin("dup", cur.digest),
                    w.pin("dup", old.digest),
                ],
                "staging": [w.pin("app", old.digest)],
            },
            files={"deploy.yaml": deploy},
            codes=(1,),
        ),
        "pins-agree": Scenario(
            "pins",
            ["pins", "--cp", "prod=CP", "--repo", w.name],
            cps={"prod": [PinRow("app", cur.digest)]},
        ),
        "pins-unavailable": Scenario(
            "pins",
            ["pins", "--cp", "prod=CP"],
            cps={"prod": [w.pin("app", cur.digest)]},
            shapes={"prod": "not-json"},
            codes=(3,),
        ),
        "whatis-index": Scenario("whatis", ["whatis", multi.digest, "--repo", w.name]),
        "whatis-child": Scenario("whatis", ["whatis", arm64.digest, "--repo", w.name]),
        "whatis-attestation": Scenario("whatis", ["whatis", attestation.digest, "--repo", w.name]),
        "whatis-config": Scenario("whatis", ["whatis", cur.config_digest, "--repo", w.name]),
        "whatis-layer": Scenario("whatis", ["whatis", cur.layer_digests[0], "--repo", w.name]),
        "whatis-absent": Scenario(
            "whatis", ["whatis", w.never.digest, "--repo", w.name], codes=(10,)
        ),
        **_running_scenarios(w),
    }


# -- `running` input: the shape `kubectl get pods -o json` prints (core/v1 Pod in a List) --


def _status(name: str, image: str, image_id: str, state: str = "running") -> dict[str, Any]:
    detail: dict[str, Any] = {"startedAt": "2026-11-27T08:00:02Z"}
    if state == "waiting":
        detail = {"reason": "ContainerCreating"}
    elif state == "terminated":
        detail = {"exitCode": 0, "reason": "Completed"}
    status: dict[str, Any] = {
        "image": image,
        "imageID": image_id,
        "lastState": {},
        "name": name,
        "ready": state == "running",
        "restartCount": 0,
        "state": {state: detail},
    }
    if state != "waiting":  # kubelet names a container ID once the container exists
        status["containerID"] = "containerd://" + sha256_digest(name.encode()).split(":")[1]
    return status


def _pod(
    name: str,
    *statuses: Any,
    owner: str | None = "web-6b8f7c9d5",
    init: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A Pod of ReplicaSet `owner` (`<deployment>-<pod-template-hash>`), or a bare pod."""
    meta: dict[str, Any] = {"name": name, "namespace": "prod", "labels": {"app": "web"}}
    if owner is not None:
        meta["labels"]["pod-template-hash"] = owner.rsplit("-", 1)[1]
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "controller": True,
                "blockOwnerDeletion": True,
                "uid": "5c0ffee0-0000-4000-8000-000000000001",
            }
        ]
    spec = {
        "containers": [
            {"name": s["name"], "image": s["image"]} for s in statuses if isinstance(s, dict)
        ]
    }
    status: dict[str, Any] = {"phase": "Running", "containerStatuses": list(statuses)}
    if init:
        spec["initContainers"] = [{"name": s["name"], "image": s["image"]} for s in init]
        status["initContainerStatuses"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _pods(*pods: dict[str, Any]) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": list(pods),
            "metadata": {"resourceVersion": ""},
        }
    )


def _running_scenarios(w: World) -> dict[str, Scenario]:
    """Every verdict, container status, relation and digest kind `running` prints."""
    cur, old, multi = w.current, w.old, w.multi
    amd64, arm64 = multi.images
    at = f"{w.name}@"
    sidecar = "docker.io/envoyproxy/envoy@" + sha256_digest(b"an envoy sidecar manifest")
    local_build = sha256_digest(b"the config of an image built on the node")
    web = _status("web", w.ref("multi"), f"docker-pullable://{at}{amd64.digest}")
    agree = _pods(
        _pod(
            "web-6b8f7c9d5-4xq2m",
            web,
            _status("envoy", sidecar, sidecar),
            init=[_status("migrate", w.ref("multi"), at + amd64.digest, "terminated")],
        ),
        _pod("web-6b8f7c9d5-9kzt7", _status("web", w.ref("multi"), at + multi.digest)),
    )
    mixed = _pods(
        _pod("web-6b8f7c9d5-4xq2m", _status("web", w.ref("v1"), at + cur.digest)),
        _pod("web-6b8f7c9d5-9kzt7", _status("web", w.ref("v1"), at + cur.digest)),
        _pod(
            "web-5f9d4b7c8-tq8vn",
            _status("web", w.ref("old"), at + old.digest),
            owner="web-5f9d4b7c8",
        ),
        _pod(
            "api-8c7b6a5d4-m3n4b",
            _status("api", w.ref("v1"), at + w.never.digest),
            owner="api-8c7b6a5d4",
        ),
        _pod(
            "cfg-6f5e4d3c2-k8j7h",
            _status("cfg", w.ref("v1"), at + cur.config_digest),
            owner="cfg-6f5e4d3c2",
        ),
        _pod("node-build", _status("local", w.ref("v1"), local_build), owner=None),
        _pod("node-cfg", _status("id", w.ref("v1"), cur.config_digest), owner=None),
        _pod("pending", _status("web", w.ref("v1"), "", "waiting"), owner=None),
        _pod("broken", "not a container status", owner=None),
    )
    return {
        "running-agree": Scenario(
            "running",
            [
                "running",
                "--image",
                w.ref("multi"),
                "--from",
                "FILE:pods.json",
                "--cp",
                "prod=CP",
                "--template",
                "app",
                "--pin-file",
                "FILE:deploy.yaml",
            ],
            cps={"prod": [w.pin("app", multi.digest)]},
            files={"pods.json": agree, "deploy.yaml": f"image: {at}{amd64.digest}\n"},
        ),
        "running-platform": Scenario(
            "running",
            [
                "running",
                "--image",
                w.ref("multi"),
                "--platform",
                "linux/amd64",
                "--from",
                "FILE:pods.json",
            ],
            files={
                "pods.json": _pods(
                    _pod("web-6b8f7c9d5-4xq2m", _status("web", w.ref("multi"), at + multi.digest)),
                    _pod("web-6b8f7c9d5-9kzt7", _status("web", w.ref("multi"), at + amd64.digest)),
                )
            },
        ),
        "running-mixed": Scenario(
            "running",
            [
                "running",
                "--image",
                w.ref("v1"),
                "--from",
                "FILE:pods.json",
                "--cp",
                "missing=CP",
                "--cp",
                "down=CP",
                "--template",
                "app",
                "--pin-file",
                "FILE:deploy.yaml",
            ],
            cps={"missing": [w.pin("other", cur.digest)], "down": [w.pin("app", cur.digest)]},
            shapes={"down": "500"},
            files={"pods.json": mixed, "deploy.yaml": f"image: {at}{old.digest}\n"},
            codes=(1,),
        ),
        "running-stale": Scenario(  # an arm64 node, while the truth is the amd64 child
            "running",
            [
                "running",
                "--image",
                w.ref("multi"),
                "--platform",
                "linux/amd64",
                "--from",
                "FILE:pods.json",
            ],
            files={
                "pods.json": _pods(
                    _pod("web-6b8f7c9d5-4xq2m", _status("web", w.ref("multi"), at + arm64.digest))
                )
            },
            codes=(1,),
        ),
        "running-untraceable": Scenario(
            "running",
            ["running", "--image", w.ref("v1"), "--from", "FILE:pods.json"],
            files={
                "pods.json": _pods(
                    _pod("web-6b8f7c9d5-4xq2m", _status("web", w.ref("v1"), cur.config_digest))
                )
            },
            codes=(3,),
        ),
        "running-absent": Scenario(
            "running",
            ["running", "--image", w.ref("nope"), "--from", "FILE:pods.json"],
            files={
                "pods.json": _pods(
                    _pod("web-6b8f7c9d5-4xq2m", _status("web", w.ref("v1"), at + cur.digest))
                )
            },
            codes=(10,),
        ),
    }


@dataclass(frozen=True)
class Ran:
    scenario: Scenario
    result: CliResult

    def doc(self) -> dict[str, Any]:
        return self.result.json()


@pytest.fixture(scope="module")
def runs(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    """Each scenario's CLI run with `-o json`, all at once, with its own CP servers."""
    home = tmp_path_factory.mktemp("schemas-home")
    env = {**cli_env(home), "CP_ADMIN_API_TOKEN": TOKEN, "OTHER": OTHER_TOKEN}
    scenarios = _scenarios(world)
    servers: list[CPServer] = []
    calls: list[tuple[Sequence[str], Mapping[str, str]]] = []
    try:
        for name, sc in scenarios.items():
            urls: dict[str, str] = {}
            for cp, rows in sc.cps.items():
                server = CPServer.start(token=TOKEN, pins=rows)
                servers.append(server)
                if cp in sc.shapes:
                    server.set_shape(sc.shapes[cp])
                urls[cp] = server.url
            args: list[str] = []
            for arg in sc.args:
                if arg.endswith("=CP"):
                    cp = arg.removesuffix("=CP")
                    arg = f"{cp}={urls[cp]}"
                elif arg.startswith("FILE:"):
                    path = home / f"{name}-{arg.removeprefix('FILE:')}"
                    path.write_text(sc.files[arg.removeprefix("FILE:")])
                    arg = str(path)
                args.append(arg)
            calls.append(([*args, "--plain-http", "-o", "json"], env))
        results = run_cli_many(calls)
    finally:
        for server in servers:
            server.stop()
    return {
        name: Ran(sc, result) for (name, sc), result in zip(scenarios.items(), results, strict=True)
    }


def test_real_output_matches_published_schema(runs: dict[str, Ran]) -> None:
    """Every scenario: the expected exit code, `schema` and `exit_code` right, valid
    against the published schema, and no key the schema does not document. (One test
    over all scenarios, so the runs happen once, on one worker.)"""
    failures: list[str] = []
    for name, ran in runs.items():
        if ran.result.code not in ran.scenario.codes:
            failures.append(f"{name}: unexpected exit code\n{ran.result}")
            continue
        doc = ran.doc()
        schema = load_schema(ran.scenario.schema)
        if doc.get("schema") != schema["properties"]["schema"]["const"]:
            failures.append(f"{name}: schema {doc.get('schema')!r}")
        if "exit_code" in doc and doc["exit_code"] != ran.result.code:
            failures.append(f"{name}: exit_code {doc['exit_code']} but exit {ran.result.code}")
        errors = validate(schema, doc)
        if errors:
            failures.append(f"{name}: not valid against {ran.scenario.schema}.json: {errors}")
            continue
        undocumented = validate(closed(schema), doc)
        if undocumented:
            failures.append(
                f"{name}: keys the CLI prints that docs/schemas/{ran.scenario.schema}.json "
                f"does not document (add them there and to docs/json.md): {undocumented}"
            )
    assert not failures, "\n".join(failures)

    # The scenarios reach every schema file, every verdict, verify status and relation,
    # and every whatis kind the schemas list (so the enums are what the CLI prints).
    by_schema = {ran.scenario.schema for ran in runs.values()}
    assert by_schema == {p.stem for p in SCHEMA_DIR.glob("*.json")}
    verdicts: set[str] = set()
    statuses: set[str] = set()
    relations: set[str | None] = set()
    for ran in runs.values():
        if ran.scenario.schema == "verify":
            doc = ran.doc()
            verdicts.add(doc["verdict"])
            statuses.update(source["status"] for source in doc["sources"])
            relations.update(source["relation"] for source in doc["sources"])
    verify = load_schema("verify")
    source = verify["$defs"]["source"]["properties"]
    assert verdicts == set(verify["properties"]["verdict"]["enum"])
    assert statuses == set(source["status"]["enum"])
    assert relations == set(source["relation"]["enum"])
    kinds = {runs[n].doc()["kind"] for n in runs if n.startswith("whatis-")}
    assert kinds == set(load_schema("whatis")["properties"]["kind"]["enum"])
    running = [runs[n].doc() for n in runs if n.startswith("running-")]
    row = load_schema("running")["$defs"]["container"]["properties"]
    assert {d["verdict"] for d in running} == set(
        load_schema("running")["properties"]["verdict"]["enum"]
    )
    for key in ("status", "relation", "digest_kind"):
        seen = {r[key] for d in running for r in d["containers"]}
        # `attestation` is in the relation enum, but the judge does not emit it yet
        assert seen == set(row[key]["enum"]) - {"attestation"}, key

    # One strict JSON document on stdout: no NaN/Infinity.
    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {token}")

    for name, ran in runs.items():
        assert isinstance(json.loads(ran.result.stdout, parse_constant=refuse), dict), name
