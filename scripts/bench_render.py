"""The text table `scripts/bench` prints (the JSON document holds the same numbers)."""

from __future__ import annotations

from typing import Any, TextIO

from scripts.bench_proc import Json

LABEL = 46
CELL = 10


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


class Table:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def header(self, title: str, *cells: str) -> None:
        self.out.write(f"\n{title:<{LABEL + 2}}" + "".join(f"{c:>{CELL}}" for c in cells) + "\n")

    def line(self, label: str, *cells: str) -> None:
        self.out.write(f"  {label:<{LABEL}}" + "".join(f"{c:>{CELL}}" for c in cells) + "\n")

    def note(self, text: str) -> None:
        self.out.write(f"  {text}\n")


def _requests(t: Table, req: Json) -> None:
    t.header("requests per resolve (in-process count)", "requests", "wall ms")
    for variant in ("plain", "token"):
        r = req[variant]
        hosts = " + ".join(f"{k} {v}" for k, v in r["cold_requests_by_host"].items())
        t.line(f"{variant} registry, cold ({hosts})", str(r["cold_requests"]), _fmt(r["cold_ms"]))
        t.line(f"{variant} registry, warm", str(r["warm_requests"]), _fmt(r["warm_ms"]))


def _startup(t: Table, s: Json) -> None:
    t.header(
        f"whole process, 0 ms RTT, plain HTTP (of {s['repetitions']})",
        "min ms",
        "median ms",
        "CPU ms",
        "/ python",
    )
    for name, best in s["min_ms"].items():
        over = "" if name == "python -c pass" else _fmt(s["over_python"][name], "x")
        t.line(name, _fmt(best), _fmt(s["median_ms"][name]), _fmt(s["min_cpu_ms"][name]), over)
    prof = s["importtime_resolve"]
    heaviest = ", ".join(f"{k} {v:g}" for k, v in prof["heaviest_ms"].items())
    t.note(f"resolve imports {prof['modules']} modules ({prof['total_ms']} ms): {heaviest}")
    flags = [p for p in ("httpx", "rich", "click", "email", "ssl") if prof[f"{p}_imported"]]
    t.note(f"resolve imports of note: {', '.join(flags) or 'none'}")


def _resolve_rtt(t: Table, r: Json) -> None:
    t.header(
        f"one tag at {r['rtt_ms']:g} ms RTT, whole process (of {r['repetitions']})",
        "min ms",
        "median ms",
        "conns",
    )
    for name, row in r["rows"].items():
        label = "truedigest resolve" if name == "truedigest" else f"{name} (manifest bytes)"
        if row["status"] != "ok":
            t.line(label, row["status"])
            continue
        t.line(label, _fmt(row["min_ms"]), _fmt(row["median_ms"]), str(row["connections"]))
    if r["fastest_peer"]:
        t.line(
            f"truedigest / fastest peer ({r['fastest_peer']})", _fmt(r["over_fastest_peer"], "x")
        )


def _bulk_row(t: Table, label: str, row: Json) -> None:
    if row.get("status") != "ok":
        t.line(label, str(row.get("status")))
        return
    busy = row.get("machine_busy_pct")
    t.line(
        label,
        _fmt(row["seconds"]),
        _fmt(row.get("round_trips")),
        _fmt(row.get("client_cpu_s")),
        _fmt(row.get("registry_cpu_s")),
        _fmt(row.get("proxy_cpu_s")),
        "-" if busy is None else f"{busy:g}%",
    )


def _cores(t: Table, label: str, row: Json, cpus: int) -> None:
    """How many cores the row kept busy: client + registry + proxy CPU over wall."""
    parts = [row.get(k) for k in ("client_cpu_s", "registry_cpu_s", "proxy_cpu_s")]
    if row.get("status") != "ok" or any(p is None for p in parts) or not row["seconds"]:
        return
    total = sum(p for p in parts if p is not None)
    t.note(
        f"{label}: client + registry + proxy CPU {total:.2f} s in {row['seconds']:g} s wall "
        f"= {total / row['seconds']:.2f} of {cpus} cores"
    )


