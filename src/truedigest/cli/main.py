"""The `truedigest` command line: parse, build clients and sources, call the core, render.

The only module importing click. Heavy imports (httpx, rich) happen inside the
commands so that `truedigest --help` and `--version` stay fast.
"""

from __future__ import annotations

import functools
import math
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from truedigest.errors import ExitCode, TruedigestError, UsageError
from truedigest.oci.reference import ImageRef, parse_reference, parse_repository
from truedigest.version import __version__

if TYPE_CHECKING:
    from truedigest.cp.client import CPTarget
    from truedigest.oci.registry import RegistryClient
    from truedigest.oci.transport import ClientOptions

F = TypeVar("F", bound=Callable[..., Any])
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
            code = streams.settle(code, _print_error)
        sys.exit(code)

    def _main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        _VERBOSITY[0] = 0
        _DEFERRED.clear()
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
            _print_error(exc.format_message(), _click_hint(exc))
            sys.exit(ExitCode.USAGE)
        except TruedigestError as exc:
            _report(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug, not bad input: still one line, still not a pass
            _print_error(
                f"internal error: {type(exc).__name__} (nothing was verified)",
                "rerun with -vv for the traceback and report it",
            )
            if _verbosity() >= 2:
                _print_diagnostic("".join(traceback.format_exception(exc)))
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
    _say(str(code))
    return 1


def _say(text: str) -> None:
    """One line of talk on stderr: text from outside made safe, clipped with a count."""
    from truedigest.render.safetext import one_line

    click.echo(one_line(text), err=True)


def _print_error(message: str, hint: str | None) -> None:
    _say(f"error: {' '.join(message.split())}")
    if hint:
        _say(f"hint: {hint}")


def _print_diagnostic(text: str) -> None:
    """A cause or traceback (-v, -vv): secrets and header values scrubbed, line by line."""
    from truedigest.render.safetext import diagnostic_lines

    for line in diagnostic_lines(text):
        click.echo(line, err=True)


def _report(exc: TruedigestError) -> None:
    _print_error(exc.message, exc.instance_hint)
    verbosity = _verbosity()
    if verbosity >= 1:
        for line in _DEFERRED:
            _say(line)
    cause = exc.__cause__
    if verbosity >= 1 and cause is not None:
        _print_diagnostic(f"cause: {type(cause).__name__}: {' '.join(str(cause).split())}")
    if verbosity >= 2:
        _print_diagnostic("".join(traceback.format_exception(exc)))


_VERBOSITY = [0]  # set by -v; read after click's context has closed (the catch point)
_DEFERRED: list[str] = []  # -v lines of a failed run, printed after its error line


def _verbosity() -> int:
    return _VERBOSITY[0]


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
    _VERBOSITY[0] = max(_VERBOSITY[0], value)
    return value


verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    expose_value=False,
    callback=_verbose_callback,
    help="Show causes (-v) and tracebacks (-vv) of errors.",
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
                type=click.Path(dir_okay=False, path_type=Path),
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
            type=click.Path(path_type=Path),
            help=f"{pin_file_help} (repeatable).",
        ),
    ]

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def _cp_targets(cps: Sequence[str], cp_token_envs: Sequence[str], cp_path: str) -> list[CPTarget]:
    from truedigest.cp.client import build_targets, parse_cp_option, parse_token_env_option

    return build_targets(
        [parse_cp_option(v) for v in cps],
        [parse_token_env_option(v) for v in cp_token_envs],
        cp_path,
    )


_OUTPUT_ALIASES = {"text": "table", "table": "text"}


def output_option(choices: Sequence[str], default: str) -> Callable[[F], F]:
    """-o/--output; TRUEDIGEST_OUTPUT is shared by commands whose formats differ.

    `text` and `table` stand for each other; an environment value that fits no
    format of this command is ignored (a flag value that fits none is an error).
    """
    allowed = list(choices)

    def pick(ctx: click.Context, param: click.Parameter, value: str) -> str:
        value = value.strip().lower()
        if value in allowed:
            return value
        if _OUTPUT_ALIASES.get(value) in allowed:
            return _OUTPUT_ALIASES[value]
        if ctx.get_parameter_source(str(param.name)) is click.core.ParameterSource.ENVIRONMENT:
            return default
        raise click.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")

    return click.option(
        "-o",
        "--output",
        type=str,
        metavar="[" + "|".join(allowed) + "]",
        default=default,
        show_default=True,
        envvar="TRUEDIGEST_OUTPUT",
        callback=pick,
        help="Output format.",
    )


