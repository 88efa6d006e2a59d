"""Pin files as sources: one Observation per pin (`observe_pin_file`, what `pins`
audits) and one per distinct digest (`pin_file_sources`, what `verify` compares),
all with id `file:<path>`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from truedigest.model.observation import SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.oci.reference import ImageRef, parse_reference
from truedigest.sources.pinfile import observe_pin_file, pin_file_sources

REPO = "registry.example.com/team/app"
IMAGE = parse_reference(f"{REPO}:v1")
ONE = Digest.of_bytes(b"one")
TWO = Digest.of_bytes(b"two")
SHORT = hashlib.sha256(b"x").hexdigest()[:10]


def test_every_pin_of_a_file_has_the_design_id(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        f"a: {REPO}@{ONE}\nb: {REPO}:v2@{TWO}\nc: {REPO}@{ONE}\nd: {REPO}@sha256:{SHORT}\n",
        encoding="utf-8",
    )
    found = pin_file_sources(path, image=IMAGE)
    assert {o.id for o in found} == {f"file:{path}"}
    assert {o.kind for o in found} == {SourceKind.FILE}
    assert [(o.where, o.digest, o.status, o.extra["lines"]) for o in found] == [
        (f"{path}:1", ONE, Status.OK, [1, 3]),
        (f"{path}:2", TWO, Status.OK, [2]),
        (f"{path}:4", None, Status.MISMATCH, [4]),
    ]
    assert found[0].detail == "lines 1, 3"


def test_a_file_without_the_image_is_one_missing_source(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(f"image: ghcr.io/other/app@{ONE}\n", encoding="utf-8")
    (only,) = pin_file_sources(path, image=IMAGE)
    assert (only.id, only.where, only.digest, only.status) == (
        f"file:{path}",
        str(path),
        None,
        Status.MISSING,
    )


def test_observe_pin_file_yields_one_source_per_pin_with_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        f"a: {REPO}@{ONE}\nb: ghcr.io/x/y:v2@{TWO}\nc: {REPO}@{ONE}\nd: {REPO}@sha256:{SHORT}\n",
        encoding="utf-8",
    )
    found = observe_pin_file(path, repo=None)
    assert [(o.where, o.digest, o.status, o.written) for o in found] == [
        (f"{path}:1", ONE, Status.OK, f"{REPO}@{ONE}"),
        (f"{path}:2", TWO, Status.OK, f"ghcr.io/x/y:v2@{TWO}"),
        (f"{path}:3", ONE, Status.OK, f"{REPO}@{ONE}"),
        (f"{path}:4", None, Status.MISMATCH, f"{REPO}@sha256:{SHORT}"),
    ]
    assert [str(o.ref) for o in found] == [
        f"{REPO}@{ONE}",
        f"ghcr.io/x/y:v2@{TWO}",
        f"{REPO}@{ONE}",
        REPO,  # a broken pin names its repository only
    ]
    # `ref` and `written` are for the code that reads the source, not the report.
    assert all("ref" not in o.to_json() and "written" not in o.to_json() for o in found)
    assert found[3].detail == f"malformed digest in {REPO + '@sha256:' + SHORT!r}: a broken pin"


def test_observe_pin_file_without_a_repository_says_which_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("nothing pinned here\n", encoding="utf-8")
    for repo, whose in ((None, "<repo>"), (ImageRef("ghcr.io", "x/y"), "ghcr.io/x/y")):
        (only,) = observe_pin_file(path, repo=repo)
        assert (only.status, only.detail) == (
            Status.MISSING,
            f"no {whose}@sha256:… reference in the file",
        )
