"""`truedigest verify`: the registry, every CP pin and the build output name one digest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    PlatformParam,
    SecondsParam,
    cp_options,
    output_option,
    registry_options,
    verbose_option,
)
from truedigest.cli.wiring import cp_targets, session
from truedigest.errors import ExitCode, TruedigestError, UsageError
from truedigest.render.formats import OutputFormat

if TYPE_CHECKING:
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.transport import ClientOptions

BUILD_SOURCES = ("build_digest", "build_metadata", "build_log", "digest_file", "oci_layout")


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
@output_option([OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN], OutputFormat.TABLE)
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
    targets = cp_targets(cps, cp_token_envs, cp_path)
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
    with session(client_options.with_wait(wait), images) as client:
        report = run_verify(plan, client, on_round=on_round)
    match output:
        case OutputFormat.JSON:
            out.print_json(report.to_json())
        case OutputFormat.MARKDOWN:
            click.echo(out.markdown(report), nl=False)
        case OutputFormat.TABLE:
            out.print_verify_table(report)
        case _:
            assert_never(output)
    talk.say(out.verdict_line(report))
    if talk.verbosity() >= 1:  # why a relation is unknown (401, 429 …): the error behind it
        from truedigest.core.verdicts import relation_causes

        for line in relation_causes(report):
            talk.say(line)
    for hint in out.source_hints(report):
        talk.say(f"hint: {hint}")
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
