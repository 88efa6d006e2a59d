"""scripts/bench --quick runs end to end and its JSON carries every section, with numbers.

No timing thresholds here: the benchmark measures, tests don't time things. What
is checked is that each section ran, produced numbers of the right kind, and that
the counts that are facts rather than timings (requests per resolve, tags found,
the verify verdict) came out as the targets say, and that every timed truedigest
row is a whole process checked against the output it must print.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.oracle import skopeo_available
from tests.support.requirements import require_registry, require_tool

ROOT = Path(__file__).resolve().parents[2]
TAGS = 24
BIG = 40
BENCH = [sys.executable, "-m", "scripts.bench"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


@pytest.fixture(scope="module")
def bench() -> dict[str, Any]:
    require_registry()
    require_tool(skopeo_available(), "skopeo", "skopeo")
    proc = subprocess.run(
        [
            *BENCH,
            "--quick",
            "--tags",
            str(TAGS),
            "--big-tags",
            str(BIG),
            "--rtt-ms",
            "10",
            "--json",
            "-",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    doc["_stderr"] = proc.stderr
    return doc


def test_document_has_every_section(bench: dict[str, Any]) -> None:
    assert bench["schema"] == "truedigest.bench/v2"
    params = bench["params"]
    assert (params["tags"], params["big_tags"], params["rtt_ms"]) == (TAGS, BIG, 10.0)
    assert params["quick"] is True
    assert params["full"] is False
    assert set(bench["results"]) == {"requests", "startup", "resolve_rtt", "tags", "verify"}
    assert bench["errors"] == {}
    assert _number(bench["total_seconds"])
    assert set(bench["environment"]["peers"]) == {"skopeo", "oras", "crane", "regctl"}
    # The text table went to stderr, so stdout stayed pure JSON.
    assert "\nperformance targets" in bench["_stderr"]


def test_resolve_request_counts(bench: dict[str, Any]) -> None:
    req = bench["results"]["requests"]
    assert req["plain"]["cold_requests"] == 1
    assert req["plain"]["warm_requests"] == 1
    assert req["token"]["cold_requests"] == 3
    assert req["token"]["cold_requests_by_host"] == {"registry": 2, "token": 1}
    assert req["token"]["warm_requests"] == 1


def test_startup_rows_are_whole_processes(bench: dict[str, Any]) -> None:
    startup = bench["results"]["startup"]
    rows = {
        "python -c pass",
        "truedigest --version",
        "truedigest --help",
        "truedigest resolve",
        "truedigest verify (1 image + 1 CP)",
    }
    assert set(startup["min_ms"]) == rows
    assert all(
        _number(startup[k][row]) for k in ("min_ms", "median_ms", "min_cpu_ms") for row in rows
    )
    assert startup["over_python"]["python -c pass"] == 1.0
    assert startup["verify_cp_requests_per_run"] == 1
    for key in ("importtime_help", "importtime_version", "importtime_resolve"):
        profile = startup[key]
        assert profile["exit_code"] == 0
        assert profile["click_imported"] is True  # the parse worked: click is always there
        assert isinstance(profile["httpx_imported"], bool)
    assert startup["importtime_resolve"]["httpx_imported"] is False  # stdlib request path


def test_resolve_against_peers(bench: dict[str, Any]) -> None:
    r = bench["results"]["resolve_rtt"]
    assert set(r["rows"]) == {"truedigest", "skopeo", "oras", "crane", "regctl"}
    assert r["rows"]["truedigest"]["connections"] == 1
    for name, row in r["rows"].items():
        assert row["status"] in ("ok", "not installed"), name
        if bench["environment"]["peers"][name if name != "truedigest" else "skopeo"] is None:
            assert row["status"] == "not installed"
    assert r["rows"]["skopeo"]["status"] == "ok"
    assert r["fastest_peer"] in r["rows"]
    assert _number(r["over_fastest_peer"])


def test_tags_section(bench: dict[str, Any]) -> None:
    tags = bench["results"]["tags"]
    assert tags["requests"] == {
        "status": "ok",
        "requests": TAGS + 1,
        "tags_found": TAGS,
        "tags": TAGS,
    }
    for key, n in (("truedigest", TAGS), ("truedigest_big", BIG)):
        row = tags[key]
        assert row["status"] == "ok", row
        assert row["tags_found"] == n
        assert row["json_ok"] is True
        assert row["digests_found"] == min(n, 20)
        assert row["floor_8_trips"] == -(-n // 8) + 2  # ⌈n/8⌉ + listing + connect
        for number in ("seconds", "round_trips", "client_cpu_s", "registry_cpu_s", "proxy_cpu_s"):
            assert _number(row[number]), (key, number)
    for key in ("skopeo_p8", "skopeo_seq"):
        row = tags[key]
        assert row["status"] == "ok", row
        assert row["manifests_ok"] == TAGS  # every process printed a pushed manifest
        assert _number(row["client_cpu_s"])
        assert _number(row["registry_cpu_s"])
    assert tags["skopeo_seq"]["measured_tags"] == TAGS
    assert "scaled" not in tags["skopeo_seq"]
    for name in ("oras", "crane", "regctl"):
        if bench["environment"]["peers"][name] is None:
            assert tags[f"{name}_p8"] == {"status": "not installed"}
    cpu = tags["cpu_per_tag"]
    assert cpu["status"] == "ok"
    assert cpu["from"] == "truedigest_big"
    assert cpu["tags"] == BIG
    assert isinstance(cpu["ms_per_tag"], float)


def test_verify_section(bench: dict[str, Any]) -> None:
    verify = bench["results"]["verify"]
    assert verify["verdict"] == "agree"
    assert verify["requests_per_source"] == {"registry": 1, "cp-a": 1, "cp-b": 1}
    assert set(verify["source_alone_ms"]) == {"registry", "cp-a", "cp-b"}
    for key in ("wall_ms", "slowest_source_ms", "sum_of_sources_ms", "wall_over_slowest"):
        assert _number(verify[key]), key


def test_targets_are_judged(bench: dict[str, Any]) -> None:
    targets = bench["targets"]
    assert {t["status"] for t in targets} <= {"PASS", "MISS", "n/a"}
    by_name = {t["name"]: t for t in targets}
    for fact in (
        "resolve, warm: registry requests",
        "resolve, cold plain registry: requests (no /v2/ ping)",
        "resolve, cold token registry: requests (401, token, GET)",
        "tags: registry requests (1 per tag + the listing, no ping)",
        "verify CLI, agree path: CP requests per run",
        f"tags: {TAGS} tags, every pushed tag in the JSON output",
        f"tags: {BIG} tags, every pushed tag in the JSON output",
    ):
        assert by_name[fact]["status"] == "PASS", by_name[fact]
    ratios = [
        "start-up: resolve, whole process / python -c pass",
        "start-up: verify (1 image + 1 CP), whole process / python -c pass",
        "resolve at 10 ms RTT / fastest peer",
        f"tags: client CPU per tag (over {BIG} tags, less start-up)",
        "tags: speedup over a sequential skopeo inspect --raw loop",
    ]
    for name in ratios:
        assert by_name[name]["status"] in ("PASS", "MISS"), by_name[name]
    # 24 and 40 tags at 10 ms are not what the wall-time targets name: not judged
    assert by_name[f"tags: {TAGS} tags at 10 ms RTT, whole process"]["status"] == "n/a"
    assert "\nperformance targets" in bench["_stderr"]
