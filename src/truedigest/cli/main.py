"""The `truedigest` command line: the group, the one catch point, verbosity, `main()`.

Each command lives in its own module (`cli/resolve.py`, `cli/verify.py`, …): it
parses, builds clients and sources, calls the core, renders and exits. Only `cli`
imports click. Start-up is paid by every CI job, so a run imports only the module of
the command it runs (`LazyCommands`), and heavy imports (rich) happen inside the
commands; the request path is standard library only (`oci/httpmodel.py`): no command
imports httpx unless a caller injects an httpx transport.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any, NoReturn

import click

from truedigest.cli import talk
from truedigest.cli.options import verbose_option
from truedigest.errors import ExitCode, TruedigestError
from truedigest.version import __version__

HELP_WIDTH = 80

# Each command, in --help order, and the module that defines it (same name).
COMMANDS = ("resolve", "verify", "inspect", "whatis", "tags", "pins", "running")


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands, each imported when first looked up: a run imports only
    the module of the command it runs (`verify` alone pulls in every build source).
    Iterating gives the names without importing anything."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self._loaded.get(name)
        if command is None:
            module = self._modules[name]  # KeyError: no such command
            # __import__, not importlib.import_module: -X importtime reports it
            command = getattr(__import__(module, fromlist=[name]), name)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{name} is not a click command")
            self._loaded[name] = command
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._modules.setdefault(name, "")

    def __delitem__(self, name: str) -> None:
        del self._modules[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, name: object) -> bool:
        return name in self._modules


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
        if complete_var is None:
            complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").replace(".", "_"))
        instruction = os.environ.get(complete_var.upper())
        if not instruction:
            return
        from click.shell_completion import get_completion_class  # only when completing

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
                import traceback

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


cli.commands = LazyCommands({name: f"truedigest.cli.{name}" for name in COMMANDS})


def main(argv: Sequence[str] | None = None) -> NoReturn:
    cli.main(args=list(argv) if argv is not None else None, prog_name="truedigest")
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["cli", "main"]
