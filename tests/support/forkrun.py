"""Run `truedigest.cli.main` in forked children of the test process.

Each call is a real process: its own fds (stdin /dev/null, stdout and stderr
pipes), its own environment, its exit status from `SystemExit`, killed when it
outlives its timeout. Only the interpreter start and the imports are shared with
the test process, which is what `python -m truedigest` spends ~0.3 s on per call.

The child starts from a copy of the test process: it forgets the secrets earlier
in-process tests registered, replaces `os.environ`, and rebuilds `sys.std*` on fds
0-2 (pytest's capture objects are not real streams). It never returns into pytest:
it leaves with `os._exit`.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.cli import CliResult

_CHUNK = 1 << 16


def _child(args: Sequence[str], env: Mapping[str, str], out_w: int, err_w: int) -> None:
    code = 70  # EX_SOFTWARE: something below failed before main() could exit
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (devnull, out_w, err_w):
            if fd > 2:
                os.close(fd)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython sets it at start
        os.environ.clear()
        os.environ.update(env)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
            encoding="utf-8",
            errors="strict",
        )
        sys.stderr = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        sys.argv = ["truedigest", *args]

        from truedigest.base import redact
        from truedigest.cli.main import main

        redact.forget_all()
        try:
            main(list(args))
        except SystemExit as exc:
            code = _exit_status(exc.code)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                code = code or 120  # as CPython does when the final flush fails
    except BaseException:
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        finally:
            code = 70
    finally:
        os._exit(code)


def _exit_status(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def run_many(
    calls: Sequence[tuple[Sequence[str], Mapping[str, str]]],
    *,
    timeout: float,
) -> list[CliResult]:
    from tests.support.cli import CliResult

    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int, int]] = []  # pid, stdout read fd, stderr read fd
    outputs: dict[int, bytearray] = {}
    try:
        for args, env in calls:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                os.close(out_r)
                os.close(err_r)
                _child(list(args), dict(env), out_w, err_w)
            os.close(out_w)
            os.close(err_w)
            children.append((pid, out_r, err_r))
            outputs[out_r] = bytearray()
            outputs[err_r] = bytearray()
        _drain(list(outputs), outputs, deadline=time.monotonic() + timeout)
        results = []
        for (args, _), (pid, out_r, err_r) in zip(calls, children, strict=True):
            status = _wait(pid, deadline=time.monotonic() + 5)
            results.append(
                CliResult(
                    tuple(args),
                    status,
                    outputs[out_r].decode(),
                    outputs[err_r].decode(),
                )
            )
        return results
    finally:
        for pid, out_r, err_r in children:
            for fd in (out_r, err_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _drain(fds: list[int], outputs: dict[int, bytearray], *, deadline: float) -> None:
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        open_fds = set(fds)
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"truedigest did not finish within the test's timeout: {fds}")
            for key, _ in sel.select(timeout=left):
                fd = int(key.fd)
                chunk = os.read(fd, _CHUNK)
                if chunk:
                    outputs[fd] += chunk
                else:
                    sel.unregister(fd)
                    open_fds.discard(fd)


def _wait(pid: int, *, deadline: float) -> int:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
