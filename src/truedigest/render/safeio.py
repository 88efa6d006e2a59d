"""The one place output is made: guarded stdout and stderr for the run.

`guarded_streams()` replaces `sys.stdout` and `sys.stderr` for the length of a
run with `GuardedStream`s. Everything printed (click, rich, JSON, tracebacks)
passes through them a whole line at a time, and each line is made safe
(`safetext.safe_line`): secrets masked, controls escaped, no workflow command but
those written with `command()` (our own annotations, whose payloads are cleaned
by their renderer).

They also make delivery a fact the exit code can rely on: a write or flush that
fails (`/dev/full`, a reader that left, a closed stdout) is recorded, the file
descriptor is pointed at /dev/null so nothing later (nor the interpreter's own
final flush) fails again, and `Streams.settle` turns a passing exit code into 3
with one `error:` line when stdout lost data. Standard library only.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple, TextIO

from truedigest.errors import ExitCode, OutputError
from truedigest.render.safetext import safe_block

_HOLD = (":", "#")  # a partial line ending so may be the start of a command: hold it


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


class GuardedStream(io.TextIOBase):
    """A text stream that writes whole, safe lines to `raw` and records failures."""

    def __init__(self, raw: TextIO | None, name: str) -> None:
        super().__init__()
        self._raw = raw
        self.name = name
        self._tty = _isatty(raw)
        self._pending = ""
        self._at_start = True  # nothing but whitespace written on the current line yet
        self.wrote = False
        self.failure: str | None = None if raw is not None else "it is closed"

    # -- the io.TextIOBase surface click and rich use ----------------------------------

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._raw, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        if self._raw is None:
            raise io.UnsupportedOperation("fileno")
        return self._raw.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        self.wrote = True
        self._pending += text
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._put_lines(head + "\n")
        return len(text)

    def flush(self) -> None:
        # A partial line goes out only on a terminal (a progress bar); in a pipe it
        # waits for its newline, so a line start is always judged as a whole.
        if self._pending and self._tty and not self._pending.endswith(_HOLD):
            chunk, self._pending = self._pending, ""
            self._put(self._safe(chunk))
            self._at_start = self._at_start and not chunk.strip()
        self._flush_raw()

    def command(self, line: str) -> None:
        """One workflow command of our own (its payload already cleaned), as is."""
        if self._pending:  # a command is only a command at the start of a line
            self.write("\n")
        self.wrote = True
        one = line.replace("\r", " ").replace("\n", " ")
        self._put(safe_block(one, tty=self._tty, line_start=False) + "\n")
        self._at_start = True
        self._flush_raw()

    def finish_line(self) -> None:
        """Write out a pending partial line (end of run, or before a command)."""
        if self._pending:
            chunk, self._pending = self._pending, ""
            self._put(self._safe(chunk))
            self._at_start = self._at_start and not chunk.strip()

    def close(self) -> None:
        self._raw = None  # the guard never closes (nor, once closed, flushes) the real stream
        super().close()

    # -- internals ---------------------------------------------------------------------

    def _safe(self, text: str) -> str:
        return safe_block(text, tty=self._tty, line_start=self._at_start)

    def _put_lines(self, text: str) -> None:
        safe = self._safe(text)
        self._at_start = True
        self._put(safe)

    def _put(self, text: str) -> None:
        if self._raw is None:
            return
        try:
            self._raw.write(self._encodable(text))
        except OSError as exc:
            self._fail(exc)

    def _flush_raw(self) -> None:
        if self._raw is None:
            return
        try:
            self._raw.flush()
        except OSError as exc:
            self._fail(exc)
        except ValueError:  # the real stream was closed under us
            self._raw = None

    def _encodable(self, text: str) -> str:
        encoding = self.encoding
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            pass
        return text

    def _fail(self, exc: OSError) -> None:
        """Record the first failure; send this descriptor's later bytes to /dev/null."""
        if self.failure is None:
            self.failure = exc.strerror or type(exc).__name__
        raw, self._raw = self._raw, None
        with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            if raw is None:
                return
            fd = raw.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
            raw.flush()  # what is still buffered drains into /dev/null


class Streams(NamedTuple):
    stdout: GuardedStream
    stderr: GuardedStream

    def command(self, line: str) -> None:
        self.stderr.command(line)

    def settle(self, code: int, report: Callable[[str, str | None], None]) -> int:
        """The exit code once every byte was written: a pass whose stdout was lost is 3."""
        for stream in (self.stdout, self.stderr):
            stream.finish_line()
            stream.flush()
        lost = self.stdout.wrote and self.stdout.failure is not None
        if lost and code == ExitCode.OK:
            report(
                f"stdout could not be written ({self.stdout.failure}): "
                "the result was not delivered",
                OutputError.hint,
            )
            self.stderr.finish_line()
            self.stderr.flush()
            return int(ExitCode.UNAVAILABLE)
        return code


def _occupy(fd: int) -> None:
    """Keep a closed standard descriptor from being reused by the next open()."""
    try:
        os.fstat(fd)
    except OSError:
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@contextlib.contextmanager
def guarded_streams() -> Iterator[Streams]:
    """Guard `sys.stdout` and `sys.stderr` for the run; restore them afterwards."""
    saved_out, saved_err = sys.stdout, sys.stderr
    if saved_out is None:
        _occupy(1)
    if saved_err is None:
        _occupy(2)
    streams = Streams(GuardedStream(saved_out, "<stdout>"), GuardedStream(saved_err, "<stderr>"))
    sys.stdout, sys.stderr = streams.stdout, streams.stderr
    try:
        yield streams
    finally:
        for stream in (streams.stdout, streams.stderr):
            stream.finish_line()
            stream.flush()
        sys.stdout, sys.stderr = saved_out, saved_err


def command(line: str) -> None:
    """Write one workflow command of our own to stderr (as is, when guarded)."""
    stream = sys.stderr
    if isinstance(stream, GuardedStream):
        stream.command(line)
    else:
        stream.write(line + "\n")


__all__ = ["GuardedStream", "Streams", "command", "guarded_streams"]
