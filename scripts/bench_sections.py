"""`scripts/bench` sections: requests per resolve, whole-process start-up, resolve vs peers.

- `bench_requests`: registry requests per resolve, counted in-process
  (`RegistryClient.requests_made`, per host): plain registry cold and warm, token
  registry cold (401 → token → GET) and warm (the token is cached on the client).
- `bench_startup`: whole processes at 0 ms RTT on plain HTTP, the minimum wall time
  of several interleaved runs: `python -c pass` (the interpreter truedigest runs
  under), `truedigest --version`, `--help`, `resolve` and `verify` (1 image + 1 CP,
  a real CP server); and which modules `-X importtime` shows.
- `bench_resolve_rtt`: `truedigest resolve` against each peer that is installed,
  through the latency proxy, the minimum wall time of several runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from scripts.bench_peers import Peer, fetch_one
from scripts.bench_proc import (
    PYTHON,
    TRUEDIGEST,
    Json,
    child_env,
    median,
    ms,
    ratio,
    run_checked,
    run_cmd,
    timed,
)
from scripts.latency_proxy import LatencyProxy
from tests.support.cpserver import CPServer, make_pin
from tests.support.images import Pusher, build_image, push_image
from tests.support.registry import RegistryServer


def proxy_for(registry: RegistryServer, rtt_ms: float) -> LatencyProxy:
    host, _, port = registry.host.rpartition(":")
    return LatencyProxy(host, int(port), delay=rtt_ms / 2000)


def push_one(registry: RegistryServer, repo: str, tag: str, salt: str) -> str:
    sha = secrets.token_hex(20)
    image = build_image(
        repo, salt=salt, label=sha, annotations={"org.opencontainers.image.revision": sha}
    )
    with Pusher(registry) as pusher:
        return push_image(pusher, repo, image, tag=tag)


# --------------------------------------------------------------------------- requests


def bench_requests(work: Path, rtt_ms: float, reps: int) -> Json:
    from truedigest.oci.auth import CredentialStore
    from truedigest.oci.reference import parse_reference
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions

    repo, tag = "bench/resolve", "v1"
    out: Json = {"rtt_ms": rtt_ms, "repetitions": reps}
    for variant in ("plain", "token"):
        with (
            RegistryServer.start(variant, work / f"resolve-{variant}") as registry,
            proxy_for(registry, rtt_ms) as proxy,
        ):
            digest = push_one(registry, repo, tag, "bench-resolve")
            ref = parse_reference(f"{proxy.host}/{repo}:{tag}")
            tokens = registry.token_server
            cold_s: list[float] = []
            warm_s: list[float] = []
            cold_n: list[int] = []
            warm_n: list[int] = []
            cold_by_host: dict[str, int] = {}
            token_fetches: list[int] = []
            for _ in range(reps):
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
                if tokens is not None:
                    token_fetches.append(tokens.token_requests - before_tokens)
            out[variant] = {
                "cold_requests": max(cold_n),
                "warm_requests": max(warm_n),
                "cold_requests_by_host": cold_by_host,
                "token_server_requests": max(token_fetches) if token_fetches else 0,
                "cold_ms": ms(median(cold_s)),
                "warm_ms": ms(median(warm_s)),
            }
    return out


# --------------------------------------------------------------------------- start-up


def import_profile(args: Sequence[str]) -> Json:
    """Which modules `python -X importtime ARGS` imports, and what they cost."""
    run = run_cmd([PYTHON, "-X", "importtime", *args])
    cumulative: dict[str, int] = {}
    top_level: dict[str, int] = {}
    for line in run.stderr.splitlines():
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
        "exit_code": run.returncode,
        "modules": len(modules),
        "total_ms": ms(sum(top_level.values()) / 1e6),
        "heaviest_ms": {name: ms(micros / 1e6) for name, micros in heaviest},
        "httpx_imported": imported("httpx"),
        "rich_imported": imported("rich"),
        "click_imported": imported("click"),
        "email_imported": imported("email"),
        "ssl_imported": imported("ssl"),
    }


def bench_startup(work: Path, reps: int) -> Json:
    """Whole processes at 0 ms RTT, plain HTTP: min (and median) wall of `reps` runs."""
    token = secrets.token_urlsafe(24)
    repo, tag = "bench/startup", "v1"
    env = child_env({"CP_ADMIN_API_TOKEN": token})
    with RegistryServer.start("plain", work / "startup") as registry:
        digest = push_one(registry, repo, tag, "bench-startup")
        ref = f"{registry.host}/{repo}:{tag}"
        pin = make_pin("app", digest, registry_repo=f"{registry.host}/{repo}")
        with CPServer.start(token=token, pins=[pin]) as cp:
            commands = {
                "python -c pass": [PYTHON, "-c", "pass"],
                "truedigest --version": [*TRUEDIGEST, "--version"],
                "truedigest --help": [*TRUEDIGEST, "--help"],
                "truedigest resolve": [*TRUEDIGEST, "resolve", "--plain-http", ref],
                "truedigest verify (1 image + 1 CP)": [
                    *TRUEDIGEST,
                    "verify",
                    "--image",
                    ref,
                    "--plain-http",
                    "--cp",
                    f"cp={cp.url}",
                    "--template",
                    "app",
                ],
            }
            for args in commands.values():  # untimed: page cache and bytecode cache
                run_checked(args, env=env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            before = len(cp.requests)
            for _ in range(reps):  # interleaved, so a busy moment hits every row alike
                for name, args in commands.items():
                    run = run_checked(args, env=env)
                    if name == "truedigest resolve" and run.stdout.strip() != digest:
                        raise RuntimeError(f"resolve printed {run.stdout.strip()!r}, not {digest}")
                    samples[name].append(run.seconds)
                    cpu[name].append(run.cpu)
            cp_requests = round((len(cp.requests) - before) / reps, 2)
            resolve_profile = import_profile(["-m", "truedigest", "resolve", "--plain-http", ref])
    best = {name: min(times) for name, times in samples.items()}
    base = best["python -c pass"]
    return {
        "repetitions": reps,
        "command": " ".join(TRUEDIGEST).replace(str(Path.home()), "~"),
        "min_ms": {name: ms(t) for name, t in best.items()},
        "median_ms": {name: ms(median(times)) for name, times in samples.items()},
        "min_cpu_ms": {name: ms(min(times)) for name, times in cpu.items()},
        "over_python": {name: ratio(t, base) for name, t in best.items()},
        "verify_cp_requests_per_run": int(cp_requests) if cp_requests.is_integer() else cp_requests,
        "importtime_help": import_profile(["-m", "truedigest", "--help"]),
        "importtime_version": import_profile(["-m", "truedigest", "--version"]),
        "importtime_resolve": resolve_profile,
    }


# --------------------------------------------------------------------------- resolve vs peers


def _peer_seconds(peer: Peer, host: str, repo: str, tag: str, digest: str) -> float:
    return fetch_one(peer, host, repo, tag, digest).seconds


def bench_resolve_rtt(work: Path, rtt_ms: float, reps: int, peers: dict[str, Peer | None]) -> Json:
    """One tag through the latency proxy: truedigest and each installed peer, whole
    processes, min wall of `reps` interleaved runs; connections counted per call."""
    repo, tag = "bench/one", "v1"
    with RegistryServer.start("plain", work / "resolve-rtt") as registry:
        digest = push_one(registry, repo, tag, "bench-one")
        with proxy_for(registry, rtt_ms) as proxy:
            td_args = [*TRUEDIGEST, "resolve", "--plain-http", f"{proxy.host}/{repo}:{tag}"]

            def truedigest() -> float:
                run = run_checked(td_args)
                if run.stdout.strip() != digest:
                    raise RuntimeError(f"resolve printed {run.stdout.strip()!r}")
                return run.seconds

            tools: dict[str, Callable[[], float]] = {"truedigest": truedigest}
            for name, peer in peers.items():
                if peer is not None:
                    peer.prepare(proxy.host)
                    tools[name] = partial(_peer_seconds, peer, proxy.host, repo, tag, digest)
            connections: dict[str, int] = {}
            for name, tool in tools.items():  # untimed warm-up; count its connections
                proxy.reset()
                tool()
                connections[name] = proxy.connections
            samples: dict[str, list[float]] = {name: [] for name in tools}
            for _ in range(reps):
                for name, tool in tools.items():
                    samples[name].append(tool())
    rows: Json = {}
    for name in ("truedigest", *peers):
        if name not in samples:
            rows[name] = {"status": "not installed"}
            continue
        rows[name] = {
            "status": "ok",
            "min_ms": ms(min(samples[name])),
            "median_ms": ms(median(samples[name])),
            "connections": connections[name],
        }
    installed = {n: r["min_ms"] for n, r in rows.items() if n != "truedigest" and "min_ms" in r}
    fastest = min(installed, key=lambda n: installed[n]) if installed else None
    return {
        "rtt_ms": rtt_ms,
        "repetitions": reps,
        "rows": rows,
        "fastest_peer": fastest,
        "over_fastest_peer": (
            ratio(rows["truedigest"]["min_ms"], installed[fastest]) if fastest else None
        ),
    }
