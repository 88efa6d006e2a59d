"""`truedigest running`: is what runs the digest that is pinned?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    PlatformParam,
    cp_options,
    output_option,
    quiet_option,
    registry_options,
    verbose_option,
    wait_options,
)
from truedigest.cli.wiring import cp_targets, session
from truedigest.errors import UsageError
from truedigest.render.formats import OutputFormat

if TYPE_CHECKING:
    from truedigest.model.running_state import RunningReport
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.transport import ClientOptions


@click.command()
@click.option(
    "--from",
    "from_paths",
    multiple=True,
    metavar="FILE|-",
    help="JSON of `kubectl get pods -o json`, `docker|podman inspect` (plus `docker image "
    "inspect` for RepoDigests), `crictl inspect` or `crictl ps -o json`; - is stdin "
    "(repeatable).",
)
@click.option(
    "--from-cmd",
    "from_cmds",
    multiple=True,
    metavar="CMD",
    help="Command that prints such JSON, run without a shell and again each --wait "
    "round, e.g. 'kubectl get pods -l app=web -o json' (repeatable).",
)
@click.option(
    "--image",
    required=True,
    type=ImageRefParam(),
    help="Tag (or digest) to resolve from the registry: the truth the containers must run.",
)
@cp_options(pin_file_help="Text file whose REPO@sha256:… references are compared too")
@click.option("--template", help="Template name of the CP pin row.")
@click.option("--region", default="global", show_default=True, help="Region of the CP pin row.")
@click.option(
    "--platform",
    type=PlatformParam(),
    help="The truth is this platform's child manifest instead of the tag's own digest.",
)
@wait_options(
    wait_help="Read the inputs again until every container runs the truth or SECONDS pass."
)
@output_option([OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN], OutputFormat.TABLE)
@registry_options
@quiet_option
@verbose_option
def running(
    from_paths: tuple[str, ...],
    from_cmds: tuple[str, ...],
    image: ImageRef,
    cps: tuple[str, ...],
    cp_token_envs: tuple[str, ...],
    cp_path: str,
    pin_files: tuple[Path, ...],
    template: str | None,
    region: str,
    platform: Any,
    wait: float,
    interval: float,
    output: Literal[OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN],
    client_options: ClientOptions,
) -> None:
    """Check that every running container runs the --image digest (and the pins).

    Reads what runs from JSON you already have (no cluster or socket access):
    kubelet's imageID (dockershim, containerd), docker/podman inspect, crictl.
    Each container's registry digest is related to the truth: identical, the
    platform child of its index, or the index holding it pass; another image,
    a digest the registry no longer serves, a workload running more than one
    image (mixed) and an image ID with no registry digest (untraceable) do not.
    Exit 0 only when every container was checked and runs the truth.
    """
    from truedigest.engine.running_cmd import Command
    from truedigest.engine.running_run import RunningPlan, run_running
    from truedigest.render import running_view as view
    from truedigest.render.verify_report import print_json

    if not from_paths and not from_cmds:
        raise UsageError("give what runs: --from FILE (or - for stdin) or --from-cmd CMD")
    if from_paths.count("-") > 1:
        raise UsageError("--from -: standard input can be given once")
    commands = tuple(Command.parse(c) for c in from_cmds)
    targets = cp_targets(cps, cp_token_envs, cp_path)
    if targets and not template:
        raise UsageError("--cp needs --template to select the pin row")
    if template and not targets:
        click.echo("warning: --template selects CP pin rows; without --cp it is unused", err=True)
    if wait and not commands and set(from_paths) == {"-"}:
        raise UsageError(
            "--wait reads the input again each round: standard input cannot be",
            hint="use --from-cmd 'kubectl get pods … -o json' (or a file another job rewrites)",
        )
    plan = RunningPlan(
        image=image,
        paths=from_paths,
        commands=commands,
        platform=platform,
        cps=tuple(targets),
        template=template,
        region=region,
        pin_files=pin_files,
        wait=wait,
        interval=interval,
    )

    def on_round(n: int, report: RunningReport) -> None:
        talk.summary(f"round {n}: {report.verdict}; waiting {interval:g}s")

    # --wait extends the run's deadline by the time it may spend waiting.
    with session(client_options.with_wait(wait), [image]) as client:
        report = run_running(plan, client, on_round=on_round)
    if not talk.quiet():  # -q: the exit code is the answer
        match output:
            case OutputFormat.JSON:
                print_json(report.to_json())
            case OutputFormat.MARKDOWN:
                click.echo(view.markdown(report), nl=False)
            case OutputFormat.TABLE:
                view.print_running_table(report)
            case _:
                assert_never(output)
    talk.summary(view.verdict_line(report))
    sys.exit(report.exit_code)


__all__ = ["running"]
