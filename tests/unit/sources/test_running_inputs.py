"""Running state from runtime JSON (issue 13): every real-shape fixture, every digest form.

Fixtures: tests/realworld/data/running (PROVENANCE.json). Their digests are computed
from the build corpus layout (tests/support/running_facts.py), never typed here.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.running_facts import REPOSITORY, RUNNING, corpus
from truedigest.errors import ExitCode, RunningInputError, TruedigestError
from truedigest.model.running_state import ContainerRole, DigestKind, RunningRecord
from truedigest.oci.digest import Digest
from truedigest.sources.running_inputs import (
    MAX_RECORDS,
    parse_document,
    read_running,
    split_image_id,
)

PROVENANCE = json.loads((RUNNING / "PROVENANCE.json").read_text())
FIXTURES = [entry["file"] for entry in PROVENANCE["files"]]


def records(*names: str) -> list[RunningRecord]:
    return read_running([str(RUNNING / n) for n in names])


def by_container(recs: list[RunningRecord]) -> dict[str | None, RunningRecord]:
    return {r.container: r for r in recs}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_without_error_rows(name: str) -> None:
    recs = records(name)
    assert all(r.error is None for r in recs)
    # image-inspect documents describe images, not containers
    assert bool(recs) == ("image-inspect" not in name)
    c = corpus()
    known = {c.index, c.amd64, c.amd64_config, c.old}
    assert all(r.digest in known for r in recs)


def test_containerd_imageid_is_the_index_repo_digest() -> None:
    recs = records("kubectl-pods-containerd-converged.json")
    assert [r.pod for r in recs] == [
        "web-6b8f7c9d5-4xq2m",
        "web-6b8f7c9d5-9kzt7",
        "web-6b8f7c9d5-rw5pd",
    ]
    for r in recs:
        assert (r.digest, r.digest_kind, r.digest_repo) == (
            corpus().index,
            DigestKind.REPO_DIGEST,
            REPOSITORY,
        )
        assert (r.namespace, r.workload, r.runtime) == ("prod", "Deployment/web", "kubernetes")


def test_mid_rollout_pods_share_the_deployment_across_replicasets() -> None:
    recs = {r.pod: r for r in records("kubectl-pods-mid-rollout.json")}
    c = corpus()
    assert recs["web-5f9d4b7c8-tq8vn"].digest == c.old
    assert recs["web-6b8f7c9d5-4xq2m"].digest == c.amd64
    assert {r.workload for r in recs.values()} == {"Deployment/web"}


def test_dockershim_pod_with_init_and_ephemeral_containers() -> None:
    recs = by_container(records("kubectl-pod-dockershim.json"))
    c = corpus()
    web, migrate, debug = recs["web"], recs["migrate"], recs["debugger-x7k2p"]
    assert (web.role, web.digest, web.digest_kind) == (
        ContainerRole.CONTAINER,
        c.index,
        DigestKind.REPO_DIGEST,
    )
    assert (migrate.role, migrate.digest, migrate.state) == (
        ContainerRole.INIT,
        c.amd64,
        "terminated: Completed",
    )
    # docker://sha256:… is an image ID (the image has no repo digest)
    assert (debug.role, debug.digest, debug.digest_kind, debug.image_id) == (
        ContainerRole.EPHEMERAL,
        c.amd64_config,
        DigestKind.IMAGE_ID,
        c.amd64_config,
    )
    assert debug.image == "debug-tools:local"


def test_config_digest_imageid_is_an_image_id() -> None:
    (rec,) = records("kubectl-pod-config-digest-imageid.json")
    assert (rec.digest, rec.digest_kind, rec.namespace) == (
        corpus().amd64_config,
        DigestKind.IMAGE_ID,
        "staging",
    )


def test_docker_containers_take_repo_digests_from_image_inspect() -> None:
    c = corpus()
    alone = by_container(records("docker-inspect-containers.json"))
    assert (alone["web-1"].digest, alone["web-1"].digest_kind) == (
        c.amd64_config,
        DigestKind.IMAGE_ID,
    )
    # a container created by digest names its registry digest in .Config.Image
    assert (alone["web-2"].digest, alone["web-2"].digest_kind) == (c.amd64, DigestKind.REPO_DIGEST)
    assert alone["web-1"].workload == "compose:web/web"
    both = by_container(records("docker-inspect-containers.json", "docker-image-inspect.json"))
    assert (both["web-1"].digest, both["web-1"].digest_kind) == (c.index, DigestKind.REPO_DIGEST)
    assert both["web-1"].image_id == c.amd64_config
    lost = by_container(
        records("docker-inspect-containers.json", "docker-image-inspect-no-repodigest.json")
    )
    assert lost["web-1"].digest_kind is DigestKind.IMAGE_ID


def test_one_array_mixing_containers_and_images_equals_two_files() -> None:
    """`jq -s add` of `docker inspect` and `docker image inspect` output."""
    containers = json.loads((RUNNING / "docker-inspect-containers.json").read_text())
    images = json.loads((RUNNING / "docker-image-inspect.json").read_text())
    mixed = parse_document(json.dumps(images + containers).encode(), where="mixed.json")
    two = records("docker-inspect-containers.json", "docker-image-inspect.json")
    assert [(r.container, r.digest, r.alternatives) for r in mixed] == [
        (r.container, r.digest, r.alternatives) for r in two
    ]


def test_podman_inspect_image_digest_and_podman_ps() -> None:
    c = corpus()
    inspect = by_container(records("podman/podman-inspect-containers.json"))
    assert inspect["web-by-tag"].runtime == "podman"
    assert (inspect["web-by-tag"].digest, inspect["web-by-tag"].image_id) == (
        c.index,
        c.amd64_config,
    )
    assert inspect["web-by-digest"].candidates == (c.amd64, c.index)
    ps = by_container(records("podman/podman-ps.json"))
    assert (ps["web-by-tag"].digest, ps["web-by-tag"].digest_kind) == (
        c.amd64_config,
        DigestKind.IMAGE_ID,
    )
    assert ps["web-by-digest"].digest == c.amd64


def test_crictl_inspect_keeps_image_ref_and_image_id() -> None:
    (rec,) = records("crictl-inspect.json")
    c = corpus()
    assert (rec.digest, rec.digest_kind, rec.image_id) == (
        c.index,
        DigestKind.REPO_DIGEST,
        c.amd64_config,
    )
    assert (rec.pod, rec.namespace, rec.container, rec.runtime) == (
        "web-6b8f7c9d5-4xq2m",
        "prod",
        "web",
        "cri",
    )
    ps = records("crictl-ps.json")
    assert [r.digest_kind for r in ps] == [DigestKind.IMAGE_ID, DigestKind.IMAGE_ID]


def test_split_image_id_forms() -> None:
    c = corpus()
    idx = str(c.index)
    cfg = c.amd64_config
    pullable = split_image_id(f"docker-pullable://{REPOSITORY}@{idx}")
    assert (pullable.digest, pullable.kind, pullable.repo) == (
        c.index,
        DigestKind.REPO_DIGEST,
        REPOSITORY,
    )
    tagged = split_image_id(f"{REPOSITORY}:multi@{idx}")
    assert (tagged.kind, tagged.repo) == (DigestKind.REPO_DIGEST, REPOSITORY)
    for text in (f"docker://{cfg}", str(cfg), cfg.hex, f"@{cfg}"):
        found = split_image_id(text)
        assert (found.digest, found.kind) == (cfg, DigestKind.IMAGE_ID), text
    assert split_image_id("").kind is DigestKind.NONE
    for bad in ("ftp://x@" + idx, f"{REPOSITORY}:multi", "sha256:abc", f"{REPOSITORY}@sha256:XYZ"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is checked as an error row
            split_image_id(bad)


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [{"name": "app", "image": "x/app:1"}]},
        "status": status,
    }


def test_a_pending_pod_without_statuses_is_a_record_without_digest() -> None:
    (rec,) = parse_document(json.dumps(_pod()).encode(), where="p.json")
    assert (rec.container, rec.image, rec.digest, rec.error) == ("app", "x/app:1", None, None)
    assert rec.state is not None
    assert "not started" in rec.state


def test_owner_references_name_the_workload() -> None:
    def workload(owner: dict[str, Any], labels: dict[str, str]) -> str | None:
        pod = _pod()
        pod["metadata"].update(ownerReferences=[owner], labels=labels)
        return parse_document(json.dumps(pod).encode(), where="p")[0].workload

    rs = {"kind": "ReplicaSet", "name": "web-abc12", "controller": True}
    assert workload(rs, {"pod-template-hash": "abc12"}) == "Deployment/web"
    assert workload(rs, {}) == "ReplicaSet/web-abc12"
    assert workload({"kind": "StatefulSet", "name": "db"}, {}) == "StatefulSet/db"


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        ({"containerStatuses": "no"}, "containerStatuses is not a list"),
        ({"containerStatuses": [7]}, "is not an object"),
        ({"containerStatuses": [{"name": "app", "imageID": 5}]}, "imageID is not a string"),
        ({"containerStatuses": [{"name": "app", "imageID": "sha256:zz"}]}, "malformed"),
    ],
)
def test_a_malformed_entry_is_an_error_row(status: dict[str, Any], fragment: str) -> None:
    recs = parse_document(json.dumps(_pod(**status)).encode(), where="p")
    assert any(r.error and fragment in r.error for r in recs), recs


def test_names_from_outside_pass_through_as_data() -> None:
    """Sanitising is the renderer's job: the parser keeps `::error::`, ESC and newlines."""
    hostile = "::error::owned\n\x1b[31m##[set-output x]"
    pod = _pod(
        containerStatuses=[
            {
                "name": hostile,
                "image": hostile,
                "imageID": f"{REPOSITORY}@{corpus().index}",
            }
        ]
    )
    pod["metadata"]["name"] = hostile
    pod["spec"]["containers"][0]["name"] = hostile
    (rec,) = parse_document(json.dumps(pod).encode(), where="p")
    assert (rec.pod, rec.container, rec.image) == (hostile, hostile, hostile)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b"42", b'"pods"', b"null", b'{"kind": "Service"}', b"[1, 2]", b"NaN"],
)
def test_a_document_no_runtime_writes_is_a_usage_error(body: bytes) -> None:
    with pytest.raises(RunningInputError) as info:
        parse_document(body, where="x.json")
    assert info.value.exit_code is ExitCode.USAGE
    assert "x.json" in info.value.message


