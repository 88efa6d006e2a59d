"""Shared pieces of the running-state readers: digest forms, typed access, records.

A value of the wrong type raises `Malformed`, which each reader turns into an error
record for that entry (never a crash, never a pass). Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from truedigest.errors import InvalidDigestError
from truedigest.model.running_state import DigestKind, RunningRecord
from truedigest.oci.digest import Digest

_HEX64 = re.compile(r"[0-9a-f]{64}")

Reader = Callable[[str, str, dict[str, Any], Any], Iterator[RunningRecord]]
"""(document name, JSON path, entry, image pool) -> records."""


class Malformed(ValueError):
    """A malformed entry: becomes an error record."""


@dataclass(frozen=True, slots=True)
class ImageId:
    """A runtime's digest string, normalised."""

    digest: Digest | None
    kind: DigestKind
    repo: str | None = None


def split_image_id(text: str) -> ImageId:
    """Normalise every runtime's digest form (listed in `running_inputs`).

    Raises ValueError for text that names no digest (or an unknown `scheme://`)."""
    rest = text.strip()
    if not rest:
        return ImageId(None, DigestKind.NONE)
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        if scheme not in ("docker-pullable", "docker", "containerd", "cri-o", "oci"):
            raise Malformed(f"unknown image ID scheme {scheme[:40]!r}://")
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
        raise Malformed(str(exc)) from None


def name_part(text: str) -> str:
    """`host/path` of `host/path:tag@digest` (no parsing beyond the separators)."""
    name = text.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


# -- typed access: a wrong type is a malformed entry, never a crash --------------------


def opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"{path}.{key} is not a string")


def opt_dict(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Malformed(f"{path}.{key} is not an object")


def opt_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise Malformed(f"{path}.{key} is not a list")


def show(value: object) -> str:
    return repr(value)[:60]


def dot(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def label(labels: dict[str, Any], key: str) -> str | None:
    value = labels.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"label {key} is not a string")


# -- building records ------------------------------------------------------------------


def with_(rec: RunningRecord, **changes: Any) -> RunningRecord:
    return replace(rec, **changes)


def with_digest(rec: RunningRecord, found: ImageId) -> RunningRecord:
    changes: dict[str, Any] = {"digest": found.digest, "digest_kind": found.kind}
    if found.kind is DigestKind.REPO_DIGEST:
        changes["digest_repo"] = found.repo
    elif found.kind is DigestKind.IMAGE_ID and rec.image_id is None:
        changes["image_id"] = found.digest
    return with_(rec, **changes)
