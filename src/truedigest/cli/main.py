"""The `truedigest` command line: the group, the one catch point, verbosity, `main()`.

Each command lives in its own module (`cli/resolve.py`, `cli/verify.py`, …): it
parses, builds clients and sources, calls the core, renders and exits. Only `cli`
imports click. Heavy imports (httpx, rich) happen inside the commands so that
`truedigest --help` and `--version` stay fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import MutableMapping, Sequence
from typing import Any, NoReturn

import click

from truedigest.cli import talk
from truedigest.cli.inspect import inspect
from truedigest.cli.options import verbose_option
from truedigest.cli.pins import pins
from truedigest.cli.resolve import resolve
from truedigest.cli.running import running
from truedigest.cli.tags import tags
from truedigest.cli.verify import verify
from truedigest.cli.whatis import whatis
from truedigest.errors import ExitCode, TruedigestError
from truedigest.version import __version__

HELP_WIDTH = 80


class _Group(click.Group):
    """The one catch point: TruedigestError and click errors become `error:` + `hint:`."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run inside guarded stdout/stderr (`safeio`: the one place output is made);
        a pass whose stdout was not delivered (closed, full, reader gone) exits 3."""
        from truedigest.render import safeio

        with safeio.guarded_streams() as streams:
            try:
                self._main(*args, **kwargs)
                code = 0
            except SystemExit as exc:
                code = _exit_status(exc.code)
            code = streams.settle(code, talk.print_error)
        sys.exit(code)

    def _main_shell_completion(
        self,
        ctx_args: MutableMapping[str, Any],
        prog_name: str,
        complete_var: str | None = None,
    ) -> None:
        """Click's shell completion (`_TRUEDIGEST_COMPLETE=bash_source truedigest`), its
        text written as text: click writes bytes, which the guarded stdout refuses."""
        from click.shell_completion import get_completion_class

        if complete_var is None:
            complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").replace(".", "_"))
        instruction = os.environ.get(complete_var.upper())
        if not instruction:
            return
        shell, _, action = instruction.partition("_")
        comp_cls = get_completion_class(shell)
        if comp_cls is None or action not in ("source", "complete"):
            raise click.UsageError(
                f"{complete_var.upper()}={instruction!r}: expected bash, zsh or fish "
                "followed by _source or _complete (e.g. bash_source)"
            )
        comp = comp_cls(self, ctx_args, prog_name, complete_var.upper())
        text = comp.source() if action == "source" else comp.complete() + "\n"
        click.echo(text, nl=False)
        sys.exit(0)

    def _main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        talk.reset()
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(130)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message(), err=True)
            sys.exit(ExitCode.USAGE)
        except click.ClickException as exc:
            talk.print_error(exc.format_message(), _click_hint(exc))
            sys.exit(ExitCode.USAGE)
        except TruedigestError as exc:
            talk.report(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug, not bad input: still one line, still not a pass
            talk.print_error(
                f"internal error: {type(exc).__name__} (nothing was verified)",
                "rerun with -vv for the traceback and report it",
            )
            if talk.verbosity() >= 2:
                talk.print_diagnostic("".join(traceback.format_exception(exc)))
            sys.exit(ExitCode.UNAVAILABLE)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


def _click_hint(exc: click.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return f"see `{ctx.command_path} --help`"
    return "see `truedigest --help`"


def _exit_status(code: object) -> int:
    """sys.exit's argument as the process would report it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    talk.say(str(code))
    return 1


@click.group(
    cls=_Group,
    context_settings={
        "auto_envvar_prefix": "TRUEDIGEST",
        "help_option_names": ["-h", "--help"],
        "max_content_width": HELP_WIDTH,
        "terminal_width": HELP_WIDTH,
    },
)
@click.version_option(__version__, "-V", "--version", prog_name="truedigest")
@verbose_option
def cli() -> None:
    """Which image digest is real? Ask the registry, then cross-check pins and builds.

    Exit codes: 0 agree, 1 checked and wrong, 2 usage, 3 could not check,
    10 the registry does not serve the tag or digest.
    """


for _command in (resolve, verify, inspect, whatis, tags, pins, running):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    # httpx imports its own optional command line (httpx._main: rich, pygments, ~40 ms)
    # whenever those are installed; truedigest never uses it. A None entry makes that
    # import fail at once and httpx falls back to its stub, as it does when they are absent.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    cli.main(args=list(argv) if argv is not None else None, prog_name="truedigest")
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["cli", "main"]
