"""`--build-digest DIGEST`: a digest given on the command line."""

from __future__ import annotations

import re

from truedigest.errors import InputFileError, InvalidDigestError
from truedigest.oci.digest import Digest, clip
from truedigest.sources.build.build_claim import BuildClaim, BuildContext
from truedigest.sources.build.kinds import DIGEST_FLAG

__all__ = ["from_digest"]

_BARE_HEX = re.compile(r"[0-9a-f]{64}")


def from_digest(text: str) -> BuildClaim:
    """A digest given on the command line with `--build-digest`."""
    where = DIGEST_FLAG
    if "@" in text:
        raise InputFileError(
            f"{where} {clip(text)!r}: is a reference, not a digest",
            hint="pass only the digest after '@' (sha256:<64 lowercase hex>)",
        )
    if _BARE_HEX.fullmatch(text.strip()):
        raise InputFileError(
            f"{where} {clip(text.strip(), 24)!r}: 64 hex characters without 'sha256:', as "
            "`podman build` and `podman images --no-trunc` print an image ID (a config "
            "digest), not a pushed manifest digest",
            hint="pass the digest of the push (`podman push --digestfile FILE`, then "
            "--digest-file FILE) or the registry's (`truedigest resolve IMAGE`)",
        )
    try:
        digest = Digest.parse(text)
    except InvalidDigestError as exc:
        raise InputFileError(
            f"{where}: {exc.message}",
            hint="pass the manifest digest the build printed: sha256:<64 lowercase hex>",
        ) from exc
    return BuildClaim(kind="digest", digest=digest, where=where)


def read(value: str, ctx: BuildContext) -> BuildClaim:
    """The claim of a value given to this kind's flag (`kinds.BuildKind.claim`)."""
    return from_digest(value)
