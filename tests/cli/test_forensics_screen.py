"""What a person sees of `inspect`, `whatis` and `tags` at 80, 100 and 160 columns.

The answers come from the real engine over an in-memory registry serving exact bytes
(`tests.support.memory_registry`: every digest is sha256 of bytes built there). Each
is drawn with rich (`Console(width=…, force_terminal=True)`), plain (`NO_COLOR`,
`TERM=dumb`) and piped, and checked for what a reader needs: no line wider than the
terminal, every digest whole (its 64 hex, or the short `sha256:` + 12 hex), every tag
whole, no escape code nor frame character when plain, full digests when piped.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from rich.cells import cell_len
from rich.console import Console

from tests.support.images import build_image
from tests.support.memory_registry import REPO, MemoryRegistry, Seeded, repo, seed
from truedigest.core.classify import WhatIs
from truedigest.core.facts import Inspection
from truedigest.core.taggroups import TagScan
from truedigest.engine.inspect_run import inspect
from truedigest.engine.tags_run import date_groups, scan_tags
from truedigest.engine.whatis_run import whatis
from truedigest.oci.auth import CredentialStore
from truedigest.oci.digest import Digest
from truedigest.oci.registry import RegistryClient
from truedigest.oci.transport import ClientOptions
from truedigest.render import audit_view, forensics_view

WIDTHS = (80, 100, 160)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOX = re.compile("[\u2500-\u257f]")
DIGEST = re.compile(r"sha256:[0-9a-f]+")
CREATED = "org.opencontainers.image.created"
MANY = 101  # the repository: 101 tags on one image
LONG_TAG = "release-" + "x" * 120  # 128 characters, the longest tag the grammar allows


@dataclass(frozen=True)
class Answers:
    seeded: Seeded
    inspection: Inspection
    config: WhatIs
    child: WhatIs
    scan: TagScan
    many_tags: tuple[str, ...]


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Answers:
    fake = MemoryRegistry()
    s = seed(fake)
    newest = build_image(REPO, salt="newest", annotations={CREATED: "2030-01-01T00:00:00Z"})
    for i in range(MANY):
        fake.add_image(newest, f"v1.{i}.0")
    fake.tags[LONG_TAG] = fake.tags["single"]
    home: Path = tmp_path_factory.mktemp("home")
    with RegistryClient(
        ClientOptions(),
        transport=httpx.MockTransport(fake.handler),
        credentials=CredentialStore(env={"HOME": str(home)}),
        sleep=lambda _s: None,
    ) as client:
        inspection = inspect(client, repo().with_tag("v1"))
        config = whatis(client, repo(), Digest.parse(s.amd64.config_digest))
        child = whatis(client, repo(), Digest.parse(s.attestation.digest))
        scan = date_groups(client, repo(), scan_tags(client, repo()))
    return Answers(
        s, inspection, config, child, scan, tuple(sorted(f"v1.{i}.0" for i in range(MANY)))
    )


@pytest.fixture(autouse=True)
def _colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A colour terminal unless a test says otherwise (the runner's env may say NO_COLOR)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def console(buffer: io.StringIO, width: int) -> Console:
    return Console(
        file=buffer, width=width, force_terminal=True, color_system="standard", highlight=False
    )


def draw(what: str, a: Answers, width: int) -> str:
    buffer = io.StringIO()
    con = console(buffer, width)
    match what:
        case "inspect":
            forensics_view.print_tree(forensics_view.inspect_tree(a.inspection), console=con)
        case "whatis-config":
            forensics_view.print_tree(forensics_view.whatis_tree(a.config), console=con)
        case "whatis-attestation":
            forensics_view.print_tree(forensics_view.whatis_tree(a.child), console=con)
        case "tags":
            audit_view.print_tags(a.scan, con)
        case _:
            raise AssertionError(what)
    return buffer.getvalue()


def visible(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


def full_digests(a: Answers, what: str) -> set[str]:
    """The digests the view names (full), whatever form the terminal shows them in."""
    if what == "inspect":
        found = {str(a.inspection.facts.digest)}
        for child in a.inspection.children:
            found.add(str(child.digest))
            if child.facts is not None and child.facts.config_digest is not None:
                found.add(str(child.facts.config_digest))
        return found
    if what.startswith("whatis"):
        result = a.config if what == "whatis-config" else a.child
        return {str(result.digest), *map(str, result.parents), *map(str, result.indexes)}
    return {str(g.digest) for g in a.scan.groups}


VIEWS = ("inspect", "whatis-config", "whatis-attestation", "tags")


def assert_whole(lines: list[str], width: int, digests: set[str]) -> None:
    text = "\n".join(lines)
    for line in lines:
        assert cell_len(line) <= width, (width, line)
        for token in DIGEST.findall(line):
            assert len(token) in (19, 71), (token, line)  # never a split digest
    for digest in digests:
        assert digest in text or digest[:19] in text, digest


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("what", VIEWS)
def test_every_view_fits_and_keeps_digests_whole(answers: Answers, what: str, width: int) -> None:
    drawn = draw(what, answers, width)
    lines = visible(drawn)

    assert_whole(lines, width, full_digests(answers, what))
    assert "\x1b[" in drawn  # a colour terminal gets styles
    if what != "tags":
        assert "├── " in drawn
    if what == "tags":  # short digests: the full ones are piped and in JSON
        assert not any(d in "\n".join(lines) for d in full_digests(answers, what))
        return
    wide = "\n".join(visible(draw(what, answers, 10_000)))
    for digest in full_digests(answers, what):
        assert digest in wide  # with room, every digest is shown in full


@pytest.mark.parametrize("width", WIDTHS)
def test_an_index_tree_keeps_full_digests_where_they_fit(answers: Answers, width: int) -> None:
    lines = visible(draw("inspect", answers, width))
    text = "\n".join(lines)
    assert str(answers.inspection.facts.digest) in text
    for child in answers.inspection.children:
        assert str(child.digest) in text  # depth 1: a digest always fits at 80


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": ""}, {"TERM": "dumb"}])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("what", VIEWS)
def test_no_color_and_dumb_terminals_get_no_style_and_no_frame(
    monkeypatch: pytest.MonkeyPatch, answers: Answers, what: str, width: int, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    drawn = draw(what, answers, width)

    assert "\x1b" not in drawn
    assert not BOX.search(drawn)
    assert_whole(drawn.splitlines(), width, full_digests(answers, what))


@pytest.mark.parametrize("width", WIDTHS)
def test_tags_are_wrapped_whole_under_their_digest(answers: Answers, width: int) -> None:
    lines = visible(draw("tags", answers, width))
    newest = answers.scan.groups[0]
    head = lines.index(next(line for line in lines if newest.digest.short in line))
    assert head == 1  # the title, then the newest group
    assert " ".join(lines[head].split()).endswith("2030-01-01T00:00:00Z (annotation) moved last")
    under: list[str] = []
    for line in lines[head + 1 :]:
        if not line.startswith("    "):
            break
        under.extend(line.split())
    assert tuple(sorted(under)) == answers.many_tags  # every tag, whole, once
    assert len(lines) < MANY  # wrapped several to a line, not one a line
    # a tag longer than the line is cut with … (whole when piped and in JSON)
    long_lines = [line for line in lines if "release-" in line]
    if width - 4 >= len(LONG_TAG):
        assert any(LONG_TAG in line for line in long_lines)
    else:
        assert all(line.rstrip().endswith("…") for line in long_lines)


def test_tags_piped_lines_split_into_the_documented_fields(answers: Answers) -> None:
    lines = audit_view.tags_piped(answers.scan).splitlines()
    assert len(lines) == len(answers.scan.groups)
    for group, line in zip(answers.scan.groups, lines, strict=True):
        fields = line.split("\t")
        assert fields == line.split()  # no whitespace inside a field
        assert len(fields) == 1 + len(audit_view.GROUP_FIELDS)
        assert fields[:3] == ["group", str(group.digest), group.media_type]
        assert fields[-1].split(",") == list(group.tags)
    first = lines[0].split("\t")
    assert first[3:6] == ["2030-01-01T00:00:00Z", "annotation", "moved-last"]
    assert LONG_TAG in audit_view.tags_piped(answers.scan)
    assert "\x1b" not in "".join(lines)


@pytest.mark.parametrize("what", ["inspect", "whatis-config"])
def test_piped_trees_keep_full_digests(answers: Answers, what: str) -> None:
    tree = (
        forensics_view.inspect_tree(answers.inspection)
        if what == "inspect"
        else forensics_view.whatis_tree(answers.config)
    )
    out = io.StringIO()  # not a terminal
    forensics_view.print_tree(tree, out)
    text = out.getvalue()
    assert "\x1b" not in text
    assert not BOX.search(text)
    for token in DIGEST.findall(text):
        assert len(token) == 71, token
    for digest in full_digests(answers, what):
        assert digest in text


def test_the_tags_summary_is_one_bounded_line(answers: Answers) -> None:
    summary = audit_view.tags_summary(answers.scan)
    assert "\n" not in summary
    assert len(summary) < 300, summary
    assert "moved last: v1.0.0, v1.1.0" in summary
    assert f"and {MANY - audit_view.SUMMARY_TAGS} more" in summary
