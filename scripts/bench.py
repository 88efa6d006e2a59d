"""The benchmark behind `scripts/bench`: truedigest's performance targets, measured fairly.

Everything runs on loopback against Debian's real `docker-registry`, with
`scripts.latency_proxy` in front of it to add a fixed round trip (`--rtt-ms`),
and the test CP server (`tests.support.cpserver`) for control planes. Every
timed truedigest row is a whole process, start-up included, run as users run it.

Sections (see docs/performance.md for every row):
1. requests: registry requests per resolve, counted in-process (`bench_sections`).
2. startup: whole processes at 0 ms RTT on plain HTTP, min wall of several
   interleaved runs: `python -c pass`, `--version`, `--help`, `resolve`, `verify`
   (1 image + 1 CP) (`bench_sections`).
3. resolve_rtt: one tag through the proxy, truedigest against every installed
   peer (skopeo; oras, crane, regctl when on PATH) (`bench_sections`).
4. tags: N and BIG tags through the proxy; the peers under `xargs -P8` and a
   sequential skopeo loop; client, registry and proxy CPU; CPU per tag (`bench_tags`).
5. verify: sources read concurrently, in-process (`bench_verify`).

Prints a text table (stderr when the JSON goes to stdout) and, with `--json FILE`
(`-` for stdout), a JSON document. Every target line says PASS, MISS or n/a
(`bench_targets`); the exit status is 0 whatever the numbers (this measures, it
does not gate), 1 only when a section crashed (its error is in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from scripts.bench_peers import find_peers
from scripts.bench_proc import ROOT, Json, log, timed, tool_version
from scripts.bench_render import render_text
from scripts.bench_sections import bench_requests, bench_resolve_rtt, bench_startup
from scripts.bench_tags import bench_tags
from scripts.bench_targets import evaluate_targets
from scripts.bench_verify import bench_verify
from tests.support.oracle import skopeo_binary
from tests.support.registry import registry_binary

SCHEMA = "truedigest.bench/v2"
SEQUENTIAL_SAMPLE = 40


def environment(peers: dict[str, str | None]) -> Json:
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
    return {
        "truedigest": __version__,
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "registry": tool_version([registry, "--version"]) if registry else None,
        "peers": peers,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Measure truedigest against its performance targets on a loopback "
        "registry with injected latency, whole processes against python -c pass and "
        "against peer tools. Prints a table; exits 0 whatever the numbers.",
    )
    parser.add_argument("--tags", type=int, default=None, help="tags to push (default 200)")
    parser.add_argument(
        "--big-tags",
        type=int,
        default=None,
        help="tags in the big repository (default 3000; 0 skips it; --quick: 0)",
    )
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round trip added (ms)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON (- for stdout)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: few repetitions, 24 tags, no big repository",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the sequential skopeo loop over every tag (default: the first "
        f"{SEQUENTIAL_SAMPLE}, scaled) and more repetitions",
    )
    args = parser.parse_args(argv)
    if args.quick and args.full:
        parser.error("--quick and --full exclude each other")
    if args.tags is None:
        args.tags = 24 if args.quick else 200
    if args.big_tags is None:
        args.big_tags = 0 if args.quick else 3000
    if args.tags < 1:
        parser.error("--tags must be at least 1")
    if args.big_tags < 0:
        parser.error("--big-tags must not be negative")
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must not be negative")
    return args


def repetitions(args: argparse.Namespace) -> dict[str, int]:
    if args.quick:
        return {"requests": 2, "startup": 3, "resolve_rtt": 3, "tags": 1, "verify": 1}
    if args.full:
        return {"requests": 5, "startup": 25, "resolve_rtt": 15, "tags": 3, "verify": 3}
    return {"requests": 5, "startup": 15, "resolve_rtt": 10, "tags": 3, "verify": 3}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    text_out = sys.stderr if args.json == "-" else sys.stdout
    reps = repetitions(args)
    missing = [
        name
        for name, path in (("docker-registry", registry_binary()), ("skopeo", skopeo_binary()))
        if path is None
    ]
    if missing:
        print(f"bench: {' and '.join(missing)} not found (run scripts/bench)", file=sys.stderr)
        return 1
    # An install (pip, pipx) compiles the package; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile it in every timed process instead.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "src")],
        check=False,
        capture_output=True,
    )
    load_at_start = round(os.getloadavg()[0], 2)
    results: Json = {}
    errors: dict[str, str] = {}
    sequential = args.tags if args.full else SEQUENTIAL_SAMPLE
    with tempfile.TemporaryDirectory(prefix="truedigest-bench-") as tmp:
        work = Path(tmp)
        peers = find_peers(work)
        peer_versions = {n: (p.version() or p.binary) if p else None for n, p in peers.items()}
        sections: list[tuple[str, Callable[[], Json]]] = [
            ("requests", lambda: bench_requests(work, args.rtt_ms, reps["requests"])),
            ("startup", lambda: bench_startup(work, reps["startup"])),
            (
                "resolve_rtt",
                lambda: bench_resolve_rtt(work, args.rtt_ms, reps["resolve_rtt"], peers),
            ),
            (
                "tags",
                lambda: bench_tags(
                    work,
                    n=args.tags,
                    big=args.big_tags,
                    rtt_ms=args.rtt_ms,
                    reps=reps["tags"],
                    peers=peers,
                    sequential=sequential,
                ),
            ),
            ("verify", lambda: bench_verify(work, args.rtt_ms, reps["verify"])),
        ]
        for name, section in sections:
            log(name)
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
            "big_tags": args.big_tags,
            "rtt_ms": args.rtt_ms,
            "quick": args.quick,
            "full": args.full,
            "sequential_loop_tags": min(sequential, args.tags),
            "repetitions": reps,
        },
        "environment": environment(peer_versions),
        "results": results,
        "targets": evaluate_targets(results, args.rtt_ms),
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
