"""A hostile registry and CP for the output cases: every outside string carries a payload.

`HostileRepo` serves one repository from a `HostileServer`: an OCI index whose
annotations, child platforms and child annotations carry the payload, a platform
manifest whose annotations and config labels carry it, and a tag list holding it as
a tag name. `cp_rows` are CP pin rows whose text fields carry it (served exactly as
written by `tests.support.cpserver.CPServer.set_raw`). Digests are computed from
the bytes served, never typed.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.hostile import Answer, Request
from tests.support.images import Image, build_image, canonical_json, sha256_digest

REPO = "team/app"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# What hostile servers and files send, all at once in one string (a value that starts
# with a command, terminal escapes C0/C1/OSC/DEL, commands after CR/LF/NEL, the legacy
# `##[`), and lone surrogates apart: a CP row holding them is malformed, never echoed.
PAYLOADS: dict[str, str] = {
    "commands-and-escapes": (
        "::error title=x::injected t\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x08\x00"
        "\x9b31mred\x9b0m\x7f\x90q\x9c x\n::error::injected\r\n  ::set-output name=x::y"
        "\x85::warning::z ##[set-output name=x;]y and ##[error]z"
    ),
    "lone-surrogate": "bad\udc80\ud800half",
}


def _json_answer(status: int, doc: object, media_type: str = "application/json") -> Answer:
    body = json.dumps(doc).encode()
    return Answer(status, [("Content-Type", media_type)], body)


def _not_found(code: str = "MANIFEST_UNKNOWN") -> Answer:
    return _json_answer(404, {"errors": [{"code": code, "message": "unknown"}]})


@dataclass
class HostileRepo:
    """The manifests, blobs and tags of `team/app`, all carrying `payload`."""

    payload: str
    image: Image = field(init=False)
    other: Image = field(init=False)
    index_body: bytes = field(init=False)
    tags: list[str] = field(init=False)
    manifests: dict[str, tuple[str, bytes]] = field(init=False)
    blobs: dict[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        p = self.payload
        self.image = build_image(
            REPO,
            salt="amd64",
            annotations={
                "org.opencontainers.image.description": p,
                f"{p}": f"value {p}",
                "org.opencontainers.image.revision": p,
            },
            labels={"org.opencontainers.image.source": p, "evil": p},
        )
        self.other = build_image(REPO, arch="arm64", salt="arm64")
        amd64 = self.image.descriptor() | {"annotations": {"note": p}}
        arm64 = self.other.descriptor()
        arm64["platform"] = {"os": p, "architecture": "arm64", "variant": p}
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [amd64, arm64],
            "annotations": {"org.opencontainers.image.title": p, p: p},
        }
        self.index_body = canonical_json(index)
        self.tags = ["latest", "v1", p, "::error::tag", "ok##[error]tag"]
        self.manifests = {
            "latest": (OCI_INDEX, self.index_body),
            self.index_digest: (OCI_INDEX, self.index_body),
            self.image.digest: (self.image.media_type, self.image.manifest),
            self.other.digest: (self.other.media_type, self.other.manifest),
        }
        self.blobs = {
            sha256_digest(blob): blob for image in (self.image, self.other) for blob in image.blobs
        }

    @property
    def index_digest(self) -> str:
        return sha256_digest(self.index_body)

    def __call__(self, req: Request) -> Answer:
        path = urllib.parse.urlsplit(req.path).path
        prefix = f"/v2/{REPO}/"
        if not path.startswith(prefix):
            return _not_found("NAME_UNKNOWN")
        kind, _, ref = path[len(prefix) :].partition("/")
        ref = urllib.parse.unquote(ref)
        if kind == "tags" and ref == "list":
            return _json_answer(200, {"name": REPO, "tags": self.tags})
        if kind == "manifests":
            found = self.manifests.get(ref)
            if found is None and not ref.startswith(("sha256:", "sha256-")):
                found = (self.image.media_type, self.image.manifest)  # any other tag: amd64
            if found is None:
                return _not_found()
            media_type, body = found
            return Answer(
                200,
                [("Content-Type", media_type), ("Docker-Content-Digest", sha256_digest(body))],
                body,
            )
        if kind == "blobs" and ref in self.blobs:
            body = self.blobs[ref]
            return Answer(200, [("Content-Type", "application/octet-stream")], body)
        if kind == "referrers":
            return _not_found("UNSUPPORTED")
        return _not_found("BLOB_UNKNOWN")


def cp_rows(payload: str, digest: str, registry: str) -> list[dict[str, Any]]:
    """Pin rows as a hostile CP writes them: text fields carry `payload`; the `app`
    row's image_ref names another repository (a mismatch whose detail quotes it)."""
    return [
        {
            "template_name": "app",
            "region": "global",
            "image_digest": digest,
            "image_ref": f"{registry}/{payload}@{digest}",
            "git_sha": "1a2b3c4",
            "promoted_at": "2024-01-02T03:04:05Z",
            "promoted_by": payload,
            "notes": payload,
        },
        {
            "template_name": payload,
            "region": payload,
            "image_digest": payload,
            "notes": payload,
        },
    ]


def cp_body(rows: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps({"pins": list(rows)}).encode()
