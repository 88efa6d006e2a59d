"""Talk on stderr: the `error:`/`hint:`/`warning:` lines, and the -v level that widens them.

Every line made here from outside text goes through `render.safetext` first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from truedigest.errors import TruedigestError

_VERBOSITY = [0]  # set by -v; read after click's context has closed (the catch point)
_QUIET = [False]  # set by -q: no report, no verdict line (error lines still print)
_DEFERRED: list[str] = []  # -v lines of a failed run, printed after its error line
WARNINGS_SHOWN = 20  # unread parts named one per line; the rest are counted (all are in -o json)


def reset() -> None:
    """A new run: verbosity 0, nothing deferred."""
    _VERBOSITY[0] = 0
    _QUIET[0] = False
    _DEFERRED.clear()


def raise_verbosity(value: int) -> None:
    _VERBOSITY[0] = max(_VERBOSITY[0], value)


def verbosity() -> int:
    return _VERBOSITY[0]


def set_quiet(value: bool) -> None:
    _QUIET[0] = _QUIET[0] or value


def quiet() -> bool:
    """-q: the run prints no report on stdout and no verdict or advice on stderr."""
    return _QUIET[0]


def summary(text: str) -> None:
    """A verdict, progress or advice line on stderr (`say`), left out under -q."""
    if not quiet():
        say(text)


def defer(line: str) -> None:
    """A -v line to print after the error line of a failed run."""
    _DEFERRED.append(line)


def say(text: str) -> None:
    """One line of talk on stderr: text from outside made safe, clipped with a count."""
    from truedigest.render.safetext import one_line

    click.echo(one_line(text), err=True)


def print_error(message: str, hint: str | None) -> None:
    say(f"error: {' '.join(message.split())}")
    if hint:
        say(f"hint: {hint}")


def print_diagnostic(text: str) -> None:
    """A cause or traceback (-v, -vv): secrets and header values scrubbed, line by line."""
    from truedigest.render.safetext import diagnostic_lines

    for line in diagnostic_lines(text):
        click.echo(line, err=True)


def report(exc: TruedigestError) -> None:
    """The error line and hint of `exc`; -v adds deferred lines and the cause, -vv the traceback."""
    print_error(exc.message, exc.instance_hint)
    level = verbosity()
    if level >= 1:
        for line in _DEFERRED:
            say(line)
    cause = exc.__cause__
    if level >= 1 and cause is not None:
        print_diagnostic(f"cause: {type(cause).__name__}: {' '.join(str(cause).split())}")
    if level >= 2:
        import traceback

        print_diagnostic("".join(traceback.format_exception(exc)))


def warn_unread(errors: Sequence[object]) -> None:
    """`warning: could not read …` for the first parts; a count for the rest."""
    for error in errors[:WARNINGS_SHOWN]:
        say(f"warning: could not read {error}")
    if len(errors) > WARNINGS_SHOWN:
        say(f"warning: … and {len(errors) - WARNINGS_SHOWN} more parts could not be read")


def in_actions() -> bool:
    """Running in GitHub or Gitea Actions (workflow commands are read from stderr)."""
    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true"


__all__ = [
    "defer",
    "in_actions",
    "print_diagnostic",
    "print_error",
    "quiet",
    "raise_verbosity",
    "report",
    "reset",
    "say",
    "set_quiet",
    "summary",
    "verbosity",
    "warn_unread",
]
