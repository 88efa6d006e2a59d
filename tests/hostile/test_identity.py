"""A registry whose commit records are hostile (issue 12): a revision carrying workflow
commands and control characters, a provenance layer over the cap, a statement layer
that is not JSON. The commit is data: printed inert, capped, and a layer that cannot
be read is "could not check" (exit 3), never a pass nor a traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cli_env, run_cli
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.identity_images import REVISION, build_provenance
from tests.support.images import OCI_INDEX, OCI_MANIFEST, Image, build_image, build_index

COMMIT = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
EVIL = "fedcba9\n::error::pwned\x1b[2J##[set-output name=x]\x07"
HUGE = 5 * 1024 * 1024

INJECTED = build_image("hostile/identity", salt="inject", annotations={REVISION: EVIL})
BARE = build_image("hostile/identity", salt="bare", no_revision=True)
PROVENANCE = build_provenance(BARE, COMMIT)
INDEX = build_index([BARE], [PROVENANCE])

# case -> the provenance layer's bytes (the index names the real layer's digest; a
# body that does not hash to it is refused, a huge one is refused before that)
LAYERS: dict[str, bytes] = {
    "huge": b"{" + b" " * HUGE + b"}",
    "not-json": b"\x00\xff not a statement",
}


def _handler(req: Request) -> Answer:
    parts = req.path.split("/")  # /v2/hostile/<case>/manifests/<ref> or /blobs/<digest>
    case = parts[3] if len(parts) > 3 else ""
    by_digest: dict[str, Image] = {i.digest: i for i in (INJECTED, BARE, PROVENANCE)}
    if "/manifests/" in req.path:
        ref = parts[-1]
        if ref == "v1":
            if case == "inject":
                return Answer(200, [("Content-Type", OCI_MANIFEST)], INJECTED.manifest)
            return Answer(200, [("Content-Type", OCI_INDEX)], INDEX.body)
        if ref in by_digest:
            return Answer(200, [("Content-Type", OCI_MANIFEST)], by_digest[ref].manifest)
        return Answer(404)
    digest = parts[-1]
    if digest == PROVENANCE.layer_digests[0] and case in LAYERS:
        return Answer(200, [("Content-Type", "application/octet-stream")], LAYERS[case])
    for image in by_digest.values():
        for blob, blob_digest in zip(
            image.blobs, (image.config_digest, *image.layer_digests), strict=True
        ):
            if blob_digest == digest:
                return Answer(200, [("Content-Type", "application/octet-stream")], blob)
    return Answer(404)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(_handler) as s:
        yield s


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_a_revision_carrying_commands_is_printed_inert(
    server: HostileServer, tmp_path: Path, fmt: str
) -> None:
    ref = f"{server.host}/hostile/inject:v1"
    env = cli_env(tmp_path, GITHUB_ACTIONS="true")
    args = ["verify", "--plain-http", "--image", ref, "--git-sha", COMMIT, "-o", fmt]

    result = run_cli(args, env)

    assert_safe(result, code=1, allow_own_commands=True)
    assert "other-commit" in result.stdout
    if fmt == "json":
        (truth,) = json.loads(result.stdout)["sources"]
        assert truth["revision"] == EVIL.strip()  # data, kept exact inside JSON


def test_a_provenance_layer_over_the_cap_is_could_not_check(
    server: HostileServer, tmp_path: Path
) -> None:
    ref = f"{server.host}/hostile/huge:v1"
    before = server.count(lambda r: r.path.endswith(PROVENANCE.layer_digests[0]))

    result = run_cli(
        ["verify", "--plain-http", "--image", ref, "--git-sha", COMMIT], cli_env(tmp_path)
    )

    assert_safe(result, code=3, one_error_line=False)
    assert "revision could not be read" in result.stdout
    assert server.count(lambda r: r.path.endswith(PROVENANCE.layer_digests[0])) - before == 1


def test_a_statement_that_is_not_json_is_refused(server: HostileServer, tmp_path: Path) -> None:
    """Its bytes do not hash to the digest the manifest names: could not check."""
    ref = f"{server.host}/hostile/not-json:v1"

    result = run_cli(
        ["verify", "--plain-http", "--image", ref, "--git-sha", COMMIT], cli_env(tmp_path)
    )

    assert_safe(result, code=3, one_error_line=False)


def test_the_honest_provenance_agrees(server: HostileServer, tmp_path: Path) -> None:
    ref = f"{server.host}/hostile/honest:v1"

    result = run_cli(
        ["verify", "--plain-http", "--image", ref, "--git-sha", COMMIT], cli_env(tmp_path)
    )

    assert_safe(result, code=0)
    assert f"built from commit {COMMIT} (provenance)" in result.stdout


# --------------------------------------------------------------- a referrers flood

FLOOD = 5000
ARTIFACTS = [
    json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.other",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": BARE.config_digest,
                "size": 2,
            },
            "layers": [],
            "annotations": {"n": str(i)},
        },
        separators=(",", ":"),
    ).encode()
    for i in range(FLOOD)
]


FLOOD_BY_DIGEST = {"sha256:" + hashlib.sha256(a).hexdigest(): a for a in ARTIFACTS}
FLOOD_LISTING = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": len(a)}
            for d, a in FLOOD_BY_DIGEST.items()
        ],
    }
).encode()


def _flood(req: Request) -> Answer:
    """The referrers API lists FLOOD artifacts without an artifactType, each of which
    has to be read to be classified (and is none of the kinds asked for)."""
    by_digest = FLOOD_BY_DIGEST
    if req.path.endswith("/tags/list"):
        return Answer(200, [("Content-Type", "application/json")], b'{"tags":["v1"]}')
    if "/referrers/" in req.path:
        return Answer(200, [("Content-Type", OCI_INDEX)], FLOOD_LISTING)
    ref = req.path.rsplit("/", 1)[-1]
    if ref == "v1":
        return Answer(200, [("Content-Type", OCI_MANIFEST)], BARE.manifest)
    if ref in by_digest:
        return Answer(200, [("Content-Type", OCI_MANIFEST)], by_digest[ref])
    return Answer(404)


def test_a_referrers_flood_costs_a_bounded_number_of_requests(tmp_path: Path) -> None:
    from truedigest.engine.attestation_run import MAX_REFERRERS

    with HostileServer(_flood) as server:
        ref = f"{server.host}/hostile/flood:v1"
        args = ["verify", "--plain-http", "--image", ref, "--require-attestation", "provenance"]
        result = run_cli(args, cli_env(tmp_path))
        requests = server.count()

    assert_safe(result, code=1)
    assert "no provenance is attached to the pinned digest" in result.stdout
    # the tag, its .att tag, the referrers API, MAX_REFERRERS artifacts, the tag list
    assert requests == 1 + 1 + 1 + MAX_REFERRERS + 1, requests
