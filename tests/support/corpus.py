"""Other projects' manifests, byte for byte, in a real registry's storage.

`tests/realworld/data/manifests/` keeps files copied unchanged from other
projects' test data; `PROVENANCE.json` names, for each file, the repository, path
and commit it came from, the sha256 of its bytes and its kind. `load_corpus()`
reads them back and refuses any file whose bytes changed.

Real manifests reference blobs nobody has, and distribution validates references
on `PUT`; so `RegistryStorage` writes them where distribution's filesystem driver
keeps them (blob data, revision link, tag links, repository layer links), which the
running registry serves as they are (it has no blob-descriptor cache configured).
A signed Docker schema1 manifest is stored the way the registry's own `PUT` stores
it: its JWS payload (`jws_payload`); distribution re-signs that payload with its
own key on every GET, so the served bytes change and the digest does not.

`skopeo_manifest_digest` is the oracle: the bytes `skopeo inspect --raw` fetched,
digested by `skopeo manifest-digest` (containers/image's own rule, which takes the
schema1 payload).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from tests.support.oracle import OracleEndpoint, SkopeoError, skopeo_binary, skopeo_raw

__all__ = [
    "CORPUS_DIR",
    "CorpusFile",
    "Kind",
    "LayoutImage",
    "RegistryStorage",
    "canonical_digest",
    "iter_descriptors",
    "jws_payload",
    "load_corpus",
    "read_layout",
    "sha256_digest",
    "skopeo_manifest_digest",
]

CORPUS_DIR = Path(__file__).resolve().parents[1] / "realworld" / "data" / "manifests"
PROVENANCE = CORPUS_DIR / "PROVENANCE.json"
_REF_NAME = "org.opencontainers.image.ref.name"
_TIMEOUT = 30.0


class Kind(StrEnum):
    """What a corpus file is (PROVENANCE.json `kind`)."""

    DOCKER_SCHEMA2 = "docker-schema2"
    DOCKER_SCHEMA1_SIGNED = "docker-schema1-signed"
    DOCKER_SCHEMA1_UNSIGNED = "docker-schema1-unsigned"
    DOCKER_MANIFEST_LIST = "docker-manifest-list"
    OCI_MANIFEST = "oci-manifest"
    OCI_INDEX = "oci-index"
    OCI_ARTIFACT = "oci-artifact"
    OCI_ARTIFACT_INDEX = "oci-artifact-index"
    ATTESTATION_INDEX = "attestation-index"
    IMAGE_CONFIG = "image-config"
    BLOB = "blob"
    LAYOUT_INDEX = "oci-layout-index"
    LAYOUT_MARKER = "oci-layout-marker"

    @property
    def is_manifest(self) -> bool:
        return self not in (Kind.IMAGE_CONFIG, Kind.BLOB, Kind.LAYOUT_INDEX, Kind.LAYOUT_MARKER)


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One file of the corpus with its provenance; `data` are its verified bytes."""

    file: str  # path under CORPUS_DIR
    repository: str  # owner/name on GitHub
    path: str  # path in that repository
    commit: str
    sha256: str
    kind: Kind
    data: bytes


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def load_corpus() -> list[CorpusFile]:
    """Every PROVENANCE.json entry with its bytes; AssertionError if a file changed."""
    entries: list[dict[str, str]] = json.loads(PROVENANCE.read_text())["files"]
    files: list[CorpusFile] = []
    for entry in entries:
        data = (CORPUS_DIR / entry["file"]).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        assert actual == entry["sha256"], f"{entry['file']}: sha256 {actual} != provenance"
        files.append(
            CorpusFile(
                file=entry["file"],
                repository=entry["repository"],
                path=entry["path"],
                commit=entry["commit"],
                sha256=entry["sha256"],
                kind=Kind(entry["kind"]),
                data=data,
            )
        )
    return files


# --------------------------------------------------------------------------- schema1 JWS


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_payload(body: bytes) -> bytes | None:
    """The payload a signed schema1 manifest signs, or None when `body` has no signature.

    libtrust's rule: the first `formatLength` bytes of the body, then the decoded
    `formatTail`, both from the first signature's protected header.
    """
    doc = json.loads(body)
    signatures = doc.get("signatures") if isinstance(doc, dict) else None
    if not signatures:
        return None
    protected = json.loads(_b64url_decode(signatures[0]["protected"]))
    length = protected["formatLength"]
    assert isinstance(length, int), protected
    return body[:length] + _b64url_decode(protected["formatTail"])


