"""Renderers for `inspect` and `whatis`: JSON documents, and a tree of text.

The text is built once as a tree of `Node`s, then drawn three ways:

- **piped**: a plain indented tree (two spaces a level), one node a line, full
  digests, no escape codes: stable and greppable;
- **terminal** (rich): guides (`├── `, `│   `) and styles, every label word-wrapped
  to the terminal's width under its guide. A line breaks only between words; a full
  digest that cannot fit whole on a line at its depth is shown as its short form
  (`sha256:` + 12 hex + `…`), never split; another word longer than a line is cut
  with `…` (the whole text is in `-o json` and in the piped tree);
- **plain terminal** (`NO_COLOR`, `TERM=dumb`): the same wrapped layout with spaces
  for guides, no style, no frame character.

rich is imported only when drawing in colour.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from truedigest.core.classify import Kind, WhatIs
from truedigest.core.facts import ChildNode, CosignTag, Inspection, ManifestFacts
from truedigest.oci.digest import Digest
from truedigest.oci.manifest import Descriptor, Platform, short_media_type
from truedigest.render.forensics_json import (
    child_json,
    inspect_document,
    referrer_json,
    whatis_document,
)
from truedigest.render.safetext import clean
from truedigest.render.termtable import (
    DEFAULT_WIDTH,
    Line,
    line_text,
    plain_wanted,
    to_rich,
    wrap_words,
)

if TYPE_CHECKING:
    from rich.console import Console


# -- the text tree -----------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    label: str
    children: list[Node] = field(default_factory=list)
    style: str | None = None

    def add(self, label: str, *, style: str | None = None) -> Node:
        node = Node(label, style=style)
        self.children.append(node)
        return node


def render_plain(root: Node, indent: str = "  ") -> str:
    lines: list[str] = []

    def walk(node: Node, depth: int) -> None:  # labels carry server text: cleaned here
        lines.append(f"{indent * depth}{clean(node.label)}")
        for child in node.children:
            walk(child, depth + 1)

    walk(root, 0)
    return "\n".join(lines) + "\n"


def print_tree(root: Node, stream: TextIO | None = None, console: Console | None = None) -> None:
    """The wrapped tree on a terminal (`console`, else one on `stream`); the plain
    indented tree when `stream` is not a terminal."""
    out = stream or sys.stdout
    if console is None and not out.isatty():
        out.write(render_plain(root))
        out.flush()
        return
    emit(lambda width, plain: tree_lines(root, width, plain=plain), console, out)


LineMaker = Callable[[int, bool], list[Line]]


def emit(make: LineMaker, console: Console | None = None, stream: TextIO | None = None) -> None:
    """Lines laid out for a terminal: `make(width, plain)`; plain (`NO_COLOR`,
    `TERM=dumb`, a console without colour) writes the text with no escape code."""
    out = stream or sys.stdout
    plain = plain_wanted() or bool(console is not None and console.no_color)
    if console is None and plain:
        import shutil

        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        out.write("".join(line_text(ln) + "\n" for ln in make(width, True)))
        out.flush()
        return
    if console is None:
        from rich.console import Console

        console = Console(file=out, highlight=False, soft_wrap=False)
    lines = make(console.width, plain)
    if plain:
        console.file.write("".join(line_text(ln) + "\n" for ln in lines))
        console.file.flush()
        return
    for line in lines:
        console.print(to_rich(line), highlight=False, crop=False, soft_wrap=True)


_GUIDES = {False: ("├── ", "└── ", "│   ", "    "), True: ("  ", "  ", "  ", "  ")}
_FULL_DIGEST = re.compile(r"^(sha256|sha384|sha512):([0-9a-f]{64,128})(\W*)$")


def fit_words(text: str, room: int) -> str:
    """`text` whose every word fits `room` columns: a full digest too long for it
    becomes its short form (`sha256:` + 12 hex + `…`), another word is cut with `…`."""
    words = []
    for word in text.split():
        if len(word) > room:
            m = _FULL_DIGEST.match(word)
            if m is not None:
                word = f"{m.group(1)}:{m.group(2)[:12]}…{m.group(3)}"
            if len(word) > room:
                word = word[: max(room - 1, 1)] + "…"
        words.append(word)
    return " ".join(words)


def wrapped(text: str, width: int, *, first: str = "", indent: str = "") -> list[str]:
    """`text` as is when it fits one line (its spacing kept), else word-wrapped with
    `fit_words` applied (no word split, no line wider than `width`)."""
    if len(first) + len(text) <= width and "\n" not in text:
        return [first + text]
    room = width - max(len(first), len(indent))
    return wrap_words(fit_words(text, room), width, first=first, indent=indent) or [first]


def tree_lines(root: Node, width: int, *, plain: bool) -> list[Line]:
    """The tree at `width` columns: each label word-wrapped under its guide."""
    first, last, down, blank = _GUIDES[plain]
    lines: list[Line] = []
    guide_style = "" if plain else "dim"

    def put(node: Node, lead: str, branch: str, cont: str) -> None:
        prefix = lead + branch
        room = max(width - len(prefix), 12)
        label = clean(node.label)
        style = "" if plain else (node.style or "")
        for i, text in enumerate(wrapped(label, room)):
            guide = prefix if i == 0 else lead + cont
            lines.append([(guide, guide_style), (text, style)] if guide else [(text, style)])
        for i, child in enumerate(node.children):
            is_last = i == len(node.children) - 1
            put(child, lead + cont, last if is_last else first, blank if is_last else down)

    put(root, "", "", "")
    return lines


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{n} bytes ({value:.1f} {unit})"


def _type_text(media_type: str) -> str:
    short = short_media_type(media_type)
    return f"{media_type} ({short})" if short else media_type or "(no media type)"


def _add_annotations(node: Node, annotations: dict[str, str]) -> None:
    if not annotations:
        return
    group = node.add(f"annotations ({len(annotations)})")
    for key in sorted(annotations):
        group.add(f"{key}: {annotations[key]}")


def _add_image_facts(node: Node, facts: ManifestFacts) -> None:
    if facts.config_digest is not None:
        node.add(f"config: {facts.config_digest}")
    if facts.legacy:
        node.add(f"layers: {facts.layers} (schema 1 lists no sizes)")
    elif not facts.is_index:
        node.add(f"layers: {facts.layers}, {size_text(facts.layers_size)}")
    revision = facts.revision
    if revision is not None and facts.revision_source is not None:
        revision = f"{revision} (from the {facts.revision_source})"
    for name, value in (
        ("created", facts.created),
        ("revision", revision),
        ("source", facts.source),
        ("artifact type", facts.artifact_type),
        ("subject", facts.subject),
    ):
        if value is not None:
            node.add(f"{name}: {value}")
    if facts.predicate_types:
        node.add(f"predicate types: {', '.join(facts.predicate_types)}")


def _add_referrers(node: Node, referrers: Iterable[Descriptor]) -> None:
    items = list(referrers)
    if not items:
        node.add("referrers: none")
        return
    group = node.add(f"referrers ({len(items)})")
    for desc in items:
        what = desc.artifact_type or "no artifact type"
        group.add(f"{desc.digest}  {what}  ({desc.media_type or 'no media type'})")


def _add_cosign(node: Node, tags: Iterable[CosignTag]) -> None:
    """cosign's tag-schema objects on the digest (nothing printed when there are none)."""
    for tag in tags:
        node.add(f"cosign {tag.kind}: {tag.tag}  → {tag.digest}")


