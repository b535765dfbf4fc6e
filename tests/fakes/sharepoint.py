"""A loopback Microsoft Graph (sites, drives, delta, content, permissions, pages, groups) and
SharePoint REST (role assignments, site groups) stand-in, for the SharePoint Online connector.

Plain HTTP on 127.0.0.1 from its own thread (:class:`tests.fakes.loopback.ThreadedSite`), so
synchronous clients and any event loop can call it. ``graph_url`` stands for
``https://graph.microsoft.com/v1.0``; ``rest_url`` for ``https://contoso.sharepoint.com`` (a site's
REST root is ``rest_url + site path + "/_api/"``). ``webUrl`` values name the real host, as Graph
does; map them onto ``rest_url`` by the site's path.

Documented behaviour covered (learn.microsoft.com/graph/...):

- Tokens (/graph/auth-v2-service, /graph/errors): ``Authorization: Bearer`` from the
  :class:`tests.fakes.entra.EntraStandIn` -- signature, ``aud`` (Graph:
  ``https://graph.microsoft.com``; REST: ``https://<host>``), expiry, issuer, ``tid`` = the
  stand-in's tenant -- else 401 ``InvalidAuthenticationToken``. SharePoint REST refuses an
  app-only token obtained with a client secret (``appidacr`` 1): 401 with
  ``{"error_description": "Unsupported app only token."}`` (learn.microsoft.com/sharepoint/dev/
  solution-guidance/security-apponly-azuread: app-only REST needs a certificate).
- Grants: ``Sites.Read.All`` (or ReadWrite/FullControl) reaches every site; ``Sites.Selected``
  only sites granted by :meth:`SharePointStandIn.grant_app_site` (/graph/api/site-post-permissions);
  otherwise 403 ``accessDenied`` "Access denied" (REST: 403 ``odata.error``
  System.UnauthorizedAccessException). ``/groups/{id}/transitiveMembers`` needs
  ``GroupMember.Read.All``, ``Group.Read.All`` or ``Directory.Read.All`` (/graph/api/
  group-list-transitivemembers) -> else 403 ``Authorization_RequestDenied``. With
  ``Sites.Selected`` ``/sites?search=`` lists only the granted sites.
- ``GET /sites/{host}:/{path}`` (site-getbypath), ``GET /sites/{site-id}``, ``GET
  /sites?search=...`` (site-search; ``*`` all), ``GET /sites/{id}/drives`` (drive-list),
  ``GET /drives/{id}``, ``GET /drives/{id}/root``, ``GET /drives/{id}/items/{item-id}``
  (with ``cTag``, ``parentReference.path``, ``@microsoft.graph.downloadUrl``).
- ``GET /drives/{id}/root/delta`` (driveitem-delta): pages of ``$top`` items (default
  :attr:`page_size`) with ``@odata.nextLink`` until the last page's ``@odata.deltaLink``; the
  token encodes a position in the drive's change log; the latest state of each changed item,
  once; ``deleted`` facet (no ``name``); no ``parentReference.path`` and no ``cTag`` (the docs'
  OneDrive for Business table); a folder move returns the folder only; ``token=latest``;
  ``$select`` (``id`` and ``deleted`` always). After :meth:`expire_delta_tokens` an older token
  answers 410 Gone, ``{"error": {"code": "resyncRequired", "innerError": {"code":
  "resyncChangesApplyDifferences"}}}`` and ``Location`` = a fresh enumeration's URL.
- ``GET /drives/{id}/items/{item-id}/content`` (driveitem-get-content): 302 to a
  pre-authenticated URL that needs no Authorization (one sent is ignored) and expires
  (:attr:`download_lifetime`, :meth:`expire_download_urls`) -> 401; the body is streamed.
- ``GET /drives/{id}/items/{item-id}/permissions`` (driveitem-list-permissions, resources/
  permission): ``roles`` read/write/owner (Limited Access not listed), ``grantedToV2`` with
  ``user``/``group``/``siteUser``/``siteGroup``, sharing links with ``link.scope``
  anonymous/organization/users and ``grantedToIdentitiesV2``, ``inheritedFrom`` when inherited.
- ``GET /groups/{id}/transitiveMembers`` [``/microsoft.graph.user``]: users (``mail``,
  ``userPrincipalName``) and nested groups, flattened; ``$top`` 1..999, ``@odata.nextLink``.
- ``GET /sites/{id}/pages`` and ``/pages/microsoft.graph.sitePage`` (sitepage-list),
  ``/pages/{page-id}/microsoft.graph.sitePage`` (sitepage-get) with ``$expand=canvasLayout``
  (textWebPart ``innerHtml``), ``.../microsoft.graph.sitePage/webParts``; paged like delta.
- SharePoint REST (``Accept: application/json;odata=nometadata``; without a JSON Accept the
  service answers Atom XML): ``_api/web``, ``_api/web/roleassignments``,
  ``_api/web/sitegroups``, ``_api/web/sitegroups/getbyid(N)/users``,
  ``_api/web/lists(guid'..')/items(N)[/roleassignments]`` (an inheriting item reports the
  assignments it inherits; ``HasUniqueRoleAssignments``); ``$expand=Member,RoleDefinitionBindings``;
  pages of :attr:`rest_page_size` with ``odata.nextLink``.
- Throttling (/graph/throttling): :meth:`throttle` answers the next requests 429 (or 503) with
  ``Retry-After``; errors in Graph's ``{"error": {"code", "message", "innerError"}}`` shape.

- ``file.hashes.quickXorHash`` (learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash)
  on files, in delta too; a permission change logs the item (new ``eTag``, same hash and
  ``lastModifiedDateTime``) -- sharing changes appear in delta (driveitem-delta, "Scanning
  permissions hierarchies"); site-level grants and group memberships do not.

Test controls (the shared control API, plus extras marked +): ``SharePointStandIn(entra,
tenant, host)``, ``start``/``stop``/context manager, ``graph_url``, ``rest_url``, ``calls``
(every request: (method, path with query)), ``throttle(count, status, retry_after)``,
``add_site(path, title)`` -> :class:`Site` (``id``, ``default``, ``owners``/``members``/
``visitors``, ``add_library``, ``add_site_group``, ``set_group_members``, ``grant``, + ``revoke``,
``add_page`` -> :class:`Page` (+ ``update``), + ``delete_page``); :class:`Library`
(``add_folder``, ``add_file``, ``edit``, ``delete``, ``move``, + ``rename``, ``copy_in``, +
``item(path)``); :class:`Item` (``break_inheritance(copy)``, ``grant``, + ``revoke``,
+ ``reset_inheritance``, ``share_link(scope, users)``, + ``remove_link``); principals
``"user:<email>"``, ``"aad:<object id>"``, a site group, + ``"everyone"`` (Everyone except
external users); ``add_aad_group(id, members, nested, + display_name)``, ``grant_app``,
``grant_app_site``, ``expire_delta_tokens(lib)``, + ``expire_download_urls()``, +
``page_size`` (delta/pages default page), + ``max_page_size`` (caps ``$top``), +
``rest_page_size``, + ``download_lifetime`` (seconds).

Not covered: writes through the API, ``Prefer`` headers of delta, ``$filter``, list items API,
Range requests, versions, the recycle bin, ``roles`` claims in tokens (grants are looked up at
request time, so a grant takes effect without a new token).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import quote, urlencode

import jwt
from aiohttp import web

from tests.fakes import sharepoint_json as js
from tests.fakes.entra import GRAPH_RESOURCE, EntraStandIn
from tests.fakes.loopback import ThreadedSite
from tests.fakes.sharepoint_model import AadGroup, Item, Library, Site, new_lock, user_id

TENANT_WIDE = {"Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
DIRECTORY = {"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           inner: dict[str, str] | None = None) -> web.Response:
    request_id = str(uuid.uuid4())
    body = {"error": {"code": code, "message": message, "innerError": {
        **(inner or {}), "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "request-id": request_id, "client-request-id": request_id}}}
    return web.json_response(body, status=status, headers=headers)


def _rest_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}},
                             status=status)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


class SharePointStandIn:
    def __init__(self, entra: EntraStandIn, tenant_id: str, host: str = "contoso.sharepoint.com") -> None:
        self.entra = entra
        self.tenant = tenant_id.lower()
        self.host = host
        self.resource = f"https://{host}"
        entra.register_resource(self.resource)
        self.lock = new_lock()
        self.sites: dict[str, Site] = {}  # server-relative path (lowercase) -> site
        self.drives: dict[str, Library] = {}
        self.aad_groups: dict[str, AadGroup] = {}
        self.app_roles: dict[str, set[str]] = {}
        self.site_grants: dict[str, dict[str, str]] = {}  # appid -> site id -> role
        self.calls: list[tuple[str, str]] = []
        self.page_size = 200
        self.rest_page_size = 100
        self.max_page_size = 999  # lower it to make pages short whatever $top asks for
        self.download_lifetime = 3600.0
        self._downloads: dict[str, tuple[str, str, float]] = {}  # tempauth -> (drive, item, expiry)
        self._throttle: list[tuple[int, float]] = []
        self._server: ThreadedSite | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return self.base + "/v1.0"

    @property
    def rest_url(self) -> str:
        return self.base + "/sp"

    def start(self) -> Self:
        self._server = ThreadedSite("SharePoint stand-in", self._app)
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls ---------------------------------------------------------------------

    def add_site(self, path: str, title: str = "") -> Site:
        with self.lock:
            site = Site(self, path, title or path.rstrip("/").rsplit("/", 1)[-1])
            self.sites[site.path.lower()] = site
            return site

    def add_aad_group(self, object_id: str, members: list[str] | None = None,
                      nested: list[str] | None = None, display_name: str = "") -> AadGroup:
        with self.lock:
            group = AadGroup(object_id, display_name or f"Group {object_id[:8]}", list(members or []),
                             list(nested or []))
            self.aad_groups[object_id] = group
            return group

    def grant_app(self, app_id: str, permission: str) -> None:
        """An application permission an admin consented to (Sites.Read.All, Sites.Selected,
        GroupMember.Read.All, ...)."""
        with self.lock:
            self.app_roles.setdefault(app_id, set()).add(permission)

    def grant_app_site(self, app_id: str, site: Site, role: str = "read") -> None:
        """Sites.Selected: the admin's ``POST /sites/{id}/permissions`` for this app."""
        with self.lock:
            self.app_roles.setdefault(app_id, set()).add("Sites.Selected")
            self.site_grants.setdefault(app_id, {})[site.id] = role

    def throttle(self, count: int, status: int = 429, retry_after: float = 1) -> None:
        with self.lock:
            self._throttle.extend([(status, retry_after)] * count)

    def expire_delta_tokens(self, lib: Library) -> None:
        with self.lock:
            lib.epoch += 1

    def expire_download_urls(self) -> None:
        with self.lock:
            self._downloads = {k: (d, i, 0.0) for k, (d, i, _) in self._downloads.items()}

    # --- plumbing --------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        get = app.router.add_get
        get("/v1.0/sites", self._sites_search)
        get("/v1.0/sites/{site}/drives", self._site_drives)
        get("/v1.0/sites/{site}/pages", self._pages)
        get("/v1.0/sites/{site}/pages/microsoft.graph.sitePage", self._pages)
        get("/v1.0/sites/{site}/pages/{page}/microsoft.graph.sitePage", self._page)
        get("/v1.0/sites/{site}/pages/{page}/microsoft.graph.sitePage/webParts", self._web_parts)
        get("/v1.0/sites/{site:.+}", self._site)
        get("/v1.0/drives/{drive}", self._drive)
        get("/v1.0/drives/{drive}/root", self._item)
        get("/v1.0/drives/{drive}/root/delta", self._delta)
        get("/v1.0/drives/{drive}/items/{item}", self._item)
        get("/v1.0/drives/{drive}/items/{item}/content", self._content)
        get("/v1.0/drives/{drive}/items/{item}/permissions", self._permissions)
        get("/v1.0/groups/{group}/transitiveMembers", self._members)
        get("/v1.0/groups/{group}/transitiveMembers/microsoft.graph.user", self._members)
        get("/download/{tempauth}", self._download)
        get("/sp/{rest:.*}", self._rest)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self.lock:
            self.calls.append((request.method, request.path_qs))
            throttled = self._throttle.pop(0) if self._throttle else None
        if throttled is not None:
            status, wait = throttled
            code = "TooManyRequests" if status == 429 else "serviceNotAvailable"
            return _error(status, code, "Too many requests." if status == 429 else "Service unavailable.",
                          {"Retry-After": f"{wait:g}"})
        result: web.StreamResponse = await handler(request)
        return result

    def _claims(self, request: web.Request, audience: str) -> dict[str, Any] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return None
        try:
            claims = self.entra.verify_access_token(header[7:].strip(), audience)
        except jwt.InvalidTokenError:
            return None
        return claims if str(claims.get("tid", "")).lower() == self.tenant else None

    def _graph_app(self, request: web.Request) -> str | web.Response:
        if not request.headers.get("Authorization"):
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        claims = self._claims(request, GRAPH_RESOURCE)
        if claims is None:
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        return str(claims["appid"])

    def _can_read(self, app_id: str, site: Site) -> bool:
        roles = self.app_roles.get(app_id, set())
        return bool(roles & TENANT_WIDE) or (
            "Sites.Selected" in roles and site.id in self.site_grants.get(app_id, {}))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def _find_site(self, key: str) -> Site | None:
        if ":" in key:  # {hostname}:/{server-relative-path}[:]
            host, _, path = key.partition(":")
            if host.lower() != self.host:
                return None
            return self.sites.get("/" + path.strip(":/").lower())
        for site in self.sites.values():
            if key in (site.id, f"{site.site_guid}", f"{self.host},{site.site_guid}"):
                return site
        return None

    def _graph_site(self, request: web.Request, key: str) -> Site | web.Response:
        app = self._graph_app(request)
        if isinstance(app, web.Response):
            return app
        site = self._find_site(key)
        if site is None:
            return _error(404, "itemNotFound", "Requested site could not be found")
        if not self._can_read(app, site):
            return _error(403, "accessDenied", "Access denied")
        return site

    def _graph_drive(self, request: web.Request) -> Library | web.Response:
        app = self._graph_app(request)
        if isinstance(app, web.Response):
            return app
        lib = self.drives.get(request.match_info["drive"])
        if lib is None:
            return _error(404, "itemNotFound", "The drive cannot be found")
        if not self._can_read(app, lib.site):
            return _error(403, "accessDenied", "Access denied")
        return lib

    def _graph_item(self, request: web.Request) -> Item | web.Response:
        lib = self._graph_drive(request)
        if isinstance(lib, web.Response):
            return lib
        key = request.match_info.get("item")
        item = lib.root if key is None else lib.items.get(key)
        if item is None or item.deleted:
            return _error(404, "itemNotFound", "The resource could not be found.")
        return item

    def _top(self, request: web.Request, default: int, limit: int = 999) -> int | web.Response:
        raw = request.query.get("$top")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= limit:
            return _error(400, "invalidRequest", f"Invalid page size specified: '{raw}'.")
        return min(int(raw), self.max_page_size)

    def _next(self, request: web.Request, **state: Any) -> str:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _b64(";".join(f"{k}={v}" for k, v in state.items()))
        return f"{self.base}{request.path}?{urlencode(query, safe='$,()')}"

    def _skip(self, request: web.Request) -> dict[str, str] | None:
        raw = request.query.get("$skiptoken")
        if raw is None:
            return {}
        try:
            return dict(part.split("=", 1) for part in _unb64(raw).split(";"))
        except (ValueError, UnicodeDecodeError):
            return None

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
                return _error(400, "invalidRequest", "Listing sites needs ?search= (site-search).")
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
        token = _b64(f"{lib.id};{lib.epoch};{position}")
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
                return _error(400, "invalidRequest", "Invalid skip token.")
            if token == "latest":
                return web.json_response({"value": [], "@odata.deltaLink": self._delta_link(lib, len(lib.log))})
            epoch = lib.epoch
            if state:
                start, end, cursor, epoch = (int(state[k]) for k in ("s", "e", "c", "g"))
            elif token is not None:
                try:
                    drive, generation, position = _unb64(token).split(";")
                    start, epoch = int(position), int(generation)
                except (ValueError, UnicodeDecodeError):
                    return _error(400, "invalidRequest", "Invalid delta token.")
                if drive != lib.id:
                    return _error(400, "invalidRequest", "The delta token is for another drive.")
                end, cursor = len(lib.log), start
            else:
                start, end, cursor = 0, len(lib.log), 0
            if epoch != lib.epoch:
                fresh = f"{self.graph_url}/drives/{lib.id}/root/delta"
                return _error(410, "resyncRequired", "Resync required. Replace any local items with the server's "
                              "version (including deletes) if you're sure that the service was up to date with your "
                              "local changes when you last sync'd.", {"Location": fresh},
                              inner={"code": "resyncChangesApplyDifferences"})
            select = set(request.query["$select"].split(",")) if "$select" in request.query else None
            items, cursor = lib.delta_page(start, end, cursor, top)
            body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#Collection(driveItem)",
                                    "value": [js.item_json(i, in_delta=True, select=select) for i in items]}
            if cursor < end:
                body["@odata.nextLink"] = self._next(request, s=start, e=end, c=cursor, g=epoch)
            else:
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
                return _error(400, "invalidRequest", "Folders have no content.")
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
                return _error(400, "invalidRequest", "Invalid skip token.")
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
        return _error(404, "itemNotFound", "The page could not be found.")

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
                return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            group = self.aad_groups.get(request.match_info["group"])
            if group is None:
                return _error(404, "Request_ResourceNotFound", f"Resource '{request.match_info['group']}' "
                              "does not exist or one of its queried reference-property objects are not present.")
            top = self._top(request, 100)
            state = self._skip(request)
            if isinstance(top, web.Response):
                return top
            if state is None:
                return _error(400, "Request_BadRequest", "The specified page token value has expired.")
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
                return _rest_error(403, "-2147024891, System.UnauthorizedAccessException",
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
                return _rest_error(404, "-2146232832, Microsoft.SharePoint.SPException", "Group cannot be found.")
            if not match.group(2):
                return web.json_response(js.member_json(group, site))
            members = [m if m.startswith("aad:") else "user:" + m for m in group.members]
            return self._rest_page(request, [js.member_json(m, site) for m in members])
        match = re.fullmatch(r"web/lists\(guid'([0-9a-fA-F-]+)'\)/items\((\d+)\)(/roleassignments)?", rest)
        if match:
            lib = next((x for x in site.libraries if x.list_id == match.group(1).lower()), None)
            if lib is None:
                return _rest_error(404, "-1, System.ArgumentException", "List does not exist.")
            number = int(match.group(2))
            item = next((i for i in lib.items.values() if i.list_item_id == number and not i.deleted), None)
            if item is None:
                return _rest_error(404, "-2147024809, System.ArgumentException", "Item does not exist. "
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
        return _rest_error(404, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                           f"The expression \"{rest}\" is not valid.")

    def _rest_page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        top = self._top(request, self.rest_page_size, 5000)
        state = self._skip(request)
        if isinstance(top, web.Response) or state is None:
            return _rest_error(400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", "Bad paging.")
        offset = int(state.get("o", 0))
        body: dict[str, Any] = {"value": rows[offset:offset + top]}
        if offset + top < len(rows):
            body["odata.nextLink"] = self._next(request, o=offset + top)
        return web.json_response(body)
