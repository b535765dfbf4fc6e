"""Whether, and to whom, a page is readable through Lore: its labels, its space's view
permission, and the view restrictions of the page and of each of its ancestors, each read once
per connector and shared by the worker threads (permissions.py turns them into clauses).

A page with an excluded label is skipped. A page whose ACL cannot be built (nobody we can name
may read some level) is skipped, and so not indexed. A refusal about this page only (403 on its
space's permissions, 404 on an ancestor, 400/410/422) fails this page alone; anything that says
the source itself is unwell (401, 429/5xx after the retries, transport) is raised, so the run
stops and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Failed, Skipped
from connectors.errors import AclUnavailable
from core.acl import Acl

from .client import ConfluenceClient
from .errors import ConfluenceError, ConfluenceNotFound
from .fields import dig, objects
from .memo import Memo
from .permissions import People, build_acl, restriction_clause, space_clause
from .queries import RESTRICTION_EXPAND

_ITEM_STATUSES = frozenset({400, 403, 410, 422})  # refusals about one item, not the whole source


class PageAccess:
    """The ACLs of pages, from ``client`` and ``people``. ``anonymous_to_org``: a space open to
    anonymous users is open to ``org:members``; ``exclude_labels`` are lower-case."""

    def __init__(
        self,
        client: ConfluenceClient,
        people: People,
        *,
        anonymous_to_org: bool,
        exclude_labels: frozenset[str],
    ) -> None:
        self._client = client
        self._people = people
        self._anonymous_to_org = anonymous_to_org
        self._exclude_labels = exclude_labels
        self._spaces: Memo[frozenset[str] | None] = Memo()  # key -> view clause; None: gone
        self._restrictions: Memo[frozenset[str] | None] = Memo()  # page id -> its own clause

    def access(self, source_id: str, page: Mapping[str, Any]) -> Acl | Skipped | Failed:
        """The ACL of a page (and of its attachments, ``source_id``), or why it has none."""
        skip = self.excluded(page)
        if skip:
            return Skipped(source_id, skip)
        try:
            return self.page_acl(page)
        except AclUnavailable as exc:
            return Skipped(source_id, str(exc))
        except ConfluenceNotFound as exc:
            return Failed(source_id, f"could not read what its permissions depend on: {exc}")
        except ConfluenceError as exc:
            if exc.status not in _ITEM_STATUSES:
                raise  # 401, 429/5xx after retries, transport: the source is unwell, change nothing
            # Refused for this page only (403 on one space's permissions, one ancestor, one user):
            # that page fails, the others' ACLs are still read and applied.
            return Failed(source_id, f"could not read what its permissions depend on: {exc}")

    def excluded(self, item: Mapping[str, Any]) -> str | None:
        """Why a page is left out by its labels, or None."""
        labels = {str(lb.get("name", "")).lower() for lb in objects(dig(item, "metadata", "labels", "results"))}
        hit = sorted(labels & self._exclude_labels)
        return f"label {hit[0]!r} is excluded by configuration" if hit else None

    def page_acl(self, item: Mapping[str, Any]) -> Acl:
        """Space clause AND the page's own restriction AND each ancestor's; raises
        AclUnavailable, or ConfluenceError when something it depends on cannot be read."""
        page_id = str(item.get("id", ""))
        key = str(dig(item, "space", "key") or "")
        space = self.space_clause(key) if key else None
        if space is None:
            raise AclUnavailable(f"{page_id}: its space {key or '(unknown)'} is not readable")
        own = self.remember(item)
        ancestors = [self._own_restriction(str(a["id"])) for a in objects(item.get("ancestors")) if a.get("id")]
        return build_acl(page_id, space, [own, *ancestors])

    def remember(self, item: Mapping[str, Any]) -> frozenset[str] | None:
        """Learn a page's own view restriction from a result that expanded it (what every
        descendant's ACL needs); returns it."""
        clause = restriction_clause(dig(item, "restrictions", "read"), self._people)
        self._restrictions.put(str(item.get("id", "")), clause)
        return clause

    def space_clause(self, key: str) -> frozenset[str] | None:
        """Who may view space ``key``; None when it is gone (removed, archived or no longer
        visible to us), so that its pages leave the index."""

        def fetch() -> frozenset[str] | None:
            try:
                space = self._client.get(f"space/{key}", {"expand": "permissions"})
            except ConfluenceNotFound:
                return None  # removed (or no longer visible to us): its pages leave the index
            if space.get("status", "current") != "current":
                return None  # archived
            return space_clause(space, self._people, anonymous_to_org=self._anonymous_to_org)

        return self._spaces.get(key, fetch)

    def _own_restriction(self, page_id: str) -> frozenset[str] | None:
        """An ancestor's own view restriction (pages in a listing bring theirs along)."""

        def fetch() -> frozenset[str] | None:
            try:
                read = self._client.get(f"content/{page_id}/restriction/byOperation/read",
                                        {"expand": "restrictions.user,restrictions.group"})
            except ConfluenceNotFound:
                # Drafts (an unpublished parent) answer 404 here; their content answers with status.
                try:
                    content = self._client.get(f"content/{page_id}", {"status": "any", "expand": RESTRICTION_EXPAND})
                except ConfluenceNotFound:
                    raise ConfluenceNotFound(
                        f"the view restriction of ancestor {page_id} cannot be read (404)", status=404,
                        path=f"content/{page_id}",
                    ) from None
                read = dig(content, "restrictions", "read") or {}
            return restriction_clause(read, self._people)

        return self._restrictions.get(page_id, fetch)