def _registry_client(options: ClientOptions, **kwargs: Any) -> RegistryClient:
    from truedigest.oci.registry import RegistryClient

    return RegistryClient(options, **kwargs)


@contextmanager
def _session(
    options: ClientOptions, refs: Sequence[ImageRef | None], **kwargs: Any
) -> Iterator[RegistryClient]:
    """The run's client; with -v, its request counts are printed even when it failed.

    `refs` are the references the user typed: without TRUEDIGEST_REGISTRY_HOST, the
    env credentials go only to their registries (never to a host a CP row or a pin
    file names)."""
    client = _registry_client(options, **kwargs)
    client.auth.credentials.restrict_env_to(r.registry for r in refs if r is not None)
    try:
        yield client
    except BaseException:
        _DEFERRED.append(_requests_line(client))  # printed after the error line
        raise
    else:
        _debug_requests(client)
    finally:
        client.close()


def _requests_line(client: RegistryClient) -> str:
    stats = client.transport.stats.by_host
    detail = ", ".join(f"{host}: {n}" for host, n in sorted(stats.items()))
    return f"requests: {client.requests_made} ({detail})"


def _debug_requests(client: RegistryClient) -> None:
    if _verbosity() >= 1:
        _say(_requests_line(client))


# -- the commands --------------------------------------------------------------


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
    client_options: ClientOptions,
) -> None:
    """Print the digest REF points at, hashed from the bytes the registry serves.

    The text output is the digest alone, so `$(truedigest resolve REF)` works.
    """
    from truedigest.render import verify_report as out

    with _session(client_options, [ref]) as client:
        resolved = client.resolve(ref, head=head, platform=platform)
    if output == "json":
        out.print_json(out.resolve_document(resolved))
    else:
        click.echo(str(resolved.digest))


BUILD_SOURCES = ("build_digest", "build_metadata", "build_log", "digest_file", "oci_layout")


