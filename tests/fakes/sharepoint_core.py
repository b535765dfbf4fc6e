"""The SharePoint stand-in's shared state and request plumbing: token checks, grants, paging
helpers and error bodies (Graph's ``{"error": {...}}``, SharePoint REST's ``odata.error``). The
handlers live in :mod:`tests.fakes.sharepoint_graph` and :mod:`tests.fakes.sharepoint_rest`; the
documented behaviours are listed in :mod:`tests.fakes.sharepoint`."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web

from tests.fakes.entra import GRAPH_RESOURCE, EntraStandIn
from tests.fakes.loopback import ThreadedSite
from tests.fakes.sharepoint_model import AadGroup, Item, Library, Site, new_lock

TENANT_WIDE = {"Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
DIRECTORY = {"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                inner: dict[str, str] | None = None) -> web.Response:
    request_id = str(uuid.uuid4())
    body = {"error": {"code": code, "message": message, "innerError": {
        **(inner or {}), "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "request-id": request_id, "client-request-id": request_id}}}
    return web.json_response(body, status=status, headers=headers)


def rest_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}},
                             status=status)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()



class SharePointCore:
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


    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return self.base + "/v1.0"

    @property
    def rest_url(self) -> str:
        return self.base + "/sp"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self.lock:
            self.calls.append((request.method, request.path_qs))
            throttled = self._throttle.pop(0) if self._throttle else None
        if throttled is not None:
            status, wait = throttled
            code = "TooManyRequests" if status == 429 else "serviceNotAvailable"
            return graph_error(status, code, "Too many requests." if status == 429 else "Service unavailable.",
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
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        claims = self._claims(request, GRAPH_RESOURCE)
        if claims is None:
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
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
            return graph_error(404, "itemNotFound", "Requested site could not be found")
        if not self._can_read(app, site):
            return graph_error(403, "accessDenied", "Access denied")
        return site

    def _graph_drive(self, request: web.Request) -> Library | web.Response:
        app = self._graph_app(request)
        if isinstance(app, web.Response):
            return app
        lib = self.drives.get(request.match_info["drive"])
        if lib is None:
            return graph_error(404, "itemNotFound", "The drive cannot be found")
        if not self._can_read(app, lib.site):
            return graph_error(403, "accessDenied", "Access denied")
        return lib

    def _graph_item(self, request: web.Request) -> Item | web.Response:
        lib = self._graph_drive(request)
        if isinstance(lib, web.Response):
            return lib
        key = request.match_info.get("item")
        item = lib.root if key is None else lib.items.get(key)
        if item is None or item.deleted:
            return graph_error(404, "itemNotFound", "The resource could not be found.")
        return item

    def _top(self, request: web.Request, default: int, limit: int = 999) -> int | web.Response:
        raw = request.query.get("$top")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= limit:
            return graph_error(400, "invalidRequest", f"Invalid page size specified: '{raw}'.")
        return min(int(raw), self.max_page_size)

    def _next(self, request: web.Request, **state: Any) -> str:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = b64(";".join(f"{k}={v}" for k, v in state.items()))
        return f"{self.base}{request.path}?{urlencode(query, safe='$,()')}"

    def _skip(self, request: web.Request) -> dict[str, str] | None:
        raw = request.query.get("$skiptoken")
        if raw is None:
            return {}
        try:
            return dict(part.split("=", 1) for part in unb64(raw).split(";"))
        except (ValueError, UnicodeDecodeError):
            return None

