"""scripts/bench's judging and parsing, on numbers made up here (no registry, no timing)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from scripts.bench_peers import sha256, split_documents
from scripts.bench_proc import proc_cpu
from scripts.bench_tags import cpu_per_tag, with_floor
from scripts.bench_targets import evaluate_targets


def _status(targets: list[dict[str, Any]], prefix: str) -> list[str]:
    return [t["status"] for t in targets if t["name"].startswith(prefix)]


def _results(td_seconds: float, big_seconds: float, resolve_ms: float) -> dict[str, Any]:
    row = {"status": "ok", "seconds": td_seconds, "tags_found": 200}
    big = {"status": "ok", "seconds": big_seconds, "tags_found": 3000}
    return {
        "startup": {
            "min_ms": {
                "python -c pass": 12.0,
                "truedigest resolve": resolve_ms,
                "truedigest verify (1 image + 1 CP)": 100.0,
            },
            "over_python": {
                "truedigest resolve": round(resolve_ms / 12, 2),
                "truedigest verify (1 image + 1 CP)": 8.33,
            },
            "verify_cp_requests_per_run": 1,
            "importtime_help": {"httpx_imported": False, "rich_imported": False},
            "importtime_version": {"httpx_imported": False, "rich_imported": True},
        },
        "tags": {
            "tags": 200,
            "big_tags": 3000,
            "truedigest": with_floor(row, 200, 40.0, 64),
            "truedigest_big": with_floor(big, 3000, 40.0, 64),
            "cpu_per_tag": {"status": "ok", "tags": 3000, "ms_per_tag": 0.5},
        },
    }


def test_ratios_pass_and_miss_on_the_numbers_of_one_run() -> None:
    targets = evaluate_targets(_results(0.6, 3.2, 91.0), 40.0)
    assert _status(targets, "start-up: resolve") == ["MISS"]  # 91/12 = 7.58 > 7.5
    assert _status(targets, "start-up: verify") == ["PASS"]
    assert _status(targets, "start-up: --help/--version") == ["MISS"]  # rich on --version
    assert _status(targets, "tags: 200 tags at 40 ms RTT") == ["PASS"]  # 15 RTT exactly
    assert _status(targets, "tags: 3000 tags at 40 ms RTT") == ["MISS"]  # 80 RTT > 75
    assert _status(targets, "tags: client CPU per tag") == ["MISS"]


def test_wall_time_targets_are_not_judged_at_another_rtt() -> None:
    targets = evaluate_targets(_results(0.1, 0.1, 60.0), 10.0)
    assert _status(targets, "tags: 200 tags at 10 ms RTT") == ["n/a"]
    assert _status(targets, "tags: 3000 tags at 10 ms RTT") == ["n/a"]
    assert _status(targets, "start-up: resolve") == ["PASS"]


def test_floor_in_round_trips() -> None:
    row = with_floor({"status": "ok", "seconds": 1.08}, 200, 40.0, 64)
    assert row["round_trips"] == 27.0
    assert row["floor_8_trips"] == 27  # ⌈200/8⌉ + connecting + the listing
    assert row["floor_cap_trips"] == 6  # ⌈200/64⌉ + 2
    assert row["over_floor_8"] == 1.0


def test_cpu_per_tag_takes_out_start_up() -> None:
    out = {
        "tags": 200,
        "big_tags": 3001,
        "one_tag": {"status": "ok", "client_cpu_s": 0.2},
        "truedigest_big": {"status": "ok", "client_cpu_s": 1.4},
    }
    assert cpu_per_tag(out)["ms_per_tag"] == 0.4
    out["truedigest_big"] = {"status": "error"}
    assert cpu_per_tag(out)["status"] == "unavailable"


def test_split_documents_keeps_each_manifest_exact() -> None:
    docs = ['{"a": 1}', '{\n  "b": [1, 2]\n}', '{"c":"}{"}']
    text = docs[0] + docs[1] + "\n" + docs[2] + "\n"
    assert split_documents(text) == docs
    assert [sha256(d) for d in docs] == [
        "sha256:" + hashlib.sha256(d.encode()).hexdigest() for d in docs
    ]


def test_proc_cpu_reads_a_live_process() -> None:
    assert isinstance(proc_cpu(os.getpid()), float)
    assert proc_cpu(None) is None
