"""The `running` judgement (issue 13): relations, untraceable, mixed, pins, verdicts.

Inputs are the real-shape fixtures of tests/realworld/data/running; the registry
facts are computed from the build corpus layout those fixtures were made from.
Every relation that PROVENANCE.json records is asserted here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.running_facts import REFERENCE, REPOSITORY, RUNNING, corpus, view
from truedigest.base import jsonutil
from truedigest.core.running_judge import converged, judge_running
from truedigest.core.running_relate import digests_to_look_up, relate
from truedigest.model.observation import Observation, SourceKind, Status
from truedigest.model.running_state import (
    ContainerRow,
    DigestKind,
    RegistryView,
    RowStatus,
    RunningRecord,
    RunningRelation,
    RunningReport,
    RunningVerdict,
    TruthState,
)
from truedigest.oci.digest import Digest
from truedigest.sources.running_inputs import parse_document, read_running

R = RunningRelation
PROVENANCE = {e["file"]: e for e in json.loads((RUNNING / "PROVENANCE.json").read_text())["files"]}


def judge(*names: str, platform: str | None = None, **kw: Any) -> RunningReport:
    recs = read_running([str(RUNNING / n) for n in names])
    return judge_running(recs, view(platform=platform), **kw)


def containers(report: RunningReport) -> list[ContainerRow]:
    return [r for r in report.containers if r.relation is not R.MIXED and r.where != "input"]


def mixed(report: RunningReport) -> list[ContainerRow]:
    return [r for r in report.containers if r.relation is R.MIXED]


def pin(digest: Digest, name: str = "prod") -> Observation:
    return Observation(
        id=f"cp:{name}", kind=SourceKind.CP, where=f"https://cp/{name}", digest=digest
    )


# -- the relations PROVENANCE.json records ----------------------------------------------


def _platform_of(expect_with: str) -> str | None:
    words = expect_with.split()
    return words[words.index("--platform") + 1] if "--platform" in words else None


@pytest.mark.parametrize(
    "name", [n for n, e in PROVENANCE.items() if "expected" in e and "relations" in e["expected"]]
)
def test_every_recorded_relation(name: str) -> None:
    entry = PROVENANCE[name]
    expected = entry["expected"]
    report = judge(name, platform=_platform_of(entry["expect_with"]))
    rows = containers(report)
    assert rows
    for row in rows:
        want = expected["relations"].get("*")
        want = (
            want or expected["relations"].get(row.pod or "") or expected["relations"][row.container]
        )
        assert row.relation == want, (row.pod, row.container, row.detail)
    if "verdict" in expected:
        assert str(report.verdict) == expected["verdict"]
    if "exit_code" in expected:
        assert report.exit_code == expected["exit_code"]
    if "names_pod" in expected:
        (row,) = mixed(report)
        assert row.detail is not None
        assert expected["names_pod"] in row.detail


# -- acceptance: a rollout stranded on old bytes, then converged ------------------------


def test_one_of_three_pods_on_the_old_digest_is_mixed_naming_it() -> None:
    report = judge("kubectl-pods-mid-rollout.json", platform="linux/amd64")
    assert report.verdict is RunningVerdict.MIXED
    assert report.exit_code == 1
    (row,) = mixed(report)
    c = corpus()
    assert row.workload == "Deployment/web"
    assert row.pods == {
        str(c.amd64): ("web-6b8f7c9d5-4xq2m", "web-6b8f7c9d5-9kzt7"),
        str(c.old): ("web-5f9d4b7c8-tq8vn",),
    }
    assert row.detail is not None
    assert "web-5f9d4b7c8-tq8vn" in row.detail
    old = next(r for r in containers(report) if r.pod == "web-5f9d4b7c8-tq8vn")
    assert (old.status, old.relation) == (RowStatus.MISMATCH, R.OTHER_IMAGE)
    assert not converged(report)


def test_after_the_rollout_converges_exit_0() -> None:
    doc = json.loads((RUNNING / "kubectl-pods-mid-rollout.json").read_text())
    c = corpus()
    for item in doc["items"]:
        for status in item["status"]["containerStatuses"]:
            status["imageID"] = f"{REPOSITORY}@{c.amd64}"
    report = judge_running(
        parse_document(json.dumps(doc).encode(), where="now.json"), view(platform="linux/amd64")
    )
    assert report.verdict is RunningVerdict.AGREE
    assert report.exit_code == 0
    assert converged(report)
    assert mixed(report) == []


def test_without_platform_the_new_pods_run_a_child_of_the_truth() -> None:
    report = judge("kubectl-pods-mid-rollout.json")
    new = [r for r in containers(report) if r.pod and r.pod.startswith("web-6")]
    assert {(r.status, r.relation) for r in new} == {(RowStatus.OK, R.PLATFORM_MANIFEST)}
    assert report.verdict is RunningVerdict.MIXED


# -- acceptance: index vs child between the runtime and the pin --------------------------


def test_kubelet_reports_the_index_while_the_pin_names_the_amd64_child() -> None:
    c = corpus()
    report = judge("kubectl-pods-containerd-converged.json", pins=[pin(c.amd64)])
    assert report.verdict is RunningVerdict.AGREE
    for row in containers(report):
        assert (row.status, row.relation) == (RowStatus.OK, R.IDENTICAL)
        assert row.detail is not None
        assert "index-of" in row.detail
        assert "the same image" in row.detail
    assert [(p.status, p.relation) for p in report.pins] == [(RowStatus.OK, R.PLATFORM_MANIFEST)]
    link = relate(c.index, c.amd64, view())
    assert link is not None
    assert (link.relation, link.platform) == (R.INDEX_OF, "linux/amd64")


def test_kubelet_reports_the_child_while_the_pin_names_the_index() -> None:
    c = corpus()
    doc = json.loads((RUNNING / "kubectl-pods-mid-rollout.json").read_text())
    doc["items"] = doc["items"][:2]  # the converged new pods: amd64 child
    recs = parse_document(json.dumps(doc).encode(), where="new.json")
    report = judge_running(recs, view(platform="linux/amd64"), [pin(c.index)])
    assert report.verdict is RunningVerdict.AGREE
    for row in containers(report):
        assert row.status is RowStatus.OK
        assert row.detail is not None
        assert "platform-manifest" in row.detail
    assert [(p.status, p.relation) for p in report.pins] == [(RowStatus.OK, R.INDEX_OF)]


def test_crictl_image_ref_is_the_index_while_the_truth_is_the_amd64_child() -> None:
    report = judge("crictl-inspect.json", platform="linux/amd64")
    (row,) = containers(report)
    assert (row.status, row.relation) == (RowStatus.OK, R.INDEX_OF)
    assert row.detail is not None
    assert "linux/amd64" in row.detail
    assert report.verdict is RunningVerdict.AGREE


def test_a_stale_pin_fails_even_when_the_pods_run_the_tag() -> None:
    c = corpus()
    report = judge("kubectl-pods-containerd-converged.json", pins=[pin(c.old)])
    assert report.verdict is RunningVerdict.MISMATCH
    for row in containers(report):
        assert (row.status, row.relation) == (RowStatus.MISMATCH, R.IDENTICAL)
        assert row.detail is not None
        assert "cp:prod" in row.detail
    assert [(p.status, p.relation) for p in report.pins] == [(RowStatus.MISMATCH, R.OTHER_IMAGE)]


def test_a_pin_that_could_not_be_read_makes_the_run_unavailable() -> None:
    broken = replace(pin(corpus().index), status=Status.ERROR, digest=None, detail="CP down")
    report = judge("kubectl-pods-containerd-converged.json", pins=[broken])
    assert report.verdict is RunningVerdict.UNAVAILABLE


# -- untraceable: never a pass -----------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "how"),
    [
        (("kubectl-pod-config-digest-imageid.json",), "deploy by digest"),
        (("docker-inspect-containers.json", "docker-image-inspect-no-repodigest.json"),
         "docker image inspect"),
        (("crictl-ps.json",), "crictl inspect"),
        (("podman/podman-ps.json",), "podman image inspect"),
    ],
)  # fmt: skip
def test_an_image_id_of_the_truth_is_untraceable_and_exit_3(
    names: tuple[str, ...], how: str
) -> None:
    report = judge(*names)
    rows = [r for r in containers(report) if r.digest_kind is DigestKind.IMAGE_ID]
    assert rows
    for row in rows:
        assert (row.status, row.relation) == (RowStatus.ERROR, R.UNTRACEABLE)
        assert row.detail is not None
        assert "config-digest" in row.detail
        assert how in row.detail
        # the old manifest shares this config: an image ID cannot tell them apart
        assert str(corpus().old) in row.detail
    assert report.verdict is RunningVerdict.UNAVAILABLE
    assert report.exit_code == 3
    # a known config of the truth is not asked for at /manifests/
    recs = read_running([str(RUNNING / n) for n in names])
    assert corpus().amd64_config not in digests_to_look_up(recs, view(full=False))


def test_an_image_id_proven_not_the_truth_is_a_mismatch() -> None:
    stranger = Digest.of_bytes(b"a locally built image config")
    doc = json.loads((RUNNING / "kubectl-pod-config-digest-imageid.json").read_text())
    doc["status"]["containerStatuses"][0]["imageID"] = str(stranger)
    report = judge_running(parse_document(json.dumps(doc).encode(), where="x"), view())
    (row,) = containers(report)
    assert (row.status, row.relation) == (RowStatus.MISMATCH, R.UNTRACEABLE)
    assert report.exit_code == 1


def test_an_image_id_that_is_a_manifest_digest_is_traceable() -> None:
    """Docker's containerd image store reports the pulled manifest's digest as .Image."""
    doc = json.loads((RUNNING / "docker-inspect-containers.json").read_text())
    doc[0]["Image"] = str(corpus().index)
    report = judge_running(parse_document(json.dumps(doc[:1]).encode(), where="x"), view())
    (row,) = containers(report)
    assert (row.status, row.relation) == (RowStatus.OK, R.IDENTICAL)


# -- what is compared, and what not -----------------------------------------------------


def _kube(*statuses: dict[str, Any], owner: str | None = "web-1a2b3") -> bytes:
    items = []
    for i, status in enumerate(statuses):
        meta: dict[str, Any] = {"name": f"pod-{i}", "namespace": "prod"}
        if owner:
            meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
        items.append({"kind": "Pod", "metadata": meta, "status": {"containerStatuses": [status]}})
    return json.dumps({"kind": "List", "items": items}).encode()


def test_a_sidecar_of_another_repository_is_skipped_not_failed() -> None:
    c = corpus()
    other = Digest.of_bytes(b"envoy")
    data = _kube(
        {"name": "app", "image": REFERENCE, "imageID": f"{REPOSITORY}@{c.index}"},
        {"name": "proxy", "image": "envoyproxy/envoy:v1", "imageID": f"envoyproxy/envoy@{other}"},
    )
    recs = parse_document(data, where="x")
    report = judge_running(recs, view())
    assert [r.status for r in containers(report)] == [RowStatus.OK, RowStatus.SKIPPED]
    assert report.verdict is RunningVerdict.AGREE
    assert digests_to_look_up(recs, view(full=False)) == []


def test_nothing_to_compare_is_unavailable() -> None:
    for data in (b'{"kind": "List", "items": []}', _kube({"name": "p", "image": "other/x:1"})):
        report = judge_running(parse_document(data, where="x"), view())
        assert report.verdict is RunningVerdict.UNAVAILABLE
        assert any(r.where == "input" for r in report.containers)


def test_a_container_not_started_yet_is_unavailable() -> None:
    data = _kube({"name": "app", "image": REFERENCE, "imageID": "",
                  "state": {"waiting": {"reason": "ImagePullBackOff"}}})  # fmt: skip
    report = judge_running(parse_document(data, where="x"), view())
    (row,) = containers(report)
    assert row.status is RowStatus.ERROR
    assert row.detail is not None
    assert "ImagePullBackOff" in row.detail
    assert report.exit_code == 3


def test_a_malformed_entry_is_an_error_row_and_exit_3() -> None:
    recs = parse_document(_kube({"name": 5, "imageID": []}), where="x")
    report = judge_running(recs, view())
    assert containers(report)[0].status is RowStatus.ERROR
    assert report.exit_code == 3


def test_a_digest_not_looked_up_is_a_mismatch_with_unknown_relation() -> None:
    c = corpus()
    recs = parse_document(_kube({"name": "app", "imageID": f"{REPOSITORY}@{c.old}"}), where="x")
    small = view(full=False)
    assert digests_to_look_up(recs, small) == [c.old]
    (row,) = containers(judge_running(recs, small))
    assert (row.status, row.relation) == (RowStatus.MISMATCH, None)
    missing = replace(small, missing=frozenset({c.old}))
    (row,) = containers(judge_running(recs, missing))
    assert row.relation is R.NOT_IN_REGISTRY


def test_mixed_by_container_name_without_owner() -> None:
    c = corpus()
    data = _kube(
        {"name": "app", "imageID": f"{REPOSITORY}@{c.index}"},
        {"name": "app", "imageID": f"{REPOSITORY}@{c.amd64}"},  # same image: not mixed
        {"name": "app", "imageID": f"{REPOSITORY}@{c.podman_v2s2}"},
        owner=None,
    )
    report = judge_running(parse_document(data, where="x"), view())
    (row,) = mixed(report)
    assert row.workload is None
    assert row.detail is not None
    assert "container app" in row.detail
    assert "pod-2" in row.detail


def test_absent_image_is_exit_10_and_unreadable_registry_still_proves_mixed() -> None:
    c = corpus()
    recs = read_running([str(RUNNING / "kubectl-pods-mid-rollout.json")])
    absent = replace(view(), truth=None, state=TruthState.ABSENT, problem="no tag :multi")
    assert judge_running(recs, absent).exit_code == 10
    down = replace(view(), truth=None, state=TruthState.UNAVAILABLE, problem="503")
    report = judge_running(recs, down)
    assert report.verdict is RunningVerdict.MIXED
    assert {r.status for r in containers(report)} == {RowStatus.ERROR}
    converged_recs = read_running([str(RUNNING / "kubectl-pods-containerd-converged.json")])
    assert judge_running(converged_recs, down).exit_code == 3
    assert c.index in {r.digest for r in containers(judge_running(converged_recs, down))}


def test_the_json_document_is_strict_and_complete() -> None:
    report = judge("kubectl-pods-mid-rollout.json", platform="linux/amd64")
    doc = json.loads(jsonutil.dumps(report.to_json()))
    assert doc["schema"] == "truedigest.running/v1"
    assert (doc["verdict"], doc["exit_code"], doc["truth"]) == ("mixed", 1, str(corpus().amd64))
    for row in doc["containers"]:
        assert {"pod", "namespace", "workload", "container", "image", "digest", "status",
                "relation", "detail"} <= set(row)  # fmt: skip


# -- hostile records: the judge never crashes ---------------------------------------------

TEXT = st.one_of(
    st.none(),
    st.text(st.characters(codec=None), max_size=30),
    st.sampled_from([REFERENCE, "::error::x", "docker.io/x", "UPPER/x", "a@b"]),
)
DIGESTS = st.sampled_from(
    [corpus().index, corpus().amd64, corpus().amd64_config, corpus().old, Digest.of_bytes(b"x")]
)
RECORDS = st.builds(
    RunningRecord,
    where=st.just("w"),
    runtime=st.sampled_from(["kubernetes", "docker", "podman", "cri", "unknown"]),
    container=TEXT,
    pod=TEXT,
    namespace=TEXT,
    workload=TEXT,
    image=TEXT,
    digest=st.one_of(st.none(), DIGESTS),
    digest_kind=st.sampled_from(list(DigestKind)),
    digest_repo=TEXT,
    image_id=st.one_of(st.none(), DIGESTS),
    alternatives=st.lists(DIGESTS, max_size=2).map(tuple),
    error=st.one_of(st.none(), st.just("bad")),
)
VIEWS = st.sampled_from([view(), view(platform="linux/amd64"), view(full=False)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS, max_size=6), VIEWS, st.lists(DIGESTS, max_size=2))
def test_any_records_give_a_report(
    recs: list[RunningRecord], registry: RegistryView, pins: list[Digest]
) -> None:
    report = judge_running(recs, registry, [pin(d, str(i)) for i, d in enumerate(pins)])
    jsonutil.dumps(report.to_json())
    if report.verdict is RunningVerdict.AGREE:
        rows = containers(report)
        assert all(r.status in (RowStatus.OK, RowStatus.SKIPPED) for r in rows)
        assert any(r.status is RowStatus.OK for r in rows)
        assert not any(r.relation is R.UNTRACEABLE for r in rows)


def test_a_runtime_reporting_an_attestation_manifest_never_passes() -> None:
    # buildx puts provenance/SBOM manifests (platform unknown/unknown) inside the index;
    # a runtime never runs one, so it is not "the same image on a platform".
    from tests.support.images import build_platform_index
    from truedigest.core.running_relate import EQUIVALENT, knowledge_of
    from truedigest.oci.manifest import Manifest

    index = build_platform_index("running/attested", salt="attestation-child")
    truth = Digest.parse(index.digest)
    knowledge = knowledge_of(
        Manifest(
            repository="running/attested",
            media_type=index.media_type,
            body=index.body,
            digest=truth,
        )
    )
    [attestation] = [m for m in index.manifests if m.attests is not None]
    amd64 = next(m for m in index.images if m.architecture == "amd64")
    view_ = RegistryView(
        reference="127.0.0.1:5000/running/attested:v1",
        repository="127.0.0.1:5000/running/attested",
        truth=truth,
        manifests={truth: knowledge},
    )

    link = relate(Digest.parse(attestation.digest), truth, view_)
    assert link is not None
    assert link.relation is R.ATTESTATION
    assert R.ATTESTATION not in EQUIVALENT
    child = relate(Digest.parse(amd64.digest), truth, view_)
    assert child is not None
    assert (child.relation, child.platform) == (R.PLATFORM_MANIFEST, "linux/amd64")