def _tags(t: Table, tags: Json, cpus: int) -> None:
    n = tags["tags"]
    t.header(
        f"{n} tags at {tags['rtt_ms']:g} ms RTT, whole processes",
        "wall s",
        "RTTs",
        "client s",
        "registry",
        "proxy",
        "busy",
    )
    t.note(
        "(client/registry/proxy: CPU seconds per run; busy: the whole machine, "
        f"{tags['measured_rtt_ms']} ms RTT measured)"
    )
    gc = " ".join(f"{k}={v}" for k, v in tags.get("registry_env", {}).items())
    if gc:
        t.note(f"(the registry runs with {gc}, every tool alike: docs/performance.md)")
    _bulk_row(t, "truedigest tags -o json", tags["truedigest"])
    for key, row in tags.items():
        if key.endswith("_p8"):
            _bulk_row(t, f"{key.removesuffix('_p8')} one process per tag, xargs -P8", row)
    loop = tags.get("skopeo_seq")
    if loop:
        scaled = f" ({loop['measured_tags']} of {n}, scaled)" if loop.get("scaled") else ""
        _bulk_row(t, f"skopeo per tag, sequential{scaled}", loop)
    td = tags["truedigest"]
    if td.get("status") == "ok":
        floors = f"floor at 8 in flight {td['floor_8_trips']} RTT: {td['over_floor_8']}x"
        if "floor_cap_trips" in td:
            cap = tags["concurrency_cap"]
            floors += f"; at {cap} in flight {td['floor_cap_trips']} RTT: {td['over_floor_cap']}x"
        t.note(f"truedigest: {floors}; acts like {td['equivalent_in_flight']} in flight")
        _cores(t, "truedigest", td, cpus)
        for key, row in tags.items():
            if key.endswith(("_p8", "_seq")) and row.get("status") == "ok":
                name = key.replace("_p8", " -P8").replace("_seq", " sequential")
                t.note(f"{name} / truedigest: {row['seconds'] / td['seconds']:.2f}x")
    big = tags.get("truedigest_big")
    if big:
        t.header(f"{tags['big_tags']} tags at {tags['rtt_ms']:g} ms RTT, whole process")
        _bulk_row(t, "truedigest tags -o json", big)
        if big.get("status") == "ok":
            t.note(
                f"floor at 8 in flight {big['floor_8_trips']} RTT: {big['over_floor_8']}x; "
                f"acts like {big['equivalent_in_flight']} in flight"
            )
            _cores(t, "truedigest", big, cpus)
    one, cpu = tags.get("one_tag") or {}, tags.get("cpu_per_tag") or {}
    if cpu.get("status") == "ok":
        t.note(
            f"CPU per tag: ({cpu['bulk_cpu_s']} s - {cpu['startup_cpu_s']} s start-up on a "
            f"one-tag repository) / {cpu['tags'] - 1} = {cpu['ms_per_tag']} ms"
        )
    elif one:
        t.note(f"CPU per tag: {cpu.get('status')}")


def _verify(t: Table, v: Json) -> None:
    t.header(
        f"verify in-process: 1 image + 2 CPs ({v['cp_delay_ms']:g} ms each)", "wall ms", "reqs"
    )
    per = v["requests_per_source"]
    for name, value in v["source_alone_ms"].items():
        t.line(f"{name} alone", _fmt(value), str(per.get(name, "-")))
    t.line("sum of sources", _fmt(v["sum_of_sources_ms"]))
    t.line(f"run_verify, all sources (verdict {v['verdict']})", _fmt(v["wall_ms"]))
    t.line("wall / slowest source", _fmt(v["wall_over_slowest"], "x"))


def render_text(doc: Json, out: TextIO) -> None:
    p, env, results = doc["params"], doc["environment"], doc["results"]
    big = f" and {p['big_tags']}" if p["big_tags"] else ""
    out.write(
        f"truedigest bench: {p['tags']}{big} tags, RTT {p['rtt_ms']:g} ms"
        f"{' (quick)' if p['quick'] else ''}{' (full)' if p['full'] else ''}; "
        f"commit {env.get('commit') or '?'}\n"
        f"Python {env['python']}, {env['cpus']} CPUs, {env.get('registry') or '?'}; "
        f"load average {env['load_average_1m_at_start']:g} at start, "
        f"{env['load_average_1m']:g} at end\n"
        "peers: " + "; ".join(f"{k} {v or 'not installed'}" for k, v in env["peers"].items()) + "\n"
    )
    t = Table(out)
    sections = (
        ("requests", "plain", _requests),
        ("startup", "min_ms", _startup),
        ("resolve_rtt", "rows", _resolve_rtt),
        ("tags", "truedigest", lambda t, s: _tags(t, s, env["cpus"] or 1)),
        ("verify", "wall_ms", _verify),
    )
    for name, key, draw in sections:
        section = results.get(name) or {}
        if key in section:
            draw(t, section)
    t.header("performance targets")
    for target in doc["targets"]:
        out.write(
            f"  {target['status']:<5} {target['name']}: {target['measured']} "
            f"(target {target['target']})\n"
        )
    for section_name, error in doc.get("errors", {}).items():
        out.write(f"  ERROR {section_name}: {error}\n")
    out.write(f"\ntotal {doc['total_seconds']:.1f} s\n")
