"""The verify report document, frozen: `tests/cli/data/verify_report_sample.json`.

Fixed Observations (one per relation and status) go through the pure core,
`truedigest.core.verdicts.evaluate`, with a fake RelationOracle; the document it
produces is compared key by key with the frozen file. Every digest in the sample
is sha256 of fixed bytes named below, recomputed here, so the file is checked
rather than echoed. After an intended change to the report, regenerate with
`python -m tests.cli.test_verify_report_sample` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from truedigest.core.commit_check import apply_identity, commit_claims
from truedigest.core.revision import ImageRevision, Revision, RevisionSource, TruthIdentity
from truedigest.core.verdicts import evaluate
from truedigest.model.diagnosis import Diagnosis
from truedigest.model.observation import Observation, Relation, Report, SourceKind, Status
from truedigest.oci.digest import Digest

SAMPLE = Path(__file__).parent / "data" / "verify_report_sample.json"
REF = "registry.example.com/team/app:sha-1a2b3c4"
IMAGE = "registry.example.com/team/app"


def d(name: str) -> Digest:
    """The digest of fixed bytes: `sha256("truedigest sample: <name>")`."""
    return Digest.of_bytes(f"truedigest sample: {name}".encode())


TRUTH = d("index")
COMMIT = "1a2b3c4" + "d" * 33  # a commit SHA (40 hex), not a digest
# claimed digest -> how the (fake) registry relates it to TRUTH
DIAGNOSES: dict[Digest, Diagnosis] = {
    d("amd64 manifest"): Diagnosis(Relation.PLATFORM_MANIFEST, platform="linux/amd64"),
    d("attestation manifest"): Diagnosis(Relation.ATTESTATION),
    d("amd64 config"): Diagnosis(Relation.CONFIG_DIGEST, platform="linux/amd64"),
    d("older index"): Diagnosis(Relation.INDEX_OF, platform="linux/amd64"),
    d("yesterday"): Diagnosis(Relation.OTHER_IMAGE),
    d("never pushed"): Diagnosis(
        Relation.NOT_IN_REGISTRY, note="it does hold a blob with that digest"
    ),
}


class FakeOracle:
    def __init__(self) -> None:
        self.asked: list[Digest] = []

    def relate(self, claimed: Digest) -> Diagnosis | None:
        self.asked.append(claimed)
        return DIAGNOSES.get(claimed)


def _cp(name: str, digest: Digest | None, status: Status = Status.OK, **row: Any) -> Observation:
    url = f"https://cp-{name}.example.com"
    extra: dict[str, Any] = {
        "cp": name,
        "url": url,
        "template_name": "app",
        "region": "global",
        "image_digest": str(digest) if digest else row.pop("image_digest", None),
        "image_ref": f"{IMAGE}@{digest}" if digest else None,
        "git_sha": "1a2b3c4",
        "promoted_at": "2024-05-06T07:08:09Z",
        "promoted_by": "api-token-0a1b2c3d",
        "notes": None,
    }
    extra.update(row)
    detail = extra.pop("detail", None)
    return Observation(
        f"cp:{name}", SourceKind.CP, f"{name} {url}", digest, status, detail=detail, extra=extra
    )


def observations() -> list[Observation]:
    return [
        Observation(
            f"registry:{REF}",
            SourceKind.REGISTRY,
            REF,
            TRUTH,
            extra={"reference": REF, "media_type": "application/vnd.oci.image.index.v1+json"},
        ),
        Observation(
            f"registry:{IMAGE}:latest",
            SourceKind.REGISTRY,
            f"{IMAGE}:latest",
            d("yesterday"),
            extra={"reference": f"{IMAGE}:latest"},
        ),
        _cp("prod", TRUTH),
        _cp("staging", d("yesterday")),
        _cp("dev", d("never pushed")),
        _cp("qa", d("amd64 config")),
        _cp("perf", d("attestation manifest")),
        _cp("canary", d("older index")),
        _cp("eu", None, Status.MISSING, detail="no pin row for template 'app' in region 'global'"),
        _cp(
            "us",
            None,
            Status.AMBIGUOUS,
            detail="2 pin rows for template 'app' in region 'global'",
        ),
        _cp(
            "ap",
            None,
            Status.MISMATCH,
            image_digest="sha256:1234",
            detail="image_digest 'sha256:1234' is not a well-formed digest: a broken pin",
        ),
        _cp("sa", TRUTH, Status.MISMATCH, detail="git_sha 0000000 is not the expected commit"),
        _cp("af", None, Status.ERROR, detail="CP af answered HTTP 401"),
        _cp("hotfix", TRUTH, git_sha="fedcba9"),  # the right digest, another commit
        Observation(
            "build:metadata",
            SourceKind.BUILD,
            "metadata.json",
            d("amd64 manifest"),
            extra={"media_type": "application/vnd.oci.image.manifest.v1+json", "size": 1234},
        ),
        Observation(
            "file:deploy/app.yaml",
            SourceKind.FILE,
            "deploy/app.yaml:12",
            TRUTH,
            extra={"path": "deploy/app.yaml", "lines": [12], "reference": f"{IMAGE}@{TRUTH}"},
        ),
    ]


def build_report() -> tuple[Report, FakeOracle]:
    oracle = FakeOracle()
    report = evaluate(
        observations(),
        oracle=oracle,
        context={"image": REF, "template": "app", "region": "global", "platform": None},
    )
    # the commit checks: the index's one platform image records commit 1a2b3c4…
    built = Revision(COMMIT, RevisionSource.ANNOTATION)
    identity = TruthIdentity((ImageRevision(d("amd64 manifest"), "linux/amd64", built),))
    report = apply_identity(report, commit_claims(report, None), identity)
    return report, oracle


def document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(build_report()[0].to_json()))
    return doc


# --------------------------------------------------------------------------- tests


def test_sample_matches_the_document_key_by_key() -> None:
    frozen = json.loads(SAMPLE.read_text(encoding="utf-8"))
    fresh = document()

    assert list(frozen) == list(fresh)
    for key in fresh:
        if key != "sources":
            assert frozen[key] == fresh[key], key
    assert [s["id"] for s in frozen["sources"]] == [s["id"] for s in fresh["sources"]]
    for old, new in zip(frozen["sources"], fresh["sources"], strict=True):
        assert list(old) == list(new), new["id"]
        for key in new:
            assert old[key] == new[key], (new["id"], key)


def test_sample_digests_are_hashes_of_the_named_bytes() -> None:
    frozen = json.loads(SAMPLE.read_text(encoding="utf-8"))
    names = ["index", "yesterday", "never pushed", "amd64 config", "attestation manifest"]
    names += ["older index", "amd64 manifest"]
    known = {str(d(name)) for name in names}

    assert frozen["truth"] == str(d("index"))
    assert str(d("index")).startswith("sha256:")
    assert len(str(d("index"))) == 71
    digests = {s["digest"] for s in frozen["sources"]} - {None}
    assert digests == known


def test_sample_covers_the_contract() -> None:
    frozen = json.loads(SAMPLE.read_text(encoding="utf-8"))

    assert {"schema", "verdict", "exit_code", "truth", "sources"} <= set(frozen)
    assert (frozen["schema"], frozen["verdict"], frozen["exit_code"]) == (
        "truedigest.verify/v1",
        "mismatch",
        1,
    )
    for source in frozen["sources"]:
        assert {"id", "kind", "digest", "status", "relation", "detail"} <= set(source)
        assert source["id"].startswith(source["kind"] + ":")
    relations = {s["relation"] for s in frozen["sources"]}
    assert relations == {str(r) for r in Relation} | {None}
    statuses = {s["status"] for s in frozen["sources"]}
    assert statuses == {str(s) for s in Status} - {"absent"}
    by_id = {s["id"]: s for s in frozen["sources"]}
    assert by_id["cp:prod"]["promoted_by"] == "api-token-0a1b2c3d"
    assert "linux/amd64" in by_id["build:metadata"]["detail"]


def test_the_oracle_is_asked_only_about_disagreeing_digests() -> None:
    _, oracle = build_report()

    assert TRUTH not in oracle.asked
    assert set(oracle.asked) == set(DIAGNOSES)


def main() -> int:
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(document(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {SAMPLE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
