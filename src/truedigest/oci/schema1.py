"""Docker image manifest schema 1 (legacy): what its digest hashes, and its image facts.

A signed schema 1 manifest is a JSON Web Signature in libtrust's "pretty" form: the
signed document with a `signatures` member appended. Its digest is the sha256 of
the JWS *payload*, the document without the signatures, rebuilt as libtrust does:
the first `formatLength` bytes of the body, then the base64url-decoded `formatTail`,
both from each signature's protected header (every signature must agree).
distribution re-signs the payload with its own key on every GET, so the bytes
served change from one GET to the next and the digest does not. An unsigned
schema 1 manifest (`…v1+json` without `signatures`) is hashed as it is.

The image facts a schema 1 manifest holds: `architecture` (the os is `linux`
unless the newest history entry says otherwise), `fsLayers` (newest first, blob
sums without sizes) and, in `history[0].v1Compatibility`, the newest layer's
config (created, labels). Standard library only.
"""

from __future__ import annotations

import binascii
from typing import Any

from truedigest.base import jsonutil
from truedigest.errors import RegistryError

SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_MEDIA_TYPES: tuple[str, ...] = (SCHEMA1_SIGNED, SCHEMA1)
LEGACY_LABEL = "legacy Docker schema 1"
_SIGNATURES = "signatures"


def is_schema1(data: dict[str, Any]) -> bool:
    return data.get("schemaVersion") == 1


def media_type_of(data: dict[str, Any], content_type: str, shown: str) -> str:
    """The media type of a schema 1 body: the Content-Type when it names schema 1 (as
    served), else from the body (`signatures` present: signed). A body without an
    `fsLayers` list, or that declares a modern `mediaType`, is not a schema 1 manifest."""
    if not isinstance(data.get("fsLayers"), list):
        raise RegistryError(
            f"{shown}: the registry served a Docker schema 1 manifest without fsLayers",
            hint="the body is not a complete manifest; nothing was checked",
        )
    body_type = data.get("mediaType")
    if body_type is not None and body_type not in SCHEMA1_MEDIA_TYPES:
        raise RegistryError(
            f"{shown}: the registry's answer contradicts itself: a schema 1 body declares "
            f"mediaType {str(body_type)[:80]}",
            hint="a registry or proxy that mislabels manifests cannot be trusted; "
            "nothing was checked",
        )
    if content_type in SCHEMA1_MEDIA_TYPES:
        return content_type
    return SCHEMA1_SIGNED if _SIGNATURES in data else SCHEMA1


def jws_payload(body: bytes, shown: str) -> bytes | None:
    """The payload a signed schema 1 manifest signs; None for an unsigned one.

    libtrust's rule (`ParsePrettySignature`): every signature's protected header names
    the same `formatLength` (within the body) and `formatTail`. The payload must itself
    be a schema 1 JSON object: its facts, not the body's, are what the digest vouches for.
    """
    data = _object(body, shown, "manifest")
    if _SIGNATURES not in data:
        return None
    signatures = data[_SIGNATURES]
    if not isinstance(signatures, list) or not signatures:
        raise _malformed(shown, "the signatures are not a non-empty list")
    formats: set[tuple[int, bytes]] = set()
    for signature in signatures:
        protected = signature.get("protected") if isinstance(signature, dict) else None
        if not isinstance(protected, str):
            raise _malformed(shown, "a signature has no protected header")
        header = _object(_b64url(protected, shown), shown, "protected header")
        length, tail = header.get("formatLength"), header.get("formatTail")
        if isinstance(length, float) and length.is_integer():
            length = int(length)
        if not isinstance(length, int) or isinstance(length, bool) or not 0 < length <= len(body):
            raise _malformed(shown, "a protected header's formatLength is not within the body")
        if not isinstance(tail, str):
            raise _malformed(shown, "a protected header has no formatTail")
        formats.add((length, _b64url(tail, shown)))
    if len(formats) != 1:
        raise _malformed(shown, "the signatures disagree on the signed payload")
    length, tail = formats.pop()
    payload = body[:length] + tail
    if not is_schema1(_object(payload, shown, "signed payload")):
        raise _malformed(shown, "the signed payload is not a schema 1 manifest")
    return payload


def v1_compatibility(data: dict[str, Any]) -> dict[str, Any] | None:
    """The newest history entry's `v1Compatibility` (the image config of its top layer)."""
    history = data.get("history")
    if not isinstance(history, list) or not history or not isinstance(history[0], dict):
        return None
    raw = history[0].get("v1Compatibility")
    if not isinstance(raw, str):
        return None
    try:
        parsed = jsonutil.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _object(data: bytes, shown: str, what: str) -> dict[str, Any]:
    try:
        parsed = jsonutil.loads(data)
    except ValueError:
        raise _malformed(shown, f"the {what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise _malformed(shown, f"the {what} is not a JSON object")
    return parsed


def _b64url(text: str, shown: str) -> bytes:
    import base64  # only a signed schema 1 manifest needs it

    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _malformed(shown, "a protected header is not base64url") from None


def _malformed(shown: str, what: str) -> RegistryError:
    return RegistryError(
        f"{shown}: the registry served a signed Docker schema 1 manifest that cannot be "
        f"read: {what}",
        hint="its digest (the sha256 of the signed payload) cannot be computed; "
        "nothing was checked",
    )


__all__ = [
    "LEGACY_LABEL",
    "SCHEMA1",
    "SCHEMA1_MEDIA_TYPES",
    "SCHEMA1_SIGNED",
    "is_schema1",
    "jws_payload",
    "media_type_of",
    "v1_compatibility",
]
