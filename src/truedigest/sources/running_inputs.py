"""What runs, read from the JSON users already have (no cluster or socket access).

Understood documents (several may be given; each may be a file or `-`):
- `kubectl get pods -o json` — a `List` of Pods or one `Pod`: containers, init and
  ephemeral containers, from `.status.*ContainerStatuses[]` (`imageID`, `image`),
  with the workload from the controller owner reference (a ReplicaSet with the
  `pod-template-hash` label is its Deployment);
- `docker inspect` / `podman inspect` of containers (`.Image`, `.Config.Image`,
  podman's `.ImageName` / `.ImageDigest`), completed by `docker image inspect` /
  `podman image inspect` entries (`RepoDigests`) given in the same or another
  document (e.g. `jq -s add` of both, or two `--from` files);
- `podman ps --format json` (`Image`, `ImageID`);
- `crictl inspect` (one object, or a JSON array of them) and `crictl ps -o json`.

Runtimes write a digest many ways; each becomes a `Digest` plus its kind:
`docker-pullable://repo@sha256:…` and `repo@sha256:…` are registry digests;
`docker://sha256:…`, bare `sha256:…` and podman's bare 64-hex are image IDs.
A malformed entry becomes a record with `error` set; a document that is not
JSON, or holds nothing a runtime writes, is a RunningInputError (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from truedigest.base import jsonutil
from truedigest.base.fileio import STDIN, read_input
from truedigest.errors import RunningInputError, TruedigestError
from truedigest.model.running_state import RunningRecord
from truedigest.sources.running_engines import (
    ImagePool,
    is_image_entry,
    read_engine_container,
    read_podman_ps,
)
from truedigest.sources.running_fields import ImageId, Reader, name_part, show, split_image_id
from truedigest.sources.running_kube import read_cri_inspect, read_cri_ps, read_pod

MAX_RECORDS = 20_000
"""More containers than this in one run is refused (a flood, not a cluster listing)."""


# -- reading ---------------------------------------------------------------------------


def read_running(
    paths: Sequence[str],
    *,
    what: str = "--from",
    error: type[RunningInputError] = RunningInputError,
) -> list[RunningRecord]:
    """Read every document (`-` is standard input) and parse them together."""
    docs = [(p, read_input(p, what=what, allow_stdin=True, error=error)) for p in paths]
    return parse_documents(docs, error=error)


def parse_documents(
    docs: Sequence[tuple[str, bytes]],
    *,
    error: type[TruedigestError] = RunningInputError,
) -> list[RunningRecord]:
    """Records of every container in `docs` (name, bytes); image-inspect entries of
    any document complete the containers of all of them."""
    loaded: list[tuple[str, Any]] = []
    for name, data in docs:
        shown = "stdin" if name == STDIN else name
        try:
            loaded.append((shown, jsonutil.loads(data)))
        except ValueError as exc:
            raise error(f"{shown}: not JSON ({exc})") from None
    pool = ImagePool()
    for _, doc in loaded:
        pool.collect(doc)
    records: list[RunningRecord] = []
    for shown, doc in loaded:
        records.extend(_records(shown, doc, pool, error))
        if len(records) > MAX_RECORDS:
            raise error(f"{shown}: more than {MAX_RECORDS} containers")
    return records


def parse_document(data: bytes, *, where: str) -> list[RunningRecord]:
    return parse_documents([(where, data)])


def _records(
    name: str, doc: Any, pool: ImagePool, error: type[TruedigestError]
) -> list[RunningRecord]:
    if isinstance(doc, dict):
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc["items"]
            if not isinstance(items, list):
                raise error(f"{name}: `items` is not a list")
            return _entries(name, "items", items, pool, error)
        reader = _reader_of(doc)
        if reader is None:
            raise error(f"{name}: not the JSON of a supported runtime (kind {show(kind)})")
        return list(reader(name, "", doc, pool))
    if isinstance(doc, list):
        return _entries(name, "", doc, pool, error)
    raise error(f"{name}: not the JSON of a supported runtime (a {type(doc).__name__})")


def _entries(
    name: str, prefix: str, items: list[Any], pool: ImagePool, error: type[TruedigestError]
) -> list[RunningRecord]:
    records: list[RunningRecord] = []
    recognised = 0
    for i, item in enumerate(items):
        path = f"{prefix}[{i}]"
        if isinstance(item, dict) and is_image_entry(item):
            recognised += 1
            continue
        reader = _reader_of(item) if isinstance(item, dict) else None
        if reader is None:
            records.append(
                RunningRecord(
                    where=f"{name}: {path}",
                    runtime="unknown",
                    error=f"{path} is not a container, pod or image entry",
                )
            )
            continue
        recognised += 1
        records.extend(reader(name, path, item, pool))
        if len(records) > MAX_RECORDS:
            raise error(f"{name}: more than {MAX_RECORDS} containers")
    if items and not recognised:
        raise error(f"{name}: not the JSON of a supported runtime (no entry is a container)")
    return records


def _reader_of(obj: dict[str, Any]) -> Reader | None:
    if obj.get("kind") == "Pod":
        return read_pod
    status = obj.get("status")
    if isinstance(status, dict) and ("imageRef" in status or "imageId" in status):
        return read_cri_inspect
    if "containers" in obj and "kind" not in obj:
        return read_cri_ps
    if "State" in obj and ("Config" in obj or "ImageName" in obj) and "Image" in obj:
        return read_engine_container
    if "Names" in obj and "ImageID" in obj:
        return read_podman_ps
    return None


__all__ = [
    "MAX_RECORDS",
    "ImageId",
    "name_part",
    "parse_document",
    "parse_documents",
    "read_running",
    "split_image_id",
]
