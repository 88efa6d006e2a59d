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

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from truedigest.base import jsonutil
from truedigest.base.fileio import STDIN, read_input
from truedigest.errors import InvalidDigestError, RunningInputError, TruedigestError
from truedigest.model.running import ContainerRole, DigestKind, RunningRecord
from truedigest.oci.digest import Digest

MAX_RECORDS = 20_000
"""More containers than this in one run is refused (a flood, not a cluster listing)."""
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PULLABLE = "docker-pullable://"
_KUBE_KEYS = (
    ("initContainerStatuses", "initContainers", ContainerRole.INIT),
    ("containerStatuses", "containers", ContainerRole.CONTAINER),
    ("ephemeralContainerStatuses", "ephemeralContainers", ContainerRole.EPHEMERAL),
)


class _Bad(ValueError):
    """A malformed entry: becomes an error record."""


@dataclass(frozen=True, slots=True)
class ImageId:
    """A runtime's digest string, normalised."""

    digest: Digest | None
    kind: DigestKind
    repo: str | None = None


def split_image_id(text: str) -> ImageId:
    """Normalise every runtime's digest form (see the module docstring).

    Raises ValueError for text that names no digest (or an unknown `scheme://`)."""
    rest = text.strip()
    if not rest:
        return ImageId(None, DigestKind.NONE)
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        if scheme not in ("docker-pullable", "docker", "containerd", "cri-o", "oci"):
            raise _Bad(f"unknown image ID scheme {scheme[:40]!r}://")
    if "@" in rest:
        repo, _, text_digest = rest.rpartition("@")
        digest = _digest(text_digest)
        if repo:
            return ImageId(digest, DigestKind.REPO_DIGEST, name_part(repo))
        return ImageId(digest, DigestKind.IMAGE_ID)
    if _HEX64.fullmatch(rest):
        return ImageId(Digest("sha256", rest), DigestKind.IMAGE_ID)
    return ImageId(_digest(rest), DigestKind.IMAGE_ID)


def _digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigestError as exc:
        raise _Bad(str(exc)) from None


def name_part(text: str) -> str:
    """`host/path` of `host/path:tag@digest` (no parsing beyond the separators)."""
    name = text.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


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
    pool = _ImagePool()
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
    name: str, doc: Any, pool: _ImagePool, error: type[TruedigestError]
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
            raise error(f"{name}: not the JSON of a supported runtime (kind {_show(kind)})")
        return list(reader(name, "", doc, pool))
    if isinstance(doc, list):
        return _entries(name, "", doc, pool, error)
    raise error(f"{name}: not the JSON of a supported runtime (a {type(doc).__name__})")


def _entries(
    name: str, prefix: str, items: list[Any], pool: _ImagePool, error: type[TruedigestError]
) -> list[RunningRecord]:
    records: list[RunningRecord] = []
    recognised = 0
    for i, item in enumerate(items):
        path = f"{prefix}[{i}]"
        if isinstance(item, dict) and _is_image_entry(item):
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


_Reader = Callable[[str, str, dict[str, Any], "_ImagePool"], Iterator[RunningRecord]]


def _reader_of(obj: dict[str, Any]) -> _Reader | None:
    if obj.get("kind") == "Pod":
        return _pod
    status = obj.get("status")
    if isinstance(status, dict) and ("imageRef" in status or "imageId" in status):
        return _cri_inspect
    if "containers" in obj and "kind" not in obj:
        return _cri_ps
    if "State" in obj and ("Config" in obj or "ImageName" in obj) and "Image" in obj:
        return _engine_container
    if "Names" in obj and "ImageID" in obj:
        return _podman_ps
    return None


def _is_image_entry(obj: dict[str, Any]) -> bool:
    return "RepoDigests" in obj and "State" not in obj and "Names" not in obj


# -- typed access: a wrong type is a malformed entry, never a crash --------------------


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Bad(f"{path}.{key} is not a string")


