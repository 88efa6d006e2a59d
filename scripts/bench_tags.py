"""`scripts/bench` section: many tags behind the latency proxy, whole processes only.

N tags (20 distinct images under N/20 tags each) in one repository, and BIG tags
(default 3000) in another. Rows, each a whole process including start-up:
- `truedigest tags --plain-http PROXY/REPO -o json` (min wall of a few runs; the
  output is checked: every tag and digest, valid JSON);
- every installed peer under `xargs -P8`, one process per tag (the fair row), and
  skopeo as a sequential loop (`xargs -P1`; over a sample of the tags unless
  `--full`, scaled to N and labelled so).
Beside each row: the client's CPU, the registry's and the bench process's (the
latency proxy) CPU per run and how busy the machine was. The latency floor is
counted in round trips: (⌈N/k⌉ + 2) RTT with k requests in flight (the listing and
connecting are the 2). CPU per tag is the child's CPU over the BIG run minus that
of a run over a one-tag repository (start-up), divided by BIG - 1. Registry
requests per tag are counted in-process on the N-tag repository at 0 ms.
"""

from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from scripts.bench_peers import Peer, xargs_row
from scripts.bench_proc import (
    TRUEDIGEST,
    CpuWatch,
    Json,
    log,
    median,
    ms,
    ratio,
    registry_pid,
    run_cmd,
    timed,
)
from scripts.bench_sections import proxy_for
from tests.support.images import Image, Pusher, build_image
from tests.support.registry import RegistryServer

DISTINCT_IMAGES = 20
OLD_DEFAULT_IN_FLIGHT = 8
# The Go runtime of the registry these rows talk to (every tool alike). Debian's
# distribution 2.8 allocates about 470 KiB per manifest GET (it rebuilds its URL router
# each request; fixed upstream in v3): with Go's default GC that is about 1.4 ms of its
# CPU per GET, which on 2 cores hides the clients being measured. GOGC=1000 (about
# 100 MB of heap) takes it to about 0.8 ms. The registry's CPU is printed beside each row.
REGISTRY_ENV = {"GOGC": "1000"}


def push_tags(registry: RegistryServer, repo: str, n: int) -> dict[str, str]:
    """N tags over min(20, N) distinct images; returns tag → digest."""
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
    return {tag: expected[tag] for tag in tags}


def concurrency_cap() -> int | None:
    """The upper bound `truedigest tags --help` gives for --concurrency (None if unsaid)."""
    run = run_cmd([*TRUEDIGEST, "tags", "--help"])
    found = re.search(r"--concurrency.*?<=x<=(\d+)", " ".join(run.stdout.split()))
    return int(found.group(1)) if found else None


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


def floor_trips(n: int, in_flight: int) -> int:
    return math.ceil(n / in_flight) + 2


def tags_cli(host: str, repo: str, expected: dict[str, str], reps: int, pid: int | None) -> Json:
    """`truedigest tags --plain-http HOST/REPO -o json`, `reps` times, output checked."""
    args = [*TRUEDIGEST, "tags", "--plain-http", f"{host}/{repo}", "-o", "json"]
    result: Json = {"command": "truedigest tags --plain-http HOST/REPO -o json"}
    runs = []
    watch = CpuWatch(pid).start()
    for _ in range(reps):
        run = run_cmd(args)
        if run.returncode != 0:
            return {**result, "status": "error", "exit_code": run.returncode, "stderr": run.tail()}
        runs.append(run)
    cpu = watch.stop(reps)  # before the output is checked: that is the bench's own work
    out = runs[-1].stdout
    try:
        json.loads(out)
        result["json_ok"] = True
    except ValueError:
        result["json_ok"] = False
    quoted = set(re.findall(r'"([^"\\]*)"', out))
    result["tags_found"] = len(quoted & set(expected))
    result["digests_found"] = len(quoted & set(expected.values()))
    ok = result["tags_found"] == len(expected) and result["json_ok"]
    return {
        **result,
        **cpu,
        "status": "ok" if ok else "wrong-output",
        "seconds": round(min(r.seconds for r in runs), 3),
        "runs": [round(r.seconds, 3) for r in runs],
        "client_cpu_s": round(min(r.cpu for r in runs), 3),
    }


def requests_in_process(host: str, repo: str, n: int) -> Json:
    """Registry requests of the library behind `truedigest tags` (`scan_tags`)."""
    try:
        from truedigest.engine.tags_run import scan_tags
        from truedigest.oci.auth import CredentialStore
        from truedigest.oci.reference import parse_repository
        from truedigest.oci.registry import RegistryClient
        from truedigest.oci.transport import ClientOptions

        ref = parse_repository(f"{host}/{repo}")
        with RegistryClient(
            ClientOptions(plain_http=True), credentials=CredentialStore(env={})
        ) as client:
            scan = scan_tags(client, ref)
            requests = client.requests_made
    except Exception as exc:  # a changed signature is reported, not a crash
        return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}
    found = sum(len(g.tags) for g in scan.groups)
    return {"status": "ok", "requests": requests, "tags_found": found, "tags": n}


def in_trips(row: Json, rtt_ms: float) -> Json:
    if row.get("status") == "ok" and rtt_ms > 0:
        row["round_trips"] = round(row["seconds"] * 1000 / rtt_ms, 1)
    return row


