"""`truedigest pins` against a real registry and real CP servers (DESIGN §2 pins, §3, §4, §5).

The registry is seeded once per module with images built as exact bytes; every
expected digest is sha256 of bytes pushed here (or, for the dangling pin, of bytes
deliberately never pushed). Each scenario gets its own `CPServer`s holding the pin
rows it needs; all scenarios run `python -m truedigest pins` at once (subprocesses,
stdout and stderr pipes), and each test reads its scenario's result.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import CliResult, cli_env, run_cli_many
from tests.support.cpserver import CPServer, PinRow, make_pin
from tests.support.images import (
    Image,
    Pusher,
    RegistryEndpoint,
    build_image,
    push_image,
    sha256_digest,
)
from tests.support.registry import RegistryServer
from truedigest.core.pin_audit import PinPlan
from truedigest.cp.client import CPTarget
from truedigest.engine.pins_run import audit_pins
from truedigest.oci.auth import CredentialStore
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions

PusherFor = Callable[[RegistryEndpoint], Pusher]

PIN_KEYS = frozenset(
    {"cp", "template_name", "region", "image_digest", "image_ref", "status", "relation", "detail"}
)
DOC_KEYS = frozenset({"schema", "verdict", "exit_code", "pins", "disagreements"})


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    server: RegistryServer
    repo: str
    old: Image  # tagged v1: still served, latest moved past it
    current: Image  # tagged latest and v2
    other_repo: str
    other: Image  # in other_repo, tagged latest
    never: Image  # built, never pushed: a dangling pin names it

    @property
    def name(self) -> str:
        return f"{self.server.host}/{self.repo}"

    @property
    def other_name(self) -> str:
        return f"{self.server.host}/{self.other_repo}"

    def pin(self, template: str, image: Image | str, *, repo: str | None = None) -> PinRow:
        digest = image if isinstance(image, str) else image.digest
        return make_pin(template, digest, registry_repo=repo or self.name)


@pytest.fixture(scope="module")
def world(registry_plain: RegistryServer, pusher_for: PusherFor) -> World:
    pusher = pusher_for(registry_plain)
    repo = f"pins/app-{secrets.token_hex(4)}"
    other_repo = f"pins/other-{secrets.token_hex(4)}"
    old = build_image(repo, salt=f"{repo}-old")
    current = build_image(repo, salt=f"{repo}-current")
    other = build_image(other_repo, salt=f"{other_repo}-other")
    never = build_image(repo, salt=f"{repo}-never")
    push_image(pusher, repo, old, "v1")
    push_image(pusher, repo, current, "latest")
    pusher.push_manifest(repo, "v2", current.manifest, current.media_type)
    push_image(pusher, other_repo, other, "latest")
    # Digests are sha256 of the bytes pushed: checked once here, used everywhere.
    assert current.digest == sha256_digest(current.manifest)
    return World(registry_plain, repo, old, current, other_repo, other, never)


# --------------------------------------------------------------------------- scenarios


PROD_TOKEN = f"prod-token-{secrets.token_hex(8)}"
STAGING_TOKEN = f"staging-token-{secrets.token_hex(8)}"
WRONG_TOKEN = f"wrong-token-{secrets.token_hex(8)}"


@dataclass
class Scenario:
    prod: list[PinRow] | None = None
    staging: list[PinRow] | None = None
    args: list[str] = field(default_factory=list)
    prod_token: str = PROD_TOKEN  # what the env var holds (the CP accepts PROD_TOKEN)
    prod_shape: str | None = None  # a failure shape the prod CP answers with
    pin_files: dict[str, str] = field(default_factory=dict)
    output: str = "json"


def _scenarios(w: World) -> dict[str, Scenario]:
    yaml = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: {w.name}@{w.never.digest}
      containers:
        - name: app
          image: "{w.name}:v2@{w.current.digest}"
        - name: sidecar
          image: {w.other_name}@{w.other.digest}
"""
    return {
        "good": Scenario(
            prod=[w.pin("api", w.current), w.pin("worker", w.current)],
            staging=[w.pin("api", w.current)],
        ),
        "good-table": Scenario(
            prod=[w.pin("api", w.current)], staging=[w.pin("api", w.current)], output="table"
        ),
        "dangling": Scenario(
            prod=[w.pin("api", w.never), w.pin("web", w.current.config_digest)],
        ),
        "stale": Scenario(prod=[w.pin("api", w.old)]),
        "disagree": Scenario(prod=[w.pin("api", w.current)], staging=[w.pin("api", w.old)]),
        "disagree-table": Scenario(
            prod=[w.pin("api", w.current)], staging=[w.pin("api", w.old)], output="table"
        ),
        "malformed": Scenario(
            prod=[
                PinRow("api", "sha256:" + "ab" * 20),
                PinRow("worker", w.current.digest.upper(), image_ref=None),
                w.pin("web", w.current),
            ]
        ),
        "dupes": Scenario(prod=[w.pin("api", w.current), w.pin("api", w.old)]),
        "ref-mismatch": Scenario(
            prod=[
                PinRow("api", w.current.digest, image_ref=f"{w.name}@{w.old.digest}"),
                PinRow("web", w.current.digest, image_ref=f"{w.name}:latest"),
            ]
        ),
        "other-repo": Scenario(
            prod=[w.pin("api", w.other, repo=w.other_name)], args=["--repo", w.name]
        ),
        "unauthorized": Scenario(  # the CP answers 401 (a revoked or expired token)
            prod=[w.pin("api", w.current)],
            staging=[w.pin("api", w.current)],
            prod_shape="401",
        ),
        "unauthorized-table": Scenario(
            prod=[w.pin("api", w.current)], prod_token=WRONG_TOKEN, output="table"
        ),
        "pinfile": Scenario(pin_files={"deploy.yaml": yaml}),
        "pinfile-repo": Scenario(pin_files={"deploy.yaml": yaml}, args=["--repo", w.name]),
        "template": Scenario(
            prod=[w.pin("api", w.current), w.pin("worker", w.never)],
            staging=[w.pin("api", w.current), PinRow("worker", "garbage")],
            args=["--template", "api"],
        ),
        "template-missing": Scenario(
            prod=[w.pin("api", w.current)],
            staging=[w.pin("worker", w.current)],
            args=["--template", "api"],
        ),
        "no-ref": Scenario(prod=[PinRow("api", w.current.digest)]),
        "no-ref-repo": Scenario(prod=[PinRow("api", w.current.digest)], args=["--repo", w.name]),
        "track-v1": Scenario(prod=[w.pin("api", w.old)], args=["--track", "v1"]),
    }


