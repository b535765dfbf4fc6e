"""A small in-memory Graph drive for the connector's unit tests (not a stand-in: it answers the
connector's client calls directly, without HTTP). Delta tokens are change sequence numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.sharepoint.errors import SharePointError, SharePointNotFound

SITE_ID = "contoso.sharepoint.com,2c1b7a3e-0000-4000-8000-000000000001,9d0c0000-0000-4000-8000-000000000002"
DRIVE = "b!drive1"
BASE = "https://graph.test/v1.0"


class FakeGraph:
    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.items: dict[str, dict[str, Any]] = {"root": {"id": "root", "name": "root", "root": {}, "folder": {}}}
        self.log: list[str] = []  # item ids in change order
        self.content: dict[str, bytes] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}
        self.expired_below = 0
        self.calls: list[str] = []
        self._next = 0

    # -- test controls ----------------------------------------------------------------------

    def folder(self, name: str, parent: str = "root") -> str:
        return self._put({"name": name, "folder": {}, "parentReference": {"id": parent}})

    def file(self, name: str, text: str, parent: str = "root", readers: tuple[str, ...] = ("ana@contoso.example",)) -> str:
        key = self._put({"name": name, "file": {}, "size": len(text), "parentReference": {"id": parent}})
        self.content[key] = text.encode()
        self.permissions[key] = [{"id": f"p{r}", "roles": ["read"], "grantedToV2": {"user": {"email": r}}} for r in readers]
        return key

    def change(self, key: str, **fields: Any) -> None:
        self.items[key].update(fields)
        self.log.append(key)

    def delete(self, key: str) -> None:
        self.items[key] = {"id": key, "deleted": {"state": "deleted"}, "parentReference": self.items[key].get("parentReference")}
        self.log.append(key)

    def _put(self, item: dict[str, Any]) -> str:
        self._next += 1
        key = f"i{self._next}"
        self.items[key] = {"id": key, "webUrl": f"https://contoso.sharepoint.com/sites/hr/Shared%20Documents/{item['name']}", **item}
        self.log.append(key)
        return key

    # -- what the connector calls -----------------------------------------------------------

    def get(self, url: str, params: Any = None) -> dict[str, Any]:
        self.calls.append(url)
        if url == "sites/contoso.sharepoint.com:/sites/hr":
            return {"id": SITE_ID, "displayName": "HR", "webUrl": "https://contoso.sharepoint.com/sites/hr"}
        if url == f"drives/{DRIVE}/root/delta" or url.startswith(f"{BASE}/drives/{DRIVE}/root/delta"):
            q = parse_qs(urlsplit(url).query)
            token, skip = int(q.get("token", ["0"])[0]), int(q.get("skip", ["0"])[0])
            if 0 < token < self.expired_below:
                raise SharePointError("GET delta -> 410: resyncRequired", status=410)
            changed = self.log[token:]
            if token:
                latest = list(dict.fromkeys(reversed(changed)))[::-1]  # each id at its last change
            else:
                latest = [k for k, v in self.items.items() if "deleted" not in v]
            page = latest[skip: skip + self.page_size]
            body: dict[str, Any] = {"value": [dict(self.items[k]) for k in page]}
            if skip + self.page_size < len(latest):
                body["@odata.nextLink"] = f"{BASE}/drives/{DRIVE}/root/delta?token={token}&skip={skip + self.page_size}"
            else:
                body["@odata.deltaLink"] = f"{BASE}/drives/{DRIVE}/root/delta?token={len(self.log)}"
            return body
        raise SharePointNotFound(f"GET {url} -> 404", status=404)

    def paged(self, path: str, params: Any = None) -> Iterator[dict[str, Any]]:
        self.calls.append(path)
        if path == f"sites/{SITE_ID}/drives":
            yield {"id": DRIVE, "name": "Documents"}
            return
        parts = path.split("/")
        if path.endswith("/permissions") and parts[3] in self.permissions and "deleted" not in self.items[parts[3]]:
            yield from self.permissions[parts[3]]
            return
        if path.endswith("/children"):
            yield from (dict(i) for i in self.items.values()
                        if (i.get("parentReference") or {}).get("id") == parts[3] and "deleted" not in i)
            return
        raise SharePointNotFound(f"GET {path} -> 404", status=404)

    def download(self, drive_id: str, item_id: str, max_bytes: int) -> bytes:
        self.calls.append(f"content {item_id}")
        return self.content[item_id]

    def rest_paged(self, site_path: str, api: str, params: Any = None) -> Iterator[dict[str, Any]]:
        raise SharePointNotFound("no REST here", status=404)

    def close(self) -> None:
        return
