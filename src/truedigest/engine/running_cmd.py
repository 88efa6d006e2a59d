"""`running --from-cmd CMD`: run a command that prints what runs, with bounds.

The command is split like a shell would split words (`shlex.split`) and run
without a shell, stdin closed, in its own process group. Its stdout is the
document (capped like an input file); its stderr is kept only for the error line
(its last line, bounded: it is text from outside and goes through `safetext`).
It must finish within `timeout` seconds; past that, or past the cap, its whole
process group is killed and the run fails with exit 3. A command that cannot be
started (no such program, empty) is a usage error (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from truedigest.base.fileio import DEFAULT_CAP
from truedigest.errors import RunningCommandError, UsageError

STDERR_KEPT = 64 * 1024
"""Bytes of the command's stderr kept (the last ones) for its error line."""
SHOWN = 300
"""Characters of the command's last stderr line shown in an error."""


@dataclass(frozen=True, slots=True)
class Command:
    """A `--from-cmd` value, split into argv."""

    text: str
    argv: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Command:
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise UsageError(f"--from-cmd {text!r}: cannot split it into words ({exc})") from None
        if not argv:
            raise UsageError("--from-cmd: the command is empty")
        return cls(text, argv)

    @property
    def shown(self) -> str:
        return f"--from-cmd {self.argv[0]!r}"


def run_command(
    command: Command,
    *,
    timeout: float,
    cap: int = DEFAULT_CAP,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The command's stdout, once it exited 0 within `timeout` seconds."""
    try:
        proc = subprocess.Popen(  # noqa: S603 - the user's own command, argv, no shell
            command.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise UsageError(
            f"{command.shown}: no such program", hint="check the command and PATH"
        ) from None
    except PermissionError:
        raise UsageError(
            f"{command.shown}: the program cannot be run (permission denied)"
        ) from None
    except OSError as exc:
        raise UsageError(f"{command.shown}: cannot be started ({exc.strerror})") from None
    try:
        out, err = _collect(proc, command, timeout=timeout, cap=cap, clock=clock)
    finally:
        _reap(proc)
    if proc.returncode != 0:
        why = f"exit status {proc.returncode}"
        if proc.returncode < 0:
            with contextlib.suppress(ValueError):
                why = f"killed by {signal.Signals(-proc.returncode).name}"
        last = _last_line(err)
        said = f": {last}" if last else ""
        raise RunningCommandError(f"{command.shown} failed ({why}){said}")
    return out


def _collect(
    proc: subprocess.Popen[bytes],
    command: Command,
    *,
    timeout: float,
    cap: int,
    clock: Callable[[], float],
) -> tuple[bytes, bytes]:
    deadline = clock() + timeout
    stdout, stderr = proc.stdout, proc.stderr
    if stdout is None or stderr is None:  # pragma: no cover - both are pipes
        raise RunningCommandError(f"{command.shown} could not be run")
    out: list[bytes] = []
    err = b""
    total = 0
    open_fds = {stdout.fileno(), stderr.fileno()}
    with selectors.DefaultSelector() as sel:
        sel.register(stdout, selectors.EVENT_READ)
        sel.register(stderr, selectors.EVENT_READ)
        while open_fds:
            left = deadline - clock()
            events = sel.select(left) if left > 0 else []
            if not events:
                raise _too_slow(command, timeout)
            for key, _ in events:
                fd = key.fd
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_fds.discard(fd)
                elif fd == stdout.fileno():
                    total += len(chunk)
                    if total > cap:
                        raise RunningCommandError(
                            f"{command.shown} printed more than {cap // (1024 * 1024)} MiB",
                            hint="narrow the command (a label selector, a namespace)",
                        )
                    out.append(chunk)
                else:
                    err = (err + chunk)[-STDERR_KEPT:]
    try:
        proc.wait(max(0.0, deadline - clock()))
    except subprocess.TimeoutExpired:
        raise _too_slow(command, timeout) from None
    return b"".join(out), err


def _too_slow(command: Command, timeout: float) -> RunningCommandError:
    return RunningCommandError(
        f"{command.shown} did not finish within {timeout:g} s",
        hint="check the command (it may wait for input or a slow API server); --timeout bounds it",
    )


def _last_line(err: bytes) -> str:
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1].strip()
    return last if len(last) <= SHOWN else last[:SHOWN] + "…"


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command's process group unless it was waited for; close the pipes.

    Until it is waited for, the leader (running or a zombie) holds its pid, so the
    group id names only the processes of this command."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


__all__ = ["Command", "run_command"]
