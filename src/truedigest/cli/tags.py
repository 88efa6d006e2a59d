"""`truedigest tags REPO`: every tag of REPO, resolved from the registry, grouped by digest."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, assert_never

import click

from truedigest.cli import talk
from truedigest.cli.options import (
    ImageRefParam,
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


@click.command()
@click.argument("repo", type=ImageRefParam(repository_only=True))
@click.option(
    "--match",
    metavar="GLOB",
    help="Only tags matching this glob (case-sensitive, e.g. 'v1.*').",
)
@concurrency_option
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
@output_option([OutputFormat.TEXT, OutputFormat.JSON], OutputFormat.TEXT)
@registry_options
@quiet_option
@verbose_option
def tags(
    repo: ImageRef,
    match: str | None,
    concurrency: int | None,
    max_tags: int,
    max_pages: int,
    output: Literal[OutputFormat.TEXT, OutputFormat.JSON],
    client_options: ClientOptions,
) -> None:
    """List every tag of REPO, resolved from the registry and grouped by digest.

    Follows tag-list pagination, resolves tags concurrently (one manifest GET
    each, the digest hashed from the bytes) and shows which tags share a digest,
    its media type and creation time, and which tags moved last. The creation
    time is the org.opencontainers.image.created annotation, else the config's
    created (one GET per image, two per platform of an index; none when that
    would take more than 16 requests); moved last is "unknown" unless every
    digest has one and a single one is newest. Exit 3 when a tag could not be
    resolved (the groups are still printed), 10 when the repository does not
    exist.
    """
    from truedigest.engine import tags_run
    from truedigest.render import audit_view as aout
    from truedigest.render import verify_report as out

    with session(client_options, [repo], max_per_host=concurrency) as client:
        names, listed = tags_run.list_matching(
            client, repo, match, max_tags=max_tags, max_pages=max_pages
        )
        with aout.tag_progress(
            len(names), enabled=aout.progress_wanted(output) and not talk.quiet()
        ) as tick:
            scan = tags_run.resolve_tags(client, repo, names, listed=listed, on_done=tick)
        scan = tags_run.date_groups(client, repo, scan)
    if not talk.quiet():
        match output:
            case OutputFormat.JSON:
                out.print_json(aout.tags_document(scan))
            case OutputFormat.TEXT:
                aout.print_tags(scan)
            case _:
                assert_never(output)
    talk.summary(aout.tags_summary(scan))
    sys.exit(scan.exit_code)


__all__ = ["tags"]
