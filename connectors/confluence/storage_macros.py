"""Confluence macros in storage format: which keep authored text, and how.

Macros that wrap authored text (info, note, warning, tip, panel, expand, excerpt, section,
column, details, ...) keep their body, plus their ``title`` when it is human-written; ``code``
and ``noformat`` keep their body verbatim in a fenced block, with the ``language`` parameter;
``status`` keeps its label. Macros that generate content at view time (table of contents,
child pages, Jira issues, attachments list, ...) keep nothing, and no macro's parameters are
ever text: unknown macros keep only their bodies.
"""

from __future__ import annotations

import re
from typing import Protocol

from bs4.element import Tag

from .storage_markup import LEAKED_USER, MACROS, Block, attr, clean, one_line, own

# Macros rendered from data at view time (or anchors): there is no authored text to keep.
NO_TEXT_MACROS = frozenset(
    {
        "anchor", "attachments", "blog-posts", "children", "contentbylabel", "contributors",
        "create-from-template", "gallery", "include", "excerpt-include", "jira", "jiraissues",
        "livesearch", "pagetree", "pagetreesearch", "popular-labels", "profile",
        "profile-picture", "recently-updated", "related-labels", "search", "space-details",
        "toc", "userlister", "view-file", "viewpdf",
    }
)  # fmt: skip

# Macros whose ``title`` parameter is a heading the author wrote for the box.
TITLED_MACROS = frozenset({"info", "note", "warning", "tip", "panel", "expand", "code"})


class BodyWriter(Protocol):
    """What a macro writes into: the walker of the tree around it."""

    def text(self, text: str) -> None: ...

    def add(self, block: Block) -> None: ...

    def end_paragraph(self) -> None: ...

    def walk_children(self, node: Tag, depth: int) -> None: ...


def write_macro(out: BodyWriter, tag: Tag, depth: int) -> None:
    """Writes what macro ``tag`` (an ``ac:structured-macro`` or ``ac:macro``) shows a reader."""
    name = attr(tag, "ac:name").strip().lower()
    if name in NO_TEXT_MACROS:
        return
    if name == "status":
        # Inline lozenge: its label belongs to the sentence around it.
        out.text(f" {parameter(tag, 'title')} ")
        return
    title = parameter(tag, "title") if name in TITLED_MACROS else ""
    if name in ("code", "noformat"):
        language = parameter(tag, "language").split()
        code = "".join(b.get_text() for b in own(tag, ["ac:plain-text-body"]))
        if title and code.strip():
            out.add(Block(clean(title)))
        out.add(code_block(code, language[0] if language else ""))
        return
    bodies = list(own(tag, ["ac:rich-text-body", "ac:plain-text-body"]))
    if not bodies and not title:
        return  # no text; in particular not its parameters
    out.end_paragraph()
    if title:
        out.add(Block(clean(title)))
    for body in bodies:
        if body.name == "ac:plain-text-body":
            # Plain text whose line breaks the author typed (a markdown macro, say).
            out.add(Block(clean(LEAKED_USER.sub(" ", body.get_text()))))
        else:
            out.walk_children(body, depth)
            out.end_paragraph()


def is_macro(tag: Tag) -> bool:
    return tag.name in MACROS


def parameter(macro: Tag, name: str) -> str:
    """The text of a macro's own parameter ``name``, on one line ("" when it has none)."""
    for param in own(macro, ["ac:parameter"]):
        if attr(param, "ac:name").strip().lower() == name:
            return one_line(param.get_text())
    return ""


def code_block(code: str, language: str) -> Block:
    """``code`` verbatim in a fenced block (blank lines around it trimmed)."""
    lines = code.replace("\xa0", " ").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return Block("", "code")
    body = "\n".join(lines)
    # A fence longer than any backtick run inside, so code quoting a fence stays inside it.
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return Block(f"{fence}{language}\n{body}\n{fence}", "code")
