"""Files from outside, read and written with bounds and never blocking.

A path the user (or an environment variable, or a config file) names may be a
FIFO with no writer, `/dev/zero`, a directory or a 2 GiB log. Every input file
truedigest reads goes through `read_input`: it opens without blocking, refuses
anything but a regular file (stdin only where the caller allows `-`), and reads at
most `cap` bytes — one more is an error that names the file and the cap. Report
files (`--github-output`, `--summary-file`) are opened by `open_append`, which
refuses non-regular files the same way. Standard library only.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TextIO

from truedigest.errors import InputFileError, UsageError

DEFAULT_CAP = 16 * 1024 * 1024
STDIN = "-"


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def read_input(
    path: str | os.PathLike[str],
    *,
    what: str,
    cap: int = DEFAULT_CAP,
    allow_stdin: bool = False,
    error: type[UsageError] = InputFileError,
) -> bytes:
    """The bytes of `path`, a regular file of at most `cap` bytes.

    `what` names the file for the user (`--build-log`, `TRUEDIGEST_REGISTRY_PASSWORD_FILE`).
    With `allow_stdin`, `-` reads standard input (also capped). Every failure is
    `error` (exit 2) with one line naming `what` and the path."""
    text = os.fspath(path)
    if allow_stdin and text == STDIN:
        return _read_stdin(what=what, cap=cap, error=error)
    try:
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{what}: no such file {text!r}") from None
    except IsADirectoryError:
        raise error(f"{what}: {text!r} is a directory, not a file") from None
    except PermissionError:
        raise error(f"{what}: {text!r} cannot be read (permission denied)") from None
    except OSError as exc:
        kind = _kind_of(text)  # a socket answers ENXIO to open(): say what it is
        if kind is not None:
            raise error(f"{what}: {text!r} is {kind}, not a regular file") from None
        raise error(f"{what}: {text!r} cannot be opened ({exc.strerror})") from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{what}: {text!r} is not a usable path") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise error(f"{what}: {text!r} is {kind}, not a regular file")
        if info.st_size > cap:
            raise error(f"{what}: {text!r} is larger than {_human(cap)}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise error(f"{what}: {text!r} is larger than {_human(cap)}")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{what}: {text!r} cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _read_stdin(*, what: str, cap: int, error: type[UsageError]) -> bytes:
    """At most `cap` bytes of standard input (which the user chose with `-`)."""
    stream = sys.stdin
    if stream is None:  # started with stdin closed (`<&-`)
        raise error(f"{what}: standard input is closed")
    try:
        data = stream.buffer.read(cap + 1)
    except (OSError, ValueError, AttributeError) as exc:
        reason = getattr(exc, "strerror", None) or "not readable"
        raise error(f"{what}: standard input cannot be read ({reason})") from None
    if len(data) > cap:
        raise error(f"{what}: standard input is larger than {_human(cap)}")
    return data


def _kind_of(text: str) -> str | None:
    """What the non-regular file at `text` is (stat never blocks), or None."""
    try:
        mode = os.stat(text).st_mode
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) else _kind(mode)


def describe_mode(mode: int) -> str:
    """What a file of this `st_mode` is, with an article: "a FIFO", "a directory"."""
    return _kind(mode)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_append(path: str | os.PathLike[str], *, what: str) -> TextIO:
    """`path` opened for appending UTF-8 text; it must be a regular file (or not
    exist yet, and is then created). A FIFO, device or directory is a usage error,
    never a hang."""
    text = os.fspath(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(text, flags | getattr(os, "O_NOCTTY", 0), 0o644)
    except OSError as exc:
        raise UsageError(f"{what}: cannot write {text!r} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{what}: {text!r} is {_kind(info.st_mode)}, not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "a", encoding="utf-8", errors="surrogateescape")


def read_text(
    path: Path | str, *, what: str, cap: int = DEFAULT_CAP, allow_stdin: bool = False
) -> str:
    """`read_input` decoded as UTF-8; undecodable bytes are an error naming the file."""
    data = read_input(path, what=what, cap=cap, allow_stdin=allow_stdin)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{what}: {os.fspath(path)!r} is not UTF-8 text (byte {exc.start})"
        ) from None
