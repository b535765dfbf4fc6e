"""A loopback stand-in for Confluence Cloud's REST API v1, under the ``/wiki`` context path.

Point a client at :attr:`ConfluenceStandIn.wiki_url` (``http://127.0.0.1:<port>/wiki``). The
stand-in serves aiohttp on 127.0.0.1; use :meth:`ConfluenceStandIn.running` from async code, or
:meth:`ConfluenceStandIn.serving` / :meth:`ConfluenceStandIn.start_in_thread` for synchronous
clients such as atlassian-python-api (the server then runs its own event loop in a thread).

Documented behaviour it follows (developer.atlassian.com/cloud/confluence/rest/v1 unless noted):

- Everything lives under ``/wiki``; any other path -> 404 (so a client that drops the context
  path, e.g. by joining a relative ``next`` link to the site root, fails loudly).
- Auth: Cloud basic auth ``email:api_token``; with ``bearer_tokens`` (Data Center personal access
  tokens) ``Authorization: Bearer <PAT>`` too. Missing/wrong -> 401 with a JSON error body. The
  attachment download path needs the same auth.
- ``GET /wiki/rest/api/content/search?cql=&limit=&cursor=&expand=``: a CQL subset --
  ``type = page`` / ``type in (page, blogpost)``, ``space = "A"`` / ``space in ("A","B")`` /
  ``space != / not in``, ``label = "x"`` / ``label in ("a","b")`` / ``label != "x"`` /
  ``label not in (...)``, ``lastmodified >= "yyyy/MM/dd HH:mm"`` (also ``>``, ``<``, ``<=``,
  ``=``; ``yyyy/MM/dd`` or ``yyyy-MM-dd``), ``AND``, ``order by lastmodified asc|desc`` (also
  ``title``, ``created``); operators per field as in the CQL field reference
  (developer.atlassian.com/cloud/confluence/cql-fields). Anything else -> 400 ``{"statusCode":
  400, "message": "Could not parse cql : ..."}``. Only ``current`` content in ``current`` spaces
  is found (not drafts, trashed or archived pages, nor pages of archived spaces). Attachments
  are content too (``type = attachment``; their container's space, their own modification time;
  the attachment JSON of ``child/attachment``, ``expand=container`` honoured). Cursor
  pagination: ``_links.next`` is RELATIVE to ``_links.base`` (``http://127.0.0.1:<port>/wiki``) as
  in Atlassian's example (``"/rest/api/content/search?cql=...&limit=25&cursor=..."``);
  ``_links.context`` is ``/wiki``. Construct with ``next_links_include_context=True`` to emit
  ``/wiki/rest/api/...`` instead. A bad cursor -> 400.
- Search ``limit`` caps (the response's ``limit`` shows the cap): 25 when ``expand`` has
  ``body.export_view``/``body.styled_view`` (documented for ``/wiki/rest/api/search``,
  api-group-search: "restricted to a maximum value of 25"; applied to content/search too); 50 for
  any other ``body.*`` expansion (Atlassian KB "Searching for content with the REST API and CQL
  always limits results to 50", confluence.atlassian.com/confkb/searching-for-content-with-the-
  rest-api-and-cql-always-limits-results-to-50-1032258424.html: body -> 50, other expansions ->
  200, none -> 1000; written for Data Center, the 50 is widely reported for Cloud too); otherwise
  :data:`MAX_LIMIT` (100).
- ``GET /wiki/rest/api/content/{id}?expand=...&status=...``: ``body.storage``, ``version``
  (``by``: the user of the last edit, ``edit_page(by=)``, else the creator), ``history``
  (``createdBy``: the creator, ``add_page(author=)``), ``ancestors`` (root first, drafts
  included with ``status: "draft"``), ``space``, ``metadata.labels`` (``{"results":
  [{"prefix": "global", "name", "id", "label"}], "start": 0, "limit": 200, "size": n}``),
  ``restrictions.read.restrictions.user`` / ``.group``; unexpanded
  properties are listed in ``_expandable``. ``status`` may repeat (``status=current&status=
  archived``) or be ``any`` (documented). Drafts are found only with ``status=draft``, archived
  pages only with ``status=archived`` (or ``any``); purged content and unknown ids -> 404
  ``{"statusCode": 404, "message": ...}``. Trashed content answers with ``status: "trashed"``.
- ``GET /wiki/rest/api/content/{id}/restriction/byOperation`` and ``.../byOperation/read``:
  ``restrictions.user.results`` (users with ``accountId``) and ``restrictions.group.results``
  (groups with ``id`` and ``name``), each with ``start``/``limit``/``size``. Drafts -> 404.
- ``GET /wiki/rest/api/space?spaceKey=A&spaceKey=B&type=global|personal&status=current|archived
  &start=&limit=&expand=``: offset paged (default 25), relative ``_links.next`` that keeps every
  repeated ``spaceKey``; other ``type``/``status`` values -> 400.
- ``GET /wiki/rest/api/space/{key}?expand=permissions``: space with ``permissions`` entries
  ``{"subjects": {"user"|"group": {"results": [...], "size": n}}, "operation": {"operation":
  "read", "targetType": "space"}, "anonymousAccess", "unlicensedAccess"}``; an anonymous grant has
  ``anonymousAccess: true`` and no ``subjects``; unknown or removed space -> 404.
- ``GET /wiki/rest/api/content/{id}/child/attachment?start=&limit=&filename=&mediaType=&expand=``:
  offset paged, relative ``_links.next``; each result has ``id`` (``att<digits>``), ``type:
  "attachment"``, ``status``, ``title`` (the file name), ``extensions.mediaType`` /
  ``.fileSize``, ``metadata.mediaType``, ``version`` / ``container`` when expanded, and
  ``_links.download`` RELATIVE to the wiki base (``/download/attachments/<page>/<file>?version=1
  &modificationDate=<ms>&cacheVersion=1&api=v2``). Unknown/purged/draft container -> 404; a
  trashed page lists no attachments. ``GET /wiki/download/attachments/<page>/<file>`` serves the
  bytes (Content-Type, Content-Length); ``?version=`` other than the current one -> 404.
  ``GET /wiki/rest/api/content/{id}/child/attachment/{attId}/download`` (Cloud; "redirects the
  client to a URL that serves an attachment's binary data") answers 302 to that download path;
  atlassian-python-api's Cloud ``download_attachments_from_page`` uses it.
- Group members, offset paged with ``start``/``limit`` and a relative ``_links.next``:
  ``/wiki/rest/api/group/{groupId}/membersByGroupId`` (current Cloud endpoint),
  ``/wiki/rest/api/group/member?name=`` and ``/wiki/rest/api/group/{groupName}/member``
  (deprecated by-name forms). ``group/member?groupId=`` is accepted too (not documented).
- ``GET /wiki/rest/api/user?accountId=``: ``email`` is ``""`` when the user's profile visibility
  hides it (``add_user(..., hidden=True)``); unknown account -> 404.
- Failures, scripted per path prefix with :meth:`fail_next`: 429 with ``Retry-After``, 500/503
  with an Atlassian JSON error body, or ``garbage=True`` (200 with a non-JSON HTML body).

Not confirmed from the documentation (best knowledge): the exact 401 body; whether a trashed
page is returned without ``status=trashed`` (here it is); whether an archived page is returned
without ``status`` (here it is not -- the stricter choice; the content-property docs say their
default is ``current`` and ``archived``, the content docs only document ``any``); the default
``limit`` 100 cap without body expansion; ``prev`` links are not emitted; the space-permission
shape (v1 ``space?expand=permissions``; Cloud v2 documents ``/wiki/api/v2/spaces/{id}/permissions``
instead, not served here) and the anonymous entry without ``subjects``; the space list's cap
(100) and order (by key); the attachment list's default/cap (50/200), ``webui`` link and
``Content-Disposition``; that Cloud may answer the download path with a redirect to its media
service (here the bytes come straight back); that labels are stored and matched lower-case and
cannot contain whitespace; that content of archived spaces is not found (``/rest/api/search``
documents ``includeArchivedSpaces``, default false).
CQL dates: Confluence Cloud reads a CQL date literal as wall-clock time in the requesting user's
profile time zone (widely reported; not stated in the CQL reference). ``cql_timezone`` (an IANA
name, default ``UTC``) emulates it; the page's modified time is truncated to the minute and JSON
timestamps stay UTC ``...Z``.
A CQL ``space`` naming a space that does not exist: here 200 with no results for that space, as
for a space the user cannot see (best knowledge for Cloud; the expected result in the Data Center
bug report, fixed there); Data Center 9.2 answered 500 and
9.3.1 400 ``"parameters should not be empty"`` (jira.atlassian.com/browse/CONFSERVER-101465).
Construct with ``cql_unknown_space_is_error=True`` for the 400.

Test helpers: :meth:`add_space`, :meth:`archive_space`, :meth:`remove_space`, :meth:`add_page`
(``labels=``), :meth:`set_labels`, :meth:`edit_page`, :meth:`trash_page`, :meth:`archive_page`,
:meth:`purge_page`, :meth:`set_read_restrictions`, :meth:`add_attachment`,
:meth:`remove_attachment`, :meth:`add_group`, :meth:`add_user`, :meth:`set_space_permission`
(``anonymous=True``), :meth:`fail_next`, :meth:`calls`. Every request is recorded (method,
path, query, headers, status). ``port=`` serves on a fixed port (see ``confluence_demo``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import operator
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.loopback import serving

CONTEXT = "/wiki"
API = CONTEXT + "/rest/api"
DOWNLOAD = CONTEXT + "/download/attachments/"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
BODY_EXPAND_MAX_LIMIT = 50  # content/search with any body.* expansion (Atlassian KB, see above)
EXPORT_VIEW_MAX_LIMIT = 25  # body.export_view / body.styled_view (Cloud v1 search docs)
MEMBERS_DEFAULT_LIMIT = 200
ATTACHMENTS_DEFAULT_LIMIT = 50
ATTACHMENTS_MAX_LIMIT = 200
LABELS_LIMIT = 200
SPACE_TYPES = frozenset({"global", "personal"})
SPACE_STATUSES = frozenset({"current", "archived"})


@dataclass
class User:
    account_id: str
    email: str
    display_name: str = ""
    hidden: bool = False  # profile visibility hides the email

    def as_json(self, base: str) -> dict[str, Any]:
        return {
            "type": "known",
            "accountId": self.account_id,
            "accountType": "atlassian",
            "email": "" if self.hidden else self.email,
            "publicName": self.display_name or self.account_id,
            "displayName": self.display_name or self.account_id,
            "isExternalCollaborator": False,
            "_links": {"self": f"{base}/rest/api/user?accountId={self.account_id}"},
        }


@dataclass
class Group:
    id: str
    name: str
    members: list[str] = field(default_factory=list)

    def as_json(self, base: str) -> dict[str, Any]:
        return {
            "type": "group",
            "name": self.name,
            "id": self.id,
            "_links": {"self": f"{base}/rest/api/group/by-id?id={self.id}"},
        }


@dataclass
class SpacePermission:
    id: int
    operation: str  # "read", "administer", ...
    target_type: str  # "space", "page", ...
    user: str | None = None  # account id
    group: str | None = None  # group id
    anonymous: bool = False  # anonymousAccess: no subjects


@dataclass
class Space:
    id: int
    key: str
    name: str
    type: str = "global"
    status: str = "current"
    permissions: list[SpacePermission] = field(default_factory=list)


@dataclass
class Page:
    id: str
    type: str  # page | blogpost
    space_key: str
    title: str
    body: str
    status: str = "current"  # current | draft | trashed | deleted (purged)
    version: int = 1
    parent_id: str | None = None
    read_users: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    author: str | None = None  # account id of the creator (history.createdBy)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    labels: list[str] = field(default_factory=list)  # lower-case label names
    editor: str | None = None  # account id of the last edit (version.by); None: the creator


@dataclass
class Attachment:
    id: str  # "att<digits>"
    page_id: str
    filename: str
    data: bytes
    media_type: str
    version: int = 1
    status: str = "current"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ScriptedFailure:
    status: int = 500
    retry_after: str | None = None
    garbage: bool = False
    message: str = "Internal server error"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


class CqlError(ValueError):
    pass


class UnknownSpaceError(CqlError):
    pass


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "statusCode": status,
        "data": {"authorized": status != 401, "valid": True, "errors": [], "successful": False},
        "message": message,
    }
    return web.json_response(body, status=status, headers=headers)


@dataclass
class ConfluenceStandIn:
    credentials: dict[str, str] = field(default_factory=dict)  # email -> api token
    bearer_tokens: frozenset[str] = frozenset()
    next_links_include_context: bool = False
    port: int = 0  # 0: the OS picks a free port when served
    cql_timezone: str = "UTC"  # the API user's profile time zone, for CQL date literals
    cql_unknown_space_is_error: bool = False  # DC 9.2/9.3 behaviour: 400 instead of no results
    requests: list[RecordedRequest] = field(default_factory=list)
    spaces: dict[str, Space] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    attachments: dict[str, Attachment] = field(default_factory=dict)
    _label_ids: dict[str, str] = field(default_factory=dict)
    _failures: list[tuple[str, deque[ScriptedFailure]]] = field(default_factory=list)
    _next_id: int = 65537
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.cql_timezone)  # an unknown IANA name fails here, loudly

    # ---------------------------------------------------------------- running

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def wiki_url(self) -> str:
        return self.base_url + CONTEXT

    @classmethod
    @asynccontextmanager
    async def running(cls, **kwargs: Any) -> AsyncIterator[ConfluenceStandIn]:
        stand_in = cls(**kwargs)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", stand_in._handle)
        async with serving(app, stand_in.port) as port:
            stand_in.port = port
            yield stand_in

    @classmethod
    def start_in_thread(cls, **kwargs: Any) -> tuple[ConfluenceStandIn, Any]:
        """Serve from a background thread; returns ``(stand_in, stop)``; call ``stop()`` once."""
        ready = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            box["loop"] = loop

            async def main() -> None:
                stop = asyncio.Event()
                box["stop"] = stop
                async with cls.running(**kwargs) as stand_in:
                    box["stand_in"] = stand_in
                    ready.set()
                    await stop.wait()

            try:
                loop.run_until_complete(main())
            finally:  # a start-up failure must not leave the caller waiting
                ready.set()
                loop.close()

        thread = threading.Thread(target=run, name="confluence-stand-in", daemon=True)
        thread.start()
        ready.wait(10)
        if "stand_in" not in box:
            raise RuntimeError("Confluence stand-in failed to start (see the thread's traceback)")

        def stop() -> None:
            box["loop"].call_soon_threadsafe(box["stop"].set)
            thread.join(5)

        return box["stand_in"], stop

    @classmethod
    @contextmanager
    def serving(cls, **kwargs: Any) -> Iterator[ConfluenceStandIn]:
        stand_in, stop = cls.start_in_thread(**kwargs)
        try:
            yield stand_in
        finally:
            stop()

    # ---------------------------------------------------------------- helpers

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def add_credentials(self, email: str, api_token: str) -> None:
        self.credentials[email] = api_token

    def add_space(self, key: str, name: str | None = None, *, type: str = "global") -> Space:
        if type not in SPACE_TYPES:
            raise ValueError(f"space type must be one of {sorted(SPACE_TYPES)}")
        space = Space(id=int(self._new_id()), key=key, name=name or key, type=type)
        self.spaces[key] = space
        return space

    def archive_space(self, key: str) -> None:
        self.spaces[key].status = "archived"

    def remove_space(self, key: str) -> None:
        """Delete a space: ``space/{key}`` answers 404 and its pages are purged."""
        del self.spaces[key]
        for page in self.pages.values():
            if page.space_key == key:
                page.status = "deleted"

    def add_user(
        self, account_id: str, email: str, hidden: bool = False, display_name: str = ""
    ) -> User:
        user = User(account_id, email, display_name, hidden)
        self.users[account_id] = user
        return user

    def add_group(
        self, name: str, members: Iterable[str] = (), group_id: str | None = None
    ) -> Group:
        group = Group(group_id or f"g-{self._new_id()}", name, list(members))
        self.groups[group.id] = group
        return group

    def set_space_permission(
        self,
        space: str,
        *,
        user: str | None = None,
        group: str | None = None,
        operation: str = "read",
        target_type: str = "space",
        anonymous: bool = False,
    ) -> None:
        """Grant ``operation`` to a user (account id), a group (group id or name) or, with
        ``anonymous=True``, to anonymous users (a permission with ``anonymousAccess: true`` and no
        ``subjects``)."""
        if sum((user is not None, group is not None, anonymous)) != 1:
            raise ValueError("grant to exactly one of user=, group= or anonymous=True")
        if group is not None and group not in self.groups:
            group = next(g.id for g in self.groups.values() if g.name == group)
        perm = SpacePermission(
            int(self._new_id()), operation, target_type, user, group, anonymous=anonymous
        )
        self.spaces[space].permissions.append(perm)

    def add_page(
        self,
        space: str,
        title: str,
        body_storage: str,
        parent_id: str | None = None,
        restrictions: dict[str, Iterable[str]] | None = None,
        version: int = 1,
        *,
        type: str = "page",
        status: str = "current",
        modified: datetime | None = None,
        author: str | None = None,
        labels: Iterable[str] = (),
    ) -> Page:
        """``restrictions={"users": [account ids], "groups": [group ids or names]}`` (read)."""
        if space not in self.spaces:
            raise KeyError(f"unknown space {space}")
        restrictions = restrictions or {}
        groups = [self._group_id(g) for g in restrictions.get("groups", ())]
        when = modified or datetime.now(UTC)
        page = Page(
            self._new_id(),
            type,
            space,
            title,
            body_storage,
            status,
            version,
            parent_id,
            list(restrictions.get("users", ())),
            groups,
            author,
            when,
            when,
            _labels(labels),
        )
        self.pages[page.id] = page
        return page

    def set_labels(self, page_id: str, labels: Iterable[str]) -> None:
        """Replace the page's labels (stored lower-case, as Confluence does)."""
        self.pages[page_id].labels = _labels(labels)

    def archive_page(self, page_id: str) -> None:
        self.pages[page_id].status = "archived"

    def add_attachment(
        self,
        page_id: str,
        filename: str,
        data: bytes,
        media_type: str,
        *,
        modified: datetime | None = None,
    ) -> Attachment:
        if page_id not in self.pages:
            raise KeyError(f"unknown page {page_id}")
        if any(a.page_id == page_id and a.filename == filename for a in self.attachments.values()):
            raise ValueError(f"page {page_id} already has an attachment named {filename!r}")
        when = modified or datetime.now(UTC)
        attachment = Attachment(
            "att" + self._new_id(),
            page_id,
            filename,
            bytes(data),
            media_type,
            created=when,
            modified=when,
        )
        self.attachments[attachment.id] = attachment
        return attachment

    def remove_attachment(self, attachment_id: str) -> None:
        del self.attachments[attachment_id]

    def edit_page(
        self,
        page_id: str,
        body_storage: str | None = None,
        title: str | None = None,
        modified: datetime | None = None,
        *,
        by: str | None = None,
    ) -> Page:
        """A new version; ``by``: the account id of whoever made it (default: the last editor)."""
        page = self.pages[page_id]
        page.body = body_storage if body_storage is not None else page.body
        page.title = title or page.title
        page.editor = by or page.editor
        page.version += 1
        page.modified = modified or datetime.now(UTC)
        return page

    def trash_page(self, page_id: str) -> None:
        self.pages[page_id].status = "trashed"

    def purge_page(self, page_id: str) -> None:
        self.pages[page_id].status = "deleted"

    def set_read_restrictions(
        self, page_id: str, users: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> None:
        page = self.pages[page_id]
        page.read_users = list(users)
        page.read_groups = [self._group_id(g) for g in groups]

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        *,
        retry_after: str | None = None,
        garbage: bool = False,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` fail this way."""
        failure = ScriptedFailure(status, retry_after, garbage)
        with self._lock:
            for prefix, queue in self._failures:
                if prefix == path_prefix:
                    queue.extend([failure] * times)
                    return
            self._failures.append((path_prefix, deque([failure] * times)))

    def calls(self, path_prefix: str = "") -> list[RecordedRequest]:
        return [r for r in list(self.requests) if r.path.startswith(path_prefix)]

    def _group_id(self, ref: str) -> str:
        if ref in self.groups:
            return ref
        for g in self.groups.values():
            if g.name == ref:
                return g.id
        raise KeyError(f"unknown group {ref}")

    # ---------------------------------------------------------------- dispatch

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = self._dispatch(request)
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                response.status,
            )
        )
        return response

    def _scripted(self, path: str) -> ScriptedFailure | None:
        with self._lock:
            for prefix, queue in self._failures:
                if path.startswith(prefix) and queue:
                    return queue.popleft()
        return None

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            with suppress(binascii.Error, UnicodeDecodeError):
                email, _, token = base64.b64decode(value, validate=True).decode().partition(":")
                return bool(token) and self.credentials.get(email) == token
            return False
        if scheme.lower() == "bearer":
            return value in self.bearer_tokens
        return False

    def _dispatch(self, request: web.Request) -> web.Response:
        path = request.path
        download = path.startswith(DOWNLOAD)
        if not path.startswith(API + "/") and not download:
            return _error(404, f"null for uri: {request.url}")
        if not self._authorized(request):
            return _error(401, "Client must be authenticated to access this resource.")
        failure = self._scripted(path)
        if failure is not None:
            if failure.garbage:
                return web.Response(
                    status=200,
                    text="<html><body>Atlassian proxy error</body></html>",
                    content_type="text/html",
                )
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            message = "Rate limit exceeded" if failure.status == 429 else failure.message
            return _error(failure.status, message, headers)
        if request.method != "GET":
            return _error(405, "Method not allowed")
        if download:
            return self._download(request)
        rest = path[len(API) :]
        q = request.query
        if rest == "/content/search":
            return self._search(request)
        if m := re.fullmatch(r"/content/(\d+)", rest):
            return self._content(m[1], q.get("expand", ""), ",".join(q.getall("status", [])))
        if m := re.fullmatch(r"/content/(\d+)/child/attachment/?", rest):
            return self._attachments(request, m[1])
        if m := re.fullmatch(r"/content/(\d+)/child/attachment/(att\d+)/download", rest):
            return self._attachment_redirect(m[1], m[2])
        if rest in {"/space", "/space/"}:
            return self._space_list(request)
        if m := re.fullmatch(r"/content/(\d+)/restriction/byOperation(?:/(\w+))?/?", rest):
            return self._restrictions(m[1], m[2])
        if m := re.fullmatch(r"/space/([^/]+)", rest):
            return self._space(m[1], q.get("expand", ""))
        if m := re.fullmatch(r"/group/([^/]+)/membersByGroupId", rest):
            return self._members(request, self.groups.get(m[1]))
        if m := re.fullmatch(r"/group/([^/]+)/member", rest):
            return self._members(request, self._group_by_name(m[1]))
        if rest == "/group/member":
            if "groupId" in q:
                return self._members(request, self.groups.get(q["groupId"]))
            return self._members(request, self._group_by_name(q.get("name", "")))
        if rest == "/user":
            user = self.users.get(q.get("accountId", ""))
            if user is None:
                return _error(404, "No user found with accountId : " + q.get("accountId", ""))
            return web.json_response(user.as_json(self.wiki_url))
        return _error(404, f"null for uri: {request.url}")

    def _group_by_name(self, name: str) -> Group | None:
        return next((g for g in self.groups.values() if g.name == name), None)

    # ---------------------------------------------------------------- content

    def _content(self, page_id: str, expand: str, status: str) -> web.Response:
        page = self.pages.get(page_id)
        wanted = {s.strip() for s in status.split(",") if s.strip()} or {"current", "trashed"}
        if (
            page is None
            or page.status == "deleted"
            or (page.status not in wanted and "any" not in wanted)
        ):
            return _error(404, f"No content found with id: ContentId{{id={page_id}}}")
        return web.json_response(self._content_json(page, expand))

    def _content_json(self, page: Page, expand: str) -> dict[str, Any]:
        expands = {e.strip() for e in expand.split(",") if e.strip()}
        base = self.wiki_url
        out: dict[str, Any] = {
            "id": page.id,
            "type": page.type,
            "status": page.status,
            "title": page.title,
        }
        expandable: dict[str, str] = {}

        def has(prefix: str) -> bool:
            return any(e == prefix or e.startswith(prefix + ".") for e in expands)

        if has("space"):
            out["space"] = self._space_json(self.spaces[page.space_key], set())
        else:
            expandable["space"] = f"/rest/api/space/{page.space_key}"
        if has("version"):
            out["version"] = {
                "by": self._user_ref(page.editor or page.author),
                "when": _iso(page.modified),
                "number": page.version,
                "minorEdit": False,
            }
        else:
            expandable["version"] = ""
        if has("history"):
            out["history"] = {
                "latest": True,
                "createdBy": self._user_ref(page.author),
                "createdDate": _iso(page.created),
            }
        else:
            expandable["history"] = f"/rest/api/content/{page.id}/history"
        if has("ancestors"):
            chain: list[dict[str, Any]] = []
            parent = self.pages.get(page.parent_id or "")
            while parent is not None:
                chain.insert(
                    0,
                    {
                        "id": parent.id,
                        "type": parent.type,
                        "status": parent.status,
                        "title": parent.title,
                    },
                )
                parent = self.pages.get(parent.parent_id or "")
            out["ancestors"] = chain
        else:
            expandable["ancestors"] = ""
        if has("body"):
            body: dict[str, Any] = {}
            if "body.storage" in expands:
                body["storage"] = {"value": page.body, "representation": "storage"}
            out["body"] = body
        else:
            expandable["body"] = ""
        if has("metadata"):
            metadata: dict[str, Any] = {}
            if "metadata.labels" in expands:
                metadata["labels"] = self._labels_json(page)
            out["metadata"] = metadata
        else:
            expandable["metadata"] = ""
        if has("restrictions"):
            read = self._read_restriction(
                page,
                users="restrictions.read.restrictions.user" in expands,
                groups="restrictions.read.restrictions.group" in expands,
            )
            out["restrictions"] = {"read": read}
        else:
            expandable["restrictions"] = f"/rest/api/content/{page.id}/restriction/byOperation"
        out["_expandable"] = expandable
        out["_links"] = {
            "webui": f"/spaces/{page.space_key}/pages/{page.id}/{quote(page.title)}",
            "tinyui": f"/x/{page.id}",
            "self": f"{base}/rest/api/content/{page.id}",
        }
        return out

    def _label_id(self, name: str) -> str:
        if name not in self._label_ids:
            self._label_ids[name] = self._new_id()
        return self._label_ids[name]

    def _labels_json(self, page: Page) -> dict[str, Any]:
        results = [
            {"prefix": "global", "name": n, "id": self._label_id(n), "label": n}
            for n in page.labels[:LABELS_LIMIT]
        ]
        return {
            "results": results,
            "start": 0,
            "limit": LABELS_LIMIT,
            "size": len(results),
            "_links": {"self": f"{self.wiki_url}/rest/api/content/{page.id}/label"},
        }

    def _user_ref(self, account_id: str | None) -> dict[str, Any]:
        user = self.users.get(account_id or "")
        if user is None:
            return {"type": "known", "accountId": account_id or "unknown"}
        return user.as_json(self.wiki_url)

    def _read_restriction(
        self, page: Page, users: bool = True, groups: bool = True
    ) -> dict[str, Any]:
        restrictions: dict[str, Any] = {}
        user_list = [self._user_ref(a) for a in page.read_users]
        group_list = [self.groups[g].as_json(self.wiki_url) for g in page.read_groups]
        for key, items, expanded in (("user", user_list, users), ("group", group_list, groups)):
            if expanded:
                restrictions[key] = {"results": items, "start": 0, "limit": 200, "size": len(items)}
        return {
            "operation": "read",
            "restrictions": restrictions,
            "_expandable": {"content": f"/rest/api/content/{page.id}"},
            "_links": {
                "self": f"{self.wiki_url}/rest/api/content/{page.id}/restriction/byOperation/read"
            },
        }

    def _restrictions(self, page_id: str, operation: str | None) -> web.Response:
        page = self.pages.get(page_id)
        if page is None or page.status in {"deleted", "draft"}:
            return _error(404, f"No content found with id: ContentId{{id={page_id}}}")
        read = self._read_restriction(page)
        if operation == "read":
            return web.json_response(read)
        update = {
            "operation": "update",
            "restrictions": {
                "user": {"results": [], "start": 0, "limit": 200, "size": 0},
                "group": {"results": [], "start": 0, "limit": 200, "size": 0},
            },
        }
        if operation == "update":
            return web.json_response(update)
        if operation is not None:
            return _error(400, f"Unknown operation: {operation}")
        return web.json_response({"read": read, "update": update})

    # ---------------------------------------------------------------- spaces

    def _space_json(self, space: Space, expands: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": space.id,
            "key": space.key,
            "name": space.name,
            "type": space.type,
            "status": space.status,
            "_links": {
                "webui": f"/spaces/{space.key}",
                "self": f"{self.wiki_url}/rest/api/space/{space.key}",
            },
        }
        if "permissions" in expands:
            perms = []
            for p in space.permissions:
                perm: dict[str, Any] = {"id": p.id}
                if p.user is not None:
                    perm["subjects"] = {"user": {"results": [self._user_ref(p.user)], "size": 1}}
                elif p.group is not None:
                    group = self.groups[p.group]
                    perm["subjects"] = {
                        "group": {"results": [group.as_json(self.wiki_url)], "size": 1}
                    }
                perm["operation"] = {"operation": p.operation, "targetType": p.target_type}
                perm["anonymousAccess"] = p.anonymous
                perm["unlicensedAccess"] = False
                perms.append(perm)
            out["permissions"] = perms
        else:
            out["_expandable"] = {"permissions": "", "homepage": "", "description": ""}
        return out

    def _space(self, key: str, expand: str) -> web.Response:
        space = self.spaces.get(key)
        if space is None:
            return _error(404, f"No space with key : {key}")
        expands = {e.strip() for e in expand.split(",") if e.strip()}
        return web.json_response(self._space_json(space, expands))

    def _space_list(self, request: web.Request) -> web.Response:
        q = request.query
        start, limit, bad = _offset_paging(q, DEFAULT_LIMIT, MAX_LIMIT)
        if bad is not None:
            return bad
        status, space_type = q.get("status"), q.get("type")
        if status is not None and status not in SPACE_STATUSES:
            return _error(400, f"Invalid status: {status}")
        if space_type is not None and space_type not in SPACE_TYPES:
            return _error(400, f"Invalid type: {space_type}")
        keys = set(q.getall("spaceKey", []))
        found = [
            space
            for space in sorted(self.spaces.values(), key=lambda sp: sp.key)
            if (not keys or space.key in keys)
            and (status is None or space.status == status)
            and (space_type is None or space.type == space_type)
        ]
        expands = {e.strip() for e in q.get("expand", "").split(",") if e.strip()}
        chunk = found[start : start + limit]
        links = self._page_links(request, start, limit, len(found))
        return web.json_response(
            {
                "results": [self._space_json(space, expands) for space in chunk],
                "start": start,
                "limit": limit,
                "size": len(chunk),
                "_links": links,
            }
        )

    def _page_links(
        self, request: web.Request, start: int, limit: int, total: int
    ) -> dict[str, Any]:
        """``_links`` of an offset-paged list; ``next`` is relative and keeps repeated params."""
        links: dict[str, Any] = {
            "base": self.wiki_url,
            "context": CONTEXT,
            "self": str(request.url),
        }
        if start + limit < total:
            params = [(k, v) for k, v in request.query.items() if k not in {"start", "limit"}]
            params += [("start", str(start + limit)), ("limit", str(limit))]
            links["next"] = self._relative(request.path, params)
        return links

    # ---------------------------------------------------------------- attachments

    def _container(self, page_id: str) -> Page | None:
        """The attachments' container if it can be read without ``status``; else None (404)."""
        page = self.pages.get(page_id)
        if page is None or page.status in {"deleted", "draft"}:
            return None
        return page

    def _attachments(self, request: web.Request, page_id: str) -> web.Response:
        page = self._container(page_id)
        if page is None:
            return _error(404, f"No content found with id: ContentId{{id={page_id}}}")
        q = request.query
        start, limit, bad = _offset_paging(q, ATTACHMENTS_DEFAULT_LIMIT, ATTACHMENTS_MAX_LIMIT)
        if bad is not None:
            return bad
        found = [
            a
            for a in self.attachments.values()
            if a.page_id == page_id
            and page.status != "trashed"
            and q.get("filename", a.filename) == a.filename
            and q.get("mediaType", a.media_type) == a.media_type
        ]
        chunk = found[start : start + limit]
        expands = {e.strip() for e in q.get("expand", "").split(",") if e.strip()}
        return web.json_response(
            {
                "results": [self._attachment_json(a, expands) for a in chunk],
                "start": start,
                "limit": limit,
                "size": len(chunk),
                "_links": self._page_links(request, start, limit, len(found)),
            }
        )

    def _download_link(self, attachment: Attachment) -> str:
        millis = int(attachment.modified.timestamp() * 1000)
        return (
            f"/download/attachments/{attachment.page_id}/{quote(attachment.filename)}"
            f"?version={attachment.version}&modificationDate={millis}&cacheVersion=1&api=v2"
        )

    def _attachment_json(self, attachment: Attachment, expands: set[str]) -> dict[str, Any]:
        a = attachment
        out: dict[str, Any] = {
            "id": a.id,
            "type": "attachment",
            "status": a.status,
            "title": a.filename,
            "macroRenderedOutput": {},
            "metadata": {"mediaType": a.media_type, "comment": ""},
            "extensions": {"mediaType": a.media_type, "fileSize": len(a.data), "comment": ""},
        }
        expandable: dict[str, str] = {}
        if any(e == "version" or e.startswith("version.") for e in expands):
            out["version"] = {
                "by": self._user_ref(self.pages[a.page_id].author),
                "when": _iso(a.modified),
                "number": a.version,
                "minorEdit": False,
            }
        else:
            expandable["version"] = ""
        if any(e == "container" or e.startswith("container.") for e in expands):
            out["container"] = self._content_json(self.pages[a.page_id], "")
        else:
            expandable["container"] = f"/rest/api/content/{a.page_id}"
        out["_expandable"] = expandable
        out["_links"] = {
            "webui": (
                f"/pages/viewpageattachments.action?pageId={a.page_id}"
                f"&preview=%2F{a.page_id}%2F{a.id}%2F{quote(a.filename)}"
            ),
            "download": self._download_link(a),
            "self": f"{self.wiki_url}/rest/api/content/{a.id}",
        }
        return out

    def _attachment_redirect(self, page_id: str, attachment_id: str) -> web.Response:
        attachment = self.attachments.get(attachment_id)
        page = self._container(page_id)
        if attachment is None or page is None or attachment.page_id != page_id:
            return _error(404, f"No attachment found with id: {attachment_id}")
        if page.status == "trashed":
            return _error(404, f"No attachment found with id: {attachment_id}")
        location = CONTEXT + self._download_link(attachment)
        return web.Response(status=302, headers={"Location": location})

    def _download(self, request: web.Request) -> web.Response:
        m = re.fullmatch(re.escape(DOWNLOAD) + r"(\d+)/([^/]+)", request.path)
        page = self._container(m[1]) if m else None
        attachment = None
        if m and page is not None and page.status != "trashed":
            attachment = next(
                (a for a in self.attachments.values() if a.page_id == m[1] and a.filename == m[2]),
                None,
            )
        version = request.query.get("version")
        if attachment is None or (version is not None and version != str(attachment.version)):
            return _error(404, "Attachment not found")
        return web.Response(
            body=attachment.data,
            headers={
                "Content-Type": attachment.media_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
            },
        )

    # ---------------------------------------------------------------- groups

    def _members(self, request: web.Request, group: Group | None) -> web.Response:
        if group is None:
            return _error(404, "Group not found")
        try:
            start = int(request.query.get("start", "0"))
            limit = int(request.query.get("limit", str(MEMBERS_DEFAULT_LIMIT)))
        except ValueError:
            return _error(400, "start and limit must be integers")
        if start < 0 or limit < 1:
            return _error(400, "start and limit must be positive")
        limit = min(limit, MEMBERS_DEFAULT_LIMIT)
        chunk = group.members[start : start + limit]
        links: dict[str, Any] = {
            "base": self.wiki_url,
            "context": CONTEXT,
            "self": str(request.url),
        }
        if start + limit < len(group.members):
            params = {k: v for k, v in request.query.items() if k not in {"start", "limit"}}
            params.update(start=str(start + limit), limit=str(limit))
            links["next"] = self._relative(request.path, params)
        return web.json_response(
            {
                "results": [self._user_ref(a) for a in chunk],
                "start": start,
                "limit": limit,
                "size": len(chunk),
                "_links": links,
            }
        )

    def _relative(self, path: str, params: dict[str, str] | list[tuple[str, str]]) -> str:
        rel = path if self.next_links_include_context else path[len(CONTEXT) :]
        return f"{rel}?{urlencode(params)}"

    # ---------------------------------------------------------------- search

    def _search(self, request: web.Request) -> web.Response:
        q = request.query
        cql = q.get("cql")
        if not cql:
            return _error(400, "CQL query parameter is required")
        try:
            limit = min(int(q.get("limit", str(DEFAULT_LIMIT))), _search_cap(q.get("expand", "")))
        except ValueError:
            return _error(400, "limit must be an integer")
        if limit < 1:
            return _error(400, "limit must be positive")
        try:
            matches = self._run_cql(cql)
        except UnknownSpaceError:
            return _error(400, "parameters should not be empty")
        except CqlError as exc:
            return _error(400, f"Could not parse cql : {cql} ({exc})")
        offset = 0
        if "cursor" in q:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(q["cursor"].encode()))
                offset, cursor_cql = int(decoded["o"]), decoded["q"]
            except (ValueError, KeyError, TypeError, binascii.Error):
                return _error(400, "Invalid cursor")
            if cursor_cql != cql:
                return _error(400, "Invalid cursor: it belongs to another query")
        chunk = matches[offset : offset + limit]
        links: dict[str, Any] = {
            "base": self.wiki_url,
            "context": CONTEXT,
            "self": str(request.url),
        }
        if offset + limit < len(matches):
            cursor = base64.urlsafe_b64encode(
                json.dumps({"o": offset + limit, "q": cql}).encode()
            ).decode()
            params = {"next": "true", "cursor": cursor, "limit": str(limit), "cql": cql}
            if "expand" in q:
                params["expand"] = q["expand"]
            links["next"] = self._relative(request.path, params)
        return web.json_response(
            {
                "results": [self._hit_json(p, q.get("expand", "")) for p in chunk],
                "start": offset,
                "limit": limit,
                "size": len(chunk),
                "_links": links,
            }
        )

    def _hit_json(self, hit: Any, expand: str) -> dict[str, Any]:
        if isinstance(hit, _AttachmentHit):
            expands = {e.strip() for e in expand.split(",") if e.strip()}
            return self._attachment_json(hit.attachment, expands)
        return self._content_json(hit, expand)

    def _run_cql(self, cql: str) -> list[Any]:
        text = cql.strip()
        order_field, descending = "", False
        m = re.search(r"\s*\border\s+by\s+(\w+)(?:\s+(asc|desc))?\s*$", text, re.IGNORECASE)
        if m:
            order_field, descending = m[1].lower(), (m[2] or "asc").lower() == "desc"
            if order_field not in {"lastmodified", "created", "title"}:
                raise CqlError(f"cannot order by {m[1]}")
            text = text[: m.start()]
        predicates = [
            self._clause(c) for c in re.split(r"\s+and\s+", text, flags=re.IGNORECASE) if c
        ]
        if not predicates:
            raise CqlError("empty query")
        candidates: list[Any] = [p for p in self.pages.values() if p.status == "current"]
        candidates += [
            _AttachmentHit(a, self.pages[a.page_id])
            for a in self.attachments.values()
            if a.status == "current" and self.pages[a.page_id].status == "current"
        ]
        found = [
            p
            for p in candidates
            if p.space_key in self.spaces
            and self.spaces[p.space_key].status == "current"
            and all(pred(p) for pred in predicates)
        ]
        if order_field:
            attr = {"lastmodified": "modified", "created": "created", "title": "title"}
            found.sort(
                key=lambda p: (getattr(p, attr[order_field]), int(p.id.removeprefix("att"))),
                reverse=descending,
            )
        return found

    def _clause(self, clause: str) -> Any:
        clause = clause.strip()
        m = re.fullmatch(r"(\w+)\s+(not\s+in|in)\s*\((.*)\)", clause, re.IGNORECASE)
        if m:
            field_name, values = m[1].lower(), [_unquote(v) for v in m[3].split(",")]
            op = "not in" if m[2].lower().startswith("not") else "in"
            if not all(values):
                raise CqlError(f"empty value in {clause!r}")
        else:
            m = re.fullmatch(r"(\w+)\s*(>=|<=|!=|=|>|<)\s*(.+)", clause)
            if not m:
                raise CqlError(f"unsupported clause {clause!r}")
            field_name, op, values = m[1].lower(), m[2], [_unquote(m[3])]
        if field_name in {"type", "space"}:
            if op not in {"in", "not in", "=", "!="}:
                raise CqlError(f"operator {op} not allowed on {field_name}")
            attr = "type" if field_name == "type" else "space_key"
            wanted = set(values)
            if field_name == "type" and not wanted <= {"page", "blogpost", "comment", "attachment"}:
                raise CqlError(f"unknown type {values}")
            if (
                field_name == "space"
                and self.cql_unknown_space_is_error
                and not wanted <= set(self.spaces)
            ):
                raise UnknownSpaceError(f"no space {sorted(wanted - set(self.spaces))}")
            if op in {"!=", "not in"}:
                return lambda p: getattr(p, attr) not in wanted
            return lambda p: getattr(p, attr) in wanted
        if field_name == "label":
            if op not in {"in", "not in", "=", "!="}:
                raise CqlError(f"operator {op} not allowed on label")
            names = {v.lower() for v in values}
            if op in {"!=", "not in"}:
                return lambda p: not names & set(p.labels)
            return lambda p: bool(names & set(p.labels))
        if field_name in {"lastmodified", "created"}:
            if op in {"in", "not in", "!="}:
                raise CqlError(f"operator {op} not allowed on {field_name}")
            when = _cql_date(values[0], self._zone)
            attr = "modified" if field_name == "lastmodified" else "created"
            compare: Callable[[datetime, datetime], bool] = {
                ">=": operator.ge,
                ">": operator.gt,
                "<=": operator.le,
                "<": operator.lt,
                "=": operator.eq,
            }[op]
            return lambda p: compare(getattr(p, attr).replace(second=0, microsecond=0), when)
        raise CqlError(f"unsupported field {field_name}")


class _AttachmentHit:
    """An attachment as CQL sees it: ``type = attachment``, its container's space, its own
    modification time (attachments carry no labels here)."""

    type = "attachment"
    labels: tuple[str, ...] = ()

    def __init__(self, attachment: Attachment, container: Page) -> None:
        self.attachment = attachment
        self.id = attachment.id
        self.title = attachment.filename
        self.space_key = container.space_key
        self.modified = attachment.modified
        self.created = attachment.created


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _cql_date(value: str, zone: ZoneInfo | None = None) -> datetime:
    """A CQL date literal is wall-clock time in the requesting user's profile time zone."""
    for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
        with suppress(ValueError):
            return datetime.strptime(value, fmt).replace(tzinfo=zone or UTC)
    raise CqlError(f"bad date {value!r}: use yyyy/MM/dd HH:mm")


def _offset_paging(q: Any, default: int, cap: int) -> tuple[int, int, web.Response | None]:
    try:
        start = int(q.get("start", "0"))
        limit = int(q.get("limit", str(default)))
    except ValueError:
        return 0, 0, _error(400, "start and limit must be integers")
    if start < 0 or limit < 1:
        return 0, 0, _error(400, "start must be >= 0 and limit >= 1")
    return start, min(limit, cap), None


def _search_cap(expand: str) -> int:
    expands = {e.strip() for e in expand.split(",") if e.strip()}
    if expands & {"body.export_view", "body.styled_view"}:
        return EXPORT_VIEW_MAX_LIMIT
    if any(e == "body" or e.startswith("body.") for e in expands):
        return BODY_EXPAND_MAX_LIMIT
    return MAX_LIMIT


def _labels(labels: Iterable[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        name = label.strip().lower()
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"invalid label {label!r}: labels cannot be empty or contain spaces")
        if name not in out:
            out.append(name)
    return out
