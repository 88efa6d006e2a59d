"""The benchmark behind `scripts/bench`: truedigest's performance targets, measured.

Everything runs on loopback against Debian's real `docker-registry`, with
`scripts.latency_proxy` in front of it to add a fixed round trip (`--rtt-ms`),
and the test CP server (`tests.support.cpserver`) for control planes.

Sections (each timed with `time.perf_counter`, the median of a few runs where a
run is cheap):

1. resolve: registry requests per resolve, in-process (`RegistryClient.requests_made`,
   per host): plain registry cold and warm, token registry cold (401 → token → GET)
   and warm (second resolve on the same client: the token is cached).
2. tags: N tags (20 distinct images, each under N/20 tags) in one repository;
   `truedigest tags --plain-http REPO -o json` as a subprocess (what users run)
   straight to the registry (0 ms) and through the proxy (`--rtt-ms`), against the
   latency floor ((⌈N/8⌉ + 2) round trips: 8 in flight per host, plus the tag
   listing and one for connecting), and the same work done by a sequential
   `skopeo inspect --raw` loop, as such scripts are written. If `truedigest tags`
   does not exist yet, its rows say "unavailable" and the skopeo rows still run.
3. verify: one image (registry behind the proxy) and two CPs that each answer
   after 0.3 s: wall time of `run_verify` against the slowest source alone and
   the sum of all sources, and the requests each source got.
4. start-up: `python -m truedigest --help` / `--version` against `python -c pass`,
   and whether `-X importtime` shows httpx or rich being imported.

Prints a text table (stderr when the JSON goes to stdout) and, with `--json FILE`
(`-` for stdout), a JSON document. Every target line says PASS or MISS against
the performance targets (`evaluate_targets`); the exit status is 0 whatever the
numbers (this measures, it does not gate), 1 only when a section crashed (its
error is in the output).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

from scripts.latency_proxy import LatencyProxy
from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Image, Pusher, build_image, push_image
from tests.support.oracle import skopeo_binary, skopeo_raw
from tests.support.registry import RegistryServer, registry_binary

ROOT = Path(__file__).resolve().parent.parent
TRUEDIGEST = [sys.executable, "-m", "truedigest"]
SCHEMA = "truedigest.bench/v1"
IN_FLIGHT = 8  # bounded concurrency per host, default 8 (`tags --concurrency`)
CP_DELAY = 0.3
DISTINCT_IMAGES = 20
SUBPROCESS_TIMEOUT = 120.0

T = TypeVar("T")
Json = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def log(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def child_env() -> dict[str, str]:
    """The environment for truedigest subprocesses: no colour, no CI annotations."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUEDIGEST_")}
    env["NO_COLOR"] = "1"
    for name in ("GITHUB_ACTIONS", "GITEA_ACTIONS", "FORCE_COLOR"):
        env.pop(name, None)
    return env


