"""The digests and registry facts behind tests/realworld/data/running, computed from bytes.

Every digest the running fixtures name belongs to the OCI layout
tests/realworld/data/build/generated/layouts/pushed (see the running PROVENANCE).
Here each is found by its tag in the layout's index.json and checked by hashing the
blob, so no test types a digest by hand; `view()` is the RegistryView an engine
would build for `--image 127.0.0.1:5077/corpus/app:multi` (with `--platform`, the
amd64 child is the truth).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from truedigest.core.running_relate import knowledge_of
from truedigest.model.running_state import ManifestKnowledge, RegistryView
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import INDEX_MEDIA_TYPES, Manifest

DATA = Path(__file__).resolve().parents[1] / "realworld" / "data"
RUNNING = DATA / "running"
LAYOUT = DATA / "build" / "generated" / "layouts" / "pushed"
HOST = "127.0.0.1:5077"
REPOSITORY = f"{HOST}/corpus/app"
REFERENCE = f"{REPOSITORY}:multi"


def blob(digest: Digest) -> bytes:
    data = (LAYOUT / "blobs" / digest.algorithm / digest.hex).read_bytes()
    assert Digest.of_bytes(data) == digest, f"blob {digest} does not hash to its name"
    return data


def _manifest(digest: Digest) -> Manifest:
    data = blob(digest)
    media_type = json.loads(data).get("mediaType", "")
    return Manifest(repository="corpus/app", media_type=media_type, body=data, digest=digest)


@dataclass(frozen=True)
class Corpus:
    index: Digest
    amd64: Digest
    arm64: Digest
    amd64_config: Digest
    arm64_config: Digest
    old: Digest
    """The buildah-v2s2 manifest: the same amd64 content, another manifest (shares the config)."""
    podman_v2s2: Digest
    manifests: dict[Digest, ManifestKnowledge]


@cache
def corpus() -> Corpus:
    index_json = json.loads((LAYOUT / "index.json").read_text())
    by_tag = {
        entry["annotations"]["org.opencontainers.image.ref.name"]: Digest.parse(entry["digest"])
        for entry in index_json["manifests"]
    }
    known: dict[Digest, ManifestKnowledge] = {}
    for digest in set(by_tag.values()):
        manifest = _manifest(digest)
        known[digest] = knowledge_of(manifest)
        for child in manifest.children:
            known[child.digest] = knowledge_of(_manifest(child.digest))
    index = by_tag["multi"]
    assert json.loads(blob(index))["mediaType"] in INDEX_MEDIA_TYPES
    children = {platform: digest for digest, platform in known[index].children.items()}
    amd64, arm64 = children["linux/amd64"], children["linux/arm64"]
    amd64_config, arm64_config = known[amd64].config, known[arm64].config
    assert amd64_config is not None
    assert arm64_config is not None
    return Corpus(
        index=index,
        amd64=amd64,
        arm64=arm64,
        amd64_config=amd64_config,
        arm64_config=arm64_config,
        old=by_tag["buildah-v2s2"],
        podman_v2s2=by_tag["podman-v2s2"],
        manifests=known,
    )


def view(*, platform: str | None = None, full: bool = True) -> RegistryView:
    """What the engine knows for `--image REFERENCE [--platform P]`.

    `full`: every manifest of the layout was read (as after looking up each running
    digest); otherwise only the truth, its index and its children."""
    c = corpus()
    truth = c.amd64 if platform else c.index
    family = {c.index, c.amd64, c.arm64}
    manifests = c.manifests if full else {d: k for d, k in c.manifests.items() if d in family}
    return RegistryView(
        reference=REFERENCE,
        repository=REPOSITORY,
        truth=truth,
        platform=platform,
        manifests=manifests,
        served=frozenset(manifests),
    )
