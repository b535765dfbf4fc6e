"""A page or blog post search result -> a Document: its storage-format body as sections, each
headed by the page's breadcrumb (space, then ancestors), and a link to the page in Confluence.

The breadcrumb heads every section because it is what a reader sees above the page in
Confluence, gives each chunk its place in the tree, and shows in citations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Change, Skipped
from core.acl import Acl
from core.models import Document, Section, document_id

from .fields import dig, objects, owner, parse_instant
from .storage import storage_to_sections


def page_document(source: str, item: Mapping[str, Any], acl: Acl, wiki_url: str) -> Change:
    """The document of page ``item`` (expanded with body, version, space and ancestors) of
    ``source``; Skipped when its body holds no text."""
    page_id = str(item["id"])
    title = str(item.get("title") or "(untitled)")
    body = str(dig(item, "body", "storage", "value") or "")
    sections = storage_to_sections(body, title)
    if not sections:
        return Skipped(page_id, "empty page")
    space = dig(item, "space") or {}
    breadcrumb = [str(space.get("name") or space.get("key") or "")] + [
        str(a.get("title", "")) for a in objects(item.get("ancestors"))
    ]
    crumbs = tuple(b for b in breadcrumb if b)
    sections = tuple(Section((*crumbs, *sec.heading_path), sec.text) for sec in sections)
    return Document(
        id=document_id(source, page_id),
        source=source,
        source_id=page_id,
        title=title,
        url=web_link(item, wiki_url),
        sections=sections,
        acl=acl,
        updated_at=parse_instant(dig(item, "version", "when")),
        author=owner(item),
        metadata={
            "space": str(space.get("key", "")),
            "type": str(item.get("type", "page")),
            "version": str(dig(item, "version", "number") or ""),
            "breadcrumb": " > ".join(crumbs),
        },
    )


def web_link(item: Mapping[str, Any], wiki_url: str) -> str:
    """Where a person reads ``item``: ``_links.webui`` on ``_links.base`` (else ``wiki_url``)."""
    webui = str(dig(item, "_links", "webui") or "")
    base = str(dig(item, "_links", "base") or wiki_url)
    return base.rstrip("/") + webui if webui.startswith("/") else webui or base