@cli.command()
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    type=ImageRefParam(),
    help="Tag to resolve from the registry (repeatable; the first is the truth, "
    "the others must resolve to the same digest).",
)
@click.option("--build-digest", metavar="DIGEST", help="Digest the build says it pushed.")
@click.option(
    "--build-metadata",
    type=click.Path(path_type=Path),
    help="buildx --metadata-file output (bake files: one entry per target).",
)
@click.option("--build-target", metavar="TARGET", help="Bake target to read from --build-metadata.")
@click.option(
    "--build-log",
    type=click.Path(path_type=Path),
    help="`docker push` output (line `TAG: digest: sha256:… size: N`).",
)
@click.option(
    "--digest-file",
    type=click.Path(path_type=Path),
    help="podman/buildah --digestfile output.",
)
@click.option(
    "--oci-layout",
    type=click.Path(path_type=Path),
    help="OCI image layout directory (index.json, by ref.name).",
)
@cp_options(pin_file_help="Text file whose REPO@sha256:… references are checked like pins")
@click.option("--template", help="Template name of the CP pin row.")
@click.option("--region", default="global", show_default=True, help="Region of the CP pin row.")
@click.option("--git-sha", metavar="SHA", help="Commit the pin row's git_sha must match.")
@click.option(
    "--platform",
    type=PlatformParam(),
    help="Compare against this platform's child manifest instead of the tag's own digest.",
)
@click.option(
    "--wait",
    type=SecondsParam(0, 86400),
    default=0,
    metavar="SECONDS",
    help="Re-check registry and CPs until all agree or SECONDS pass.",
)
@click.option(
    "--interval",
    type=SecondsParam(0.1, 3600),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Pause between --wait rounds.",
)
@output_option(["table", "json", "markdown"], "table")
@click.option(
    "--summary-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=["TRUEDIGEST_VERIFY_SUMMARY_FILE", "GITHUB_STEP_SUMMARY"],
    help="Append the markdown table here [default: $GITHUB_STEP_SUMMARY].",
)
@click.option(
    "--github-output",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=["TRUEDIGEST_VERIFY_GITHUB_OUTPUT", "GITHUB_OUTPUT"],
    help="Append verdict= and digest= here [default: $GITHUB_OUTPUT].",
)
@registry_options
@verbose_option
def verify(
    images: tuple[ImageRef, ...],
    build_digest: str | None,
    build_metadata: Path | None,
    build_target: str | None,
    build_log: Path | None,
    digest_file: Path | None,
    oci_layout: Path | None,
    cps: tuple[str, ...],
    cp_token_envs: tuple[str, ...],
    cp_path: str,
    pin_files: tuple[Path, ...],
    template: str | None,
    region: str,
    git_sha: str | None,
    platform: Any,
    wait: float,
    interval: float,
    output: str,
    summary_file: Path | None,
    github_output: Path | None,
    client_options: ClientOptions,
) -> None:
    """Check that the registry, every CP pin and the build output name one digest.

    The registry is the truth: the first --image is resolved by hashing the
    manifest bytes it serves. Each disagreeing source is diagnosed (stale pin,
    platform child, config digest, dangling pin, …). Exit 0 only when every
    source was read and agrees.
    """
    from truedigest.engine.verify_run import VerifyPlan, run_verify
    from truedigest.render import verify_report as out
    from truedigest.sources import build as build_source

    given = [
        name
        for name, value in zip(
            BUILD_SOURCES,
            (build_digest, build_metadata, build_log, digest_file, oci_layout),
            strict=True,
        )
        if value is not None
    ]
    if len(given) > 1:
        flags = ", ".join("--" + g.replace("_", "-") for g in given)
        raise UsageError(f"give at most one build source, not {flags}")
    if build_target is not None and build_metadata is None:
        raise UsageError("--build-target needs --build-metadata")
    if git_sha is not None and not _is_commit_sha(git_sha):
        # Else `--git-sha main` or a 4-char prefix would fail every row as a "mismatch".
        raise UsageError(
            f"--git-sha {git_sha!r} is not a commit SHA",
            hint="pass 7 to 64 hex characters, e.g. --git-sha ${GITHUB_SHA::7}",
        )
    targets = _cp_targets(cps, cp_token_envs, cp_path)
    if targets and not template:
        raise UsageError("--cp needs --template to select the pin row")
    if template and not targets:
        click.echo("warning: --template selects CP pin rows; without --cp it is unused", err=True)
    images = tuple(dict.fromkeys(images))  # one source per tag: ids stay unique
    first = images[0]
    claim = None
    if build_digest is not None:
        claim = build_source.from_digest(build_digest)
    elif build_metadata is not None:
        claim = build_source.from_metadata(build_metadata, image=first, target=build_target)
    elif build_log is not None:
        claim = build_source.from_push_log(build_log, image=first)
    elif digest_file is not None:
        claim = build_source.from_digest_file(digest_file)
    elif oci_layout is not None:
        claim = build_source.from_oci_layout(oci_layout, image=first)
    _check_writable(github_output, "--github-output")
    _check_writable(summary_file, "--summary-file")
    plan = VerifyPlan(
        images=images,
        platform=platform,
        cps=targets,
        template=template,
        region=region,
        git_sha=git_sha,
        build=claim,
        pin_files=pin_files,
        wait=wait,
        interval=interval,
    )

    def on_round(n: int, agree: bool) -> None:
        if wait and not agree:
            click.echo(f"round {n}: not all sources agree yet; waiting {interval:g}s", err=True)

    # --wait extends the run's deadline by the time it may spend waiting.
    with _session(client_options.with_wait(wait), images) as client:
        report = run_verify(plan, client, on_round=on_round)
    if output == "json":
        out.print_json(report.to_json())
    elif output == "markdown":
        click.echo(out.markdown(report), nl=False)
    else:
        out.print_verify_table(report)
    _say(out.verdict_line(report))
    if _verbosity() >= 1:  # why a relation is unknown (401, 429 …): the error behind it
        from truedigest.core.verdicts import relation_causes

        for line in relation_causes(report):
            _say(line)
    for hint in out.source_hints(report):
        _say(f"hint: {hint}")
    if _in_actions():  # stderr: never inside JSON or markdown on stdout; runners read both
        from truedigest.render import safeio

        for line in out.workflow_commands(report):
            safeio.command(line)
    written = True
    if github_output is not None:
        lines = f"verdict={report.verdict}\n"
        if report.truth is not None:
            lines += f"digest={report.truth}\n"
        written &= _append(github_output, lines, "--github-output")
    if summary_file is not None:
        written &= _append(summary_file, out.markdown(report) + "\n", "--summary-file")
    # A report that could not be delivered is not a pass; a failure verdict stands as is.
    sys.exit(report.exit_code or (ExitCode.OK if written else ExitCode.UNAVAILABLE))