def with_floor(row: Json, n: int, rtt_ms: float, cap: int | None) -> Json:
    """Wall time in round trips, against the floor at 8 in flight and at the cap."""
    if row.get("status") != "ok" or rtt_ms <= 0:
        return row
    rtt = rtt_ms / 1000
    trips = row["seconds"] / rtt
    row["round_trips"] = round(trips, 1)
    row["floor_8_trips"] = floor_trips(n, OLD_DEFAULT_IN_FLIGHT)
    row["over_floor_8"] = ratio(trips, row["floor_8_trips"])
    if cap:
        row["floor_cap_trips"] = floor_trips(n, cap)
        row["over_floor_cap"] = ratio(trips, row["floor_cap_trips"])
    # the number of requests in flight that would explain the wall time
    row["equivalent_in_flight"] = round(n / max(1.0, trips - 2), 1)
    return row


def bench_tags(
    work: Path,
    *,
    n: int,
    big: int,
    rtt_ms: float,
    reps: int,
    peers: dict[str, Peer | None],
    sequential: int,
) -> Json:
    repo, big_repo, one_repo = "bench/tags", "bench/tags-big", "bench/tags-one"
    out: Json = {"tags": n, "big_tags": big, "rtt_ms": rtt_ms, "registry_env": REGISTRY_ENV}
    with RegistryServer.start("plain", work / "tags", env=REGISTRY_ENV) as registry:
        pid = registry_pid(registry)
        seconds, expected = timed(partial(push_tags, registry, repo, n))
        expected_big = push_tags(registry, big_repo, big) if big else {}
        expected_one = push_tags(registry, one_repo, 1)
        out["push_seconds"] = round(seconds, 3)
        out["distinct_digests"] = len(set(expected.values()))
        cap = concurrency_cap()
        out["concurrency_cap"] = cap
        out["requests"] = requests_in_process(registry.host, repo, n)
        with proxy_for(registry, rtt_ms) as proxy:
            out["measured_rtt_ms"] = ms(http_rtt(proxy.host))
            tags_cli(proxy.host, repo, expected, 1, pid)  # untimed warm-up
            log("tags: start-up CPU (a one-tag repository)")
            out["one_tag"] = tags_cli(proxy.host, one_repo, expected_one, max(3, reps), pid)
            log(f"tags: truedigest tags, {n} tags")
            proxy.reset()
            row = tags_cli(proxy.host, repo, expected, reps, pid)
            row["connections_per_run"] = proxy.connections // reps
            out["truedigest"] = with_floor(row, n, rtt_ms, cap)
            for name, peer in peers.items():
                if peer is None:
                    out[f"{name}_p8"] = {"status": "not installed"}
                    continue
                log(f"tags: xargs -P8 {name}, {n} tags")
                peer.prepare(proxy.host)
                watch = CpuWatch(pid).start()
                row = xargs_row(peer, proxy.host, repo, expected, parallel=8, work=work)
                out[f"{name}_p8"] = in_trips(row | watch.stop(), rtt_ms)
            skopeo = peers.get("skopeo")
            if skopeo is not None:
                sample = dict(list(expected.items())[: max(1, min(sequential, n))])
                log(f"tags: sequential skopeo loop, {len(sample)} of {n} tags")
                watch = CpuWatch(pid).start()
                loop = xargs_row(skopeo, proxy.host, repo, sample, parallel=1, work=work)
                loop |= watch.stop()
                loop["measured_tags"] = len(sample)
                if loop.get("status") == "ok" and len(sample) < n:
                    loop["measured_seconds"] = loop["seconds"]
                    for key in ("seconds", "client_cpu_s", "registry_cpu_s", "proxy_cpu_s"):
                        if loop.get(key) is not None:  # every column at N tags
                            loop[key] = round(loop[key] * n / len(sample), 3)
                    loop["scaled"] = True
                out["skopeo_seq"] = in_trips(loop, rtt_ms)
            if big:
                log(f"tags: truedigest tags, {big} tags")
                big_reps = max(1, min(reps, 2))
                proxy.reset()
                row = tags_cli(proxy.host, big_repo, expected_big, big_reps, pid)
                row["connections_per_run"] = proxy.connections // big_reps
                out["truedigest_big"] = with_floor(row, big, rtt_ms, cap)
    out["cpu_per_tag"] = cpu_per_tag(out)
    return out


def cpu_per_tag(out: Json) -> Json:
    """The client's CPU per tag: (bulk run - one-tag run) / (tags - 1)."""
    one = out.get("one_tag", {})
    bulk_key = "truedigest_big" if out.get("big_tags") else "truedigest"
    bulk = out.get(bulk_key, {})
    tags = out["big_tags"] if bulk_key == "truedigest_big" else out["tags"]
    if one.get("status") != "ok" or bulk.get("status") != "ok" or tags < 2:
        return {"status": "unavailable", "from": bulk_key}
    per = (bulk["client_cpu_s"] - one["client_cpu_s"]) / (tags - 1)
    return {
        "status": "ok",
        "from": bulk_key,
        "tags": tags,
        "bulk_cpu_s": bulk["client_cpu_s"],
        "startup_cpu_s": one["client_cpu_s"],
        "ms_per_tag": round(per * 1000, 3),
    }
