"""The SharePoint stand-in's Microsoft Graph handlers (sites, drives, delta, content,
permissions, site pages, group members); behaviours and docs in :mod:`tests.fakes.sharepoint`."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.fakes import sharepoint_json as js
from tests.fakes.sharepoint_core import DIRECTORY, SharePointCore, b64, graph_error, unb64
from tests.fakes.sharepoint_model import AadGroup, Item, Library, user_id


class GraphHandlers(SharePointCore):
    # --- Graph: sites, drives, items ---------------------------------------------------------

    async def _site(self, request: web.Request) -> web.Response:
        with self._locked():
            site = self._graph_site(request, request.match_info["site"])
            return site if isinstance(site, web.Response) else web.json_response(js.site_json(site))

    async def _sites_search(self, request: web.Request) -> web.Response:
        with self._locked():
            app = self._graph_app(request)
            if isinstance(app, web.Response):
                return app
            if "search" not in request.query:
                return graph_error(400, "invalidRequest", "Listing sites needs ?search= (site-search).")
            term = request.query["search"].strip("*").lower()
            found = [js.site_json(s) for s in self.sites.values() if self._can_read(app, s)
                     and (not term or term in s.title.lower() or term in s.path.lower())]
            return web.json_response({"value": found})

    async def _site_drives(self, request: web.Request) -> web.Response:
        with self._locked():
            site = self._graph_site(request, request.match_info["site"])
            if isinstance(site, web.Response):
                return site
            return web.json_response({"value": [js.drive_json(lib) for lib in site.libraries]})

    async def _site_drive(self, request: web.Request) -> web.Response:
        with self._locked():
            site = self._graph_site(request, request.match_info["site"])
            return site if isinstance(site, web.Response) else web.json_response(js.drive_json(site.default))

    async def _drive(self, request: web.Request) -> web.Response:
        with self._locked():
            lib = self._graph_drive(request)
            return lib if isinstance(lib, web.Response) else web.json_response(js.drive_json(lib))

    async def _item(self, request: web.Request) -> web.Response:
        with self._locked():
            item = self._graph_item(request)
            if isinstance(item, web.Response):
                return item
            body = js.item_json(item, in_delta=False)
            if not item.is_folder:
                body["@microsoft.graph.downloadUrl"] = self._download_url(item)
            return web.json_response(body)

    def _delta_link(self, lib: Library, position: int) -> str:
        token = b64(f"{lib.id};{lib.epoch};{position}")
        return f"{self.graph_url}/drives/{lib.id}/root/delta?token={token}"

    async def _delta(self, request: web.Request) -> web.Response:
        with self._locked():
            lib = self._graph_drive(request)
            if isinstance(lib, web.Response):
                return lib
            top = self._top(request, self.page_size)
            if isinstance(top, web.Response):
                return top
            state = self._skip(request)
            token = request.query.get("token")
            if state is None or (state and "s" not in state):
                return graph_error(400, "invalidRequest", "Invalid skip token.")
            if token == "latest":
                return web.json_response({"value": [], "@odata.deltaLink": self._delta_link(lib, len(lib.log))})
            epoch = lib.epoch
            if state:
                start, end, cursor, epoch = (int(state[k]) for k in ("s", "e", "c", "g"))
                round_id = state.get("r", "")
            elif token is not None:
                try:
                    drive, generation, position = unb64(token).split(";")
                    start, epoch = int(position), int(generation)
                except (ValueError, UnicodeDecodeError):
                    return graph_error(400, "invalidRequest", "Invalid delta token.")
                if drive != lib.id:
                    return graph_error(400, "invalidRequest", "The delta token is for another drive.")
                end, cursor = len(lib.log), start
                round_id = secrets.token_hex(8)
            else:
                start, end, cursor = 0, len(lib.log), 0
                round_id = secrets.token_hex(8)
            if epoch != lib.epoch:
                fresh = f"{self.graph_url}/drives/{lib.id}/root/delta"
                return graph_error(410, "resyncRequired", "Resync required. Replace any local items with the server's "
                              "version (including deletes) if you're sure that the service was up to date with your "
                              "local changes when you last sync'd.", {"Location": fresh},
                              inner={"code": "resyncChangesApplyDifferences"})
            select = set(request.query["$select"].split(",")) if "$select" in request.query else None
            early = lib.rounds.get(round_id, set())  # kept until the round ends: a retried page sees it
            items, cursor = lib.delta_page(start, end, cursor, top, early)
            body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#Collection(driveItem)",
                                    "value": [js.item_json(i, in_delta=True, select=select) for i in items]}
            if cursor < end:
                body["@odata.nextLink"] = self._next(request, s=start, e=end, c=cursor, g=epoch, r=round_id)
                if early:
                    lib.rounds[round_id] = early
            else:
                lib.rounds.pop(round_id, None)
                body["@odata.deltaLink"] = self._delta_link(lib, end)
            return web.json_response(body)

    def _download_url(self, item: Item) -> str:
        tempauth = secrets.token_urlsafe(24)
        self._downloads[tempauth] = (item.library.id, item.id, time.monotonic() + self.download_lifetime)
        return f"{self.base}/download/{tempauth}?UniqueId={item.unique_id}"

    async def _content(self, request: web.Request) -> web.Response:
        with self._locked():
            item = self._graph_item(request)
            if isinstance(item, web.Response):
                return item
            if item.is_folder:
                return graph_error(400, "invalidRequest", "Folders have no content.")
            return web.Response(status=302, headers={"Location": self._download_url(item)})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        with self._locked():
            entry = self._downloads.get(request.match_info["tempauth"])
            item = self.drives[entry[0]].items.get(entry[1]) if entry else None
            if entry is None or entry[2] < time.monotonic():
                return web.json_response({"error_description": "Invalid JWT token. The token is expired."},
                                         status=401)
            if item is None or item.deleted:
                return web.Response(status=404, text="File Not Found.")
            content, name = item.content, item.name
        response = web.StreamResponse(headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(len(content)),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
        await response.prepare(request)
        for offset in range(0, len(content), 65536):
            await response.write(content[offset:offset + 65536])
        await response.write_eof()
        return response

    async def _permissions(self, request: web.Request) -> web.Response:
        with self._locked():
            item = self._graph_item(request)
            if isinstance(item, web.Response):
                return item
            return web.json_response({"value": js.permissions_json(item)})

    # --- Graph: pages, groups ----------------------------------------------------------------

    async def _pages(self, request: web.Request) -> web.Response:
        with self._locked():
            site = self._graph_site(request, request.match_info["site"])
            if isinstance(site, web.Response):
                return site
            top = self._top(request, self.page_size)
            state = self._skip(request)
            if isinstance(top, web.Response):
                return top
            if state is None:
                return graph_error(400, "invalidRequest", "Invalid skip token.")
            offset = int(state.get("o", 0))
            expand = "canvaslayout" in request.query.get("$expand", "").lower()
            chunk = site.pages[offset:offset + top]
            body: dict[str, Any] = {"value": [js.page_json(p, expand) for p in chunk]}
            if offset + top < len(site.pages):
                body["@odata.nextLink"] = self._next(request, o=offset + top)
            return web.json_response(body)

    def _find_page(self, request: web.Request) -> Any:
        site = self._graph_site(request, request.match_info["site"])
        if isinstance(site, web.Response):
            return site
        for page in site.pages:
            if page.id == request.match_info["page"]:
                return page
        return graph_error(404, "itemNotFound", "The page could not be found.")

    async def _page(self, request: web.Request) -> web.Response:
        with self._locked():
            page = self._find_page(request)
            if isinstance(page, web.Response):
                return page
            expand = "canvaslayout" in request.query.get("$expand", "").lower()
            return web.json_response(js.page_json(page, expand))

    async def _web_parts(self, request: web.Request) -> web.Response:
        with self._locked():
            page = self._find_page(request)
            if isinstance(page, web.Response):
                return page
            return web.json_response({"value": js.web_parts_json(page)})

    async def _members(self, request: web.Request) -> web.Response:
        with self._locked():
            app = self._graph_app(request)
            if isinstance(app, web.Response):
                return app
            if not self.app_roles.get(app, set()) & DIRECTORY:
                return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            group = self.aad_groups.get(request.match_info["group"])
            if group is None:
                return graph_error(404, "Request_ResourceNotFound", f"Resource '{request.match_info['group']}' "
                              "does not exist or one of its queried reference-property objects are not present.")
            top = self._top(request, 100)
            state = self._skip(request)
            if isinstance(top, web.Response):
                return top
            if state is None:
                return graph_error(400, "Request_BadRequest", "The specified page token value has expired.")
            only_users = request.path.endswith("/microsoft.graph.user")
            members = self._flatten(group, only_users)
            offset = int(state.get("o", 0))
            body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#directoryObjects",
                                    "value": members[offset:offset + top]}
            if offset + top < len(members):
                body["@odata.nextLink"] = self._next(request, o=offset + top)
            return web.json_response(body)

    def _flatten(self, group: AadGroup, only_users: bool) -> list[dict[str, Any]]:
        seen: set[str] = {group.id}
        emails: dict[str, None] = {}
        groups: list[AadGroup] = []
        queue = [group]
        while queue:
            current = queue.pop(0)
            emails.update(dict.fromkeys(e.lower() for e in current.members))
            for nested in current.nested:
                child = self.aad_groups.get(nested)
                if child is not None and child.id not in seen:
                    seen.add(child.id)
                    groups.append(child)
                    queue.append(child)
        out: list[dict[str, Any]] = [
            {"@odata.type": "#microsoft.graph.user", "id": user_id(e), "displayName": e.split("@")[0],
             "mail": e, "userPrincipalName": e} for e in emails]
        if not only_users:
            out += [{"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.display_name,
                     "mail": None} for g in groups]
        return out