def test_files_are_read_through_the_input_rules(tmp_path: Path) -> None:
    with pytest.raises(RunningInputError) as info:
        read_running([str(tmp_path)])
    assert "--from" in info.value.message
    assert info.value.exit_code is ExitCode.USAGE
    with pytest.raises(RunningInputError):
        read_running([str(tmp_path / "missing.json")])


def test_stdin_is_read_with_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (RUNNING / "kubectl-pod-dockershim.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    recs = read_running(["-"])
    assert len(recs) == 3
    assert recs[0].where.startswith("stdin: ")


def test_a_flood_of_containers_is_refused() -> None:
    crictl = {"containers": [{"imageRef": ""}] * (MAX_RECORDS + 1)}
    with pytest.raises(RunningInputError, match="more than"):
        parse_document(json.dumps(crictl).encode(), where="flood.json")


# -- any JSON: records or a TruedigestError, never a crash -----------------------------

TEXT = st.text(st.characters(codec=None), max_size=12)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 63), 1 << 63), st.floats(allow_nan=False), TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=10,
)
DIGESTISH = st.sampled_from(
    ["", "sha256:" + "a" * 64, "docker-pullable://r@sha256:" + "b" * 64, "docker://x", "a" * 64]
)
FIELD = st.one_of(JSON, DIGESTISH)
# Shapes close to each runtime's, with any value in any field: reach the deep paths.
SHAPED = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("Pod")},
        optional={
            "metadata": st.dictionaries(
                st.sampled_from(["name", "namespace", "labels", "ownerReferences"]), FIELD
            ),
            "spec": st.dictionaries(st.sampled_from(["containers", "initContainers"]), FIELD),
            "status": st.dictionaries(
                st.sampled_from(["containerStatuses", "ephemeralContainerStatuses"]),
                st.one_of(FIELD, st.lists(st.dictionaries(st.sampled_from(
                    ["name", "image", "imageID", "state"]), FIELD, max_size=4), max_size=3)),
            ),
        },
    ),
    st.fixed_dictionaries(
        {"State": FIELD, "Image": FIELD, "Config": st.one_of(FIELD, st.dictionaries(
            st.sampled_from(["Image", "Labels"]), FIELD))},
        optional={"Name": FIELD, "ImageName": FIELD, "ImageDigest": FIELD},
    ),
    st.fixed_dictionaries({"Id": FIELD, "RepoDigests": st.one_of(FIELD, st.lists(DIGESTISH))}),
    st.fixed_dictionaries({"Names": FIELD, "ImageID": FIELD}, optional={"Image": FIELD}),
    st.fixed_dictionaries(
        {"status": st.dictionaries(st.sampled_from(["imageRef", "imageId", "image", "labels"]),
                                   FIELD).map(lambda d: {"imageRef": "", **d})}
    ),
    st.fixed_dictionaries({"containers": st.one_of(FIELD, st.lists(st.dictionaries(
        st.sampled_from(["imageRef", "image", "labels", "metadata"]), FIELD), max_size=3))}),
)  # fmt: skip
DOCUMENTS = st.one_of(JSON, SHAPED, st.lists(SHAPED, max_size=3))
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(DOCUMENTS)
def test_any_json_gives_records_or_a_truedigest_error(doc: Any) -> None:
    recs: list[RunningRecord] = []
    failure: TruedigestError | None = None
    try:
        recs = parse_document(json.dumps(doc).encode(), where="any.json")
    except TruedigestError as exc:
        failure = exc
    assert failure is None or failure.exit_code is ExitCode.USAGE
    for rec in recs:
        assert isinstance(rec, RunningRecord)
        assert rec.digest is None or isinstance(rec.digest, Digest)
        for text in (rec.pod, rec.namespace, rec.container, rec.image, rec.workload):
            assert text is None or isinstance(text, str)
        if rec.digest_kind is DigestKind.REPO_DIGEST:
            assert rec.digest is not None
