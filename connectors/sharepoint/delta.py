"""A drive's changes through Graph delta (learn.microsoft.com/graph/api/driveitem-delta).

``GET /drives/{id}/root/delta`` lists every item the first time, then ``@odata.nextLink`` pages
until a page carries ``@odata.deltaLink``: that link, stored as the checkpoint, lists what
changed after it next time. A timestamp would not do: a file copied or synced in keeps its old
``lastModifiedDateTime``, and delta still reports it. Each page is a resumable point (its
``@odata.nextLink`` lists the rest). Documented rules followed:

- an item with the ``deleted`` facet is gone; the same item may appear more than once, and the
  last occurrence wins;
- ``parentReference.path`` may be absent from delta items, and a folder renamed or moved is
  reported without its descendants: paths are rebuilt from the folders' ids (``Folders``), and
  a folder whose path changed has its descendants listed again (connector.py);
- ``410 Gone`` with ``resyncRequired``: the token expired; the drive is enumerated again from a
  fresh delta, every item reported as it is now (the response's ``Location`` header points to
  an equivalent fresh enumeration).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .client import SharePointClient
from .errors import SharePointBadResponse, SharePointError

SELECT = "id,name,file,folder,deleted,parentReference,lastModifiedDateTime,createdBy,lastModifiedBy,size,webUrl,cTag,eTag,root"


@dataclass(frozen=True)
class DeltaPage:
    items: list[dict[str, Any]]
    link: str  # where to resume: the next page, or (last page) the delta link
    done: bool  # this page carried the delta link
    resynced: bool  # the stored token had expired: this walk re-lists the whole drive


def walk(client: SharePointClient, drive_id: str, link: str | None) -> Iterator[DeltaPage]:
    """The delta pages of ``drive_id`` from ``link`` (a stored next or delta link; None: all)."""
    resynced = False
    url = link or f"drives/{drive_id}/root/delta"
    params: dict[str, str] | None = None if link else {"$select": SELECT}
    while True:
        try:
            body = client.get(url, params)
        except SharePointError as exc:
            if exc.status != 410 or resynced:
                raise
            resynced = True
            url, params = f"drives/{drive_id}/root/delta", {"$select": SELECT}
            continue
        items = body.get("value")
        if not isinstance(items, list):
            raise SharePointBadResponse(f'GET drives/{drive_id}/root/delta -> 200: no "value" list', status=200)
        following, delta = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        if isinstance(following, str) and following:
            yield DeltaPage([i for i in items if isinstance(i, dict)], following, False, resynced)
            url, params = following, None
            continue
        if not (isinstance(delta, str) and delta):
            raise SharePointBadResponse(
                f"GET drives/{drive_id}/root/delta -> 200: a page with neither @odata.nextLink nor @odata.deltaLink",
                status=200)
        yield DeltaPage([i for i in items if isinstance(i, dict)], delta, True, resynced)
        return


def last_wins(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per item id, the last occurrence's, in the order of those last occurrences."""
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        key = str(item.get("id", ""))
        latest.pop(key, None)
        latest[key] = item
    return list(latest.values())


class Folders:
    """Folder id -> path below the library root ("" for the root), as delta reported them.
    Only folders are held (files are never kept in memory); saved in the checkpoint."""

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        self.paths: dict[str, str] = dict(known or {})

    def parent_path(self, item: Mapping[str, Any]) -> str | None:
        """The path of the folder holding ``item``: ``parentReference.path`` when Graph gives
        it (``/drives/{id}/root:/a/b``), else the parent's id in the map; None if unknown."""
        parent = item.get("parentReference")
        if not isinstance(parent, Mapping):
            return None
        path = parent.get("path")
        if isinstance(path, str) and "root:" in path:
            return unquote(path.split("root:", 1)[1]).strip("/")
        pid = str(parent.get("id") or "")
        return self.paths.get(pid)

    def item_path(self, item: Mapping[str, Any]) -> str | None:
        if "root" in item:
            return ""
        parent = self.parent_path(item)
        return None if parent is None else "/".join(p for p in (parent, str(item.get("name") or "")) if p)

    def update(self, item: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Record a folder item; (old path, new path)."""
        key = str(item.get("id", ""))
        old = self.paths.get(key)
        if item.get("deleted") is not None:
            self.paths.pop(key, None)
            return old, None
        new = self.item_path(item)
        if new is not None:
            self.paths[key] = new
            if old is not None and old != new:
                self._rebase(old, new)
        return old, new

    def _rebase(self, old: str, new: str) -> None:
        for key, path in list(self.paths.items()):
            if path.startswith(old + "/"):
                self.paths[key] = new + path[len(old):]
