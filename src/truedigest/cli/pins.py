"""`truedigest pins`: audit every pin row of every CP (and every pin in --pin-file files)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    concurrency_option,
    cp_options,
    output_option,
    quiet_option,
    registry_options,
    verbose_option,
)
from truedigest.cli.wiring import cp_targets, session
from truedigest.errors import UsageError
from truedigest.oci.reference import parse_reference
from truedigest.render.formats import OutputFormat

if TYPE_CHECKING:
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.transport import ClientOptions


@click.command()
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
@concurrency_option
@output_option([OutputFormat.TABLE, OutputFormat.JSON], OutputFormat.TABLE)
@registry_options
@quiet_option
@verbose_option
def pins(
    cps: tuple[str, ...],
    cp_token_envs: tuple[str, ...],
    cp_path: str,
    pin_files: tuple[Path, ...],
    template: str | None,
    track: str,
    repo: ImageRef | None,
    concurrency: int | None,
    output: Literal[OutputFormat.TABLE, OutputFormat.JSON],
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
    from truedigest.core.pin_audit import PinPlan, verdict_line
    from truedigest.engine.pins_run import audit_pins
    from truedigest.render import audit_view as aout
    from truedigest.render import verify_report as out

    targets = cp_targets(cps, cp_token_envs, cp_path)
    if not targets and not pin_files:
        raise UsageError("give at least one --cp NAME=URL or --pin-file FILE to audit")
    try:
        parse_reference(f"localhost/x:{track}")
    except UsageError:
        raise UsageError(f"--track {track!r} is not a valid tag") from None
    plan = PinPlan(cps=targets, pin_files=pin_files, template=template, track=track, repo=repo)
    with session(client_options, [repo], max_per_host=concurrency) as client:
        audit = audit_pins(plan, client)
    shown = False  # a terminal table ends with the verdict line itself
    if not talk.quiet():
        match output:
            case OutputFormat.JSON:
                out.print_json(aout.pins_document(audit))
            case OutputFormat.TABLE:
                shown = aout.print_pins(audit)
            case _:
                assert_never(output)
    if not shown:
        talk.summary(verdict_line(audit))
    sys.exit(audit.exit_code)


__all__ = ["pins"]