def inspect_tree(result: Inspection) -> Node:
    facts = result.facts
    kind = short_media_type(facts.media_type) or "manifest"
    if result.is_index:
        n = len(result.children)
        kind += f", {n} manifest{'s' if n != 1 else ''}"
    elif facts.platform is not None:
        kind += f", {facts.platform}"
    root = Node(f"{result.ref}  ({kind})", style="bold")
    root.add(f"digest: {facts.digest}", style="bold")
    root.add(f"media type: {_type_text(facts.media_type)}")
    root.add(f"size: {size_text(facts.size)}")
    _add_image_facts(root, facts)
    _add_annotations(root, facts.annotations)
    platforms = {c.digest: c.platform for c in result.children}
    for child in result.children:
        _add_child(root, child, platforms)
    _add_referrers(root, result.referrers)
    _add_cosign(root, result.cosign)
    return root


def _add_child(root: Node, child: ChildNode, platforms: dict[Digest, Platform | None]) -> None:
    platform = str(child.platform) if child.platform else "no platform"
    label, style = f"{platform}  {child.digest}", "cyan"
    if child.attestation:
        attests = f" for {child.attests}" if child.attests else ""
        label, style = f"{label}  (attestation{attests})", "dim"
    node = root.add(label, style=style)
    node.add(f"media type: {_type_text(child.descriptor.media_type)}")
    node.add(f"size: {size_text(child.descriptor.size)}")
    if child.error is not None:
        node.add(f"error: {child.error}", style="red")
    if child.facts is not None:
        _add_image_facts(node, child.facts)
    if child.attestation:
        _add_attachment(node, child, platforms)
    _add_annotations(node, child.annotations)
    if not child.attestation:
        _add_referrers(node, child.referrers)
        _add_cosign(node, child.cosign)


def _add_attachment(node: Node, child: ChildNode, platforms: dict[Digest, Platform | None]) -> None:
    """Which child the attestation is attached to, and what its statement names."""
    attached = child.attests
    if attached is not None:
        if attached not in platforms:
            node.add(f"attached to: {attached} (not an entry of this index)", style="yellow")
        else:
            node.add(f"attached to: {attached} ({platforms[attached] or 'no platform'})")
    subject = child.statement_subject
    if subject is None:
        return
    if attached is not None and subject != attached:
        node.add(f"statement subject: {subject} (not the digest it is attached to)", style="red")
    else:
        node.add(f"statement subject: {subject}")


def whatis_tree(result: WhatIs) -> Node:
    style = "red" if result.kind is Kind.ABSENT else "bold"
    root = Node(f"{result.digest}  {result.kind}  in {result.repository.name}", style=style)
    root.add(result.detail)
    if result.platform is not None:
        root.add(f"platform: {result.platform}")
    if result.attests is not None:
        root.add(f"attests: {result.attests}")
    if result.revision is not None:
        root.add(f"revision: {result.revision} (from the {result.revision_source})")
    if result.kind is not Kind.ABSENT:
        root.add(f"tags: {', '.join(result.tags) if result.tags else 'none'}")
        if result.parents:
            group = root.add(f"parents ({len(result.parents)})")
            for parent in result.parents:
                group.add(str(parent))
        else:
            root.add("parents: none")
        extra = [i for i in result.indexes if i not in result.parents]
        if extra:
            group = root.add(f"indexes ({len(extra)})")
            for index in extra:
                group.add(str(index))
    if result.media_type is not None:
        root.add(f"media type: {_type_text(result.media_type)}")
    if result.size is not None:
        root.add(f"size: {size_text(result.size)}")
    if result.artifact_type is not None:
        root.add(f"artifact type: {result.artifact_type}")
    return root


__all__ = [
    "LineMaker",
    "Node",
    "child_json",
    "emit",
    "fit_words",
    "inspect_document",
    "inspect_tree",
    "print_tree",
    "referrer_json",
    "render_plain",
    "tree_lines",
    "whatis_document",
    "whatis_tree",
    "wrapped",
]
