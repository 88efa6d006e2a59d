"""A repository's tag list: `GET /v2/<name>/tags/list`, page by page.

Pagination follows `Link: <…>; rel="next"`, only on the registry's own origin and
only to this repository's tag list. Memory and requests are bounded: more than
`max_tags` distinct names or `max_pages` pages, or a Link back to a page already
read, is an error (exit 3) — the list would not be complete.
"""

from __future__ import annotations

from truedigest.base import jsonutil
from truedigest.errors import NotFoundError, RegistryError
from truedigest.oci.reference import ImageRef
from truedigest.oci.session import RegistrySession, codes_suffix
from truedigest.oci.transport import Limit, Response, join_url
from truedigest.oci.wire import next_link

TAGS_CAP = 4 * 1024 * 1024
DEFAULT_MAX_TAGS = 10_000
DEFAULT_MAX_PAGES = 1_000
TAGS_PAGE_LIMIT = Limit("tag list page", TAGS_CAP)


def list_tags(
    session: RegistrySession,
    ref: ImageRef,
    *,
    max_tags: int = DEFAULT_MAX_TAGS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> list[str]:
    """Every tag of `ref`'s repository, in the registry's order, without repeats."""
    path: str | None = f"/v2/{ref.repository}/tags/list"
    tags: dict[str, None] = {}
    seen: set[str] = set()
    while path is not None:
        if path in seen:
            raise RegistryError(
                f"tags of {ref.name}: the registry's Link header loops back to a page already read",
                hint="the registry's pagination is broken; the tag list cannot be completed",
            )
        seen.add(path)
        if len(seen) > max_pages:
            raise RegistryError(
                f"tags of {ref.name}: more than {max_pages} pages of tags; stopped listing",
                hint="raise --max-pages if the repository really has that many pages",
            )
        resp = session.call(
            ref,
            "GET",
            path,
            accept="application/json",
            limit=TAGS_PAGE_LIMIT,
            what=f"tags of {ref.name}",
        )
        if resp.status == 404:
            raise NotFoundError(f"repository {ref.name}: not found{codes_suffix(resp)}")
        session.expect_ok(resp, f"tags of {ref.name}")
        try:
            data = jsonutil.loads(resp.body)
        except ValueError:
            raise RegistryError(f"tags of {ref.name}: the registry answered non-JSON") from None
        page = data.get("tags") if isinstance(data, dict) else None
        if page is None:
            page = []
        if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
            raise RegistryError(f"tags of {ref.name}: 'tags' is not a list of strings")
        for tag in page:
            tags.setdefault(tag)
            if len(tags) > max_tags:
                raise RegistryError(
                    f"tags of {ref.name}: more than {max_tags} tags; stopped listing",
                    hint="raise --max-tags if the repository really has that many tags",
                )
        path = _next_page(ref, resp)
    return list(tags)


def _next_page(ref: ImageRef, resp: Response) -> str | None:
    """The path (and query) of the next tag-list page, from the `Link` header.

    Only the path is used, on the registry's own origin; it must be this
    repository's tag list. A malformed header or target is an error (exit 3).
    """
    target = next_link(resp.headers.get("link"))
    if target is None:
        return None
    try:
        url = join_url(resp.url, target)
        path = url.raw_path.decode("ascii", "replace")
    except ValueError:
        raise RegistryError(
            f"tags of {ref.name}: the registry's Link header names a malformed URL"
        ) from None
    if url.path != f"/v2/{ref.repository}/tags/list":
        raise RegistryError(
            f"tags of {ref.name}: the registry's Link header points outside this "
            "repository's tag list",
            hint="the registry's pagination is broken or hostile; the list cannot be completed",
        )
    return path
