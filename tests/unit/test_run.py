"""run.pin_file_observations: one verify source per distinct pin, all with id `file:<path>`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from truedigest.digest import Digest
from truedigest.models import SourceKind, Status
from truedigest.reference import parse_reference
from truedigest.run import pin_file_observations

REPO = "registry.example.com/team/app"
IMAGE = parse_reference(f"{REPO}:v1")
ONE = Digest.of_bytes(b"one")
TWO = Digest.of_bytes(b"two")


def test_every_pin_of_a_file_has_the_design_id(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        f"a: {REPO}@{ONE}\n"
        f"b: {REPO}:v2@{TWO}\n"
        f"c: {REPO}@{ONE}\n"
        f"d: {REPO}@sha256:{hashlib.sha256(b'x').hexdigest()[:10]}\n",
        encoding="utf-8",
    )
    found = pin_file_observations(path, IMAGE)
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
    (only,) = pin_file_observations(path, IMAGE)
    assert (only.id, only.where, only.digest, only.status) == (
        f"file:{path}",
        str(path),
        None,
        Status.MISSING,
    )
