"""Where an image records its commit (`truedigest.core.revision`) and how commit claims
are judged (`truedigest.core.commit_check`): every SLSA shape BuildKit writes, DSSE
envelopes, and the prefix rule."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from truedigest.core.commit_check import apply_identity, commit_claims, same_commit
from truedigest.core.revision import (
    BUILDKIT_METADATA_V02,
    ImageRevision,
    Revision,
    RevisionSource,
    TruthIdentity,
    from_annotations,
    from_config,
    from_statement,
    load_statement,
    statement_subjects,
)
from truedigest.core.verdicts import evaluate
from truedigest.model.observation import Observation, Relation, SourceKind, Status
from truedigest.oci.digest import Digest

COMMIT = hashlib.sha1(b"built").hexdigest()  # noqa: S324 - a git commit SHA
GIT = "https://github.com/example/app.git#refs/heads/main"
TRUTH = Digest.of_bytes(b"the truth manifest")

V02_SHAPES: dict[str, dict[str, Any]] = {
    "buildkit-metadata": {"metadata": {BUILDKIT_METADATA_V02: {"vcs": {"revision": COMMIT}}}},
    "configSource": {"invocation": {"configSource": {"uri": GIT, "digest": {"sha1": COMMIT}}}},
    "materials": {"materials": [{"uri": GIT, "digest": {"sha1": COMMIT}}]},
}
V1_SHAPES: dict[str, dict[str, Any]] = {
    "buildkit_metadata": {
        "runDetails": {"metadata": {"buildkit_metadata": {"vcs": {"revision": COMMIT}}}}
    },
    "externalParameters-vcs": {
        "buildDefinition": {"externalParameters": {"vcs": {"revision": COMMIT}}}
    },
    "internalParameters-vcs": {
        "buildDefinition": {"internalParameters": {"vcs": {"revision": COMMIT}}}
    },
    "configSource": {
        "buildDefinition": {
            "externalParameters": {"configSource": {"uri": GIT, "digest": {"sha1": COMMIT}}}
        }
    },
    "resolvedDependencies-gitCommit": {
        "buildDefinition": {
            "resolvedDependencies": [
                {"uri": "pkg:docker/alpine", "digest": {"sha256": "0" * 64}},
                {"uri": "anything", "digest": {"gitCommit": COMMIT}},
            ]
        }
    },
    "resolvedDependencies-sha1": {
        "buildDefinition": {"resolvedDependencies": [{"uri": GIT, "digest": {"sha1": COMMIT}}]}
    },
}


def statement(predicate: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "x", "digest": {"sha256": TRUTH.hex}}],
        "predicate": predicate,
    }


@pytest.mark.parametrize("shape", [*V02_SHAPES, *(f"v1-{k}" for k in V1_SHAPES)])
def test_every_provenance_shape_names_the_commit(shape: str) -> None:
    predicate = V1_SHAPES[shape[3:]] if shape.startswith("v1-") else V02_SHAPES[shape]
    assert from_statement(statement(predicate)) == Revision(COMMIT, RevisionSource.PROVENANCE)


def test_a_material_that_is_not_git_names_no_commit() -> None:
    predicate = {"materials": [{"uri": "pkg:docker/alpine", "digest": {"sha1": COMMIT}}]}
    assert from_statement(statement(predicate)) is None


def test_a_dsse_envelope_is_opened_and_its_subject_read() -> None:
    inner = statement(V02_SHAPES["materials"])
    payload = base64.b64encode(json.dumps(inner).encode()).decode()
    envelope = json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload})

    loaded = load_statement(envelope.encode())

    assert loaded == inner
    assert statement_subjects(inner) == (TRUTH,)


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"payload": "%%%"}'])
def test_what_is_not_a_statement_is_none(data: bytes) -> None:
    assert load_statement(data) is None


def test_annotation_and_label() -> None:
    key = "org.opencontainers.image.revision"
    assert from_annotations({key: f" {COMMIT} "}) == Revision(COMMIT, RevisionSource.ANNOTATION)
    assert from_annotations({key: ""}) is None
    assert from_config({"config": {"Labels": {key: COMMIT}}}) == Revision(
        COMMIT, RevisionSource.LABEL
    )
    assert from_config({"config": {"Labels": None}}) is None
    assert from_config({"config": {"Labels": {key: "x" * 200}}}) is None  # not a commit


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (COMMIT, COMMIT[:7], True),
        (COMMIT.upper(), COMMIT[:12], True),
        (COMMIT, COMMIT[:6], False),  # under 7: never a match
        (COMMIT, "f" * 40, False),
        ("v1.2.3", "v1.2.3", False),  # a version is not a commit
    ],
)
def test_prefix_rule(a: str, b: str, same: bool) -> None:
    assert same_commit(a, b) is same


def _report(*extra: Observation) -> Any:
    truth = Observation(
        "registry:r.test/app:sha-1234567",
        SourceKind.REGISTRY,
        "r.test/app:sha-1234567",
        TRUTH,
        extra={"reference": "r.test/app:sha-1234567"},
    )
    return evaluate([truth, *extra], oracle=None)


def test_claims_come_from_the_flag_a_sha_tag_and_rows_naming_the_truth() -> None:
    row = Observation("cp:prod", SourceKind.CP, "prod", TRUTH, extra={"git_sha": "abcdef0"})
    stale = Observation(
        "cp:old", SourceKind.CP, "old", Digest.of_bytes(b"old"), extra={"git_sha": "abcdef1"}
    )
    report = _report(row)
    report_stale = evaluate([*report.sources, stale], oracle=None)

    claims = commit_claims(report_stale, "FEDCBA9")

    said = [(c.source, c.commit, c.said) for c in claims]
    assert said == [
        (0, "fedcba9", "--git-sha"),
        (0, "1234567", "the tag :sha-1234567"),
        (1, "abcdef0", "the row's git_sha"),
    ]


def test_children_on_other_commits_are_named_by_platform() -> None:
    report = _report()
    identity = TruthIdentity(
        (
            ImageRevision(
                Digest.of_bytes(b"a"), "linux/amd64", Revision("1234567aa", RevisionSource.LABEL)
            ),
            ImageRevision(
                Digest.of_bytes(b"b"), "linux/arm64", Revision("7654321bb", RevisionSource.LABEL)
            ),
        )
    )

    judged = apply_identity(report, commit_claims(report, None), identity)

    truth = judged.sources[0]
    assert (truth.status, truth.relation) == (Status.MISMATCH, Relation.OTHER_COMMIT)
    assert "the linux/arm64 image was built from commit 7654321bb" in (truth.detail or "")
    assert truth.extra["revision"] is None
    assert truth.extra["revisions"] == {"linux/amd64": "1234567aa", "linux/arm64": "7654321bb"}


def test_a_revision_that_could_not_be_read_fails_closed() -> None:
    report = _report()
    identity = TruthIdentity((ImageRevision(TRUTH, None, None, "HTTP 503"),))

    judged = apply_identity(report, commit_claims(report, None), identity)

    assert judged.sources[0].status is Status.ERROR
    assert str(judged.verdict) == "unavailable"
