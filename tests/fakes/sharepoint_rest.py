"""The SharePoint stand-in's SharePoint REST handlers (``/_api/web/roleassignments``, site
groups and their users, list items' role assignments and ``HasUniqueRoleAssignments``), in
``odata=nometadata`` JSON; behaviours and docs in :mod:`tests.fakes.sharepoint`."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.fakes import sharepoint_json as js
from tests.fakes.sharepoint_core import SharePointCore, rest_error
from tests.fakes.sharepoint_model import Site


class RestHandlers(SharePointCore):
    # --- SharePoint REST -----------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path, sep, rest = request.match_info["rest"].partition("/_api/")
        with self._locked():
            site = self.sites.get("/" + path.strip("/").lower())
            if not sep or site is None:
                return web.Response(status=404, text="404 NOT FOUND")
            header = request.headers.get("Authorization", "")
            claims = self._claims(request, self.resource)
            if claims is None:
                return web.json_response({"error_description": "Invalid JWT token."} if header else
                                         {"error_description": "Unauthorized"}, status=401,
                                         headers={"WWW-Authenticate": f'Bearer realm="{self.tenant}",'
                                                  'client_id="00000003-0000-0ff1-ce00-000000000000"'})
            if claims.get("appidacr") == "1":
                return web.json_response({"error_description": "Unsupported app only token."}, status=401,
                                         headers={"x-ms-diagnostics": '3001000;reason="There has been an error '
                                                  'authenticating the request.";category="invalid_client"'})
            if not self._can_read(str(claims["appid"]), site):
                return rest_error(403, "-2147024891, System.UnauthorizedAccessException",
                                   "Access denied.")
            if "application/json" not in request.headers.get("Accept", ""):
                return web.Response(text='<?xml version="1.0" encoding="utf-8"?><feed '
                                    'xmlns="http://www.w3.org/2005/Atom"/>', content_type="application/atom+xml")
            return self._rest_route(request, site, rest.rstrip("/"))

    def _rest_route(self, request: web.Request, site: Site, rest: str) -> web.Response:
        expand = {e.strip().lower() for e in request.query.get("$expand", "").split(",") if e.strip()}
        if rest == "web":
            return web.json_response({"Id": site.web_guid, "Title": site.title, "ServerRelativeUrl": site.path,
                                      "Url": site.web_url, "HasUniqueRoleAssignments": True})
        if rest == "web/roleassignments":
            rows = [js.assignment_json(p, r, site, expand) for p, r in js.assignments(site.unique)]
            return self._rest_page(request, rows)
        if rest == "web/sitegroups":
            return self._rest_page(request, [js.member_json(g, site) for g in site.groups.values()])
        match = re.fullmatch(r"web/sitegroups/getbyid\((\d+)\)(/users)?", rest)
        if match:
            group = site.groups.get(int(match.group(1)))
            if group is None:
                return rest_error(404, "-2146232832, Microsoft.SharePoint.SPException", "Group cannot be found.")
            if not match.group(2):
                return web.json_response(js.member_json(group, site))
            members = [m if m.startswith("aad:") else "user:" + m for m in group.members]
            return self._rest_page(request, [js.member_json(m, site) for m in members])
        # SP.Web.getFileByServerRelativeUrl(...)/ListItemAllFields: the file's list item (for a
        # site page, whether it inherits the site's permissions). REST names are case-insensitive.
        match = re.fullmatch(r"web/getfilebyserverrelativeurl\('(.*)'\)/listitemallfields", rest, re.IGNORECASE)
        if match:
            path = match.group(1).replace("''", "'")
            page = next((pg for pg in site.pages if f"{site.path}/SitePages/{pg.name}".lower() == path.lower()), None)
            if page is None:
                return rest_error(404, "-2130575338, Microsoft.SharePoint.SPException", "File Not Found.")
            return web.json_response({"HasUniqueRoleAssignments": page.unique})
        match = re.fullmatch(r"web/lists\(guid'([0-9a-fA-F-]+)'\)/items\((\d+)\)(/roleassignments)?", rest)
        if match:
            lib = next((x for x in site.libraries if x.list_id == match.group(1).lower()), None)
            if lib is None:
                return rest_error(404, "-1, System.ArgumentException", "List does not exist.")
            number = int(match.group(2))
            item = lib.by_number.get(number)
            if item is None or item.deleted:
                return rest_error(404, "-2147024809, System.ArgumentException", "Item does not exist. "
                                   "It may have been deleted by another user.")
            if match.group(3):
                grants = lib.effective(item)[0]
                rows = [js.assignment_json(p, r, site, expand) for p, r in js.assignments(grants)]
                return self._rest_page(request, rows)
            body = {"Id": number, "ID": number, "Title": None, "HasUniqueRoleAssignments": item.unique is not None,
                    "FileLeafRef": item.name, "GUID": item.unique_id}
            if "$select" in request.query:
                names = {n.strip() for n in request.query["$select"].split(",")}
                body = {k: v for k, v in body.items() if k in names}
            return web.json_response(body)
        return rest_error(404, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                           f"The expression \"{rest}\" is not valid.")

    def _rest_page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        top = self._top(request, self.rest_page_size, 5000)
        state = self._skip(request)
        if isinstance(top, web.Response) or state is None:
            return rest_error(400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", "Bad paging.")
        offset = int(state.get("o", 0))
        body: dict[str, Any] = {"value": rows[offset:offset + top]}
        if offset + top < len(rows):
            body["odata.nextLink"] = self._next(request, o=offset + top)
        return web.json_response(body)

