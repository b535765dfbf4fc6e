"""Attachments as documents: each takes its page's ACL, is downloaded within the size limit and
parsed by the shared parsers in their sandbox (connectors.parsers).

An attachment's source id is its page's id and its own (``"65538/att65540"``). Types outside
``attachment_extensions`` and files over ``attachment_max_mb`` are skipped before any download
(by the size Confluence reports, then by the bytes that arrive); an attachment whose page is
skipped, or whose page's ACL cannot be built, is skipped with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from connectors.base import Change, Failed, Skipped
from connectors.errors import AclUnavailable
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox
from core.models import Document, document_id

from .access import PageAccess
from .client import ConfluenceClient
from .documents import web_link
from .errors import AttachmentTooLarge, ConfluenceNotFound
from .fields import dig, owner, parse_instant
from .memo import Memo
from .queries import LISTING_LIMIT, PAGE_EXPAND, in_spaces


class Attachments:
    """The attachments of ``source`` (``confluence:<name>``); ``enabled`` is the
    ``attachments`` setting, ``extensions`` lower-case with their dot."""

    def __init__(
        self,
        source: str,
        client: ConfluenceClient,
        access: PageAccess,
        parser: ParserSandbox,
        *,
        enabled: bool,
        max_bytes: int,
        extensions: frozenset[str],
        wiki_url: str,
    ) -> None:
        self._source = source
        self._client = client
        self._access = access
        self._parser = parser
        self.enabled = enabled
        self._max_bytes = max_bytes
        self._extensions = extensions
        self._wiki_url = wiki_url
        self._containers: Memo[Mapping[str, Any]] = Memo()

    def change(self, item: Mapping[str, Any]) -> Change:
        """The document of one attachment search result, or why there is none."""
        att_id = str(item.get("id", ""))
        container = dig(item, "container") or {}
        page_id = str(container.get("id") or "")
        source_id = f"{page_id}/{att_id}"
        filename = str(item.get("title") or att_id)
        if not page_id:
            return Failed(source_id, "attachment without a container page")
        problem = self.problem(item)
        if problem:
            return Skipped(source_id, problem)
        try:
            page = self._container(page_id)
            skip = self._access.excluded(page)
            if skip:
                return Skipped(source_id, f"its page is skipped: {skip}")
            acl = self._access.page_acl(page)
            data = self._client.download(str(dig(item, "_links", "download") or ""), self._max_bytes)
            parsed = self._parser.parse(filename, data)
        except AclUnavailable as exc:
            return Skipped(source_id, str(exc))
        except AttachmentTooLarge as exc:
            return Skipped(source_id, str(exc))
        except ConfluenceNotFound as exc:
            return Failed(source_id, f"could not be read: {exc}")
        except ParseError as exc:
            return Failed(source_id, str(exc))
        if not parsed.sections:
            return Skipped(source_id, "no text in the attachment")
        return Document(
            id=document_id(self._source, source_id),
            source=self._source,
            source_id=source_id,
            title=f"{page.get('title', '')}: {filename}" if page.get("title") else filename,
            url=web_link(item, self._wiki_url),
            sections=parsed.sections,
            acl=acl,
            updated_at=parse_instant(dig(item, "version", "when")),
            author=owner(item),
            metadata={"space": str(dig(page, "space", "key") or ""), "type": "attachment",
                      "page": page_id},
        )

    def problem(self, item: Mapping[str, Any]) -> str | None:
        """Why an attachment is not indexed whatever its content (type, reported size), or None."""
        filename = str(item.get("title") or "")
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix not in self._extensions:
            return f"attachment type {suffix or '(none)'} is not indexed (attachment_extensions)"
        size = dig(item, "extensions", "fileSize")
        if isinstance(size, int) and size > self._max_bytes:
            return f"attachment is {size} bytes, over attachment_max_mb"
        return None

    def indexed_id(self, item: Mapping[str, Any]) -> str | None:
        """``page/attachment`` for an attachment search result that would be indexed."""
        container = str(dig(item, "container", "id") or "")
        if container and self.problem(item) is None:
            return f"{container}/{item.get('id', '')}"
        return None

    def ids_in_scope(self, keys: Sequence[str]) -> set[str]:
        """``page/attachment`` ids of the attachments in the spaces ``keys`` that would be
        indexed (one id listing, no downloads)."""
        found: set[str] = set()
        if not keys or not self.enabled:
            return found
        params = {"cql": f"type = attachment and {in_spaces(keys)}", "limit": str(LISTING_LIMIT),
                  "expand": "container"}
        for item in self._client.paged("content/search", params):
            source_id = self.indexed_id(item)
            if source_id:
                found.add(source_id)
        return found

    def _container(self, page_id: str) -> Mapping[str, Any]:
        return self._containers.get(
            page_id, lambda: self._client.get(f"content/{page_id}", {"expand": PAGE_EXPAND})
        )
