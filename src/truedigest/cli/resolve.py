"""`truedigest resolve REF`: the digest REF points at, hashed from the served bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    PlatformParam,
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
@output_option([OutputFormat.TEXT, OutputFormat.JSON], OutputFormat.TEXT)
@registry_options
@quiet_option
@verbose_option
def resolve(
    ref: ImageRef,
    platform: Any,
    head: bool,
    output: Literal[OutputFormat.TEXT, OutputFormat.JSON],
    client_options: ClientOptions,
) -> None:
    """Print the digest REF points at, hashed from the bytes the registry serves.

    The text output is the digest alone, so `$(truedigest resolve REF)` works.
    """
    with session(client_options, [ref]) as client:
        resolved = client.resolve(ref, head=head, platform=platform)
    if talk.quiet():
        return
    match output:
        case OutputFormat.JSON:
            from truedigest.render import verify_report as out  # JSON only: start-up

            out.print_json(out.resolve_document(resolved))
        case OutputFormat.TEXT:
            click.echo(str(resolved.digest))
        case _:
            assert_never(output)


__all__ = ["resolve"]
