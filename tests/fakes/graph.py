"""A loopback Microsoft Graph stand-in for users and their transitive memberships.

Serve :meth:`GraphStandIn.app` with ``tests.fakes.loopback.serving`` and point a client at
``http://127.0.0.1:<port>/v1.0``. Tokens are checked against an
:class:`tests.fakes.entra.EntraStandIn`: the tenant is the token's ``tid``, as in Graph.

Documented behaviour covered:

- Auth (learn.microsoft.com/graph/auth-v2-service, /graph/errors): ``Authorization: Bearer``
  required -> else 401 ``InvalidAuthenticationToken`` "Access token is empty."; a token that is
  not a JWT the stand-in's Entra signed for ``https://graph.microsoft.com`` (signature, ``aud``,
  ``exp``, issuer matching ``tid``) -> 401 ``InvalidAuthenticationToken`` "Access token
  validation failure."; a tenant whose admin granted no application permission
  (:meth:`GraphStandIn.deny`) -> 403 ``Authorization_RequestDenied`` "Insufficient privileges
  to complete the operation.".
- Error bodies (learn.microsoft.com/graph/errors): ``{"error": {"code", "message",
  "innerError": {"date", "request-id", "client-request-id"}}}``, JSON.
- ``GET /v1.0/users/{id | userPrincipalName}`` (learn.microsoft.com/graph/api/user-get):
  without ``$select`` the default property set (``businessPhones``, ``displayName``,
  ``givenName``, ``jobTitle``, ``mail``, ``mobilePhone``, ``officeLocation``,
  ``preferredLanguage``, ``surname``, ``userPrincipalName``, ``id`` -- note: not ``userType``);
  with ``$select`` exactly those properties (an unknown one -> 400 ``Request_BadRequest``
  "Could not find a property named ..."), plus ``@odata.context``; an unknown user -> 404
  ``Request_ResourceNotFound`` "Resource '<id>' does not exist or one of its queried
  reference-property objects are not present.". ``mail`` may be null (no mailbox).
- ``GET /v1.0/users/{id}/transitiveMemberOf`` (user-list-transitivememberof): groups,
  directory roles and administrative units, each with ``@odata.type``; with the OData cast
  ``/microsoft.graph.group`` only groups. Default page size 100, ``$top`` up to 999 (the
  stand-in's ``page_size`` lowers the server's page to exercise paging); further pages by an
  absolute ``@odata.nextLink`` carrying the original query plus an opaque ``$skiptoken`` (an
  unknown token -> 400); ``$select`` limits the properties.
- Throttling (learn.microsoft.com/graph/throttling): :meth:`GraphStandIn.throttle` answers 429
  ``TooManyRequests`` with ``Retry-After`` (seconds); :meth:`GraphStandIn.fail` answers 503
  ``serviceNotAvailable`` (with ``Retry-After`` when given) or any status.

Not covered: ``$filter``/``$search``/``$count`` (ConsistencyLevel), ``$expand``, delegated
tokens and ``/me``, groups' own properties beyond ``id`` and ``displayName``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web

from tests.fakes.entra import GRAPH_RESOURCE, EntraStandIn

GROUP = "#microsoft.graph.group"
ROLE = "#microsoft.graph.directoryRole"
ADMIN_UNIT = "#microsoft.graph.administrativeUnit"
USER_PROPERTIES = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "userPrincipalName",
    "userType",
    "jobTitle",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "businessPhones",
    "accountEnabled",
    "externalUserState",
    "creationType",
)
DEFAULT_USER = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


@dataclass
class DirectoryObject:
    id: str
    odata_type: str = GROUP
    display_name: str = ""


@dataclass
class User:
    id: str
    user_principal_name: str
    mail: str | None = None
    user_type: str = "Member"
    display_name: str = ""
    member_of: list[DirectoryObject] = field(default_factory=list)

    def properties(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name or None,
            "givenName": None,
            "surname": None,
            "mail": self.mail,
            "userPrincipalName": self.user_principal_name,
            "userType": self.user_type,
            "jobTitle": None,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "businessPhones": [],
            "accountEnabled": True,
            "externalUserState": "Accepted" if self.user_type == "Guest" else None,
            "creationType": "Invitation" if self.user_type == "Guest" else None,
        }


@dataclass(frozen=True)
class Seen:
    method: str
    path_qs: str
    tenant: str | None
    authorization: str | None


class GraphStandIn:
    def __init__(self, entra: EntraStandIn, *, page_size: int = 100) -> None:
        self.entra = entra
        self.page_size = page_size
        self.port = 0
        self.requests: list[Seen] = []
        self._users: dict[str, dict[str, User]] = {}  # tenant -> id/upn (lowercase) -> user
        self._denied: set[str] = set()
        self._pages: dict[str, tuple[str, str, list[dict[str, Any]], int]] = {}
        self._throttle: list[float] = []
        self._failures: list[tuple[int, float | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    # --- test controls ---------------------------------------------------------------------

    def add_user(self, tenant_id: str, user: User) -> User:
        users = self._users.setdefault(tenant_id.lower(), {})
        users[user.id.lower()] = user
        users[user.user_principal_name.lower()] = user
        return user

    def deny(self, tenant_id: str) -> None:
        """The tenant's admin has not consented to the app's Graph permissions: 403."""
        self._denied.add(tenant_id.lower())

    def throttle(self, count: int = 1, retry_after: float = 1) -> None:
        """The next ``count`` requests get 429 with ``Retry-After: retry_after``."""
        self._throttle.extend([retry_after] * count)

    def fail(self, status: int = 503, count: int = 1, retry_after: float | None = None) -> None:
        self._failures.extend([(status, retry_after)] * count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1.0/users/{user}", self._user)
        app.router.add_get("/v1.0/users/{user}/transitiveMemberOf", self._member_of)
        app.router.add_get(
            "/v1.0/users/{user}/transitiveMemberOf/microsoft.graph.group", self._member_of
        )
        return app

    # --- handlers --------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> str | web.Response:
        header = request.headers.get("Authorization")
        tenant: str | None = None
        try:
            if not header or not header.startswith("Bearer ") or not header[7:].strip():
                return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
            try:
                claims = self.entra.verify_access_token(header[7:].strip(), GRAPH_RESOURCE)
            except jwt.InvalidTokenError:
                return _error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token validation failure. Invalid audience.",
                )
            tenant = str(claims["tid"]).lower()
        finally:
            self.requests.append(Seen(request.method, request.path_qs, tenant, header))
        if self._failures:
            status, wait = self._failures.pop(0)
            headers = {"Retry-After": f"{wait:g}"} if wait is not None else {}
            return _error(status, "serviceNotAvailable", "Service unavailable.", headers)
        if self._throttle:
            wait = self._throttle.pop(0)
            return _error(
                429, "TooManyRequests", "Too many requests.", {"Retry-After": f"{wait:g}"}
            )
        if tenant in self._denied:
            return _error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return tenant

    def _find(self, tenant: str, key: str) -> User | None:
        return self._users.get(tenant, {}).get(key.lower())

    async def _user(self, request: web.Request) -> web.Response:
        tenant = self._authorize(request)
        if isinstance(tenant, web.Response):
            return tenant
        key = request.match_info["user"]
        user = self._find(tenant, key)
        if user is None:
            return _not_found(key)
        select = _select(request, USER_PROPERTIES, DEFAULT_USER)
        if isinstance(select, web.Response):
            return select
        props = user.properties()
        body = {"@odata.context": f"{self.url}/$metadata#users({','.join(select)})/$entity"}
        body.update({name: props[name] for name in select})
        return web.json_response(body)

    async def _member_of(self, request: web.Request) -> web.Response:
        tenant = self._authorize(request)
        if isinstance(tenant, web.Response):
            return tenant
        skiptoken = request.query.get("$skiptoken")
        if skiptoken is not None:
            page = self._pages.get(skiptoken)
            if page is None or page[0] != tenant or page[1] != request.path:
                return _error(
                    400,
                    "Request_BadRequest",
                    "The specified page token value has expired "
                    "and can no longer be included in your request.",
                )
            _, _, items, offset = page
        else:
            key = request.match_info["user"]
            user = self._find(tenant, key)
            if user is None:
                return _not_found(key)
            cast = request.path.endswith("/microsoft.graph.group")
            select = _select(request, ("id", "displayName"), ("id", "displayName"))
            if isinstance(select, web.Response):
                return select
            items = [
                {
                    "@odata.type": o.odata_type,
                    **{n: (o.id if n == "id" else o.display_name or None) for n in select},
                }
                for o in user.member_of
                if not cast or o.odata_type == GROUP
            ]
            offset = 0
        top = request.query.get("$top")
        size = self.page_size
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= 999:
                return _error(
                    400,
                    "Request_BadRequest",
                    f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
                )
            size = min(size, int(top))
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/$metadata#directoryObjects",
            "value": items[offset : offset + size],
        }
        if offset + size < len(items):
            token = secrets.token_urlsafe(24)
            self._pages[token] = (tenant, request.path, items, offset + size)
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = token
            body["@odata.nextLink"] = (
                f"http://127.0.0.1:{self.port}{request.path}?{urlencode(query, safe='$,')}"
            )
        return web.json_response(body)


def _select(
    request: web.Request, known: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...] | web.Response:
    raw = request.query.get("$select")
    if raw is None:
        return default
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    for name in names:
        if name not in known:
            return _error(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
            )
    return names


def _not_found(key: str) -> web.Response:
    return _error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of "
        "its queried reference-property objects are not present.",
    )


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
    return web.json_response(body, status=status, headers=headers)
