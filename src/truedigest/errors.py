"""One error tree for everything that stops truedigest from checking.

Every class carries its exit code (docs/exit-codes.md) and a hint a person can act on.
A mismatch is *not* an exception: it is data in a report. Exceptions mean
"could not check" (or bad usage, or an absent tag).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    MISMATCH = 1
    USAGE = 2
    UNAVAILABLE = 3
    ABSENT = 10


class TruedigestError(Exception):
    """Base class: the message is user-facing text, one line."""

    exit_code: ClassVar[ExitCode] = ExitCode.UNAVAILABLE
    hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.instance_hint: str | None = hint
        else:
            self.instance_hint = type(self).hint

    def __str__(self) -> str:
        return self.message


class UsageError(TruedigestError):
    exit_code = ExitCode.USAGE
    hint = "see `truedigest COMMAND --help`"


class InvalidReferenceError(UsageError):
    hint = "a reference looks like [HOST[:PORT]/]NAMESPACE/NAME[:TAG][@sha256:HEX], lowercase"


class InvalidDigestError(UsageError):
    hint = "a digest looks like sha256:<64 lowercase hex> (or sha384:<96 hex>, sha512:<128 hex>)"


class AmbiguousDigestError(UsageError):
    """A short digest (a hex prefix) that more than one digest of the repository starts with."""

    hint = "give more hex characters of the digest (up to the full digest)"


class InputFileError(UsageError):
    """A file the user pointed us at (metadata, log, digest file, layout) is unusable."""

    hint = "check the path and the file's format (see README: build sources)"


class RunningInputError(InputFileError):
    """A `running --from` document that is not JSON of a supported runtime (exit 2)."""

    hint = (
        "give the JSON of `kubectl get pods -o json`, `docker inspect` / `podman inspect` "
        "(with `docker image inspect` for RepoDigests), or `crictl inspect` / `crictl ps -o json`"
    )


class CheckError(TruedigestError):
    """Something could not be checked (exit 3)."""

    exit_code = ExitCode.UNAVAILABLE


class RunningCommandError(CheckError):
    """`running --from-cmd`: the command failed, hung, or printed no usable JSON (exit 3)."""

    hint = (
        "run the command yourself; it must print the JSON of `kubectl get pods -o json`, "
        "`docker inspect`, `podman inspect` or `crictl inspect` on stdout"
    )


class OutputError(CheckError):
    """The result could not be printed or delivered (exit 3: nothing may count as a pass)."""

    hint = "check that stdout is open and writable (a closed pipe or full disk loses the result)"


class NetworkError(CheckError):
    hint = "check the host and port, proxy settings and --plain-http / --ca-file / --insecure"


class TLSError(NetworkError):
    hint = "pass the registry's CA with --ca-file, or --plain-http for a plain-HTTP registry"


class AuthError(CheckError):
    hint = (
        "set TRUEDIGEST_REGISTRY_USERNAME / TRUEDIGEST_REGISTRY_PASSWORD, "
        "or log in so that docker config.json / containers auth.json holds credentials"
    )


class RegistryError(CheckError):
    """A registry answered with an unexpected status or an unusable body."""

    hint = "retry later; run with -v for the request that failed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = codes


class DigestMismatchError(RegistryError):
    hint = (
        "the registry's Docker-Content-Digest header disagrees with the bytes it served; "
        "do not trust this registry's header (a proxy or cache may be rewriting manifests)"
    )


class BodyTooLargeError(RegistryError):
    """A response body over its cap; the message and hint name what was capped.

    `kind` says what the body is ("manifest", "config blob", "token response",
    "CP pin table", "tag list page"), `cap` the most decoded bytes it may hold.
    """

    def __init__(self, message: str, *, kind: str, cap: int, hint: str | None = None) -> None:
        super().__init__(
            message,
            hint=hint
            or f"a {kind} is capped at {format_size(cap)} (decoded); a {kind} this large is "
            "not one a well-behaved server sends",
        )
        self.kind = kind
        self.cap = cap


ManifestTooLargeError = BodyTooLargeError  # the historical name: every capped body


def format_size(n: int) -> str:
    """`4 MiB`, `512 KiB`, `1000 bytes`: a cap as people read it."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class NotFoundError(TruedigestError):
    """The registry does not serve the tag or digest asked about (exit 10)."""

    exit_code = ExitCode.ABSENT
    hint = "check the tag was pushed to this registry and repository (`truedigest tags REPO`)"


class PlatformNotFoundError(NotFoundError):
    hint = "run `truedigest inspect REF` to see the platforms the image holds"


class ControlPlaneError(CheckError):
    hint = "check --cp URL and the token variable named by --cp-token-env"


class CPTokenError(UsageError):
    """A CP token variable holds something no bearer token can be (exit 2).

    The message names the variable, never its value."""

    hint = "re-copy the token into the variable as plain text"