def _is_commit_sha(text: str) -> bool:
    return 7 <= len(text) <= 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _in_actions() -> bool:
    import os

    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true"


def _append(path: Path, text: str, flag: str) -> bool:
    """Append after the run; a failure is reported (error: line) and returns False.

    `fileio.open_append`: a regular file only, so a FIFO or a device never hangs."""
    from truedigest.base.fileio import open_append

    try:
        with open_append(path, what=flag) as fh:
            fh.write(text)
    except TruedigestError as exc:
        _print_error(exc.message, None)
        return False
    except OSError as exc:
        _print_error(f"{flag} {path}: cannot write ({exc.strerror})", None)
        return False
    return True


def _check_writable(path: Path | None, flag: str) -> None:
    """Before any request: a report file that cannot be appended to is a usage error."""
    if path is None:
        return
    from truedigest.base.fileio import open_append

    try:
        open_append(path, what=flag).close()
    except UsageError as exc:
        raise UsageError(
            exc.message,
            hint="point it at a writable file (Actions sets $GITHUB_STEP_SUMMARY / $GITHUB_OUTPUT)",
        ) from None


# -- forensics: inspect, whatis -------------------------------------------------------

_WARNINGS_SHOWN = 20  # the rest are counted (every one is in -o json)


def _warn_unread(errors: Sequence[object]) -> None:
    for error in errors[:_WARNINGS_SHOWN]:
        _say(f"warning: could not read {error}")
    if len(errors) > _WARNINGS_SHOWN:
        _say(f"warning: … and {len(errors) - _WARNINGS_SHOWN} more parts could not be read")


@cli.command()
@click.argument("ref", type=ImageRefParam())
@output_option(["text", "json"], "text")
@registry_options
@verbose_option
def inspect(
    ref: ImageRef,
    output: str,
    client_options: ClientOptions,
) -> None:
    """Show what REF is made of: index, children, configs, layers, referrers.

    For incidents: each child's platform, digest, size and attestation flag; each
    image's config digest, layer count and size, created/revision/source (from
    annotations and config labels); referrers (OCI 1.1 API, else the sha256-<hex>
    tag). Exit 3 when a part could not be read (the rest is still printed).
    """
    from truedigest.engine import forensics
    from truedigest.render import forensics_view as fout
    from truedigest.render import verify_report as out

    with _session(client_options, [ref]) as client:
        result = forensics.inspect(client, ref)
    if output == "json":
        out.print_json(fout.inspect_document(result))
    else:
        fout.print_tree(fout.inspect_tree(result))
    _warn_unread(result.errors)
    sys.exit(result.exit_code)


@cli.command()
@click.argument("digest", type=DigestParam())
@click.option(
    "--repo",
    required=True,
    metavar="REPO",
    type=ImageRefParam(repository_only=True),
    help="Repository to look in (no tag), e.g. ghcr.io/org/app.",
)
@output_option(["text", "json"], "text")
@registry_options
@verbose_option
def whatis(
    digest: Any,
    repo: ImageRef,
    output: str,
    client_options: ClientOptions,
) -> None:
    """Say what DIGEST is in REPO: index, manifest, attestation, config, layer or absent.

    Names the platform, the tags pointing at it (directly or through an index)
    and the indexes or manifests that reference it. Exit 10 when the repository
    serves neither a manifest nor a blob with this digest.
    """
    from truedigest.engine import forensics
    from truedigest.render import forensics_view as fout
    from truedigest.render import verify_report as out

    with _session(client_options, [repo]) as client:
        result = forensics.whatis(client, repo, digest)
    if output == "json":
        out.print_json(fout.whatis_document(result))
    else:
        fout.print_tree(fout.whatis_tree(result))
    _warn_unread(result.errors)
    sys.exit(result.exit_code)


# -- forensics: tags, pins -----------------------------------------------------------


