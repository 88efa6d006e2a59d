"""A registry that lies about what it serves: Content-Type, the body's mediaType and
its shape disagree (issue 7 item 12). That is "could not check" (exit 3), never
"absent" (10) and never a pass; agreeing or under-declared answers still resolve.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, run_cli
from tests.support.hostile import Answer, HostileServer, Request, assert_safe
from tests.support.images import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    build_image,
    build_index,
    canonical_json,
    sha256_digest,
)

IMAGE = build_image("hostile/media", salt="media")
INDEX = build_index([IMAGE])
MANIFEST_DOC: dict[str, Any] = json.loads(IMAGE.manifest)
INDEX_DOC: dict[str, Any] = json.loads(INDEX.body)


def _without(doc: dict[str, Any], key: str) -> bytes:
    return canonical_json({k: v for k, v in doc.items() if k != key})


def _with(doc: dict[str, Any], **extra: Any) -> bytes:
    return canonical_json({**doc, **extra})


# case -> (Content-Type, body)
LIES: dict[str, tuple[str, bytes]] = {
    "index-as-manifest": (OCI_MANIFEST, INDEX.body),
    "index-as-docker-manifest": (DOCKER_MANIFEST, INDEX.body),
    "manifest-as-index": (OCI_INDEX, IMAGE.manifest),
    "manifest-as-docker-list": (DOCKER_MANIFEST_LIST, IMAGE.manifest),
    "oci-vs-docker-mediatype": (OCI_MANIFEST, _with(MANIFEST_DOC, mediaType=DOCKER_MANIFEST)),
    "index-type-manifest-shape": ("", _with(MANIFEST_DOC, mediaType=OCI_INDEX)),
    "manifest-type-index-shape": ("", _with(INDEX_DOC, mediaType=OCI_MANIFEST)),
    "both-shapes": (OCI_MANIFEST, _with(MANIFEST_DOC, manifests=[])),
    "index-type-no-manifests": (OCI_INDEX, _without(INDEX_DOC, "manifests")),
    "mediatype-not-a-string": (OCI_MANIFEST, _with(MANIFEST_DOC, mediaType=7)),
    "untyped-index-as-manifest": (OCI_MANIFEST, _without(INDEX_DOC, "mediaType")),
}
HONEST: dict[str, tuple[str, bytes]] = {
    "manifest": (OCI_MANIFEST, IMAGE.manifest),
    "manifest-with-params": (f"{OCI_MANIFEST}; charset=utf-8", IMAGE.manifest),
    "manifest-upper-case-type": (OCI_MANIFEST.upper(), IMAGE.manifest),
    "manifest-as-json": ("application/json", IMAGE.manifest),
    "manifest-untyped-no-mediatype": ("", _without(MANIFEST_DOC, "mediaType")),
    "index": (OCI_INDEX, INDEX.body),
    "index-untyped": ("text/plain", INDEX.body),
}


def _handler(req: Request) -> Answer:
    parts = req.path.split("/")  # /v2/<case>/app/manifests/<ref> or /blobs/<digest>
    case = parts[2] if len(parts) > 2 else ""
    if "/blobs/" in req.path:
        return Answer(200, [("Content-Type", "application/octet-stream")], IMAGE.config)
    if req.path.endswith(f"/manifests/{IMAGE.digest}"):
        return Answer(200, [("Content-Type", OCI_MANIFEST)], IMAGE.manifest)
    found = LIES.get(case) or HONEST.get(case)
    if found is None:
        return Answer(404)
    content_type, body = found
    headers = [("Content-Type", content_type)] if content_type else []
    return Answer(200, headers, body)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(_handler) as s:
        yield s


@pytest.mark.parametrize("platform", [False, True], ids=["plain", "platform"])
@pytest.mark.parametrize("case", sorted(LIES))
def test_a_self_contradicting_answer_is_could_not_check(
    server: HostileServer, tmp_path: Path, case: str, platform: bool
) -> None:
    args = ["resolve", "--plain-http", f"{server.host}/{case}/app:v1"]
    if platform:
        args += ["--platform", "linux/amd64"]
    result = run_cli(args, cli_env(tmp_path))
    assert_safe(result, code=3)


@pytest.mark.parametrize("case", sorted(HONEST))
def test_an_honest_or_under_declared_answer_resolves(
    server: HostileServer, tmp_path: Path, case: str
) -> None:
    result = run_cli(["resolve", "--plain-http", f"{server.host}/{case}/app:v1"], cli_env(tmp_path))
    assert_safe(result, code=0)
    assert result.stdout.strip() == sha256_digest(HONEST[case][1])