def run_cmd(args: Sequence[str], *, env: dict[str, str] | None = None) -> tuple[float, Any]:
    """Run a command (stdout and stderr captured); returns (seconds, CompletedProcess)."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        env=env if env is not None else child_env(),
        cwd=ROOT,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    return time.perf_counter() - start, proc


def tool_version(args: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else None


@dataclass(frozen=True)
class Endpoint:
    """A registry address for skopeo (`tests.support.oracle.OracleEndpoint`)."""

    host: str
    url: str
    username: str | None = None
    password: str | None = None
    ca_dir: Path | None = None


def behind(proxy: LatencyProxy) -> Endpoint:
    return Endpoint(host=proxy.host, url=f"http://{proxy.host}")


def proxy_for(registry: RegistryServer, rtt_ms: float) -> LatencyProxy:
    host, _, port = registry.host.rpartition(":")
    return LatencyProxy(host, int(port), delay=rtt_ms / 2000)


def http_rtt(host: str, samples: int = 5) -> float:
    """Median time of `GET /v2/` on one kept-alive connection (the link as measured)."""
    import http.client

    name, _, port = host.rpartition(":")
    conn = http.client.HTTPConnection(name, int(port), timeout=10)
    try:
        times: list[float] = []
        for _ in range(samples + 1):  # the first pays for connecting
            start = time.perf_counter()
            conn.request("GET", "/v2/")
            conn.getresponse().read()
            times.append(time.perf_counter() - start)
        return median(times[1:])
    finally:
        conn.close()


# --------------------------------------------------------------------------- 1. resolve


def bench_resolve(work: Path, rtt_ms: float, reps: int) -> Json:
    from truedigest.oci.auth import CredentialStore
    from truedigest.oci.reference import parse_reference
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions

    repo, tag = "bench/resolve", "v1"
    image = build_image(repo, salt="bench-resolve")
    out: Json = {"rtt_ms": rtt_ms, "repetitions": reps}
    for variant in ("plain", "token"):
        with (
            RegistryServer.start(variant, work / f"resolve-{variant}") as registry,
            proxy_for(registry, rtt_ms) as proxy,
        ):
            with Pusher(registry) as pusher:
                digest = push_image(pusher, repo, image, tag=tag)
            ref = parse_reference(f"{proxy.host}/{repo}:{tag}")
            tokens = registry.token_server
            cold_s: list[float] = []
            warm_s: list[float] = []
            cold_n: list[int] = []
            warm_n: list[int] = []
            cold_by_host: dict[str, int] = {}
            token_fetches: list[int] = []
            connections: list[int] = []
            for _ in range(reps):
                proxy.reset()
                before_tokens = tokens.token_requests if tokens is not None else 0
                options = ClientOptions(
                    plain_http=registry.scheme == "http", ca_file=registry.ca_file
                )
                with RegistryClient(options, credentials=CredentialStore(env={})) as client:
                    seconds, first = timed(partial(client.resolve, ref))
                    if str(first.digest) != digest:
                        raise RuntimeError(f"resolve gave {first.digest}, pushed {digest}")
                    cold_s.append(seconds)
                    cold_n.append(client.requests_made)
                    cold_by_host = {
                        ("registry" if h == proxy.host else "token"): n
                        for h, n in client.transport.stats.by_host.items()
                    }
                    seconds, _ = timed(partial(client.resolve, ref))
                    warm_s.append(seconds)
                    warm_n.append(client.requests_made - cold_n[-1])
                connections.append(proxy.connections)
                if tokens is not None:
                    token_fetches.append(tokens.token_requests - before_tokens)
            out[variant] = {
                "cold_requests": max(cold_n),
                "warm_requests": max(warm_n),
                "cold_requests_by_host": cold_by_host,
                "token_server_requests": max(token_fetches) if token_fetches else 0,
                "registry_connections": max(connections),
                "cold_ms": ms(median(cold_s)),
                "warm_ms": ms(median(warm_s)),
            }
    out["token"]["note"] = (
        "the token server is reached directly (the registry's realm names its own port), "
        "so cold wall time includes the proxy's round trip only for the registry requests"
    )
    return out


# --------------------------------------------------------------------------- 2. tags


def truedigest_tags_available() -> tuple[bool, str]:
    try:
        _, proc = run_cmd([*TRUEDIGEST, "tags", "--help"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode == 0:
        return True, ""
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return False, lines[0] if lines else f"exit {proc.returncode}"


def push_tags(registry: RegistryServer, repo: str, n: int) -> tuple[list[str], dict[str, str]]:
    """N tags over min(20, N) distinct images; returns (tags, tag → digest)."""
    distinct = max(1, min(DISTINCT_IMAGES, n))
    images: list[Image] = [build_image(repo, salt=f"bench-tags-{i}") for i in range(distinct)]
    tags = [f"r{i:04d}" for i in range(n)]
    expected: dict[str, str] = {}
    with Pusher(registry) as pusher, ThreadPoolExecutor(max_workers=8) as pool:
        blobs = {blob for image in images for blob in image.blobs}
        list(pool.map(lambda blob: pusher.push_blob(repo, blob), blobs))

        def push(i: int) -> None:
            image = images[i % distinct]
            expected[tags[i]] = pusher.push_manifest(
                repo, tags[i], image.manifest, image.media_type
            )

        list(pool.map(push, range(n)))
    return tags, {tag: expected[tag] for tag in tags}


def run_tags_cli(host: str, repo: str, expected: dict[str, str], reps: int) -> Json:
    """`truedigest tags --plain-http HOST/REPO -o json`, `reps` times; checks the output."""
    args = [*TRUEDIGEST, "tags", "--plain-http", f"{host}/{repo}", "-o", "json"]
    times: list[float] = []
    result: Json = {"command": "truedigest tags --plain-http REPO -o json"}
    for _ in range(reps):
        seconds, proc = run_cmd(args)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {**result, "status": "error", "exit_code": proc.returncode, "stderr": tail}
        times.append(seconds)
        out: str = proc.stdout
        result["tags_found"] = sum(f'"{tag}"' in out for tag in expected)
        result["digests_found"] = sum(d in out for d in set(expected.values()))
        try:
            json.loads(out)
            result["json_ok"] = True
        except ValueError:
            result["json_ok"] = False
    result.update(
        status="ok",
        seconds=round(median(times), 3),
        runs=[round(t, 3) for t in times],
    )
    return result


def run_tags_inprocess(host: str, repo: str, expected: dict[str, str], reps: int) -> Json:
    """The library behind `truedigest tags` (`tags_run.scan_tags`), without process start-up."""
    try:
        from truedigest.engine.tags_run import scan_tags
    except ImportError as exc:
        return {"status": "unavailable", "reason": str(exc)}
    from truedigest.oci.auth import CredentialStore
    from truedigest.oci.reference import parse_repository
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions

    ref = parse_repository(f"{host}/{repo}")
    times: list[float] = []
    requests = 0
    found = 0
    for _ in range(reps):
        options = ClientOptions(plain_http=True)
        with RegistryClient(options, credentials=CredentialStore(env={})) as client:
            seconds, scan = timed(partial(scan_tags, client, ref))
            requests = client.requests_made
        times.append(seconds)
        found = sum(len(g.tags) for g in scan.groups)
        if found != len(expected) or scan.errors:
            return {"status": "error", "tags_found": found, "errors": len(scan.errors)}
    return {
        "command": "tags_run.scan_tags(client, repo) in-process",
        "status": "ok",
        "seconds": round(median(times), 3),
        "requests": requests,
        "tags_found": found,
    }


def run_skopeo_loop(
    endpoint: Endpoint | RegistryServer, repo: str, expected: dict[str, str]
) -> Json:
    """`skopeo inspect --raw` once per tag, one after the other; digests checked."""
    wrong = 0
    start = time.perf_counter()
    for tag, digest in expected.items():
        raw = skopeo_raw(endpoint, repo, tag)
        wrong += "sha256:" + hashlib.sha256(raw).hexdigest() != digest
    seconds = time.perf_counter() - start
    return {
        "command": "skopeo inspect --raw --tls-verify=false docker://HOST/REPO:TAG (per tag)",
        "status": "ok",
        "seconds": round(seconds, 3),
        "per_call_ms": ms(seconds / max(1, len(expected))),
        "wrong_digests": wrong,
    }


def latency_floor(n: int, rtt_ms: float) -> tuple[int, float]:
    """(round trips, seconds): ⌈N/8⌉ manifest rounds + the tag listing + connecting."""
    trips = math.ceil(n / IN_FLIGHT) + 2
    return trips, trips * rtt_ms / 1000


def bench_tags(work: Path, n: int, rtt_ms: float, reps: int) -> Json:
    repo = "bench/tags"
    out: Json = {"tags": n, "distinct_digests": min(DISTINCT_IMAGES, n), "rtt_ms": rtt_ms}
    with RegistryServer.start("plain", work / "tags") as registry:
        seconds, (_, expected) = timed(lambda: push_tags(registry, repo, n))
        out["push_seconds"] = round(seconds, 3)
        available, why = truedigest_tags_available()
        out["truedigest_available"] = available
        if not available:
            out["unavailable_reason"] = why
        trips, floor = latency_floor(n, rtt_ms)
        out["floor"] = {"round_trips": trips, "seconds": round(floor, 3)}
        with proxy_for(registry, rtt_ms) as proxy:
            out["measured_http_rtt_ms"] = ms(http_rtt(proxy.host))
            out["measured_http_0ms_ms"] = ms(http_rtt(registry.host))
            if available:  # untimed: warm the page cache and the bytecode cache
                run_tags_cli(registry.host, repo, expected, 1)
            for label, host in (("0ms", registry.host), ("rtt", proxy.host)):
                if available:
                    log(f"tags: truedigest tags, {n} tags at {label}")
                    proxy.reset()
                    cli = run_tags_cli(host, repo, expected, reps)
                    if host == proxy.host:
                        cli["connections"] = proxy.connections // max(1, len(cli.get("runs", [])))
                    out[f"truedigest_{label}"] = cli
                    out[f"inprocess_{label}"] = run_tags_inprocess(host, repo, expected, reps)
                else:
                    out[f"truedigest_{label}"] = {"status": "unavailable", "reason": why}
                log(f"tags: skopeo inspect --raw loop, {n} tags at {label}")
                proxy.reset()
                endpoint: Endpoint | RegistryServer = registry if label == "0ms" else behind(proxy)
                loop = run_skopeo_loop(endpoint, repo, expected)
                if label == "rtt":
                    loop["connections_per_call"] = round(proxy.connections / max(1, n), 2)
                    loop["note"] = (
                        "with --tls-verify=false skopeo tries https first, then http, on new "
                        "connections; against a TLS registry it would pay a TLS handshake instead"
                    )
                out[f"skopeo_{label}"] = loop
        if available:
            args = [
                "-m",
                "truedigest",
                "tags",
                "--plain-http",
                f"{registry.host}/{repo}",
                "-o",
                "json",
            ]
            out["imports"] = import_profile(args)
    for label in ("0ms", "rtt"):
        cli, loop = out[f"truedigest_{label}"], out[f"skopeo_{label}"]
        if cli.get("status") == "ok" and cli["seconds"] > 0:
            out[f"speedup_{label}"] = round(loop["seconds"] / cli["seconds"], 2)
        else:
            out[f"speedup_{label}"] = None
    rtt_cli = out["truedigest_rtt"]
    if rtt_cli.get("status") == "ok" and floor > 0:
        out["ratio_to_floor"] = round(rtt_cli["seconds"] / floor, 2)
        added = rtt_cli["seconds"] - out["truedigest_0ms"]["seconds"]
        out["latency_added_seconds"] = round(added, 3)
        out["latency_added_to_floor"] = round(added / floor, 2)
    else:
        out["ratio_to_floor"] = None
    return out


# --------------------------------------------------------------------------- 3. verify


def bench_verify(work: Path, rtt_ms: float, reps: int, cp_delay: float = CP_DELAY) -> Json:
    from truedigest.core.plan import VerifyPlan
    from truedigest.cp.client import CPClient, CPTarget
    from truedigest.engine.verify_run import run_verify
    from truedigest.oci.auth import CredentialStore
    from truedigest.oci.reference import parse_reference
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions
    from truedigest.sources.cp_rows import observe_cp
    from truedigest.sources.registry_tag import observe_image

    token = secrets.token_urlsafe(24)
    env = {"CP_ADMIN_API_TOKEN": token}
    repo, sha = "bench/verify", "1a2b3c4" + secrets.token_hex(17)[:33]
    tag = f"sha-{sha[:7]}"
    # the commit as an annotation too: the sha- tag's commit check reads it from the
    # manifest already fetched (no extra request on the agree path)
    image = build_image(
        repo,
        salt="bench-verify",
        label=sha,
        annotations={"org.opencontainers.image.revision": sha},
    )

    def client() -> RegistryClient:
        return RegistryClient(ClientOptions(plain_http=True), credentials=CredentialStore(env={}))

    with RegistryServer.start("plain", work / "verify") as registry:
        with Pusher(registry) as pusher:
            digest = push_image(pusher, repo, image, tag=tag)
        with (
            proxy_for(registry, rtt_ms) as proxy,
            CPServer.start(token=token, delay=cp_delay) as cp_a,
            CPServer.start(token=token, delay=cp_delay) as cp_b,
        ):
            ref = parse_reference(f"{proxy.host}/{repo}:{tag}")
            pin = make_pin("app", digest, registry_repo=f"{proxy.host}/{repo}", git_sha=sha)
            cp_a.set_pins([pin])
            cp_b.set_pins([pin])
            cps = {"cp-a": cp_a, "cp-b": cp_b}
            targets = [CPTarget(name, cp.url) for name, cp in cps.items()]
            plan = VerifyPlan(images=[ref], cps=targets, template="app")

            alone: dict[str, list[float]] = {"registry": [], "cp-a": [], "cp-b": []}
            alone_requests: dict[str, int] = {}
            for _ in range(reps):
                with client() as c:
                    seconds, (obs, _) = timed(partial(observe_image, c, ref, None))
                    if str(obs.digest) != digest:
                        raise RuntimeError(f"registry source: {obs.status} {obs.detail}")
                    alone["registry"].append(seconds)
                    alone_requests["registry"] = c.requests_made
                for target in targets:
                    server = cps[target.name]
                    before = len(server.requests)
                    with client() as c:
                        cp_client = CPClient(c.transport, env)
                        seconds, obs = timed(
                            partial(
                                observe_cp,
                                cp_client,
                                target,
                                template="app",
                                region="global",
                                image=ref,
                                git_sha=sha,
                            )
                        )
                    if str(obs.digest) != digest:
                        raise RuntimeError(f"{target.name} source: {obs.status} {obs.detail}")
                    alone[target.name].append(seconds)
                    alone_requests[target.name] = len(server.requests) - before

            walls: list[float] = []
            per_source: dict[str, int] = {}
            verdict = ""
            for _ in range(reps):
                seen = {name: len(cp.requests) for name, cp in cps.items()}
                with client() as c:
                    seconds, report = timed(partial(run_verify, plan, c, env=env))
                    by_host = dict(c.transport.stats.by_host)
                walls.append(seconds)
                verdict = str(report.verdict)
                per_source = {"registry": by_host.get(proxy.host, 0)}
                for name, cp in cps.items():
                    per_source[name] = len(cp.requests) - seen[name]
            if verdict != "agree":
                raise RuntimeError(f"verify did not agree: {verdict}")

    alone_ms = {name: ms(median(times)) for name, times in alone.items()}
    slowest = max(median(times) for times in alone.values())
    total = sum(median(times) for times in alone.values())
    wall = median(walls)
    return {
        "rtt_ms": rtt_ms,
        "cp_delay_ms": ms(cp_delay),
        "repetitions": reps,
        "verdict": verdict,
        "wall_ms": ms(wall),
        "source_alone_ms": alone_ms,
        "slowest_source_ms": ms(slowest),
        "sum_of_sources_ms": ms(total),
        "wall_over_slowest": round(wall / slowest, 2),
        "requests_per_source": per_source,
        "requests_per_source_alone": alone_requests,
    }


# --------------------------------------------------------------------------- 4. start-up


def import_profile(args: Sequence[str]) -> Json:
    """Which modules `python -X importtime ARGS` imports, and what they cost."""
    _, proc = run_cmd([sys.executable, "-X", "importtime", *args])
    cumulative: dict[str, int] = {}
    top_level: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name, micros = parts[2].strip(), int(parts[1])
        cumulative[name] = micros
        if parts[2].startswith(" ") and not parts[2].startswith("  "):
            top_level[name] = micros  # imported by the program itself, not by a module
    modules = set(cumulative)

    def imported(package: str) -> bool:
        return any(m == package or m.startswith(package + ".") for m in modules)

    heaviest = sorted(top_level.items(), key=lambda kv: kv[1], reverse=True)[:5]
    return {
        "exit_code": proc.returncode,
        "modules": len(modules),
        "total_ms": ms(sum(top_level.values()) / 1e6),
        "heaviest_ms": {name: ms(micros / 1e6) for name, micros in heaviest},
        "httpx_imported": imported("httpx"),
        "rich_imported": imported("rich"),
        "click_imported": imported("click"),
        "httpx_ms": ms(cumulative.get("httpx", 0) / 1e6),
        "rich_console_ms": ms(cumulative.get("rich.console", 0) / 1e6),
        "click_ms": ms(cumulative.get("click", 0) / 1e6),
        "truedigest_cli_ms": ms(cumulative.get("truedigest.cli.main", 0) / 1e6),
    }


def bench_startup(reps: int) -> Json:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "truedigest --help": [*TRUEDIGEST, "--help"],
        "truedigest --version": [*TRUEDIGEST, "--version"],
    }
    for args in commands.values():  # warm the page cache and the bytecode cache
        run_cmd(args)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, args in commands.items():
            seconds, proc = run_cmd(args)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} exited {proc.returncode}: {proc.stderr.strip()}")
            samples[name].append(seconds)
    med = {name: median(times) for name, times in samples.items()}
    base = med["python -c pass"]
    return {
        "repetitions": reps,
        "median_ms": {name: ms(t) for name, t in med.items()},
        "min_ms": {name: ms(min(times)) for name, times in samples.items()},
        "help_over_python_ms": ms(med["truedigest --help"] - base),
        "version_over_python_ms": ms(med["truedigest --version"] - base),
        "importtime_help": import_profile(["-m", "truedigest", "--help"]),
        "importtime_version": import_profile(["-m", "truedigest", "--version"]),
    }


# --------------------------------------------------------------------------- targets


def _target(name: str, target: str, measured: Any, ok: bool | None) -> Json:
    status = "n/a" if ok is None else ("PASS" if ok else "MISS")
    return {"name": name, "target": target, "measured": measured, "status": status}


def evaluate_targets(results: Json, n: int, rtt_ms: float) -> list[Json]:
    """The performance targets (requests per resolve, concurrency, start-up) against
    what was measured."""
    out: list[Json] = []
    resolve = results.get("resolve") or {}
    if "plain" in resolve:
        plain, token = resolve["plain"], resolve["token"]
        out.append(
            _target(
                "resolve, warm: registry requests",
                "1",
                plain["warm_requests"],
                plain["warm_requests"] == 1 and token["warm_requests"] == 1,
            )
        )
        out.append(
            _target(
                "resolve, cold plain registry: requests (no /v2/ ping)",
                "1",
                plain["cold_requests"],
                plain["cold_requests"] == 1,
            )
        )
        out.append(
            _target(
                "resolve, cold token registry: requests (401, token, GET)",
                "3",
                token["cold_requests"],
                token["cold_requests"] == 3,
            )
        )
    verify = results.get("verify") or {}
    if "wall_ms" in verify:
        out.append(
            _target(
                "verify: wall time vs slowest single source",
                "≈ slowest (≤ 1.25x), not the sum",
                f"{verify['wall_over_slowest']}x ({verify['wall_ms']} ms vs "
                f"{verify['slowest_source_ms']} ms; sum {verify['sum_of_sources_ms']} ms)",
                verify["wall_over_slowest"] <= 1.25,
            )
        )
        per = verify["requests_per_source"]
        out.append(
            _target(
                "verify, agree path: requests per source",
                "1 each",
                ", ".join(f"{k} {v}" for k, v in per.items()),
                all(v == 1 for v in per.values()),
            )
        )
    tags = results.get("tags") or {}
    if "truedigest_rtt" in tags:
        cli = tags["truedigest_rtt"]
        ok = cli.get("status") == "ok"
        standard = n == 200 and rtt_ms == 40
        seconds = cli.get("seconds")
        out.append(
            _target(
                f"tags: {n} tags at {rtt_ms:g} ms RTT, wall time",
                "< 1.5 s (for 200 tags at 40 ms)",
                f"{seconds} s" if ok else cli.get("status"),
                (seconds < 1.5 if standard else None) if ok else None,
            )
        )
        out.append(
            _target(
                "tags: wall time / latency floor",
                f"≤ 1.5x ({tags['floor']['round_trips']} RTT = {tags['floor']['seconds']} s)",
                f"{tags['ratio_to_floor']}x" if ok else cli.get("status"),
                tags["ratio_to_floor"] <= 1.5 if ok else None,
            )
        )
        out.append(
            _target(
                "tags: speedup over a skopeo inspect --raw loop",
                "≥ 5x",
                f"{tags['speedup_rtt']}x" if ok else cli.get("status"),
                tags["speedup_rtt"] >= 5 if ok else None,
            )
        )
        complete = ok and cli.get("tags_found") == n
        out.append(
            _target(
                "tags: every pushed tag in the JSON output",
                str(n),
                cli.get("tags_found") if ok else cli.get("status"),
                complete if ok else None,
            )
        )
    startup = results.get("startup") or {}
    if "importtime_help" in startup:
        heavy = [
            f"{flag}: " + (", ".join(p for p in ("httpx", "rich") if prof[f"{p}_imported"]) or "-")
            for flag, prof in (
                ("--help", startup["importtime_help"]),
                ("--version", startup["importtime_version"]),
            )
        ]
        clean = not any(
            prof[f"{p}_imported"]
            for prof in (startup["importtime_help"], startup["importtime_version"])
            for p in ("httpx", "rich")
        )
        out.append(
            _target(
                "start-up: --help/--version import neither httpx nor rich",
                "neither",
                "; ".join(heavy),
                clean,
            )
        )
    return out


# --------------------------------------------------------------------------- report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


def render_text(doc: Json, out: TextIO) -> None:
    p = doc["params"]
    env = doc["environment"]

    def line(label: str, *cells: str) -> None:
        out.write(f"  {label:<48}" + "".join(f"{c:>14}" for c in cells) + "\n")

    def header(title: str, *cells: str) -> None:
        out.write(f"\n{title:<50}" + "".join(f"{c:>14}" for c in cells) + "\n")

    out.write(
        f"truedigest bench: {p['tags']} tags, RTT {p['rtt_ms']:g} ms"
        f"{' (quick)' if p['quick'] else ''}; commit {env.get('commit') or '?'}\n"
        f"Python {env['python']}, {env['cpus']} CPUs, {env.get('registry') or '?'}, "
        f"{env.get('skopeo') or 'skopeo ?'}; load average {env['load_average_1m_at_start']:g} "
        f"at start, {env['load_average_1m']:g} at end\n"
    )
    errors = doc.get("errors", {})

    resolve = doc["results"].get("resolve")
    if resolve and "plain" in resolve:
        header("requests per resolve", "requests", "wall (ms)")
        for variant in ("plain", "token"):
            r = resolve[variant]
            hosts = " + ".join(f"{k} {v}" for k, v in r["cold_requests_by_host"].items())
            line(
                f"{variant} registry, cold ({hosts})",
                str(r["cold_requests"]),
                _fmt(r["cold_ms"]),
            )
            line(f"{variant} registry, warm", str(r["warm_requests"]), _fmt(r["warm_ms"]))
    tags = doc["results"].get("tags")
    if tags and "skopeo_rtt" in tags:
        rtt = f"{p['rtt_ms']:g} ms RTT"
        header(
            f"{tags['tags']} tags ({tags['distinct_digests']} digests), seconds", "0 ms RTT", rtt
        )

        def cell(entry: Json) -> str:
            return _fmt(entry.get("seconds")) if entry.get("status") == "ok" else entry["status"]

        line(
            "truedigest tags -o json (subprocess)",
            cell(tags["truedigest_0ms"]),
            cell(tags["truedigest_rtt"]),
        )
        missing: Json = {"status": "unavailable"}
        in_0 = tags.get("inprocess_0ms", missing)
        in_rtt = tags.get("inprocess_rtt", missing)
        line("  in-process scan_tags (no start-up)", cell(in_0), cell(in_rtt))
        if in_rtt.get("status") == "ok":
            line("  registry requests (in-process)", str(in_0["requests"]), str(in_rtt["requests"]))
        imports = tags.get("imports")
        if imports:
            line("  imports of `truedigest tags` (ms, -X importtime)", _fmt(imports["total_ms"]))
        line(
            "skopeo inspect --raw loop (sequential)",
            cell(tags["skopeo_0ms"]),
            cell(tags["skopeo_rtt"]),
        )
        line(
            "speedup (skopeo loop / truedigest)",
            _fmt(tags["speedup_0ms"], "x"),
            _fmt(tags["speedup_rtt"], "x"),
        )
        floor = tags["floor"]
        line(f"latency floor ({floor['round_trips']} round trips)", "", _fmt(floor["seconds"]))
        line("truedigest / floor", "", _fmt(tags["ratio_to_floor"], "x"))
        if tags.get("latency_added_seconds") is not None:
            line(
                "time added by latency / floor",
                "",
                f"{tags['latency_added_seconds']:g} s = {tags['latency_added_to_floor']:g}x",
            )
        line(
            "skopeo per call (ms)",
            _fmt(tags["skopeo_0ms"]["per_call_ms"]),
            _fmt(tags["skopeo_rtt"]["per_call_ms"]),
        )
        line(
            "skopeo TCP connections per call",
            "",
            _fmt(tags["skopeo_rtt"].get("connections_per_call")),
        )
        line(
            "GET /v2/ on a kept-alive connection (ms)",
            _fmt(tags["measured_http_0ms_ms"]),
            _fmt(tags["measured_http_rtt_ms"]),
        )
        if not tags["truedigest_available"]:
            out.write(f"  truedigest tags unavailable: {tags.get('unavailable_reason')}\n")
    verify = doc["results"].get("verify")
    if verify and "wall_ms" in verify:
        header(
            f"verify: 1 image + 2 CPs (CP delay {verify['cp_delay_ms']:g} ms)",
            "wall (ms)",
            "requests",
        )
        per = verify["requests_per_source"]
        for name, value in verify["source_alone_ms"].items():
            line(f"{name} alone", _fmt(value), str(per.get(name, "-")))
        line("slowest single source", _fmt(verify["slowest_source_ms"]))
        line("sum of sources", _fmt(verify["sum_of_sources_ms"]))
        line(
            f"run_verify, all sources (verdict {verify['verdict']})",
            _fmt(verify["wall_ms"]),
            str(sum(per.values())),
        )
        line("wall / slowest", _fmt(verify["wall_over_slowest"], "x"))
    startup = doc["results"].get("startup")
    if startup and "median_ms" in startup:
        header(f"start-up, median of {startup['repetitions']}", "wall (ms)", "over python")
        base = startup["median_ms"]["python -c pass"]
        for name, value in startup["median_ms"].items():
            over = "" if name == "python -c pass" else _fmt(round(value - base, 1))
            line(name, _fmt(value), over)
        prof = startup["importtime_help"]
        line(
            "--help imports (-X importtime)",
            f"{prof['modules']} modules",
            f"click {_fmt(prof['click_ms'])} ms",
        )
    header("performance targets")
    for t in doc["targets"]:
        out.write(f"  {t['status']:<5} {t['name']}: {t['measured']} (target {t['target']})\n")
    for section, error in errors.items():
        out.write(f"  ERROR {section}: {error}\n")
    out.write(f"\ntotal {doc['total_seconds']:.1f} s\n")


# --------------------------------------------------------------------------- main


def environment() -> Json:
    from truedigest import __version__

    commit = None
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=10,
            check=False,
        )
        commit = proc.stdout.strip() or None
    except OSError:
        pass
    registry = registry_binary()
    skopeo = skopeo_binary()
    return {
        "truedigest": __version__,
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "registry": tool_version([registry, "--version"]) if registry else None,
        "skopeo": tool_version([skopeo, "--version"]) if skopeo else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Measure truedigest against its performance targets on a loopback "
        "registry with injected latency. Prints a table; exits 0 whatever the numbers.",
    )
    parser.add_argument("--tags", type=int, default=None, help="tags to push (default 200)")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round trip added (ms)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON (- for stdout)")
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions (CI smoke); default 24 tags"
    )
    args = parser.parse_args(argv)
    if args.tags is None:
        args.tags = 24 if args.quick else 200
    if args.tags < 1:
        parser.error("--tags must be at least 1")
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    text_out = sys.stderr if args.json == "-" else sys.stdout
    reps = (
        {"resolve": 2, "tags": 1, "verify": 1, "startup": 3}
        if args.quick
        else {"resolve": 5, "tags": 3, "verify": 3, "startup": 10}
    )
    missing = [
        name
        for name, path in (("docker-registry", registry_binary()), ("skopeo", skopeo_binary()))
        if path is None
    ]
    if missing:
        print(f"bench: {' and '.join(missing)} not found (run scripts/bench)", file=sys.stderr)
        return 1
    load_at_start = round(os.getloadavg()[0], 2)
    results: Json = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="truedigest-bench-") as tmp:
        work = Path(tmp)
        sections: list[tuple[str, Callable[[], Json]]] = [
            ("resolve", lambda: bench_resolve(work, args.rtt_ms, reps["resolve"])),
            ("tags", lambda: bench_tags(work, args.tags, args.rtt_ms, reps["tags"])),
            ("verify", lambda: bench_verify(work, args.rtt_ms, reps["verify"])),
            ("startup", lambda: bench_startup(reps["startup"])),
        ]
        for name, section in sections:
            log(f"{name}")
            try:
                seconds, results[name] = timed(section)
                results[name]["section_seconds"] = round(seconds, 2)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                errors[name] = f"{type(exc).__name__}: {exc}"
                results[name] = {"error": errors[name]}
    doc: Json = {
        "schema": SCHEMA,
        "params": {
            "tags": args.tags,
            "rtt_ms": args.rtt_ms,
            "quick": args.quick,
            "in_flight_per_host": IN_FLIGHT,
            "repetitions": reps,
        },
        "environment": environment(),
        "results": results,
        "targets": evaluate_targets(results, args.tags, args.rtt_ms),
        "errors": errors,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    doc["environment"]["load_average_1m_at_start"] = load_at_start
    render_text(doc, text_out)
    text_out.flush()
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
