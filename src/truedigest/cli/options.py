"""Parameter types and the options several commands share.

`ParsedParam` turns a `UsageError` of our own parsers into a click usage error
(exit 2); the option decorators keep one spelling, help text and environment
variable per option across commands.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from truedigest.cli import talk
from truedigest.errors import UsageError
from truedigest.oci.reference import parse_reference, parse_repository
from truedigest.render.formats import OutputFormat

if TYPE_CHECKING:
    from pathlib import Path

F = TypeVar("F", bound=Callable[..., Any])

# -- parameter types ---------------------------------------------------------


class ParsedParam(click.ParamType):  # type: ignore[type-arg]
    """A value read by one of our parsers: its UsageError becomes a click usage error."""

    def __init__(self, metavar: str, parse: Callable[[str], Any]) -> None:
        self.name = metavar
        self.parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default already parsed
        try:
            return self.parse(value)
        except UsageError as exc:
            self.fail(f"{exc.message} ({exc.instance_hint})", param, ctx)


def ImageRefParam(*, repository_only: bool = False) -> ParsedParam:
    return ParsedParam("REF", parse_repository if repository_only else parse_reference)


def PlatformParam() -> ParsedParam:
    def parse(text: str) -> Any:
        from truedigest.oci.manifest import Platform

        return Platform.parse(text)

    return ParsedParam("OS/ARCH[/VARIANT]", parse)


def DigestParam() -> ParsedParam:
    def parse(text: str) -> Any:
        from truedigest.oci.digest import Digest

        return Digest.parse(text)

    return ParsedParam("DIGEST", parse)


class PathParam(click.Path):
    """click.Path with `pathlib.Path` values, importing pathlib only when one is given
    (`path_type=Path` would load it in every command's start-up)."""

    def coerce_path_result(self, value: Any) -> Any:
        from pathlib import Path

        return Path(value)


class SecondsParam(click.ParamType):  # type: ignore[type-arg]
    """A finite number of seconds within bounds (FloatRange lets nan and inf through)."""

    name = "SECONDS"

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or not self.minimum <= number <= self.maximum:
            self.fail(f"{value!r} is not between {self.minimum:g} and {self.maximum:g}", param, ctx)
        return number


# -- shared options ------------------------------------------------------------


def _verbose_callback(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    talk.raise_verbosity(value)
    return value


verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    expose_value=False,
    callback=_verbose_callback,
    help="Show causes (-v) and tracebacks (-vv) of errors.",
)


def _quiet_callback(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    talk.set_quiet(value)
    return value


quiet_option = click.option(
    "-q",
    "--quiet",
    is_flag=True,
    expose_value=False,
    callback=_quiet_callback,
    help="Print no report and no verdict: the exit code is the answer (errors still print).",
)


def registry_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--plain-http, --insecure, --ca-file, --timeout (also TRUEDIGEST_<OPTION>).

    The command receives them as one `client_options: ClientOptions`.
    """

    @functools.wraps(f)
    def command(
        *args: Any,
        plain_http: bool,
        insecure: bool,
        ca_file: Path | None,
        timeout: float,
        **kwargs: Any,
    ) -> Any:
        from truedigest.oci.transport import ClientOptions

        options = ClientOptions(
            plain_http=plain_http, insecure=insecure, ca_file=ca_file, timeout=timeout
        )
        return f(*args, client_options=options, **kwargs)

    wrapped: Callable[..., Any] = command
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
                type=PathParam(dir_okay=False),
                envvar="TRUEDIGEST_CA_FILE",
                help="PEM bundle of CAs to trust for the registry.",
            ),
            click.option(
                "--timeout",
                type=SecondsParam(0.1, 3600),
                default=30.0,
                show_default=True,
                envvar="TRUEDIGEST_TIMEOUT",
                help="Seconds for each whole response; a run ends by 10x this (at least 60 s).",
            ),
        ]
    ):
        wrapped = decorator(wrapped)
    return wrapped


def cp_options(*, pin_file_help: str) -> Callable[[F], F]:
    """--cp, --cp-token-env (also TRUEDIGEST_CP[_TOKEN_ENV]), --cp-path, --pin-file."""
    decorators = [
        click.option(
            "--cp",
            "cps",
            multiple=True,
            metavar="NAME=URL",
            envvar="TRUEDIGEST_CP",
            help="Control plane to read pins from (repeatable).",
        ),
        click.option(
            "--cp-token-env",
            "cp_token_envs",
            multiple=True,
            metavar="NAME=VAR",
            envvar="TRUEDIGEST_CP_TOKEN_ENV",
            help="Env var holding CP NAME's token [default: CP_ADMIN_API_TOKEN].",
        ),
        click.option(
            "--cp-path",
            default="/cp/admin/runtime-image",
            show_default=True,
            help="Path of the pin table on each CP.",
        ),
        click.option(
            "--pin-file",
            "pin_files",
            multiple=True,
            type=PathParam(),
            help=f"{pin_file_help} (repeatable).",
        ),
    ]

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=64),
    metavar="N",
    default=None,
    help="Fix the requests in flight per registry at N. Default: adaptive, from 32 "
    "up to 64, fewer after 429/503 or while round trips grow.",
)
"""`--concurrency N` (tags, pins, whatis): `max_per_host` of the client; the range's
64 is `truedigest.oci.pacing.CAP` (not imported here: --help stays light)."""


_OUTPUT_ALIASES = {"text": OutputFormat.TABLE, "table": OutputFormat.TEXT}


def wait_options(*, wait_help: str) -> Callable[[F], F]:
    """--wait SECONDS and --interval SECONDS (verify, running)."""
    decorators = [
        click.option(
            "--wait",
            type=SecondsParam(0, 86400),
            default=0,
            metavar="SECONDS",
            help=wait_help,
        ),
        click.option(
            "--interval",
            type=SecondsParam(0.1, 3600),
            default=5.0,
            show_default=True,
            metavar="SECONDS",
            help="Pause between --wait rounds.",
        ),
    ]

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def output_option(choices: Sequence[OutputFormat], default: OutputFormat) -> Callable[[F], F]:
    """-o/--output, passed as an `OutputFormat` among `choices`; TRUEDIGEST_OUTPUT is
    shared by commands whose formats differ.

    `text` and `table` stand for each other; an environment value that fits no
    format of this command is ignored (a flag value that fits none is an error).
    """
    allowed = list(choices)

    def pick(ctx: click.Context, param: click.Parameter, value: str) -> OutputFormat:
        value = value.strip().lower()
        if value in allowed:
            return OutputFormat(value)
        alias = _OUTPUT_ALIASES.get(value)
        if alias is not None and alias in allowed:
            return alias
        if ctx.get_parameter_source(str(param.name)) is click.core.ParameterSource.ENVIRONMENT:
            return default
        raise click.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")

    return click.option(
        "-o",
        "--output",
        type=str,
        metavar="[" + "|".join(allowed) + "]",
        default=str(default),
        show_default=True,
        envvar="TRUEDIGEST_OUTPUT",
        callback=pick,
        shell_complete=lambda _ctx, _param, incomplete: [
            str(c) for c in allowed if c.startswith(incomplete)
        ],
        help="Output format.",
    )


__all__ = [
    "DigestParam",
    "ImageRefParam",
    "ParsedParam",
    "PlatformParam",
    "SecondsParam",
    "concurrency_option",
    "cp_options",
    "output_option",
    "quiet_option",
    "registry_options",
    "verbose_option",
]
