"""`truedigest verify`: the registry, every CP pin and the build output name one digest."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    PathParam,
    PlatformParam,
    cp_options,
    output_option,
    quiet_option,
    registry_options,
    verbose_option,
    wait_options,
)
from truedigest.cli.wiring import cp_targets, session
from truedigest.errors import ExitCode, TruedigestError, UsageError
from truedigest.render.formats import OutputFormat
from truedigest.sources import build as build_sources

if TYPE_CHECKING:
    from pathlib import Path

    from truedigest.model.observation import Report
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.transport import ClientOptions


def build_source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """One option per build-source kind (`build_sources.KINDS`) and --build-target.

    The command receives them as one `build_values` mapping (`BuildKind.param` →
    value or None) and `build_target`, for `build_sources.select`.
    """

    @functools.wraps(f)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {kind.param: kwargs.pop(kind.param) for kind in build_sources.KINDS}
        return f(*args, build_values=values, **kwargs)

    wrapped: Callable[..., Any] = command
    for kind in reversed(build_sources.KINDS):  # decorators apply bottom-up
        if kind.target_help is not None:
            target = click.option(
                build_sources.TARGET_FLAG, metavar="TARGET", help=kind.target_help
            )
            wrapped = target(wrapped)
        wrapped = click.option(
            kind.flag,
            metavar=kind.metavar,
            type=PathParam() if kind.is_path else None,
            help=kind.help,
        )(wrapped)
    return wrapped


@click.command()
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    type=ImageRefParam(),
    help="Tag to resolve from the registry (repeatable; the first is the truth, "
    "the others must resolve to the same digest).",
)
@build_source_options
@cp_options(pin_file_help="Text file whose REPO@sha256:… references are checked like pins")
@click.option("--template", help="Template name of the CP pin row.")
@click.option("--region", default="global", show_default=True, help="Region of the CP pin row.")
@click.option(
    "--git-sha",
    metavar="SHA",
    help="Commit the image was built from (its revision) and the pin row's git_sha must match.",
)
@click.option(
    "--require-revision",
    is_flag=True,
    help="Fail when the image records no commit (revision annotation, label or provenance).",
)
@click.option(
    "--require-attestation",
    "require_attestations",
    multiple=True,
    type=click.Choice(["provenance", "sbom", "signature"]),
    help="Fail unless this attestation sits on the pinned digest (on every platform "
    "child, for an index); repeatable.",
)
@click.option(
    "--platform",
    type=PlatformParam(),
    help="Compare against this platform's child manifest instead of the tag's own digest.",
)
@wait_options(wait_help="Re-check registry and CPs until all agree or SECONDS pass.")
@output_option([OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN], OutputFormat.TABLE)
@click.option(
    "--summary-file",
    type=PathParam(dir_okay=False),
    envvar=["TRUEDIGEST_VERIFY_SUMMARY_FILE", "GITHUB_STEP_SUMMARY"],
    help="Append the markdown table here [default: $GITHUB_STEP_SUMMARY].",
)
@click.option(
    "--github-output",
    type=PathParam(dir_okay=False),
    envvar=["TRUEDIGEST_VERIFY_GITHUB_OUTPUT", "GITHUB_OUTPUT"],
    help="Append verdict= and digest= here [default: $GITHUB_OUTPUT].",
)
@registry_options
@quiet_option
@verbose_option
def verify(
    images: tuple[ImageRef, ...],
    build_values: dict[str, str | Path | None],
    build_target: str | None,
    cps: tuple[str, ...],
    cp_token_envs: tuple[str, ...],
    cp_path: str,
    pin_files: tuple[Path, ...],
    template: str | None,
    region: str,
    git_sha: str | None,
    require_revision: bool,
    require_attestations: tuple[str, ...],
    platform: Any,
    wait: float,
    interval: float,
    output: Literal[OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN],
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
    from truedigest.core.plan import VerifyPlan
    from truedigest.engine.verify_run import run_verify
    from truedigest.render import verify_report as out

    build = build_sources.select(build_values, build_target)
    if git_sha is not None and not _is_commit_sha(git_sha):
        # Else `--git-sha main` or a 4-char prefix would fail every row as a "mismatch".
        raise UsageError(
            f"--git-sha {git_sha!r} is not a commit SHA",
            hint="pass 7 to 64 hex characters, e.g. --git-sha ${GITHUB_SHA::7}",
        )
    targets = cp_targets(cps, cp_token_envs, cp_path)
    if targets and not template:
        raise UsageError("--cp needs --template to select the pin row")
    if template and not targets:
        click.echo("warning: --template selects CP pin rows; without --cp it is unused", err=True)
    images = tuple(dict.fromkeys(images))  # one source per tag: ids stay unique
    claim = build.read(images[0]) if build is not None else None
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
        require_revision=require_revision,
        require_attestations=require_attestations,
    )
    if plan.compares_nothing:
        raise _nothing_to_compare(images[0])
    _check_writable(github_output, "--github-output")
    _check_writable(summary_file, "--summary-file")

    def on_round(n: int, agree: bool) -> None:
        if wait and not agree:
            talk.summary(f"round {n}: not all sources agree yet; waiting {interval:g}s")

    # --wait extends the run's deadline by the time it may spend waiting.
    with session(client_options.with_wait(wait), images) as client:
        report = run_verify(plan, client, on_round=on_round)
    shown = False  # a terminal table ends with the verdict line itself
    if not talk.quiet():
        shown = _print_report(report, output)
    if not shown:
        talk.summary(out.verdict_line(report))
    if talk.verbosity() >= 1:  # why a relation is unknown (401, 429 …): the error behind it
        from truedigest.core.verdicts import relation_causes

        for line in relation_causes(report):
            talk.say(line)
    for hint in out.source_hints(report):
        talk.summary(f"hint: {hint}")
    if talk.in_actions():  # stderr: never inside JSON or markdown on stdout; runners read both
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


def _nothing_to_compare(image: ImageRef) -> UsageError:
    """`verify --image X` alone would report "all 1 sources agree": say what to add."""
    return UsageError(
        f"nothing to compare: --image {image} is the only source",
        hint="add a second --image, --cp NAME=URL with --template, a build output "
        "(--build-digest, --build-metadata, …), --pin-file FILE, or a commit check "
        "(--git-sha SHA, --require-revision, --require-attestation KIND); "
        "`truedigest resolve REF` prints the digest alone",
    )


def _print_report(
    report: Report,
    output: Literal[OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN],
) -> bool:
    """True when the report itself showed the verdict line (the terminal table)."""
    from truedigest.render import verify_report as out

    match output:
        case OutputFormat.JSON:
            out.print_json(report.to_json())
        case OutputFormat.MARKDOWN:
            click.echo(out.markdown(report), nl=False)
        case OutputFormat.TABLE:
            return out.print_verify_table(report)
        case _:
            assert_never(output)
    return False


def _is_commit_sha(text: str) -> bool:
    return 7 <= len(text) <= 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _append(path: Path, text: str, flag: str) -> bool:
    """Append after the run; a failure is reported (error: line) and returns False.

    `fileio.open_append`: a regular file only, so a FIFO or a device never hangs."""
    from truedigest.base.fileio import open_append

    try:
        with open_append(path, what=flag) as fh:
            fh.write(text)
    except TruedigestError as exc:
        talk.print_error(exc.message, None)
        return False
    except OSError as exc:
        talk.print_error(f"{flag} {path}: cannot write ({exc.strerror})", None)
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


__all__ = ["verify"]
