"""Kubernetes pods (`kubectl get pods -o json`) and CRI containers (`crictl inspect`,
`crictl ps -o json`) as running records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from truedigest.model.running_state import ContainerRole, DigestKind, RunningRecord
from truedigest.sources.running_fields import (
    ImageId,
    Malformed,
    dot,
    label,
    opt_dict,
    opt_list,
    opt_str,
    split_image_id,
    with_,
    with_digest,
)

_KUBE_KEYS = (
    ("initContainerStatuses", "initContainers", ContainerRole.INIT),
    ("containerStatuses", "containers", ContainerRole.CONTAINER),
    ("ephemeralContainerStatuses", "ephemeralContainers", ContainerRole.EPHEMERAL),
)


# -- Kubernetes ------------------------------------------------------------------------


def read_pod(name: str, path: str, pod: dict[str, Any], pool: object) -> Iterator[RunningRecord]:
    del pool
    where = f"{name}: {path}" if path else name
    try:
        meta = opt_dict(pod, "metadata", path or "pod")
        pod_name = opt_str(meta, "name", "metadata")
        namespace = opt_str(meta, "namespace", "metadata")
        workload = _workload(meta)
        spec = opt_dict(pod, "spec", path or "pod")
        status = opt_dict(pod, "status", path or "pod")
    except Malformed as exc:
        yield RunningRecord(where=where, runtime="kubernetes", error=str(exc))
        return
    base = RunningRecord(
        where=where, runtime="kubernetes", pod=pod_name, namespace=namespace, workload=workload
    )
    count = 0
    for status_key, spec_key, role in _KUBE_KEYS:
        try:
            statuses = opt_list(status, status_key, "status")
            specs = opt_list(spec, spec_key, "spec")
        except Malformed as exc:
            yield with_(base, where=f"{where}.status", error=str(exc))
            count += 1
            continue
        seen: set[str] = set()
        for j, cs in enumerate(statuses):
            at = f"{dot(path, 'status')}.{status_key}[{j}]"
            rec = _kube_status(with_(base, where=f"{name}: {at}", role=role), cs, at)
            if rec.container is not None:
                seen.add(rec.container)
            count += 1
            yield rec
        for j, cspec in enumerate(specs):
            cname = cspec.get("name") if isinstance(cspec, dict) else None
            if isinstance(cname, str) and cname not in seen:
                image = cspec.get("image")
                count += 1
                yield with_(
                    base,
                    where=f"{name}: {dot(path, 'spec')}.{spec_key}[{j}]",
                    role=role,
                    container=cname,
                    image=image if isinstance(image, str) else None,
                    state="not started (no status yet)",
                )
    if count == 0:
        yield with_(base, error="the pod lists no containers")


def _workload(meta: dict[str, Any]) -> str | None:
    owners = opt_list(meta, "ownerReferences", "metadata")
    labels = opt_dict(meta, "labels", "metadata")
    chosen: dict[str, Any] | None = None
    for owner in owners:
        if not isinstance(owner, dict):
            raise Malformed("metadata.ownerReferences holds a non-object")
        if chosen is None or owner.get("controller") is True:
            chosen = owner
            if owner.get("controller") is True:
                break
    if chosen is None:
        return None
    kind = opt_str(chosen, "kind", "ownerReferences[]")
    owner_name = opt_str(chosen, "name", "ownerReferences[]")
    if not kind or not owner_name:
        raise Malformed("metadata.ownerReferences[] has no kind or name")
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
        return with_(base, error=f"{at} is not an object")
    try:
        cname = opt_str(cs, "name", at)
        image = opt_str(cs, "image", at)
        image_id = opt_str(cs, "imageID", at)
        state = _kube_state(opt_dict(cs, "state", at))
        base = with_(base, container=cname, image=image, state=state)
        return with_digest(base, split_image_id(image_id or ""))
    except Malformed as exc:
        return with_(base, error=f"{at}: {exc}")


def _kube_state(state: dict[str, Any]) -> str | None:
    for key in ("running", "waiting", "terminated"):
        value = state.get(key)
        if isinstance(value, dict):
            reason = value.get("reason")
            return f"{key}: {reason}" if isinstance(reason, str) and reason else key
    return None


# -- CRI (crictl) ----------------------------------------------------------------------


def read_cri_inspect(
    name: str, path: str, doc: dict[str, Any], pool: object
) -> Iterator[RunningRecord]:
    del pool
    at = dot(path, "status")
    status = doc["status"]
    yield _cri_container(
        RunningRecord(where=f"{name}: {at}", runtime="cri"),
        status,
        at,
        ref_key="imageRef",
        id_key="imageId",
    )


def read_cri_ps(name: str, path: str, doc: dict[str, Any], pool: object) -> Iterator[RunningRecord]:
    del pool
    try:
        items = opt_list(doc, "containers", path or "document")
    except Malformed as exc:
        yield RunningRecord(where=f"{name}: {path}", runtime="cri", error=str(exc))
        return
    for i, item in enumerate(items):
        at = f"{dot(path, 'containers')}[{i}]"
        base = RunningRecord(where=f"{name}: {at}", runtime="cri")
        if not isinstance(item, dict):
            yield with_(base, error=f"{at} is not an object")
            continue
        yield _cri_container(base, item, at, ref_key="imageRef", id_key=None)


def _cri_container(
    base: RunningRecord, obj: dict[str, Any], at: str, *, ref_key: str, id_key: str | None
) -> RunningRecord:
    try:
        labels = opt_dict(obj, "labels", at)
        meta = opt_dict(obj, "metadata", at)
        image = opt_str(opt_dict(obj, "image", at), "image", f"{at}.image")
        cname = label(labels, "io.kubernetes.container.name") or opt_str(meta, "name", at)
        state = opt_str(obj, "state", at)
        base = with_(
            base,
            container=cname,
            image=image,
            state=state,
            pod=label(labels, "io.kubernetes.pod.name"),
            namespace=label(labels, "io.kubernetes.pod.namespace"),
        )
        ref = split_image_id(opt_str(obj, ref_key, at) or "")
        local = split_image_id(opt_str(obj, id_key, at) or "") if id_key else None
        rec = with_digest(base, ref)
        if local is not None and local.digest is not None:
            if rec.digest is None:
                rec = with_digest(rec, ImageId(local.digest, DigestKind.IMAGE_ID))
            rec = with_(rec, image_id=local.digest)
        return rec
    except Malformed as exc:
        return with_(base, error=f"{at}: {exc}")
