"""The `truedigest` command line: parse, build clients and sources, call the core, render.

The only module importing click. Heavy imports (httpx, rich) happen inside the
commands so that `truedigest --help` and `--version` stay fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from truedigest import __version__
from truedigest.errors import ExitCode, TruedigestError, UsageError
from truedigest.reference import ImageRef, parse_reference, parse_repository

if TYPE_CHECKING:
    from truedigest.registry import RegistryClient
    from truedigest.transport import ClientOptions

F = TypeVar("F", bound=Callable[..., Any])
HELP_WIDTH = 80


class _Group(click.Group):
    """The one catch point: TruedigestError and click errors become `error:` + `hint:`."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            _print_error(exc.format_message(), _click_hint(exc))
            sys.exit(ExitCode.USAGE)
        except TruedigestError as exc:
            _report(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


def _click_hint(exc: click.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return f"see `{ctx.command_path} --help`"
    return "see `truedigest --help`"


def _print_error(message: str, hint: str | None) -> None:
    first = " ".join(message.split())
    click.echo(f"error: {first}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)


def _report(exc: TruedigestError) -> None:
    _print_error(exc.message, exc.instance_hint)
    verbosity = _verbosity()
    if verbosity >= 1 and exc.__cause__ is not None:
        click.echo(f"cause: {type(exc.__cause__).__name__}", err=True)
    if verbosity >= 2:
        click.echo("".join(traceback.format_exception(exc)), err=True)


def _verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return 0
    return int(ctx.find_root().meta.get("truedigest.verbose", 0))


# -- parameter types ---------------------------------------------------------


class ImageRefParam(click.ParamType):  # type: ignore[type-arg]
    name = "REF"

    def __init__(self, *, repository_only: bool = False) -> None:
        self.repository_only = repository_only

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, ImageRef):
            return value
        try:
            return parse_repository(value) if self.repository_only else parse_reference(value)
        except UsageError as exc:
            self.fail(f"{exc.message} ({exc.instance_hint})", param, ctx)


class PlatformParam(click.ParamType):  # type: ignore[type-arg]
    name = "OS/ARCH[/VARIANT]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from truedigest.models import Platform

        if isinstance(value, Platform):
            return value
        try:
            return Platform.parse(value)
        except UsageError as exc:
            self.fail(f"{exc.message} ({exc.instance_hint})", param, ctx)


# -- shared options ------------------------------------------------------------


def _verbose_callback(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    root = ctx.find_root()
    root.meta["truedigest.verbose"] = max(value, int(root.meta.get("truedigest.verbose", 0)))
    return value


verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    expose_value=False,
    callback=_verbose_callback,
    help="Show causes (-v) and tracebacks (-vv) of errors.",
)


def registry_options(f: F) -> F:
    """--plain-http, --insecure, --ca-file, --timeout (also TRUEDIGEST_<OPTION>)."""
    for decorator in reversed(
        [
            click.option(
                "--plain-http",
                is_flag=True,
                envvar="TRUEDIGEST_PLAIN_HTTP",
                help="Talk plain HTTP to the registry (local registries only).",
            ),
            click.option(
                "--insecure",
                is_flag=True,
                envvar="TRUEDIGEST_INSECURE",
                help="Skip TLS certificate verification (explicitly unsafe).",
            ),
            click.option(
                "--ca-file",
                type=click.Path(dir_okay=False, path_type=Path),
                envvar="TRUEDIGEST_CA_FILE",
                help="PEM bundle of CAs to trust for the registry.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0.1),
                default=30.0,
                show_default=True,
                envvar="TRUEDIGEST_TIMEOUT",
                help="Seconds per network operation.",
            ),
        ]
    ):
        f = decorator(f)
    return f


def output_option(choices: Sequence[str], default: str) -> Callable[[F], F]:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        envvar="TRUEDIGEST_OUTPUT",
        help="Output format.",
    )


def _client_options(
    plain_http: bool, insecure: bool, ca_file: Path | None, timeout: float
) -> ClientOptions:
    from truedigest.transport import ClientOptions

    return ClientOptions(plain_http=plain_http, insecure=insecure, ca_file=ca_file, timeout=timeout)


def _registry_client(options: ClientOptions) -> RegistryClient:
    from truedigest.registry import RegistryClient

    return RegistryClient(options)


def _debug_requests(client: RegistryClient) -> None:
    if _verbosity() >= 1:
        stats = client.transport.stats.by_host
        detail = ", ".join(f"{host}: {n}" for host, n in sorted(stats.items()))
        click.echo(f"requests: {client.requests_made} ({detail})", err=True)


# -- the commands --------------------------------------------------------------


@click.group(
    cls=_Group,
    context_settings={
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


@cli.command()
@click.argument("ref", type=ImageRefParam())
@click.option(
    "--platform",
    type=PlatformParam(),
    help="On an index, print the matching child's digest; on a single manifest, "
    "check its config's os/arch.",
)
@click.option(
    "--head",
    is_flag=True,
    help="Cheap path: HEAD and trust a well-formed Docker-Content-Digest header.",
)
@output_option(["text", "json"], "text")
@registry_options
@verbose_option
def resolve(
    ref: ImageRef,
    platform: Any,
    head: bool,
    output: str,
    plain_http: bool,
    insecure: bool,
    ca_file: Path | None,
    timeout: float,
) -> None:
    """Print the digest REF points at, hashed from the bytes the registry serves.

    The text output is the digest alone, so `$(truedigest resolve REF)` works.
    """
    from truedigest import output as out

    with _registry_client(_client_options(plain_http, insecure, ca_file, timeout)) as client:
        resolved = client.resolve(ref, head=head, platform=platform)
        _debug_requests(client)
    if output == "json":
        out.print_json(out.resolve_document(resolved))
    else:
        click.echo(str(resolved.digest))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    cli.main(args=list(argv) if argv is not None else None, prog_name="truedigest")
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["cli", "main"]
