"""`truedigest whatis DIGEST --repo REPO`: what DIGEST is in REPO, and what points at it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
    ParsedParam,
    concurrency_option,
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


def _digest_or_prefix(text: str) -> Any:
    from truedigest.core.shortdigest import parse_digest_or_prefix

    return parse_digest_or_prefix(text)


@click.command()
@click.argument("digest", type=ParsedParam("DIGEST", _digest_or_prefix))
@click.option(
    "--repo",
    required=True,
    metavar="REPO",
    type=ImageRefParam(repository_only=True),
    help="Repository to look in (no tag), e.g. ghcr.io/org/app.",
)
@concurrency_option
@output_option([OutputFormat.TEXT, OutputFormat.JSON], OutputFormat.TEXT)
@registry_options
@quiet_option
@verbose_option
def whatis(
    digest: Any,
    repo: ImageRef,
    concurrency: int | None,
    output: Literal[OutputFormat.TEXT, OutputFormat.JSON],
    client_options: ClientOptions,
) -> None:
    """Say what DIGEST is in REPO: index, manifest, attestation, config, layer or absent.

    Names the platform, the tags pointing at it (directly or through an index)
    and the indexes or manifests that reference it. Exit 10 when the repository
    serves neither a manifest nor a blob with this digest.

    DIGEST may be short: at least 12 hex characters, the sha256: optional (e.g.
    sha256:5c1fbb4331ca, as the tables print). It is looked up among the tags'
    manifests, their index entries, configs and layers; exit 2 when several
    digests start with it (they are listed), 10 when none does.
    """
    from truedigest.engine import whatis_run
    from truedigest.render import forensics_view as fout
    from truedigest.render import verify_report as out

    with session(client_options, [repo], max_per_host=concurrency) as client:
        result = whatis_run.whatis(client, repo, digest)
    if not talk.quiet():
        match output:
            case OutputFormat.JSON:
                out.print_json(fout.whatis_document(result))
            case OutputFormat.TEXT:
                fout.print_tree(fout.whatis_tree(result))
            case _:
                assert_never(output)
    talk.warn_unread(result.errors)
    sys.exit(result.exit_code)


__all__ = ["whatis"]
