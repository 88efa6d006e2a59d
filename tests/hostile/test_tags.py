"""Hostile tag listings: endless and looping `Link` chains, malformed `Link`
headers, tag names no registry should list, a registry that dies mid-scan.

Issue 7 items 6 (tag listing is bounded), 8 (a dead host fails fast) and 10 (one
bad tag name is one error row). Real `truedigest tags` processes against scripted
loopback servers; requests are counted, never timed.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import CliResult, cli_env, run_cli, run_cli_many
from tests.support.hostile import Answer, HostileServer, Raw, Request, assert_safe
from tests.support.images import OCI_MANIFEST, build_image, sha256_digest
from truedigest.oci.pacing import START

IMAGE = build_image("hostile/tags", salt="tags")
MEMORY_LIMIT = 1 << 30
_LIMITED = (
    "import resource, runpy, sys; limit = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); "
    "runpy.run_module('truedigest', run_name='__main__', alter_sys=True)"
)

Pages = Callable[[str, dict[str, str]], tuple[list[str], str | None]]
"""(repository, query) -> (tags of this page, Link header or None)."""


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


class Registry:
    """One repository per case: `/v2/<case>/app/…`; tag pages from `PAGES[case]`,
    every manifest GET answered with IMAGE."""

    def __init__(self) -> None:
        self.pages: dict[str, Pages] = {}

    def __call__(self, req: Request) -> Answer | Raw:
        url = urllib.parse.urlsplit(req.path)
        parts = url.path.split("/")
        case = parts[2] if len(parts) > 2 else ""
        if url.path.endswith("/tags/list") and case in self.pages:
            query = dict(urllib.parse.parse_qsl(url.query))
            tags, link = self.pages[case](f"{case}/app", query)
            headers = [("Content-Type", "application/json")]
            if link is not None:
                headers.append(("Link", link))
            return Answer(200, headers, _json({"name": f"{case}/app", "tags": tags}))
        if "/manifests/" in url.path:
            return Answer(200, [("Content-Type", OCI_MANIFEST)], IMAGE.manifest)
        return Answer(404, [("Content-Type", "application/json")], b'{"errors":[]}')


REGISTRY = Registry()


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(REGISTRY) as s:
        yield s


def tags(server: HostileServer, case: str, tmp_path: Path, *extra: str) -> CliResult:
    args = ["tags", "--plain-http", "--timeout", "2", f"{server.host}/{case}/app", *extra]
    return run_cli(args, cli_env(tmp_path))


def listings(server: HostileServer, case: str) -> int:
    return server.count(lambda r: r.path.startswith(f"/v2/{case}/app/tags/list"))


def manifests(server: HostileServer, case: str) -> int:
    return server.count(lambda r: r.path.startswith(f"/v2/{case}/app/manifests/"))


def _next(repo: str, page: int) -> str:
    return f'</v2/{repo}/tags/list?page={page}>; rel="next"'


# -- item 6: bounded listing ----------------------------------------------------------


def _loop(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
    if query.get("page") == "1":
        return ["t1"], f'</v2/{repo}/tags/list>; rel="next"'  # back to the first page
    return ["t0"], _next(repo, 1)


def _endless_names(per_page: int) -> Pages:
    def pages(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
        page = int(query.get("page", "0"))
        return [f"p{page}-{i}" for i in range(per_page)], _next(repo, page + 1)

    return pages


def _endless_empty(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
    return [], _next(repo, int(query.get("page", "0")) + 1)


REGISTRY.pages["loop"] = _loop
REGISTRY.pages["flood"] = _endless_names(5000)
REGISTRY.pages["chain"] = _endless_names(20)
REGISTRY.pages["empty"] = _endless_empty


def test_a_link_loop_is_detected(server: HostileServer, tmp_path: Path) -> None:
    result = tags(server, "loop", tmp_path)
    assert_safe(result, code=3)
    assert "loops back" in result.stderr
    assert listings(server, "loop") == 2
    assert manifests(server, "loop") == 0


def test_a_flood_of_new_names_stops_at_max_tags_in_bounded_memory(
    server: HostileServer, tmp_path: Path
) -> None:
    """5,000 new names a page reached 3.4 GiB: the default limit stops it at page 3."""
    args = [str(MEMORY_LIMIT), "tags", "--plain-http", f"{server.host}/flood/app"]
    env = cli_env(tmp_path, MALLOC_ARENA_MAX="2")
    result = run_cli_many([(args, env)], program=(sys.executable, "-c", _LIMITED))[0]
    assert_safe(result, code=3)
    assert "more than 10000 tags" in result.stderr
    assert listings(server, "flood") == 3
    assert manifests(server, "flood") == 0


def test_max_tags_is_a_flag(server: HostileServer, tmp_path: Path) -> None:
    before = listings(server, "chain")
    result = tags(server, "chain", tmp_path, "--max-tags", "50")
    assert_safe(result, code=3)
    assert "more than 50 tags" in result.stderr
    assert listings(server, "chain") - before == 3


def test_endless_empty_pages_stop_at_max_pages(server: HostileServer, tmp_path: Path) -> None:
    result = tags(server, "empty", tmp_path, "--max-pages", "5")
    assert_safe(result, code=3)
    assert "more than 5 pages" in result.stderr
    assert listings(server, "empty") == 5


@pytest.mark.parametrize("flag", ["--max-tags", "--max-pages"])
@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_limit_flags_reject_nonsense(tmp_path: Path, flag: str, value: str) -> None:
    result = run_cli(["tags", "127.0.0.1:1/team/app", flag, value], cli_env(tmp_path))
    assert_safe(result, code=2)


# -- item 10: a malformed Link is one line, exit 3 ----------------------------------

MALFORMED_LINKS = {
    "no-brackets": "/v2/{repo}/tags/list?page=1; rel=next",
    "unclosed": '</v2/{repo}/tags/list?page=1; rel="next"',
    "empty-target": '<>; rel="next"',
    "garbage": "\u00b2\u00b2\u00b2",
    "unterminated-quote": '</v2/{repo}/tags/list?page=1>; rel="next',
    "bad-url": '<http://[::1/v2/{repo}/tags/list>; rel="next"',
    "space-in-target": '</v2/{repo}/tags/list?a=b c>; rel="next"',
    "other-repository": '</v2/other/app/tags/list?page=1>; rel="next"',
    "not-a-tag-list": '</v2/{repo}/manifests/latest>; rel="next"',
    "trailing-junk": '</v2/{repo}/tags/list?page=1>; rel="next" junk',
}


def _malformed(link: str) -> Pages:
    def pages(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
        if query.get("page") == "1":
            return ["second"], None
        return ["first"], link.replace("{repo}", repo)

    return pages


for _name, _link in MALFORMED_LINKS.items():
    REGISTRY.pages[f"badlink-{_name}"] = _malformed(_link)


@pytest.mark.parametrize("name", sorted(MALFORMED_LINKS))
def test_a_malformed_link_is_could_not_check(
    server: HostileServer, tmp_path: Path, name: str
) -> None:
    result = tags(server, f"badlink-{name}", tmp_path)
    assert_safe(result, code=3)
    assert "Link header" in result.stderr
    assert manifests(server, f"badlink-{name}") == 0


WELL_FORMED_LINKS = {
    "quoted": '</v2/{repo}/tags/list?page=1>; rel="next"',
    "token": "</v2/{repo}/tags/list?page=1>; rel=next",
    "several-rels": '</v2/{repo}/tags/list?page=1>; rel="next last"',
    "prev-first": '</v2/{repo}/tags/list?page=0>; rel="prev", </v2/{repo}/tags/list?page=1>; '
    'rel="next"',
    "absolute-url": '<http://{host}/v2/{repo}/tags/list?page=1>; rel="next"; title="a, b"',
    "upper-case-rel": '</v2/{repo}/tags/list?page=1>; REL="Next"',
}


def _two_pages(link: str) -> Pages:
    def pages(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
        if query.get("page") == "1":
            return ["second"], None
        return ["first"], link.replace("{repo}", repo)

    return pages


@pytest.mark.parametrize("name", sorted(WELL_FORMED_LINKS))
def test_a_well_formed_link_is_followed(server: HostileServer, tmp_path: Path, name: str) -> None:
    REGISTRY.pages[f"link-{name}"] = _two_pages(
        WELL_FORMED_LINKS[name].replace("{host}", server.host)
    )
    result = tags(server, f"link-{name}", tmp_path, "-o", "json")
    assert_safe(result, code=0)
    [group] = result.json()["groups"]
    assert group["tags"] == ["first", "second"]
    assert group["digest"] == sha256_digest(IMAGE.manifest)


# -- item 10: one bad tag name is one error row -----------------------------------------

BAD_NAMES = {
    "escape": "v1\x1b[2J",
    "newline": "v1\n::error::injected",
    "lone-surrogate": "v1\ud800",
    "runner-command": "::error::x",
    "too-long": "a" * 129,
    "leading-dash": "-v1",
    "empty": "",
    "slash": "a/b",
    "trailing-newline": "v1\n",
}
GOOD = ["latest", "v1.2.3", "sha-1a2b3c4"]


def _bad_names(repo: str, query: dict[str, str]) -> tuple[list[str], str | None]:
    return [*GOOD, *BAD_NAMES.values()], None


REGISTRY.pages["badnames"] = _bad_names


@pytest.mark.parametrize("output", ["json", "text"])
def test_each_bad_tag_name_is_one_error_row_and_the_rest_are_printed(
    server: HostileServer, tmp_path: Path, output: str
) -> None:
    before = manifests(server, "badnames")
    result = tags(server, "badnames", tmp_path, "-o", output)
    assert_safe(result, code=3, one_error_line=False)
    assert manifests(server, "badnames") - before == len(GOOD)
    if output == "json":
        doc = result.json()
        [group] = doc["groups"]
        assert sorted(group["tags"]) == sorted(GOOD)
        assert len(doc["errors"]) == len(BAD_NAMES)
    else:
        for tag in GOOD:
            assert tag in result.stdout


def test_a_tag_list_page_over_its_cap_names_the_tag_list(
    server: HostileServer, tmp_path: Path
) -> None:
    REGISTRY.pages["hugepage"] = lambda _repo, _q: (["x" * 100] * 50_000, None)
    result = tags(server, "hugepage", tmp_path)
    assert_safe(result, code=3)
    assert "tag list page cap" in result.stderr


# -- item 8: a registry that dies mid-scan --------------------------------------------


def test_a_registry_that_dies_mid_scan_is_given_up_not_retried_per_tag(
    tmp_path: Path,
) -> None:
    """400 tags listed, then the registry stops listening: a few connection attempts,
    then every remaining tag fails at once (exit 3), not 400 times the retries."""
    names = [f"t{i}" for i in range(400)]
    holder: list[HostileServer] = []

    def dies_after_listing(req: Request) -> Raw | Answer:
        if req.path.endswith("/tags/list"):
            holder[0].stop()  # no new connection will be accepted from here on
            body = _json({"name": "team/app", "tags": names})
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            return Raw(head.encode() + body)
        return Answer(200, [("Content-Type", OCI_MANIFEST)], IMAGE.manifest)

    server = HostileServer(dies_after_listing).start()
    holder.append(server)
    try:
        result = run_cli(
            [
                "tags",
                "--plain-http",
                "--timeout",
                "2",
                "-v",
                "-o",
                "json",
                f"{server.host}/team/app",
            ],
            cli_env(tmp_path),
        )
    finally:
        server.stop()
    assert_safe(result, code=3, one_error_line=False)
    doc = result.json()
    assert len(doc["errors"]) == 400
    assert any("gave up" in e["error"] for e in doc["errors"])
    [line] = [x for x in result.stderr.splitlines() if x.startswith("requests: ")]
    # 1 listing + at most one window of failed connects (the host guard trips after 5
    # in a row, but the first window is already on its way) + a few
    assert int(line.split()[1]) < START + 10, line
