"""The pure parts of `truedigest pins`: candidates, judging, disagreements, verdicts.

Registry answers are plain dicts here (exists, tracked tag, diagnosis), so every
status decision is pinned without a server; one test runs `audit_pins` end to end
over an `httpx.MockTransport` for the failure paths a real registry will not show.
Digests are sha256 of bytes made in the test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from truedigest.core.pin_audit import (
    Candidate,
    Disagreement,
    PinAudit,
    PinEntry,
    PinPlan,
    TrackedTag,
    verdict_line,
)
from truedigest.core.pin_judge import disagreements, judge
from truedigest.cp.client import CPTarget, PinTable
from truedigest.engine.pin_candidates import file_candidates, row_candidate, table_candidates
from truedigest.engine.pins_run import audit_pins
from truedigest.model.diagnosis import Diagnosis
from truedigest.model.observation import Relation, Status, Verdict
from truedigest.oci.digest import Digest
from truedigest.oci.reference import parse_repository
from truedigest.oci.registry import RegistryClient

REG = "reg.example"
REPO = parse_repository(f"{REG}/team/app")
OTHER = parse_repository(f"{REG}/team/other")
PIN_KEYS = {
    "cp",
    "template_name",
    "region",
    "image_digest",
    "image_ref",
    "status",
    "relation",
    "detail",
}


def dg(seed: str) -> Digest:
    return Digest.of_bytes(seed.encode())


CURRENT, OLD, NEVER = dg("current"), dg("old"), dg("never")


def row(
    template: str, digest: object, *, ref: str | None = "default", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"template_name": template, "image_digest": digest, **extra}
    if ref == "default":
        out["image_ref"] = f"{REPO.name}@{digest}"
    elif ref is not None:
        out["image_ref"] = ref
    return out


def table(name: str, *rows: dict[str, Any]) -> PinTable:
    return PinTable(CPTarget(name, f"https://{name}.example"), tuple(rows))


def tracked(digest: Digest | None = CURRENT, **kw: Any) -> dict[str, TrackedTag]:
    return {REPO.name: TrackedTag(REPO.name, "latest", digest, **kw)}


def judged(
    c: Candidate,
    *,
    exists: bool | str = True,
    tracking: dict[str, TrackedTag] | None = None,
    diagnosis: Diagnosis | None = None,
) -> PinEntry:
    key = (c.locate.name, c.digest) if c.locate is not None and c.digest is not None else None
    return judge(
        c,
        exists={key: exists} if key else {},
        tracked=tracked() if tracking is None else tracking,
        relations={key: diagnosis} if key else {},
    )


# --------------------------------------------------------------------------- candidates


def test_row_candidate_locates_by_image_ref_else_repo() -> None:
    c = row_candidate("prod", row("api", str(CURRENT)), repo=None)
    assert c.problems == ()
    assert c.digest == CURRENT
    assert c.locate == REPO
    bare = row_candidate("prod", row("api", str(CURRENT), ref=None), repo=None)
    assert bare.locate is None
    with_repo = row_candidate("prod", row("api", str(CURRENT), ref=None), repo=REPO)
    assert with_repo.locate == REPO


@pytest.mark.parametrize(
    "digest",
    ["sha256:abc", str(CURRENT).upper(), "", None, 42, "md5:" + "0" * 32],
)
def test_malformed_image_digest_is_a_problem(digest: object) -> None:
    c = row_candidate("prod", row("api", digest, ref=None), repo=REPO)
    assert c.digest is None
    assert any("not a well-formed digest" in p for p in c.problems)
    entry = judged(c)
    assert entry.status is Status.MISMATCH
    assert entry.relation is None


def test_image_ref_problems() -> None:
    wrong_digest = row_candidate("p", row("api", str(CURRENT), ref=f"{REPO.name}@{OLD}"), repo=None)
    assert any(f"image_ref names {OLD}" in p for p in wrong_digest.problems)
    no_digest = row_candidate("p", row("api", str(CURRENT), ref=f"{REPO.name}:v1"), repo=None)
    assert any("does not end in @" in p for p in no_digest.problems)
    other = row_candidate("p", row("api", str(CURRENT), ref=f"{OTHER.name}@{CURRENT}"), repo=REPO)
    assert any(f"names repository {OTHER.name}, not {REPO.name}" in p for p in other.problems)
    assert other.locate == OTHER  # looked up where provisions pull from
    garbage = row_candidate("p", row("api", str(CURRENT), ref="NOT A REF"), repo=REPO)
    assert garbage.problems
    assert garbage.locate == REPO
    for c in (wrong_digest, no_digest, other, garbage):
        assert judged(c).status is Status.MISMATCH


def test_table_candidates_count_duplicates_per_template_and_region() -> None:
    t = table(
        "prod",
        row("api", str(CURRENT)),
        row("api", str(OLD)),
        row("api", str(OLD), region="eu"),
        row("worker", str(CURRENT)),
    )
    cands = table_candidates(t, template=None, repo=None)
    dupes = {(c.entry.template_name, c.entry.region, c.digest): c.duplicates for c in cands}
    assert dupes == {
        ("api", "global", CURRENT): 2,
        ("api", "global", OLD): 2,
        ("api", "eu", OLD): 1,
        ("worker", "global", CURRENT): 1,
    }
    other = Diagnosis(Relation.OTHER_IMAGE)
    entries = [judged(c, diagnosis=other) for c in cands if c.entry.template_name == "api"]
    assert [e.status for e in entries] == [Status.AMBIGUOUS, Status.AMBIGUOUS, Status.OK]
    assert entries[0].detail is not None
    assert entries[0].detail.startswith("2 rows for template 'api' in region 'global'")


def test_duplicate_and_broken_row_is_a_mismatch() -> None:
    t = table("prod", row("api", str(CURRENT)), row("api", "sha256:nope", ref=None))
    broken = next(c for c in table_candidates(t, template=None, repo=REPO) if c.digest is None)
    assert judged(broken).status is Status.MISMATCH


def test_template_narrows_and_an_empty_cp_is_missing() -> None:
    t = table("prod", row("api", str(CURRENT)), row("worker", str(CURRENT)))
    assert [c.entry.template_name for c in table_candidates(t, template="api", repo=None)] == [
        "api"
    ]
    (missing,) = table_candidates(t, template="web", repo=None)
    assert missing.entry.status is Status.MISSING
    assert missing.entry.detail is not None
    assert "no pin row for template 'web'" in missing.entry.detail
    assert judged(missing).status is Status.MISSING
    (empty,) = table_candidates(table("prod"), template=None, repo=None)
    assert empty.entry.status is Status.MISSING


def test_row_without_template_name_is_a_problem() -> None:
    c = row_candidate(
        "prod", {"image_digest": str(CURRENT), "image_ref": f"{REPO.name}@{CURRENT}"}, repo=None
    )
    assert "the row has no template_name" in c.problems


def test_file_candidates(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    text = (
        f"image: {REPO.name}@{CURRENT}\n"
        f"sidecar: {OTHER.name}@{OLD}\n"
        f"broken: {REPO.name}@sha256:{'a' * 10}\n"
    )
    path.write_text(text)
    every = file_candidates(path, repo=None)
    assert [(c.entry.line, c.digest) for c in every] == [(1, CURRENT), (2, OLD), (3, None)]
    assert every[1].locate == OTHER
    assert every[2].entry.status is Status.MISMATCH
    assert judged(every[2]).status is Status.MISMATCH
    narrowed = file_candidates(path, repo=REPO)
    assert [c.entry.line for c in narrowed] == [1, 3]
    path.write_text("nothing here\n")
    none = file_candidates(path, repo=REPO)
    assert [c.entry.status for c in none] == [Status.MISSING]


# --------------------------------------------------------------------------- judging


def current_pin() -> Candidate:
    return row_candidate("prod", row("api", str(CURRENT)), repo=None)


def old_pin() -> Candidate:
    return row_candidate("prod", row("api", str(OLD)), repo=None)


def test_identical_pin_is_ok() -> None:
    entry = judged(current_pin())
    assert (entry.status, entry.relation, entry.exists) == (Status.OK, Relation.IDENTICAL, True)
    assert entry.tracked == str(CURRENT)
    assert entry.detail is None


def test_pin_behind_latest_is_ok_with_a_detail() -> None:
    entry = judged(old_pin(), diagnosis=Diagnosis(Relation.OTHER_IMAGE))
    assert (entry.status, entry.relation) == (Status.OK, Relation.OTHER_IMAGE)
    assert entry.detail is not None
    assert entry.detail.startswith("latest has moved past this pin")
    assert str(CURRENT) in entry.detail


@pytest.mark.parametrize(
    ("relation", "status"),
    [
        (Relation.PLATFORM_MANIFEST, Status.OK),
        (Relation.INDEX_OF, Status.OK),
        (Relation.ATTESTATION, Status.MISMATCH),
        (Relation.CONFIG_DIGEST, Status.MISMATCH),
    ],
)
def test_relations_that_exist(relation: Relation, status: Status) -> None:
    entry = judged(old_pin(), diagnosis=Diagnosis(relation, platform="linux/amd64"))
    assert (entry.status, entry.relation) == (status, relation)
    assert entry.detail


def test_dangling_pin() -> None:
    entry = judged(old_pin(), exists=False, diagnosis=Diagnosis(Relation.NOT_IN_REGISTRY))
    assert (entry.status, entry.relation, entry.exists) == (
        Status.MISMATCH,
        Relation.NOT_IN_REGISTRY,
        False,
    )
    assert entry.detail is not None
    assert "dangling" in entry.detail
    # Without a tracked tag (no diagnosis possible) it is still dangling.
    alone = judged(old_pin(), exists=False, tracking=tracked(None, absent=True))
    assert (alone.status, alone.relation) == (Status.MISMATCH, Relation.NOT_IN_REGISTRY)


def test_failed_head_defers_to_a_diagnosis() -> None:
    broken = judged(old_pin(), exists="HTTP 500")
    assert broken.status is Status.ERROR
    assert broken.detail is not None
    assert "could not check the registry: HTTP 500" in broken.detail
    config = judged(old_pin(), exists="HTTP 500", diagnosis=Diagnosis(Relation.CONFIG_DIGEST))
    assert (config.status, config.relation, config.exists) == (
        Status.MISMATCH,
        Relation.CONFIG_DIGEST,
        False,
    )


def test_tracked_tag_absent_or_unreadable() -> None:
    absent = judged(old_pin(), tracking=tracked(None, absent=True))
    assert (absent.status, absent.relation) == (Status.OK, None)
    assert absent.detail is not None
    assert "latest does not exist" in absent.detail
    failed = judged(old_pin(), tracking=tracked(None, error="HTTP 500"))
    assert failed.status is Status.ERROR
    unknown = judged(old_pin(), diagnosis=None)  # differs, and the relation could not be read
    assert (unknown.status, unknown.relation) == (Status.ERROR, None)


def test_unlocatable_row_is_an_error_unless_already_wrong() -> None:
    bare = row_candidate("prod", row("api", str(CURRENT), ref=None), repo=None)
    entry = judged(bare)
    assert entry.status is Status.ERROR
    assert entry.detail is not None
    assert "no image_ref and no --repo" in entry.detail
    assert entry.repository is None


# --------------------------------------------------------------------------- CPs and verdicts


def test_disagreements_across_cps() -> None:
    prod = table("prod", row("api", str(CURRENT)), row("worker", str(CURRENT)))
    staging = table("staging", row("api", str(OLD)), row("worker", str(CURRENT)))
    dev = table("dev", row("api", str(OLD)), row("api", str(NEVER)))  # duplicates: skipped
    cands = [c for t in (prod, staging, dev) for c in table_candidates(t, template=None, repo=None)]
    assert disagreements(cands) == [
        Disagreement("api", "global", {"prod": str(CURRENT), "staging": str(OLD)})
    ]
    regions = table("staging", row("api", str(OLD), region="eu"))
    assert (
        disagreements(
            table_candidates(prod, template=None, repo=None)
            + table_candidates(regions, template=None, repo=None)
        )
        == []
    )


def _entry(status: Status) -> PinEntry:
    return PinEntry("cp:prod", "prod", "api", "global", str(CURRENT), None, status)


@pytest.mark.parametrize(
    ("statuses", "disagree", "verdict", "code"),
    [
        ([Status.OK, Status.OK], False, Verdict.AGREE, 0),
        ([Status.OK], True, Verdict.MISMATCH, 1),
        ([Status.OK, Status.ERROR], False, Verdict.UNAVAILABLE, 3),
        ([Status.ERROR, Status.MISMATCH], False, Verdict.MISMATCH, 1),
        ([Status.AMBIGUOUS], False, Verdict.MISMATCH, 1),
        ([Status.MISSING, Status.ERROR], False, Verdict.MISMATCH, 1),
    ],
)
def test_verdict_fails_closed(
    statuses: list[Status], disagree: bool, verdict: Verdict, code: int
) -> None:
    found = (Disagreement("api", "global", {"a": "x", "b": "y"}),) if disagree else ()
    audit = PinAudit("latest", tuple(_entry(s) for s in statuses), found)
    assert audit.verdict is verdict
    assert audit.exit_code == code
    doc = audit.to_json()
    assert doc["schema"] == "truedigest.pins/v1"
    assert (doc["verdict"], doc["exit_code"]) == (str(verdict), code)
    assert all(set(p) >= PIN_KEYS for p in doc["pins"])
    assert verdict_line(audit).startswith(f"verdict: {verdict} (exit {code})")


# --------------------------------------------------------------------------- end to end, mocked


def test_audit_over_a_mock_registry_and_cp() -> None:
    """A CP that serves a bare list, a registry whose tracked tag answers 500."""
    rows = [row("api", str(CURRENT)), row("worker", str(NEVER))]
    manifest_heads = {str(CURRENT): 200, str(NEVER): 404}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.host}{request.url.path}")
        if request.url.host == "cp.example":
            assert request.headers["authorization"] == "Bearer s3cret-cp-token"
            return httpx.Response(200, json=rows)
        path = request.url.path
        if path.endswith("/manifests/latest"):
            return httpx.Response(500, json={"errors": [{"code": "UNKNOWN"}]})
        ref = path.rsplit("/", 1)[1]
        return httpx.Response(
            manifest_heads[ref],
            headers={"docker-content-digest": ref, "content-type": "application/json"},
        )

    transport = httpx.MockTransport(handler)
    with RegistryClient(transport=transport, sleep=lambda _s: None) as client:
        audit = audit_pins(
            PinPlan(cps=[CPTarget("prod", "https://cp.example")]),
            client,
            env={"CP_ADMIN_API_TOKEN": "s3cret-cp-token"},
        )
    api, worker = audit.pins
    assert (api.status, api.relation, api.exists) == (Status.ERROR, None, True)
    assert api.detail is not None
    assert "could not read" in api.detail
    assert (worker.status, worker.relation) == (Status.MISMATCH, Relation.NOT_IN_REGISTRY)
    assert audit.exit_code == 1  # the dangling pin is proven; the 500 alone would be 3
    assert "s3cret-cp-token" not in json.dumps(audit.to_json())
    assert sorted(seen) == sorted(
        [
            "GET cp.example/cp/admin/runtime-image",
            f"HEAD {REG}/v2/team/app/manifests/{CURRENT}",
            f"HEAD {REG}/v2/team/app/manifests/{NEVER}",
            f"GET {REG}/v2/team/app/manifests/{CURRENT}",  # its revision annotation
            f"GET {REG}/v2/team/app/manifests/latest",
        ]
    )
    assert hashlib.sha256(b"current").hexdigest() == CURRENT.hex