def _opt_dict(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _Bad(f"{path}.{key} is not an object")


def _opt_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _Bad(f"{path}.{key} is not a list")


def _show(value: object) -> str:
    return repr(value)[:60]


def _dot(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


# -- Kubernetes ------------------------------------------------------------------------


def _pod(name: str, path: str, pod: dict[str, Any], pool: _ImagePool) -> Iterator[RunningRecord]:
    del pool
    where = f"{name}: {path}" if path else name
    try:
        meta = _opt_dict(pod, "metadata", path or "pod")
        pod_name = _opt_str(meta, "name", "metadata")
        namespace = _opt_str(meta, "namespace", "metadata")
        workload = _workload(meta)
        spec = _opt_dict(pod, "spec", path or "pod")
        status = _opt_dict(pod, "status", path or "pod")
    except _Bad as exc:
        yield RunningRecord(where=where, runtime="kubernetes", error=str(exc))
        return
    base = RunningRecord(
        where=where, runtime="kubernetes", pod=pod_name, namespace=namespace, workload=workload
    )
    count = 0
    for status_key, spec_key, role in _KUBE_KEYS:
        try:
            statuses = _opt_list(status, status_key, "status")
            specs = _opt_list(spec, spec_key, "spec")
        except _Bad as exc:
            yield _with(base, where=f"{where}.status", error=str(exc))
            count += 1
            continue
        seen: set[str] = set()
        for j, cs in enumerate(statuses):
            at = f"{_dot(path, 'status')}.{status_key}[{j}]"
            rec = _kube_status(_with(base, where=f"{name}: {at}", role=role), cs, at)
            if rec.container is not None:
                seen.add(rec.container)
            count += 1
            yield rec
        for j, cspec in enumerate(specs):
            cname = cspec.get("name") if isinstance(cspec, dict) else None
            if isinstance(cname, str) and cname not in seen:
                image = cspec.get("image")
                count += 1
                yield _with(
                    base,
                    where=f"{name}: {_dot(path, 'spec')}.{spec_key}[{j}]",
                    role=role,
                    container=cname,
                    image=image if isinstance(image, str) else None,
                    state="not started (no status yet)",
                )
    if count == 0:
        yield _with(base, error="the pod lists no containers")


def _workload(meta: dict[str, Any]) -> str | None:
    owners = _opt_list(meta, "ownerReferences", "metadata")
    labels = _opt_dict(meta, "labels", "metadata")
    chosen: dict[str, Any] | None = None
    for owner in owners:
        if not isinstance(owner, dict):
            raise _Bad("metadata.ownerReferences holds a non-object")
        if chosen is None or owner.get("controller") is True:
            chosen = owner
            if owner.get("controller") is True:
                break
    if chosen is None:
        return None
    kind = _opt_str(chosen, "kind", "ownerReferences[]")
    owner_name = _opt_str(chosen, "name", "ownerReferences[]")
    if not kind or not owner_name:
        raise _Bad("metadata.ownerReferences[] has no kind or name")
    template_hash = labels.get("pod-template-hash")
    if (
        kind == "ReplicaSet"
        and isinstance(template_hash, str)
        and template_hash
        and owner_name.endswith(f"-{template_hash}")
    ):
        return f"Deployment/{owner_name[: -len(template_hash) - 1]}"
    return f"{kind}/{owner_name}"


def _kube_status(base: RunningRecord, cs: Any, at: str) -> RunningRecord:
    if not isinstance(cs, dict):
        return _with(base, error=f"{at} is not an object")
    try:
        cname = _opt_str(cs, "name", at)
        image = _opt_str(cs, "image", at)
        image_id = _opt_str(cs, "imageID", at)
        state = _kube_state(_opt_dict(cs, "state", at))
        base = _with(base, container=cname, image=image, state=state)
        return _with_digest(base, split_image_id(image_id or ""))
    except _Bad as exc:
        return _with(base, error=f"{at}: {exc}")


def _kube_state(state: dict[str, Any]) -> str | None:
    for key in ("running", "waiting", "terminated"):
        value = state.get(key)
        if isinstance(value, dict):
            reason = value.get("reason")
            return f"{key}: {reason}" if isinstance(reason, str) and reason else key
    return None


# -- CRI (crictl) ----------------------------------------------------------------------


def _cri_inspect(
    name: str, path: str, doc: dict[str, Any], pool: _ImagePool
) -> Iterator[RunningRecord]:
    del pool
    at = _dot(path, "status")
    status = doc["status"]
    yield _cri_container(
        RunningRecord(where=f"{name}: {at}", runtime="cri"),
        status,
        at,
        ref_key="imageRef",
        id_key="imageId",
    )


def _cri_ps(name: str, path: str, doc: dict[str, Any], pool: _ImagePool) -> Iterator[RunningRecord]:
    del pool
    try:
        items = _opt_list(doc, "containers", path or "document")
    except _Bad as exc:
        yield RunningRecord(where=f"{name}: {path}", runtime="cri", error=str(exc))
        return
    for i, item in enumerate(items):
        at = f"{_dot(path, 'containers')}[{i}]"
        base = RunningRecord(where=f"{name}: {at}", runtime="cri")
        if not isinstance(item, dict):
            yield _with(base, error=f"{at} is not an object")
            continue
        yield _cri_container(base, item, at, ref_key="imageRef", id_key=None)


def _cri_container(
    base: RunningRecord, obj: dict[str, Any], at: str, *, ref_key: str, id_key: str | None
) -> RunningRecord:
    try:
        labels = _opt_dict(obj, "labels", at)
        meta = _opt_dict(obj, "metadata", at)
        image = _opt_str(_opt_dict(obj, "image", at), "image", f"{at}.image")
        cname = _label(labels, "io.kubernetes.container.name") or _opt_str(meta, "name", at)
        state = _opt_str(obj, "state", at)
        base = _with(
            base,
            container=cname,
            image=image,
            state=state,
            pod=_label(labels, "io.kubernetes.pod.name"),
            namespace=_label(labels, "io.kubernetes.pod.namespace"),
        )
        ref = split_image_id(_opt_str(obj, ref_key, at) or "")
        local = split_image_id(_opt_str(obj, id_key, at) or "") if id_key else None
        rec = _with_digest(base, ref)
        if local is not None and local.digest is not None:
            if rec.digest is None:
                rec = _with_digest(rec, ImageId(local.digest, DigestKind.IMAGE_ID))
            rec = _with(rec, image_id=local.digest)
        return rec
    except _Bad as exc:
        return _with(base, error=f"{at}: {exc}")


def _label(labels: dict[str, Any], key: str) -> str | None:
    value = labels.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Bad(f"label {key} is not a string")


# -- Docker / Podman -------------------------------------------------------------------


@dataclass
class _ImagePool:
    """`docker/podman image inspect` entries: image ID -> RepoDigests."""

    repo_digests: dict[Digest, list[str]] = field(default_factory=dict)

    def collect(self, doc: Any) -> None:
        items = doc if isinstance(doc, list) else []
        for item in items:
            if not isinstance(item, dict) or not _is_image_entry(item):
                continue
            ident, digests = item.get("Id"), item.get("RepoDigests")
            if not isinstance(ident, str) or not isinstance(digests, list):
                continue
            try:
                key = split_image_id(ident).digest
            except _Bad:
                continue
            if key is not None:
                bucket = self.repo_digests.setdefault(key, [])
                bucket.extend(d for d in digests if isinstance(d, str) and d not in bucket)

    def candidates(self, image_id: Digest | None, asked: str | None) -> list[ImageId]:
        """RepoDigests of `image_id`, those of the asked-for repository first."""
        found: list[ImageId] = []
        for text in self.repo_digests.get(image_id, []) if image_id else []:
            try:
                parsed = split_image_id(text)
            except _Bad:
                continue
            if parsed.kind is DigestKind.REPO_DIGEST:
                found.append(parsed)
        if asked:
            want = name_part(asked)
            found.sort(key=lambda c: c.repo != want)
        return found


def _engine_container(
    name: str, path: str, obj: dict[str, Any], pool: _ImagePool
) -> Iterator[RunningRecord]:
    podman = "ImageName" in obj or "ImageDigest" in obj
    where = f"{name}: {path}" if path else name
    base = RunningRecord(where=where, runtime="podman" if podman else "docker")
    at = path or "container"
    try:
        cname = _opt_str(obj, "Name", at)
        config = _opt_dict(obj, "Config", at)
        labels = _opt_dict(config, "Labels", f"{at}.Config")
        asked = _opt_str(obj, "ImageName", at) if podman else None
        asked = asked or _opt_str(config, "Image", f"{at}.Config")
        local = split_image_id(_opt_str(obj, "Image", at) or "")
        state = _opt_str(_opt_dict(obj, "State", at), "Status", f"{at}.State")
        pod = _opt_str(obj, "PodName", at) if podman else None
        base = _with(
            base,
            container=cname.removeprefix("/") if cname else None,
            image=asked,
            state=state,
            pod=pod or None,
            workload=_compose(labels),
            image_id=local.digest,
        )
        found: list[ImageId] = []
        if asked and "@" in asked:
            found.append(split_image_id(asked))
        if podman and (image_digest := _opt_str(obj, "ImageDigest", at)):
            stored = split_image_id(image_digest)
            found.append(ImageId(stored.digest, DigestKind.REPO_DIGEST, name_part(asked or "")))
        found.extend(pool.candidates(local.digest, asked))
        yield _from_candidates(base, found, local)
    except _Bad as exc:
        yield _with(base, error=f"{at}: {exc}")


def _podman_ps(
    name: str, path: str, obj: dict[str, Any], pool: _ImagePool
) -> Iterator[RunningRecord]:
    at = path or "container"
    base = RunningRecord(where=f"{name}: {path}" if path else name, runtime="podman")
    try:
        names = _opt_list(obj, "Names", at)
        asked = _opt_str(obj, "Image", at)
        local = split_image_id(_opt_str(obj, "ImageID", at) or "")
        pod = _opt_str(obj, "PodName", at)
        cname = names[0] if names and isinstance(names[0], str) else None
        base = _with(
            base,
            container=cname,
            image=asked,
            pod=pod or None,
            state=_opt_str(obj, "State", at),
            image_id=local.digest,
            workload=_compose(_opt_dict(obj, "Labels", at)),
        )
        found = [split_image_id(asked)] if asked and "@" in asked else []
        found.extend(pool.candidates(local.digest, asked))
        yield _from_candidates(base, found, local)
    except _Bad as exc:
        yield _with(base, error=f"{at}: {exc}")


def _compose(labels: dict[str, Any]) -> str | None:
    project = labels.get("com.docker.compose.project")
    service = labels.get("com.docker.compose.service")
    if isinstance(project, str) and isinstance(service, str) and project and service:
        return f"compose:{project}/{service}"
    swarm = labels.get("com.docker.swarm.service.name")
    return f"swarm:{swarm}" if isinstance(swarm, str) and swarm else None


def _from_candidates(base: RunningRecord, found: list[ImageId], local: ImageId) -> RunningRecord:
    repo = [c for c in found if c.kind is DigestKind.REPO_DIGEST and c.digest is not None]
    if not repo:
        return _with_digest(base, local)
    rest = tuple(dict.fromkeys(c.digest for c in repo[1:] if c.digest is not None))
    return _with(_with_digest(base, repo[0]), alternatives=rest)


# -- building records ------------------------------------------------------------------


def _with(rec: RunningRecord, **changes: Any) -> RunningRecord:
    return replace(rec, **changes)


def _with_digest(rec: RunningRecord, found: ImageId) -> RunningRecord:
    changes: dict[str, Any] = {"digest": found.digest, "digest_kind": found.kind}
    if found.kind is DigestKind.REPO_DIGEST:
        changes["digest_repo"] = found.repo
    elif found.kind is DigestKind.IMAGE_ID and rec.image_id is None:
        changes["image_id"] = found.digest
    return _with(rec, **changes)


__all__ = [
    "MAX_RECORDS",
    "ImageId",
    "name_part",
    "parse_document",
    "parse_documents",
    "read_running",
    "split_image_id",
]
