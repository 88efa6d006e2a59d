"""scripts/bench --quick runs end to end and its JSON carries every section, with numbers.

No timing thresholds here: the benchmark measures, tests don't time things. What
is checked is that each section ran, produced numbers of the right kind, and that
the counts that are facts rather than timings (requests per resolve, tags found,
the verify verdict) came out as DESIGN §8 says.
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
BENCH = [sys.executable, "-m", "scripts.bench"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


@pytest.fixture(scope="module")
def bench() -> dict[str, Any]:
    require_registry()
    require_tool(skopeo_available(), "skopeo", "skopeo")
    proc = subprocess.run(
        [*BENCH, "--quick", "--tags", str(TAGS), "--rtt-ms", "10", "--json", "-"],
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
    assert bench["schema"] == "truedigest.bench/v1"
    assert bench["params"] == {
        "tags": TAGS,
        "rtt_ms": 10.0,
        "quick": True,
        "in_flight_per_host": 8,
        "repetitions": bench["params"]["repetitions"],
    }
    assert set(bench["results"]) == {"resolve", "tags", "verify", "startup"}
    assert bench["errors"] == {}
    assert _number(bench["total_seconds"])
    # The text table went to stderr, so stdout stayed pure JSON.
    assert "\nperformance targets " in bench["_stderr"]


def test_resolve_request_counts(bench: dict[str, Any]) -> None:
    resolve = bench["results"]["resolve"]
    assert resolve["plain"]["cold_requests"] == 1
    assert resolve["plain"]["warm_requests"] == 1
    assert resolve["token"]["cold_requests"] == 3
    assert resolve["token"]["cold_requests_by_host"] == {"registry": 2, "token": 1}
    assert resolve["token"]["warm_requests"] == 1
    for variant in ("plain", "token"):
        assert _number(resolve[variant]["cold_ms"])
        assert _number(resolve[variant]["warm_ms"])


def test_tags_section(bench: dict[str, Any]) -> None:
    tags = bench["results"]["tags"]
    assert tags["tags"] == TAGS
    assert tags["floor"]["round_trips"] == 3 + 2  # ⌈24/8⌉ + listing + connect
    for label in ("0ms", "rtt"):
        loop = tags[f"skopeo_{label}"]
        assert loop["status"] == "ok"
        assert loop["wrong_digests"] == 0
        assert _number(loop["seconds"])
        assert _number(loop["per_call_ms"])
    if not tags["truedigest_available"]:
        # `truedigest tags` not written yet: reported, not crashed.
        assert tags["truedigest_rtt"]["status"] == "unavailable"
        return
    for label in ("0ms", "rtt"):
        cli = tags[f"truedigest_{label}"]
        assert cli["status"] == "ok", cli
        assert cli["tags_found"] == TAGS
        assert cli["json_ok"] is True
        assert _number(cli["seconds"])
        assert _number(tags[f"speedup_{label}"])
        inproc = tags[f"inprocess_{label}"]
        assert inproc["status"] == "ok", inproc
        assert inproc["requests"] == TAGS + 1  # the listing, then one GET per tag
    assert _number(tags["ratio_to_floor"])
    assert tags["imports"]["exit_code"] == 0


def test_verify_section(bench: dict[str, Any]) -> None:
    verify = bench["results"]["verify"]
    assert verify["verdict"] == "agree"
    assert verify["requests_per_source"] == {"registry": 1, "cp-a": 1, "cp-b": 1}
    assert set(verify["source_alone_ms"]) == {"registry", "cp-a", "cp-b"}
    for key in ("wall_ms", "slowest_source_ms", "sum_of_sources_ms", "wall_over_slowest"):
        assert _number(verify[key]), key


def test_startup_section(bench: dict[str, Any]) -> None:
    startup = bench["results"]["startup"]
    assert set(startup["median_ms"]) == {
        "python -c pass",
        "truedigest --help",
        "truedigest --version",
    }
    assert all(_number(v) for v in startup["median_ms"].values())
    for key in ("importtime_help", "importtime_version"):
        profile = startup[key]
        assert profile["exit_code"] == 0
        assert profile["click_imported"] is True  # the parse worked: click is always there
        assert isinstance(profile["httpx_imported"], bool)
        assert isinstance(profile["rich_imported"], bool)


def test_targets_are_judged(bench: dict[str, Any]) -> None:
    targets = bench["targets"]
    assert len(targets) >= 6
    assert {t["status"] for t in targets} <= {"PASS", "MISS", "n/a"}
    by_name = {t["name"]: t for t in targets}
    assert by_name["resolve, warm: registry requests"]["status"] == "PASS"
