"""A drive's changes through Graph delta (learn.microsoft.com/graph/api/driveitem-delta).

``GET /drives/{id}/root/delta`` lists every item the first time, then ``@odata.nextLink`` pages
until a page carries ``@odata.deltaLink``: that link, stored as the checkpoint, lists what
changed after it next time. A timestamp would not do: a file copied or synced in keeps its old
``lastModifiedDateTime``, and delta still reports it. Each page is a resumable point (its
``@odata.nextLink`` lists the rest). Documented rules followed:

- an item with the ``deleted`` facet is gone; the same item may appear more than once, and the
  last occurrence wins;
- ``parentReference.path`` may be absent from delta items, and a folder renamed or moved is
  reported without its descendants, and the folder may come after them: paths are resolved
  through the folders' parent ids (``Folders``), and a folder that moved has its descendants
  read again (connector.py);
- ``410 Gone`` with ``resyncRequired``: the token expired; the drive is enumerated again from a
  fresh delta, every item reported as it is now (the response's ``Location`` header points to
  an equivalent fresh enumeration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
    """Folder id -> (parent id, name), as delta reported them; the root is "". Paths are
    resolved through the chain when asked, so a folder renamed or moved changes the path of
    everything below it at once, and the order delta lists items in does not matter. A parent
    not seen yet is asked of Graph (``lookup``: ``GET /drives/{d}/items/{id}``, whose
    ``parentReference.path`` is given outside delta). Only folders are held (files never are);
    saved in the checkpoint."""

    def __init__(self, known: Mapping[str, Any] | None = None,
                 lookup: Callable[[str], Mapping[str, Any] | None] | None = None) -> None:
        self.entries: dict[str, tuple[str, str] | None] = {}
        for key, value in (known or {}).items():
            self.entries[key] = (str(value[0]), str(value[1])) if isinstance(value, list) and len(value) == 2 else None
        self._lookup = lookup
        self._paths: dict[str, str] = {}  # folders resolved through lookup, by their path

    def saved(self) -> dict[str, Any]:
        return {k: (list(v) if v else None) for k, v in self.entries.items()}

    def update(self, item: Mapping[str, Any]) -> bool:
        """Record a folder item; whether it moved or was renamed (it was known, elsewhere)."""
        key = str(item.get("id", ""))
        old = self.entries.get(key)
        if item.get("deleted") is not None:
            self.entries.pop(key, None)
            return False
        if "root" in item:
            self.entries[key] = None
            return False
        parent = item.get("parentReference")
        pid = str(parent.get("id") or "") if isinstance(parent, Mapping) else ""
        new = (pid, str(item.get("name") or ""))
        self.entries[key] = new
        self._paths.clear()
        return key in self.entries and old is not None and old != new

    def path(self, folder_id: str, depth: int = 0) -> str | None:
        """The folder's path below the library root ("" for the root); None if unknown."""
        if folder_id in self._paths:
            return self._paths[folder_id]
        if folder_id not in self.entries:
            return self._looked_up(folder_id)
        entry = self.entries[folder_id]
        if entry is None:
            return ""
        if depth > 400:  # a cycle in what the server said: the path is unknown
            return None
        above = self.path(entry[0], depth + 1)
        return None if above is None else "/".join(p for p in (above, entry[1]) if p)

    def below(self, folder_id: str, ancestors: set[str]) -> bool:
        """Whether ``folder_id`` is one of ``ancestors`` or inside one of them."""
        seen = 0
        while folder_id and seen <= 400:
            if folder_id in ancestors:
                return True
            entry = self.entries.get(folder_id)
            if entry is None:
                return False
            folder_id, seen = entry[0], seen + 1
        return False

    def parent_path(self, item: Mapping[str, Any]) -> str | None:
        """The path of the folder holding ``item``: ``parentReference.path`` when Graph gives
        it (``/drives/{id}/root:/a/b``), else through the folders' chain."""
        parent = item.get("parentReference")
        if not isinstance(parent, Mapping):
            return None
        path = parent.get("path")
        if isinstance(path, str) and "root:" in path:
            return unquote(path.split("root:", 1)[1]).strip("/")
        return self.path(str(parent.get("id") or ""))

    def _looked_up(self, folder_id: str) -> str | None:
        if not folder_id or self._lookup is None:
            return None
        found = self._lookup(folder_id)
        if found is None:
            return None
        if "root" in found:
            self.entries[folder_id] = None
            return ""
        above = self.parent_path(found)
        path = None if above is None else "/".join(p for p in (above, str(found.get("name") or "")) if p)
        if path is not None:
            self._paths[folder_id] = path
        return path
