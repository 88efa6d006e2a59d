"""The performance targets `scripts/bench` judges, each PASS or MISS on numbers of one run.

Timing targets are ratios measured in the same run (against `python -c pass`, the
fastest peer, or the round-trip time the proxy adds), so a slower or busier
machine moves both sides. Request counts are facts. A target whose conditions
were not met (another tag count or RTT than the target names, a section that did
not run) is "n/a".
"""

from __future__ import annotations

from typing import Any

from scripts.bench_proc import Json

RESOLVE_OVER_PYTHON = 7.5  # 90 ms against ~12 ms
VERIFY_OVER_PYTHON = 9.2  # 110 ms against ~12 ms
RESOLVE_OVER_PEER = 2.0
TAGS_TARGETS = {200: 15, 3000: 75}  # round trips at 40 ms: 0.6 s and 3 s
TARGET_RTT_MS = 40.0
CPU_PER_TAG_MS = 0.4
SPEEDUP_OVER_LOOP = 5.0
VERIFY_OVER_SLOWEST = 1.25


def _target(name: str, target: str, measured: Any, ok: bool | None) -> Json:
    status = "n/a" if ok is None else ("PASS" if ok else "MISS")
    return {"name": name, "target": target, "measured": measured, "status": status}


def _requests(results: Json) -> list[Json]:
    out: list[Json] = []
    req = results.get("requests") or {}
    if "plain" in req:
        plain, token = req["plain"], req["token"]
        out.append(
            _target(
                "resolve, warm: registry requests",
                "1",
                f"plain {plain['warm_requests']}, token {token['warm_requests']}",
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
    tags = results.get("tags") or {}
    scan = tags.get("requests") or {}
    if scan.get("status") == "ok":
        n = scan["tags"]
        out.append(
            _target(
                "tags: registry requests (1 per tag + the listing, no ping)",
                str(n + 1),
                scan["requests"],
                scan["requests"] == n + 1,
            )
        )
    return out


def _startup(results: Json) -> list[Json]:
    out: list[Json] = []
    s = results.get("startup") or {}
    if "min_ms" not in s:
        return out
    base = s["min_ms"]["python -c pass"]
    for key, limit in (
        ("truedigest resolve", RESOLVE_OVER_PYTHON),
        ("truedigest verify (1 image + 1 CP)", VERIFY_OVER_PYTHON),
    ):
        over = s["over_python"][key]
        out.append(
            _target(
                f"start-up: {key.removeprefix('truedigest ')}, whole process / python -c pass",
                f"≤ {limit:g}x",
                f"{over}x ({s['min_ms'][key]} ms vs {base} ms)",
                over <= limit,
            )
        )
    out.append(
        _target(
            "verify CLI, agree path: CP requests per run",
            "1",
            s["verify_cp_requests_per_run"],
            s["verify_cp_requests_per_run"] == 1,
        )
    )
    profiles = [("--help", s["importtime_help"]), ("--version", s["importtime_version"])]
    if "importtime_resolve" in s:  # the request path is standard library only
        profiles.append(("resolve", s["importtime_resolve"]))
    heavy = [
        f"{flag}: " + (", ".join(p for p in ("httpx", "rich") if prof[f"{p}_imported"]) or "-")
        for flag, prof in profiles
    ]
    clean = not any(prof[f"{p}_imported"] for _, prof in profiles for p in ("httpx", "rich"))
    out.append(
        _target(
            "start-up: --help/--version/resolve import neither httpx nor rich",
            "neither",
            "; ".join(heavy),
            clean,
        )
    )
    return out


def _rtt(results: Json, rtt_ms: float) -> list[Json]:
    out: list[Json] = []
    r = results.get("resolve_rtt") or {}
    if "rows" in r:
        td = r["rows"]["truedigest"]
        fastest = r["fastest_peer"]
        measured = (
            f"{r['over_fastest_peer']}x ({td['min_ms']} ms vs {fastest} "
            f"{r['rows'][fastest]['min_ms']} ms)"
            if fastest
            else "no peer installed"
        )
        out.append(
            _target(
                f"resolve at {rtt_ms:g} ms RTT / fastest peer",
                f"≤ {RESOLVE_OVER_PEER:g}x",
                measured,
                r["over_fastest_peer"] <= RESOLVE_OVER_PEER if fastest else None,
            )
        )
    tags = results.get("tags") or {}
    for key, n in (("truedigest", tags.get("tags")), ("truedigest_big", tags.get("big_tags"))):
        row = tags.get(key)
        if not row or not n:
            continue
        ok = row.get("status") == "ok"
        trips = TAGS_TARGETS.get(n)
        judged = trips is not None and rtt_ms == TARGET_RTT_MS
        target = (
            f"≤ {trips} RTT ({trips * TARGET_RTT_MS / 1000:g} s at {TARGET_RTT_MS:g} ms)"
            if trips
            else "targets name 200 and 3000 tags at 40 ms"
        )
        out.append(
            _target(
                f"tags: {n} tags at {rtt_ms:g} ms RTT, whole process",
                target,
                f"{row.get('round_trips')} RTT = {row.get('seconds')} s"
                if ok
                else row.get("status"),
                (row["round_trips"] <= trips if judged and trips else None) if ok else None,
            )
        )
        out.append(
            _target(
                f"tags: {n} tags, every pushed tag in the JSON output",
                str(n),
                row.get("tags_found") if ok or "tags_found" in row else row.get("status"),
                ok,
            )
        )
        if key == "truedigest" and ok:
            out.append(
                _target(
                    f"tags: {n} tags, wall / latency floor at 8 in flight",
                    f"≤ 1.5x ({row['floor_8_trips']} RTT)",
                    f"{row['over_floor_8']}x",
                    row["over_floor_8"] <= 1.5,
                )
            )
    cpu = tags.get("cpu_per_tag") or {}
    if cpu:
        ok = cpu.get("status") == "ok"
        out.append(
            _target(
                f"tags: client CPU per tag (over {cpu.get('tags')} tags, less start-up)",
                f"≤ {CPU_PER_TAG_MS:g} ms",
                f"{cpu['ms_per_tag']} ms" if ok else cpu.get("status"),
                cpu["ms_per_tag"] <= CPU_PER_TAG_MS if ok else None,
            )
        )
    td, loop = tags.get("truedigest") or {}, tags.get("skopeo_seq") or {}
    if td.get("status") == "ok" and loop.get("status") == "ok":
        speedup = round(loop["seconds"] / td["seconds"], 2)
        out.append(
            _target(
                "tags: speedup over a sequential skopeo inspect --raw loop",
                f"≥ {SPEEDUP_OVER_LOOP:g}x",
                f"{speedup}x" + (" (loop scaled from a sample)" if loop.get("scaled") else ""),
                speedup >= SPEEDUP_OVER_LOOP,
            )
        )
    return out


def _verify(results: Json) -> list[Json]:
    v = results.get("verify") or {}
    if "wall_ms" not in v:
        return []
    per = v["requests_per_source"]
    return [
        _target(
            "verify: wall time vs slowest single source (in-process)",
            f"≈ slowest (≤ {VERIFY_OVER_SLOWEST:g}x), not the sum",
            f"{v['wall_over_slowest']}x ({v['wall_ms']} ms vs "
            f"{v['slowest_source_ms']} ms; sum {v['sum_of_sources_ms']} ms)",
            v["wall_over_slowest"] <= VERIFY_OVER_SLOWEST,
        ),
        _target(
            "verify, agree path: requests per source",
            "1 each",
            ", ".join(f"{k} {n}" for k, n in per.items()),
            all(n == 1 for n in per.values()),
        ),
    ]


def evaluate_targets(results: Json, rtt_ms: float) -> list[Json]:
    """Every target against what was measured in this run."""
    return [*_requests(results), *_startup(results), *_rtt(results, rtt_ms), *_verify(results)]