@cli.command()
@click.argument("repo", type=ImageRefParam(repository_only=True))
@click.option(
    "--match",
    metavar="GLOB",
    help="Only tags matching this glob (case-sensitive, e.g. 'v1.*').",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=64),
    metavar="N",
    default=8,
    show_default=True,
    help="Tags resolved at once (also the per-host request bound).",
)
@click.option(
    "--max-tags",
    type=click.IntRange(min=1, max=1_000_000),
    metavar="N",
    default=10_000,
    show_default=True,
    help="Stop (exit 3) when the registry lists more tags than this.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=1, max=100_000),
    metavar="N",
    default=1_000,
    show_default=True,
    help="Stop (exit 3) after this many tag-list pages.",
)
@output_option(["text", "json"], "text")
@registry_options
@verbose_option
def tags(
    repo: ImageRef,
    match: str | None,
    concurrency: int,
    max_tags: int,
    max_pages: int,
    output: str,
    client_options: ClientOptions,
) -> None:
    """List every tag of REPO, resolved from the registry and grouped by digest.

    Follows tag-list pagination, resolves tags concurrently (one manifest GET
    each, the digest hashed from the bytes) and shows which tags share a digest,
    its media type and, when manifests carry org.opencontainers.image.created,
    which tags moved last. Exit 3 when a tag could not be resolved (the groups
    are still printed), 10 when the repository does not exist.
    """
    from truedigest.render import audit_view as aout
    from truedigest.render import verify_report as out
    from truedigest.sources import tagscan

    with _session(client_options, [repo], max_per_host=concurrency) as client:
        names, listed = tagscan.list_matching(
            client, repo, match, max_tags=max_tags, max_pages=max_pages
        )
        with aout.tag_progress(len(names), enabled=aout.progress_wanted(output)) as tick:
            scan = tagscan.resolve_tags(
                client, repo, names, concurrency=concurrency, listed=listed, on_done=tick
            )
    if output == "json":
        out.print_json(aout.tags_document(scan))
    else:
        aout.print_tags(scan)
    _say(aout.tags_summary(scan))
    sys.exit(scan.exit_code)


@cli.command()
@cp_options(pin_file_help="Text file whose REPO@sha256:… references are audited too")
@click.option("--template", help="Audit only this template's pin rows.")
@click.option(
    "--track",
    default="latest",
    show_default=True,
    metavar="TAG",
    help="Tag whose current digest each pin is compared with.",
)
@click.option(
    "--repo",
    type=ImageRefParam(repository_only=True),
    help="Repository for rows without image_ref; image_refs must name it; "
    "narrows --pin-file references to it.",
)
@output_option(["table", "json"], "table")
@registry_options
@verbose_option
def pins(
    cps: tuple[str, ...],
    cp_token_envs: tuple[str, ...],
    cp_path: str,
    pin_files: tuple[Path, ...],
    template: str | None,
    track: str,
    repo: ImageRef | None,
    output: str,
    client_options: ClientOptions,
) -> None:
    """Audit every pin row of every CP (and every pin in --pin-file files).

    Checks each pin: a well-formed image_digest, an image_ref ending in
    @<image_digest>, the digest served by the registry (a dangling pin fails),
    whether --track has moved past it (reported, not a failure), duplicate rows
    for one template and region, and CPs that disagree. Exit 0 only when every
    CP was read and nothing is wrong; 1 when something is wrong; 3 when a CP or
    the registry could not be read.
    """
    from truedigest.engine import pins_run as pinaudit
    from truedigest.render import audit_view as aout
    from truedigest.render import verify_report as out

    targets = _cp_targets(cps, cp_token_envs, cp_path)
    if not targets and not pin_files:
        raise UsageError("give at least one --cp NAME=URL or --pin-file FILE to audit")
    try:
        parse_reference(f"localhost/x:{track}")
    except UsageError:
        raise UsageError(f"--track {track!r} is not a valid tag") from None
    plan = pinaudit.PinPlan(
        cps=targets, pin_files=pin_files, template=template, track=track, repo=repo
    )
    with _session(client_options, [repo]) as client:
        audit = pinaudit.audit_pins(plan, client)
    if output == "json":
        out.print_json(aout.pins_document(audit))
    else:
        aout.print_pins(audit)
    _say(pinaudit.verdict_line(audit))
    sys.exit(audit.exit_code)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    # httpx imports its own optional command line (httpx._main: rich, pygments, ~40 ms)
    # whenever those are installed; truedigest never uses it. A None entry makes that
    # import fail at once and httpx falls back to its stub, as it does when they are absent.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    cli.main(args=list(argv) if argv is not None else None, prog_name="truedigest")
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["cli", "main"]
