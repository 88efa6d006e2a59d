"""`truedigest inspect REF`: what REF is made of (index, children, configs, layers, referrers)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    output_option,
    quiet_option,
    registry_options,
    verbose_option,
)
from truedigest.cli.wiring import session
from truedigest.render.formats import OutputFormat

if TYPE_CHECKING:
    from truedigest.oci.reference import ImageRef
    from truedigest.oci.transport import ClientOptions


@click.command()
@click.argument("ref", type=ImageRefParam())
@output_option([OutputFormat.TEXT, OutputFormat.JSON], OutputFormat.TEXT)
@registry_options
@quiet_option
@verbose_option
def inspect(
    ref: ImageRef,
    output: Literal[OutputFormat.TEXT, OutputFormat.JSON],
    client_options: ClientOptions,
) -> None:
    """Show what REF is made of: index, children, configs, layers, referrers.

    For incidents: each child's platform, digest, size and attestation flag; each
    image's config digest, layer count and size, created/revision/source (from
    annotations, config labels or the buildx provenance); referrers (OCI 1.1 API,
    else the sha256-<hex> tag) and cosign's sha256-<hex>.sig/.att tags. Exit 3 when a
    part could not be read (the rest is still printed).
    """
    from truedigest.engine import inspect_run
    from truedigest.render import forensics_view as fout
    from truedigest.render import verify_report as out

    with session(client_options, [ref]) as client:
        result = inspect_run.inspect(client, ref)
    if not talk.quiet():
        match output:
            case OutputFormat.JSON:
                out.print_json(fout.inspect_document(result))
            case OutputFormat.TEXT:
                fout.print_tree(fout.inspect_tree(result))
            case _:
                assert_never(output)
    talk.warn_unread(result.errors)
    sys.exit(result.exit_code)


__all__ = ["inspect"]