@dataclass(frozen=True)
class Ran:
    result: CliResult
    doc: dict[str, Any] | None

    def pins(self, **where: object) -> list[dict[str, Any]]:
        assert self.doc is not None, str(self.result)
        return [p for p in self.doc["pins"] if all(p.get(k) == v for k, v in where.items())]

    def one(self, **where: object) -> dict[str, Any]:
        found = self.pins(**where)
        assert len(found) == 1, f"{where}: {found}\n{self.result}"
        return found[0]


@pytest.fixture(scope="module")
def runs(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    """Every scenario's `truedigest pins` run, all at once."""
    home = tmp_path_factory.mktemp("pins-home")
    base_env = cli_env(home, NO_COLOR=None)
    scenarios = _scenarios(world)
    servers: list[CPServer] = []
    calls: list[tuple[Sequence[str], Mapping[str, str]]] = []
    try:
        for name, sc in scenarios.items():
            args = ["pins", "--plain-http", "-o", sc.output, *sc.args]
            if sc.prod is not None:
                prod = CPServer.start(token=PROD_TOKEN, pins=sc.prod)
                servers.append(prod)
                if sc.prod_shape is not None:
                    prod.set_shape(sc.prod_shape)
                args += ["--cp", f"prod={prod.url}"]
            if sc.staging is not None:
                staging = CPServer.start(token=STAGING_TOKEN, pins=sc.staging)
                servers.append(staging)
                args += ["--cp", f"staging={staging.url}", "--cp-token-env", "staging=STG_TOK"]
            for filename, text in sc.pin_files.items():
                path = home / f"{name}-{filename}"
                path.write_text(text)
                args += ["--pin-file", str(path)]
            env = {**base_env, "CP_ADMIN_API_TOKEN": sc.prod_token, "STG_TOK": STAGING_TOKEN}
            calls.append((args, env))
        results = run_cli_many(calls)
    finally:
        for server in servers:
            server.stop()
    out: dict[str, Ran] = {}
    for (name, sc), result in zip(scenarios.items(), results, strict=True):
        assert "Traceback" not in result.stderr, str(result)
        assert "\x1b" not in result.stdout + result.stderr, str(result)
        doc = json.loads(result.stdout) if sc.output == "json" else None
        if doc is not None:
            assert set(doc) >= DOC_KEYS, str(result)
            assert doc["schema"] == "truedigest.pins/v1"
            assert doc["exit_code"] == result.code, str(result)
            for pin in doc["pins"]:
                assert set(pin) >= PIN_KEYS, str(result)
        out[name] = Ran(result, doc)
    return out


# =========================================================================== tests


def test_all_good_exits_0(runs: dict[str, Ran], world: World) -> None:
    ran = runs["good"]
    assert ran.result.code == 0, str(ran.result)
    assert ran.doc is not None
    assert ran.doc["verdict"] == "agree"
    assert ran.doc["disagreements"] == []
    assert len(ran.doc["pins"]) == 3
    for pin in ran.doc["pins"]:
        assert pin["status"] == "ok", pin
        assert pin["relation"] == "identical", pin
        assert pin["image_digest"] == world.current.digest
        assert pin["exists"] is True
        assert pin["tracked"] == world.current.digest
    assert {(p["cp"], p["template_name"]) for p in ran.doc["pins"]} == {
        ("prod", "api"),
        ("prod", "worker"),
        ("staging", "api"),
    }
    assert "verdict: agree (exit 0)" in ran.result.stderr


def test_table_is_plain_when_piped(runs: dict[str, Ran], world: World) -> None:
    ran = runs["good-table"]
    assert ran.result.code == 0, str(ran.result)
    # One tab-separated line per pin, no header: SOURCE TEMPLATE REGION DIGEST STATUS
    # RELATION (no whitespace inside) and DETAIL last; full digests in pipes.
    lines = ran.result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        fields = line.split("\t")
        assert fields[:6] == line.split()[:6]
        assert fields[3:6] == [world.current.digest, "ok", "identical"]
    assert sorted(line.split()[0] for line in lines) == ["cp:prod", "cp:staging"]


def test_dangling_pin_exits_1_not_in_registry(runs: dict[str, Ran], world: World) -> None:
    ran = runs["dangling"]
    assert ran.result.code == 1, str(ran.result)
    api = ran.one(template_name="api")
    assert api["status"] == "mismatch"
    assert api["relation"] == "not-in-registry"
    assert api["exists"] is False
    assert "dangling" in api["detail"]
    # A config digest pinned instead of the manifest: named as such, not just "absent".
    web = ran.one(template_name="web")
    assert web["status"] == "mismatch"
    assert web["relation"] == "config-digest"
    assert "docker image inspect" in web["detail"]


def test_stale_pin_behind_latest_is_ok_with_a_detail(runs: dict[str, Ran], world: World) -> None:
    ran = runs["stale"]
    assert ran.result.code == 0, str(ran.result)
    api = ran.one(template_name="api")
    assert api["status"] == "ok"
    assert api["relation"] == "other-image"
    assert api["exists"] is True
    assert api["tracked"] == world.current.digest
    assert "latest has moved past this pin" in api["detail"]
    assert world.current.digest in api["detail"]


def test_track_names_the_tag_to_compare_with(runs: dict[str, Ran], world: World) -> None:
    ran = runs["track-v1"]
    assert ran.result.code == 0, str(ran.result)
    api = ran.one(template_name="api")
    assert api["relation"] == "identical"
    assert api["tracked"] == world.old.digest


def test_cp_disagreement_exits_1(runs: dict[str, Ran], world: World) -> None:
    ran = runs["disagree"]
    assert ran.result.code == 1, str(ran.result)
    assert ran.doc is not None
    assert ran.doc["verdict"] == "mismatch"
    assert ran.doc["disagreements"] == [
        {
            "template_name": "api",
            "region": "global",
            "digests": {"prod": world.current.digest, "staging": world.old.digest},
        }
    ]
    assert ran.one(cp="staging")["relation"] == "other-image"
    assert ran.one(cp="prod")["relation"] == "identical"
    text = runs["disagree-table"].result
    assert text.code == 1, str(text)
    disagreement = text.stdout.splitlines()[-1].split("\t")
    assert disagreement[:6] == ["disagreement", "api", "global", "-", "mismatch", "-"]
    assert disagreement[6] == f"prod={world.current.digest} staging={world.old.digest}"


def test_malformed_digest_rows_are_mismatches(runs: dict[str, Ran], world: World) -> None:
    ran = runs["malformed"]
    assert ran.result.code == 1, str(ran.result)
    for template in ("api", "worker"):
        pin = ran.one(template_name=template)
        assert pin["status"] == "mismatch", pin
        assert pin["relation"] is None
        assert "not a well-formed digest" in pin["detail"]
    assert ran.one(template_name="web")["status"] == "ok"


def test_duplicate_rows_are_ambiguous(runs: dict[str, Ran], world: World) -> None:
    ran = runs["dupes"]
    assert ran.result.code == 1, str(ran.result)
    assert ran.doc is not None
    rows = ran.pins(cp="prod", template_name="api")
    assert len(rows) == 2
    assert {r["status"] for r in rows} == {"ambiguous"}
    assert {r["image_digest"] for r in rows} == {world.current.digest, world.old.digest}
    assert all("2 rows for template 'api'" in r["detail"] for r in rows)
    assert ran.doc["disagreements"] == []  # one CP's duplicates are not a CP disagreement


def test_image_ref_problems_are_mismatches(runs: dict[str, Ran], world: World) -> None:
    ran = runs["ref-mismatch"]
    assert ran.result.code == 1, str(ran.result)
    api = ran.one(template_name="api")
    assert api["status"] == "mismatch"
    assert f"image_ref names {world.old.digest}" in api["detail"]
    web = ran.one(template_name="web")
    assert web["status"] == "mismatch"
    assert f"does not end in @{world.current.digest}" in web["detail"]


def test_image_ref_naming_another_repository(runs: dict[str, Ran], world: World) -> None:
    ran = runs["other-repo"]
    assert ran.result.code == 1, str(ran.result)
    api = ran.one(template_name="api")
    assert api["status"] == "mismatch"
    assert f"image_ref names repository {world.other_name}, not {world.name}" in api["detail"]
    assert api["repository"] == world.other_name  # looked up where provisions would pull
    assert api["exists"] is True


def test_cp_401_exits_3_and_never_prints_the_token(runs: dict[str, Ran], world: World) -> None:
    ran = runs["unauthorized"]
    assert ran.result.code == 3, str(ran.result)
    assert ran.doc is not None
    assert ran.doc["verdict"] == "unavailable"
    prod = ran.one(cp="prod")
    assert prod["status"] == "error"
    assert prod["template_name"] is None
    assert "401" in prod["detail"]
    assert "CP_ADMIN_API_TOKEN" in prod["detail"]
    assert ran.one(cp="staging")["status"] == "ok"  # the other CP is still audited
    table = runs["unauthorized-table"].result  # a wrong token: 403
    assert table.code == 3, str(table)
    assert "HTTP 403" in table.stdout
    assert "CP_ADMIN_API_TOKEN" in table.stdout
    for result in (ran.result, table):
        for secret in (WRONG_TOKEN, PROD_TOKEN, STAGING_TOKEN):
            assert secret not in result.stdout
            assert secret not in result.stderr


def test_pin_file_kubernetes_yaml(runs: dict[str, Ran], world: World) -> None:
    ran = runs["pinfile"]
    assert ran.result.code == 1, str(ran.result)  # the init container's pin dangles
    assert ran.doc is not None
    by_digest = {p["image_digest"]: p for p in ran.doc["pins"]}
    assert set(by_digest) == {world.never.digest, world.current.digest, world.other.digest}
    assert by_digest[world.never.digest]["relation"] == "not-in-registry"
    assert by_digest[world.never.digest]["line"] == 10
    assert by_digest[world.current.digest]["relation"] == "identical"
    assert by_digest[world.current.digest]["cp"] is None
    assert by_digest[world.current.digest]["source"].endswith("deploy.yaml:13")
    assert by_digest[world.other.digest]["repository"] == world.other_name
    assert by_digest[world.other.digest]["relation"] == "identical"
    narrowed = runs["pinfile-repo"]
    assert narrowed.result.code == 1, str(narrowed.result)
    assert narrowed.doc is not None
    assert {p["image_digest"] for p in narrowed.doc["pins"]} == {
        world.never.digest,
        world.current.digest,
    }


def test_template_narrows_rows(runs: dict[str, Ran], world: World) -> None:
    ran = runs["template"]
    assert ran.result.code == 0, str(ran.result)
    assert ran.doc is not None
    assert {(p["cp"], p["template_name"]) for p in ran.doc["pins"]} == {
        ("prod", "api"),
        ("staging", "api"),
    }
    missing = runs["template-missing"]
    assert missing.result.code == 1, str(missing.result)
    row = missing.one(cp="staging")
    assert row["status"] == "missing"
    assert "no pin row for template 'api'" in row["detail"]


def test_row_without_image_ref_needs_repo(runs: dict[str, Ran], world: World) -> None:
    ran = runs["no-ref"]
    assert ran.result.code == 3, str(ran.result)
    api = ran.one(template_name="api")
    assert api["status"] == "error"
    assert "no image_ref and no --repo" in api["detail"]
    with_repo = runs["no-ref-repo"]
    assert with_repo.result.code == 0, str(with_repo.result)
    assert with_repo.one(template_name="api")["relation"] == "identical"


# --------------------------------------------------------------------------- library


def test_requests_one_head_per_distinct_digest_and_one_get_per_repository(
    world: World, tmp_path: Path
) -> None:
    rows = [world.pin(t, world.current) for t in ("api", "worker", "web")] + [
        world.pin("batch", world.old)
    ]
    with (
        CPServer.start(token=PROD_TOKEN, pins=rows) as prod,
        CPServer.start(token=STAGING_TOKEN, pins=rows[:1]) as staging,
    ):
        targets = [
            CPTarget("prod", prod.url, "PROD_TOK"),
            CPTarget("staging", staging.url, "STG_TOK"),
        ]
        options = ClientOptions(plain_http=True)
        with RegistryClient(options, credentials=CredentialStore(env={})) as client:
            audit = audit_pins(
                PinPlan(cps=targets),
                client,
                env={"PROD_TOK": PROD_TOKEN, "STG_TOK": STAGING_TOKEN},
            )
            by_host = dict(client.transport.stats.by_host)
    assert audit.exit_code == 0, audit
    assert len(audit.pins) == 5
    # HEAD current, HEAD old, GET latest; for each served pin its manifest and config
    # (the revision label); then one GET of old to tell how it relates.
    assert by_host[world.server.host] == 8, by_host
    assert by_host[f"127.0.0.1:{prod.port}"] == 1
    assert by_host[f"127.0.0.1:{staging.port}"] == 1


def test_unreadable_pin_file_is_a_usage_error(world: World, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from truedigest.cli.main import cli

    result = CliRunner().invoke(
        cli, ["pins", "--plain-http", "--pin-file", str(tmp_path / "absent.yaml")]
    )
    assert result.exit_code == 2, result.output
    assert "no such file" in result.stderr
    none = CliRunner().invoke(cli, ["pins", "--repo", world.name])
    assert none.exit_code == 2
    assert "--cp" in none.stderr
    bad_track = CliRunner().invoke(
        cli, ["pins", "--pin-file", str(tmp_path / "x"), "--track", "no:tag"]
    )
    assert bad_track.exit_code == 2