def canonical_digest(body: bytes) -> str:
    """The manifest digest a correct client reports: sha256 of the bytes, or of the
    JWS payload for a signed schema1 manifest."""
    payload = jws_payload(body)
    return sha256_digest(body if payload is None else payload)


# --------------------------------------------------------------------------- OCI layouts


@dataclass(frozen=True, slots=True)
class LayoutImage:
    """An OCI layout: its blobs by digest, and `index.json` descriptors by ref name."""

    blobs: Mapping[str, bytes]
    refs: Mapping[str, str]  # ref name → digest
    unnamed: tuple[str, ...]  # digests of index.json entries without a ref name


def read_layout(files: list[CorpusFile], prefix: str) -> LayoutImage:
    """The layout whose files lie under `prefix` (e.g. `regclient/testrepo/`)."""
    blobs: dict[str, bytes] = {}
    index: dict[str, Any] | None = None
    for item in files:
        if not item.file.startswith(prefix):
            continue
        if item.kind is Kind.LAYOUT_INDEX:
            index = json.loads(item.data)
        elif item.kind is not Kind.LAYOUT_MARKER:
            blobs[sha256_digest(item.data)] = item.data
    assert index is not None, f"no index.json under {prefix}"
    refs: dict[str, str] = {}
    unnamed: list[str] = []
    for descriptor in index["manifests"]:
        name = (descriptor.get("annotations") or {}).get(_REF_NAME)
        if name is None:
            unnamed.append(descriptor["digest"])
        else:
            refs[name] = descriptor["digest"]
    return LayoutImage(blobs=blobs, refs=refs, unnamed=tuple(unnamed))


# --------------------------------------------------------------------------- registry storage


class RegistryStorage:
    """Writes into a distribution filesystem storage root (`RegistryServer.data_dir`)."""

    def __init__(self, root: Path) -> None:
        self.v2 = root / "docker" / "registry" / "v2"

    def _blob(self, data: bytes) -> str:
        hex_ = hashlib.sha256(data).hexdigest()
        path = self.v2 / "blobs" / "sha256" / hex_[:2] / hex_ / "data"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return hex_

    def _link(self, path: Path, hex_: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"sha256:{hex_}")

    def _repo(self, repo: str) -> Path:
        return self.v2 / "repositories" / repo

    def put_blob(self, repo: str, data: bytes) -> str:
        """A blob (config, layer) of `repo`; returns its digest."""
        hex_ = self._blob(data)
        self._link(self._repo(repo) / "_layers" / "sha256" / hex_ / "link", hex_)
        return f"sha256:{hex_}"

    def put_manifest(self, repo: str, body: bytes, tags: tuple[str, ...] = ()) -> str:
        """A manifest of `repo`, tagged `tags`; returns its (canonical) digest.

        A signed schema1 manifest is stored as its JWS payload, as distribution's
        own `PUT` does; every other manifest as its exact bytes.
        """
        payload = jws_payload(body)
        hex_ = self._blob(body if payload is None else payload)
        manifests = self._repo(repo) / "_manifests"
        self._link(manifests / "revisions" / "sha256" / hex_ / "link", hex_)
        for tag in tags:
            self._link(manifests / "tags" / tag / "current" / "link", hex_)
            self._link(manifests / "tags" / tag / "index" / "sha256" / hex_ / "link", hex_)
        return f"sha256:{hex_}"

    def put_layout(self, repo: str, layout: LayoutImage, kinds: Mapping[str, Kind]) -> None:
        """Every blob of `layout` (manifests as manifests, by `kinds`), tags by ref name."""
        tags: dict[str, list[str]] = {}
        for name, digest in layout.refs.items():
            tags.setdefault(digest, []).append(name)
        for digest, data in layout.blobs.items():
            if kinds[digest].is_manifest:
                self.put_manifest(repo, data, tuple(tags.get(digest, ())))
            else:
                self.put_blob(repo, data)


# --------------------------------------------------------------------------- oracle


def skopeo_manifest_digest(server: OracleEndpoint, repo: str, ref: str) -> str:
    """`skopeo manifest-digest` of the bytes `skopeo inspect --raw` fetched."""
    raw = skopeo_raw(server, repo, ref)
    binary = skopeo_binary()
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="skopeo-digest-") as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_bytes(raw)
        proc = subprocess.run(
            [binary, "manifest-digest", str(path)],
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    if proc.returncode != 0:
        raise SkopeoError(f"skopeo manifest-digest: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode().strip()


def iter_descriptors(manifest: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The child descriptors of an index (none for anything else)."""
    children = manifest.get("manifests")
    if isinstance(children, list):
        yield from (c for c in children if isinstance(c, dict))
