"""What the HTTP layer is told: the run's client options and each body's limit.

Plain values (standard library only), below both `httpclient` (which builds the
client from them) and `transport` (which enforces them), so neither imports the
other for its types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from truedigest.errors import BodyTooLargeError, format_size

if TYPE_CHECKING:
    from pathlib import Path  # an annotation only: `resolve` loads no pathlib

MANIFEST_CAP = 4 * 1024 * 1024
RUN_DEADLINE_FLOOR = 60.0
RUN_DEADLINE_TIMEOUTS = 10


class Limit(NamedTuple):
    """What a response body is, and the most decoded bytes it may hold (a NamedTuple:
    no dataclass to build at start-up).

    Callers of `Transport.request` pass one, so an over-cap error names what was
    capped: `Limit("token response", 1 << 20)`, `Limit("CP pin table", 32 << 20)`.
    """

    kind: str
    cap: int

    def exceeded(self, subject: str, size: int | None = None) -> BodyTooLargeError:
        """The error for a body over this limit; `subject` says whose body it was."""
        cap = format_size(self.cap)
        if size is not None:
            message = f"{subject} is {size} bytes, over the {cap} {self.kind} cap"
        else:
            message = f"{subject} is larger than the {cap} {self.kind} cap"
        return BodyTooLargeError(message, kind=self.kind, cap=self.cap)


MANIFEST_LIMIT = Limit("manifest", MANIFEST_CAP)


class ClientOptions(NamedTuple):
    """How the run's HTTP client behaves (a NamedTuple: no dataclass to build at
    start-up; `_replace` makes a changed copy)."""

    plain_http: bool = False
    insecure: bool = False
    ca_file: Path | None = None
    timeout: float = 30.0
    retries: int = 4
    deadline: float = 60.0
    retry_after_cap: float = 10.0
    backoff: float = 0.2
    run_deadline: float | None = None  # seconds for the whole run; None: `run_seconds`

    @property
    def run_seconds(self) -> float:
        """The run's deadline: `run_deadline`, else 10 times --timeout, at least 60 s."""
        if self.run_deadline is not None:
            return self.run_deadline
        return max(RUN_DEADLINE_FLOOR, RUN_DEADLINE_TIMEOUTS * self.timeout)

    def with_wait(self, seconds: float) -> ClientOptions:
        """These options with `seconds` more run time (for `verify --wait`)."""
        return self._replace(run_deadline=self.run_seconds + max(seconds, 0.0))

    @property
    def host_failures(self) -> int:
        """Failures in a row (connects, whole-response timeouts) that give a host up."""
        return max(2, self.retries + 1)
