"""Docker and Podman containers (`docker/podman inspect`, `podman ps --format json`),
completed by `docker/podman image inspect` entries (RepoDigests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from truedigest.model.running_state import DigestKind, RunningRecord
from truedigest.oci.digest import Digest
from truedigest.sources.running_fields import (
    ImageId,
    Malformed,
    name_part,
    opt_dict,
    opt_list,
    opt_str,
    split_image_id,
    with_,
    with_digest,
)


def is_image_entry(obj: dict[str, Any]) -> bool:
    return "RepoDigests" in obj and "State" not in obj and "Names" not in obj


@dataclass
class ImagePool:
    """`docker/podman image inspect` entries: image ID -> RepoDigests."""

    repo_digests: dict[Digest, list[str]] = field(default_factory=dict)

    def collect(self, doc: Any) -> None:
        items = doc if isinstance(doc, list) else []
        for item in items:
            if not isinstance(item, dict) or not is_image_entry(item):
                continue
            ident, digests = item.get("Id"), item.get("RepoDigests")
            if not isinstance(ident, str) or not isinstance(digests, list):
                continue
            try:
                key = split_image_id(ident).digest
            except Malformed:
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
            except Malformed:
                continue
            if parsed.kind is DigestKind.REPO_DIGEST:
                found.append(parsed)
        if asked:
            want = name_part(asked)
            found.sort(key=lambda c: c.repo != want)
        return found


def read_engine_container(
    name: str, path: str, obj: dict[str, Any], pool: ImagePool
) -> Iterator[RunningRecord]:
    podman = "ImageName" in obj or "ImageDigest" in obj
    where = f"{name}: {path}" if path else name
    base = RunningRecord(where=where, runtime="podman" if podman else "docker")
    at = path or "container"
    try:
        cname = opt_str(obj, "Name", at)
        config = opt_dict(obj, "Config", at)
        labels = opt_dict(config, "Labels", f"{at}.Config")
        asked = opt_str(obj, "ImageName", at) if podman else None
        asked = asked or opt_str(config, "Image", f"{at}.Config")
        local = split_image_id(opt_str(obj, "Image", at) or "")
        state = opt_str(opt_dict(obj, "State", at), "Status", f"{at}.State")
        pod = opt_str(obj, "PodName", at) if podman else None
        base = with_(
            base,
            container=cname.removeprefix("/") if cname else None,
            image=asked,
            state=state,
            pod=pod or None,
            workload=compose(labels),
            image_id=local.digest,
        )
        found: list[ImageId] = []
        if asked and "@" in asked:
            found.append(split_image_id(asked))
        if podman and (image_digest := opt_str(obj, "ImageDigest", at)):
            stored = split_image_id(image_digest)
            found.append(ImageId(stored.digest, DigestKind.REPO_DIGEST, name_part(asked or "")))
        found.extend(pool.candidates(local.digest, asked))
        yield _from_candidates(base, found, local)
    except Malformed as exc:
        yield with_(base, error=f"{at}: {exc}")


def read_podman_ps(
    name: str, path: str, obj: dict[str, Any], pool: ImagePool
) -> Iterator[RunningRecord]:
    at = path or "container"
    base = RunningRecord(where=f"{name}: {path}" if path else name, runtime="podman")
    try:
        names = opt_list(obj, "Names", at)
        asked = opt_str(obj, "Image", at)
        local = split_image_id(opt_str(obj, "ImageID", at) or "")
        pod = opt_str(obj, "PodName", at)
        cname = names[0] if names and isinstance(names[0], str) else None
        base = with_(
            base,
            container=cname,
            image=asked,
            pod=pod or None,
            state=opt_str(obj, "State", at),
            image_id=local.digest,
            workload=compose(opt_dict(obj, "Labels", at)),
        )
        found = [split_image_id(asked)] if asked and "@" in asked else []
        found.extend(pool.candidates(local.digest, asked))
        yield _from_candidates(base, found, local)
    except Malformed as exc:
        yield with_(base, error=f"{at}: {exc}")


def compose(labels: dict[str, Any]) -> str | None:
    project = labels.get("com.docker.compose.project")
    service = labels.get("com.docker.compose.service")
    if isinstance(project, str) and isinstance(service, str) and project and service:
        return f"compose:{project}/{service}"
    swarm = labels.get("com.docker.swarm.service.name")
    return f"swarm:{swarm}" if isinstance(swarm, str) and swarm else None


def _from_candidates(base: RunningRecord, found: list[ImageId], local: ImageId) -> RunningRecord:
    repo = [c for c in found if c.kind is DigestKind.REPO_DIGEST and c.digest is not None]
    if not repo:
        return with_digest(base, local)
    rest = tuple(dict.fromkeys(c.digest for c in repo[1:] if c.digest is not None))
    return with_(with_digest(base, repo[0]), alternatives=rest)
