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
  /sites?search=...`` (site-search; ``*`` all), ``GET /sites/{id}/drives`` (drive-list), ``GET /sites/{id}/drive`` (the default library),
  ``GET /drives/{id}``, ``GET /drives/{id}/root``, ``GET /drives/{id}/items/{item-id}``
  (with ``cTag``, ``parentReference.path``, ``@microsoft.graph.downloadUrl``).
- ``GET /drives/{id}/root/delta`` (driveitem-delta): pages of ``$top`` items (default
  :attr:`page_size`) with ``@odata.nextLink`` until the last page's ``@odata.deltaLink``; the
  token encodes a position in the drive's change log; the latest state of each changed item,
  once; ``deleted`` facet (no ``name``); no ``parentReference.path`` and no ``cTag`` (the docs'
  OneDrive for Business table); a folder move returns the folder only; ``token=latest``;
  ``$select`` (``id`` and ``deleted`` always); parents before children (a moved folder is sent
  ahead of its first descendant, once); a page may exceed ``$top`` by those folders. After :meth:`expire_delta_tokens` an older token
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

from typing import Self

from aiohttp import web

from tests.fakes.loopback import ThreadedSite
from tests.fakes.sharepoint_graph import GraphHandlers
from tests.fakes.sharepoint_model import AadGroup, Library, Site
from tests.fakes.sharepoint_rest import RestHandlers


class SharePointStandIn(GraphHandlers, RestHandlers):
    """Start with :meth:`start` (or use as a context manager); stop with :meth:`stop`."""

    # --- lifecycle -------------------------------------------------------------------------

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
        get("/v1.0/sites/{site}/drive", self._site_drive)
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

