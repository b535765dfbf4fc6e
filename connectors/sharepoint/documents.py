"""Files and site pages as documents: text parsed by the shared parsers in their sandbox
(connectors.parsers), every section headed by the breadcrumb a reader sees in SharePoint (site,
library, folders), and a link to the item.

Site pages (learn.microsoft.com/graph/api/sitepage-get, ``$expand=canvasLayout``): the
``innerHtml`` of their text web parts, in layout order (horizontal sections, columns, then the
vertical section), parsed as one HTML document under the page's title.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.base import Failed, Skipped
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox
from core.acl import Acl
from core.models import Document, Section, document_id

from .client import SharePointClient
from .errors import FileTooLarge, SharePointNotFound
from .scope import Library, Site


def parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def author(item: Mapping[str, Any]) -> str | None:
    for key in ("lastModifiedBy", "createdBy"):
        user = (item.get(key) or {}).get("user") if isinstance(item.get(key), Mapping) else None
        if isinstance(user, Mapping):
            found = user.get("email") or user.get("userPrincipalName") or user.get("displayName")
            if isinstance(found, str) and found:
                return found
    return None


def crumbs(site: Site, library: str | None, folder: str) -> tuple[str, ...]:
    parts = [site.title or site.path or site.web_url] + ([library] if library else [])
    return tuple(p for p in (*parts, *folder.split("/")) if p)


def file_document(source: str, source_id: str, library: Library, folder: str, item: Mapping[str, Any],
                  acl: Acl, client: SharePointClient, parser: ParserSandbox, max_bytes: int) -> Document | Skipped | Failed:
    name = str(item.get("name") or source_id)
    try:
        data = client.download(library.drive_id, str(item["id"]), max_bytes)
        parsed = parser.parse(name, data)
    except FileTooLarge as exc:
        return Skipped(source_id, str(exc))
    except SharePointNotFound as exc:
        return Failed(source_id, f"could not be read: {exc}")
    except ParseError as exc:
        return Failed(source_id, str(exc))
    if not parsed.sections:
        return Skipped(source_id, "no text in the file")
    trail = crumbs(library.site, library.name, folder)
    return Document(
        id=document_id(source, source_id), source=source, source_id=source_id,
        title=parsed.title or name, url=str(item.get("webUrl") or ""),
        sections=tuple(Section((*trail, *s.heading_path), s.text) for s in parsed.sections),
        acl=acl, updated_at=parse_instant(item.get("lastModifiedDateTime")), author=author(item),
        metadata={"site": library.site.path, "library": library.name, "path": folder, "name": name,
                  "breadcrumb": " > ".join(trail), "type": "file"},
    )


def web_parts(page: Mapping[str, Any]) -> Iterator[str]:
    layout = page.get("canvasLayout")
    if not isinstance(layout, Mapping):
        return
    sections = list(layout.get("horizontalSections") or [])
    vertical = layout.get("verticalSection")
    for section in sections:
        for column in (section.get("columns") or []) if isinstance(section, Mapping) else []:
            yield from _html_of(column.get("webparts") if isinstance(column, Mapping) else None)
    if isinstance(vertical, Mapping):
        yield from _html_of(vertical.get("webparts"))


def _html_of(parts: object) -> Iterator[str]:
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Mapping) and isinstance(part.get("innerHtml"), str):
            yield str(part["innerHtml"])


def page_document(source: str, source_id: str, site: Site, page: Mapping[str, Any], acl: Acl,
                  parser: ParserSandbox) -> Document | Skipped | Failed:
    title = str(page.get("title") or page.get("name") or "(untitled page)")
    body = "".join(web_parts(page))
    if not body.strip():
        return Skipped(source_id, "no text web parts on the page")
    markup = f"<html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"
    try:
        parsed = parser.parse(f"{page.get('name') or 'page'}.html", markup.encode("utf-8"))
    except ParseError as exc:
        return Failed(source_id, str(exc))
    if not parsed.sections:
        return Skipped(source_id, "no text on the page")
    trail = crumbs(site, "Site Pages", "")
    return Document(
        id=document_id(source, source_id), source=source, source_id=source_id, title=title,
        url=str(page.get("webUrl") or ""),
        sections=tuple(Section((*trail, *s.heading_path), s.text) for s in parsed.sections),
        acl=acl, updated_at=parse_instant(page.get("lastModifiedDateTime")), author=author(page),
        metadata={"site": site.path, "type": "page", "breadcrumb": " > ".join(trail)},
    )
