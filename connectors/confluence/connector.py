"""The Confluence connector (Cloud and Data Center), for the sync engine.

Source ids: a page's or blog post's content id (``"65538"``); an attachment's container id and
its own (``"65538/att65540"``). Document ids follow from them (core.models.document_id).

Content. One CQL query over the spaces in scope, ``type in (page, blogpost, attachment)``,
ordered by ``lastmodified``; incrementally with ``lastmodified >= <checkpoint - overlap>``. CQL
dates have minute granularity and are read in the *API user's profile time zone* (Cloud), so the
checkpoint (a UTC instant: the newest modification seen) is converted to ``cql_timezone`` and
floored to the minute, and the overlap window re-reads the last minutes (unchanged documents
write nothing). Results come with the body, version, space, ancestors, labels and the page's own
view restriction expanded, so an unchanged wiki costs one search request per run. A checkpoint
is yielded after each result page: a crash resumes from the last one.

Deletions. Pages that are trashed, archived, purged, or in a space that was removed, archived or
taken out of scope stop being listed: the permission sync (which lists every page in scope) and
the full reconciliation (``list_ids``) remove them. A page that gains an excluded label is
skipped (and so removed) when it next changes, and by those jobs.

Errors. A document that cannot be built (an ancestor that cannot be read, an attachment that
does not parse) is a Failed item for that document only. Anything that says the source itself
is unwell (authentication, rate limits or 5xx beyond the retries, garbage bodies) raises, so the
engine stops the listing and deletes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import (
    AclItem,
    AclRead,
    Change,
    CheckpointMark,
    Deleted,
    Failed,
    GroupSnapshot,
    Skipped,
    SyncConnector,
)
from connectors.confluence.client import (
    AttachmentTooLarge,
    ConfluenceClient,
    ConfluenceError,
    ConfluenceNotFound,
    Credentials,
)
from connectors.confluence.permissions import (
    AclUnavailable,
    People,
    build_acl,
    group_ref,
    restriction_clause,
    space_clause,
)
from connectors.confluence.settings import ConfluenceConnectorConfig
from connectors.confluence.storage import storage_to_sections
from connectors.files.parsers import ParseError
from connectors.files.rules import RuleError
from connectors.files.sandbox import ParserSandbox
from core.acl import Acl, PrincipalError, group_namespace
from core.config import ConfigError, FilesConfig
from core.models import Document, Section, document_id
from core.secrets import SecretStore, require_secret

log = logging.getLogger("lore.confluence")

_RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
_PAGE_EXPAND = f"space,ancestors,metadata.labels,{_RESTRICTION_EXPAND}"
_CONTENT_EXPAND = f"body.storage,version,history,container,{_PAGE_EXPAND}"
_CQL_DATE = "%Y/%m/%d %H:%M"
_LISTING_LIMIT = 100
_ITEM_STATUSES = frozenset({400, 403, 410, 422})  # refusals about one item, not the whole source
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """What the connector needs from its config section, validated."""

    url: str
    cloud: bool
    spaces: tuple[str, ...]
    exclude_spaces: frozenset[str]
    exclude_labels: frozenset[str]
    blogposts: bool
    attachments: bool
    attachment_max_bytes: int
    attachment_extensions: frozenset[str]
    anonymous_to_org: bool
    user_emails: dict[str, str]
    zone: ZoneInfo
    overlap: timedelta
    page_size: int
    concurrency: int

    @classmethod
    def from_config(cls, name: str, conf: ConfluenceConnectorConfig) -> Settings:
        where = f"connectors.{name}"
        if not conf.url.startswith(("https://", "http://")):
            raise ConfigError(f"{where}.url must be the Confluence base URL (https://...), got {conf.url!r}")
        if conf.deployment not in ("cloud", "datacenter"):
            raise ConfigError(f"{where}.deployment must be cloud or datacenter, got {conf.deployment!r}")
        if conf.anonymous_access not in ("deny", "org-members"):
            raise ConfigError(f"{where}.anonymous_access must be deny or org-members, got {conf.anonymous_access!r}")
        try:
            zone = ZoneInfo(conf.cql_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.cql_timezone: unknown time zone {conf.cql_timezone!r}") from None
        for key in ("page_size", "concurrency", "attachment_max_mb"):
            if getattr(conf, key) <= 0:
                raise ConfigError(f"{where}.{key} must be positive")
        if conf.overlap_minutes < 1:
            raise ConfigError(f"{where}.overlap_minutes must be at least 1 (CQL dates are minutes)")
        emails = dict(conf.user_emails)
        if conf.user_emails_file:
            emails = {**_email_file(Path(conf.user_emails_file), where), **emails}
        return cls(
            url=conf.url.rstrip("/"),
            cloud=conf.deployment == "cloud",
            spaces=tuple(conf.spaces),
            exclude_spaces=frozenset(conf.exclude_spaces),
            exclude_labels=frozenset(label.lower() for label in conf.exclude_labels),
            blogposts=conf.blogposts,
            attachments=conf.attachments,
            attachment_max_bytes=int(conf.attachment_max_mb * 1024 * 1024),
            attachment_extensions=frozenset(e.lower() if e.startswith(".") else f".{e.lower()}"
                                            for e in conf.attachment_extensions),
            anonymous_to_org=conf.anonymous_access == "org-members",
            user_emails=emails,
            zone=zone,
            overlap=timedelta(minutes=conf.overlap_minutes),
            page_size=conf.page_size,
            concurrency=conf.concurrency,
        )


def _email_file(path: Path, where: str) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}.user_emails_file: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}.user_emails_file: {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f'{where}.user_emails_file: {path} must be an object {{"accountId": "email"}}')
    return data


class ConfluenceConnector(SyncConnector):
    def __init__(self, name: str, settings: Settings, client: ConfluenceClient,
                 files: FilesConfig | None = None) -> None:
        self.name = name
        # Attachments are parsed like files, in the budgeted worker process (files.* settings).
        self._parser = ParserSandbox(files or FilesConfig())
        self.settings = settings
        self.client = client
        self._source = f"confluence:{name}"
        try:
            self._namespace = group_namespace("confluence", name)
        except PrincipalError as exc:
            raise ConfigError(f"connectors.{name}: {exc}") from None
        self._people = People(client, settings.user_emails, cloud=settings.cloud, namespace=self._namespace)
        self._spaces: dict[str, frozenset[str] | None] = {}  # key -> view clause; None: gone
        self._restrictions: dict[str, frozenset[str] | None] = {}  # page id -> its own clause
        self._containers: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        self._fetching: dict[tuple[int, str], threading.Lock] = {}

    @classmethod
    def from_config(cls, name: str, conf: ConfluenceConnectorConfig, secrets: SecretStore,
                    files: FilesConfig | None = None) -> ConfluenceConnector:
        settings = Settings.from_config(name, conf)
        if settings.cloud:
            if not conf.email:
                raise ConfigError(f"connectors.{name}.email is required for Confluence Cloud (the API token's account)")
            credentials = Credentials.basic(conf.email, require_secret(secrets, conf.api_token_secret))
        else:
            credentials = Credentials.bearer(require_secret(secrets, conf.pat_secret))
        client = ConfluenceClient(
            settings.url, credentials, cloud=settings.cloud, timeout=conf.timeout_seconds,
            max_retries=conf.max_retries,
        )
        return cls(name, settings, client, files)

    @property
    def source(self) -> str:
        return self._source

    @property
    def group_namespace(self) -> str:
        return self._namespace

    def close(self) -> None:
        self.client.close()
        self._parser.close()

    # -- scope ------------------------------------------------------------------------------

    def space_keys(self) -> list[str]:
        """Spaces in scope that exist now (a configured space that was removed is left out,
        so its pages leave the index)."""
        s = self.settings
        if s.spaces:
            keys = [k for k in s.spaces if k not in s.exclude_spaces]
            return [k for k in keys if self._space_clause(k) is not None]
        listed = self.client.paged("space", {"status": "current", "limit": _LISTING_LIMIT})
        return sorted(str(sp["key"]) for sp in listed if sp.get("key") and sp["key"] not in s.exclude_spaces)

    def _types(self, *, attachments: bool) -> str:
        types = ["page"] + (["blogpost"] if self.settings.blogposts else [])
        if attachments and self.settings.attachments:
            types.append("attachment")
        return ", ".join(types)

    def _cql(self, keys: Sequence[str], *, attachments: bool, since: datetime | None = None) -> str:
        spaces = ", ".join(_quote(k) for k in keys)
        cql = f"type in ({self._types(attachments=attachments)}) and space in ({spaces})"
        if since is not None:
            local = (since - self.settings.overlap).astimezone(self.settings.zone)
            cql += f' and lastmodified >= "{local.strftime(_CQL_DATE)}"'
        return cql + " order by lastmodified asc"

    # -- content ----------------------------------------------------------------------------

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        started = datetime.now(UTC)
        since = _parse_instant(checkpoint.get("since")) if checkpoint else None
        keys = self.space_keys()
        if not keys:
            yield CheckpointMark({"since": (since or started).isoformat()})
            return
        if since is None:
            # Reading everything: results come in modification order, not tree order, so most
            # pages would meet ancestors not seen yet (one restriction request each). One
            # body-less listing first learns every page's own restriction, 100 pages a request.
            self._all_pages(keys)
        newest = since
        params = {"cql": self._cql(keys, attachments=True, since=since), "limit": str(self.settings.page_size),
                  "expand": _CONTENT_EXPAND}
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="confluence") as pool:
            for results in self.client.pages("content/search", params):
                yield from pool.map(self._change, results)
                for item in results:
                    when = _parse_instant(_dig(item, "version", "when"))
                    if when is not None and (newest is None or when > newest):
                        newest = when
                yield CheckpointMark({"since": (newest or started).isoformat()})
        yield CheckpointMark({"since": (newest or started).isoformat()})

    def _change(self, item: Mapping[str, Any]) -> Change:
        if item.get("type") == "attachment":
            return self._attachment(item)
        page_id = str(item.get("id", ""))
        access = self._page_access(page_id, item)
        return self._page_document(item, access) if isinstance(access, Acl) else access

    def _page_access(self, source_id: str, page: Mapping[str, Any]) -> Acl | Skipped | Failed:
        """The ACL of a page (and of its attachments, ``source_id``), or why it has none."""
        skip = self._excluded(page)
        if skip:
            return Skipped(source_id, skip)
        try:
            return self._page_acl(page)
        except AclUnavailable as exc:
            return Skipped(source_id, str(exc))
        except ConfluenceNotFound as exc:
            return Failed(source_id, f"could not read what its permissions depend on: {exc}")
        except ConfluenceError as exc:
            if exc.status not in _ITEM_STATUSES:
                raise  # 401, 429/5xx after retries, transport: the source is unwell, change nothing
            # Refused for this page only (403 on one space's permissions, one ancestor, one user):
            # that page fails, the others' ACLs are still read and applied.
            return Failed(source_id, f"could not read what its permissions depend on: {exc}")

    def _excluded(self, item: Mapping[str, Any]) -> str | None:
        labels = {str(lb.get("name", "")).lower() for lb in _list(_dig(item, "metadata", "labels", "results"))}
        hit = sorted(labels & self.settings.exclude_labels)
        return f"label {hit[0]!r} is excluded by configuration" if hit else None

    def _page_document(self, item: Mapping[str, Any], acl: Acl) -> Change:
        page_id = str(item["id"])
        title = str(item.get("title") or "(untitled)")
        body = str(_dig(item, "body", "storage", "value") or "")
        sections = storage_to_sections(body, title)
        if not sections:
            return Skipped(page_id, "empty page")
        space = _dig(item, "space") or {}
        breadcrumb = [str(space.get("name") or space.get("key") or "")] + [
            str(a.get("title", "")) for a in _list(item.get("ancestors"))
        ]
        crumbs = tuple(b for b in breadcrumb if b)
        # The breadcrumb heads every section: it is what a reader sees above the page in
        # Confluence, gives each chunk its place in the tree, and shows in citations.
        sections = tuple(Section((*crumbs, *sec.heading_path), sec.text) for sec in sections)
        return Document(
            id=document_id(self._source, page_id),
            source=self._source,
            source_id=page_id,
            title=title,
            url=self._web_link(item),
            sections=sections,
            acl=acl,
            updated_at=_parse_instant(_dig(item, "version", "when")),
            author=_author(_dig(item, "version", "by") or _dig(item, "history", "createdBy")),
            metadata={
                "space": str(space.get("key", "")),
                "type": str(item.get("type", "page")),
                "version": str(_dig(item, "version", "number") or ""),
                "breadcrumb": " > ".join(crumbs),
            },
        )

    def _web_link(self, item: Mapping[str, Any]) -> str:
        webui = str(_dig(item, "_links", "webui") or "")
        base = str(_dig(item, "_links", "base") or self.settings.url)
        return base.rstrip("/") + webui if webui.startswith("/") else webui or base

    def _attachment(self, item: Mapping[str, Any]) -> Change:
        att_id = str(item.get("id", ""))
        container = _dig(item, "container") or {}
        page_id = str(container.get("id") or "")
        source_id = f"{page_id}/{att_id}"
        filename = str(item.get("title") or att_id)
        if not page_id:
            return Failed(source_id, "attachment without a container page")
        problem = self._attachment_problem(item)
        if problem:
            return Skipped(source_id, problem)
        try:
            page = self._container(page_id)
            skip = self._excluded(page)
            if skip:
                return Skipped(source_id, f"its page is skipped: {skip}")
            acl = self._page_acl(page)
            data = self.client.download(str(_dig(item, "_links", "download") or ""), self.settings.attachment_max_bytes)
            parsed = self._parser.parse(filename, data)
        except AclUnavailable as exc:
            return Skipped(source_id, str(exc))
        except AttachmentTooLarge as exc:
            return Skipped(source_id, str(exc))
        except ConfluenceNotFound as exc:
            return Failed(source_id, f"could not be read: {exc}")
        except (ParseError, RuleError) as exc:
            return Failed(source_id, str(exc))
        if not parsed.sections:
            return Skipped(source_id, "no text in the attachment")
        return Document(
            id=document_id(self._source, source_id),
            source=self._source,
            source_id=source_id,
            title=f"{page.get('title', '')}: {filename}" if page.get("title") else filename,
            url=self._web_link(item),
            sections=parsed.sections,
            acl=acl,
            updated_at=_parse_instant(_dig(item, "version", "when")),
            author=_author(_dig(item, "version", "by")),
            metadata={"space": str(_dig(page, "space", "key") or ""), "type": "attachment",
                      "page": page_id},
        )

    def _attachment_problem(self, item: Mapping[str, Any]) -> str | None:
        filename = str(item.get("title") or "")
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix not in self.settings.attachment_extensions:
            return f"attachment type {suffix or '(none)'} is not indexed (attachment_extensions)"
        size = _dig(item, "extensions", "fileSize")
        if isinstance(size, int) and size > self.settings.attachment_max_bytes:
            return f"attachment is {size} bytes, over attachment_max_mb"
        return None

    def _cached(self, cache: dict[str, T], key: str, compute: Callable[[], T]) -> T:
        """Per-run memo shared by the worker threads; one fetch per key (threads asking for the
        same key wait for the first), fetches of different keys in parallel."""
        with self._lock:
            if key in cache:
                return cache[key]
            key_lock = self._fetching.setdefault((id(cache), key), threading.Lock())
        with key_lock:
            with self._lock:
                if key in cache:
                    return cache[key]
            value = compute()
            with self._lock:
                cache[key] = value
            return value

    def _container(self, page_id: str) -> Mapping[str, Any]:
        return self._cached(
            self._containers, page_id, lambda: self.client.get(f"content/{page_id}", {"expand": _PAGE_EXPAND})
        )

    # -- permissions ------------------------------------------------------------------------

    def _space_clause(self, key: str) -> frozenset[str] | None:
        def fetch() -> frozenset[str] | None:
            try:
                space = self.client.get(f"space/{key}", {"expand": "permissions"})
            except ConfluenceNotFound:
                return None  # removed (or no longer visible to us): its pages leave the index
            if space.get("status", "current") != "current":
                return None  # archived
            return space_clause(space, self._people, anonymous_to_org=self.settings.anonymous_to_org)

        return self._cached(self._spaces, key, fetch)

    def _own_restriction(self, page_id: str) -> frozenset[str] | None:
        """An ancestor's own view restriction (pages in a listing bring theirs along)."""

        def fetch() -> frozenset[str] | None:
            try:
                read = self.client.get(f"content/{page_id}/restriction/byOperation/read",
                                       {"expand": "restrictions.user,restrictions.group"})
            except ConfluenceNotFound:
                # Drafts (an unpublished parent) answer 404 here; their content answers with status.
                try:
                    content = self.client.get(f"content/{page_id}", {"status": "any", "expand": _RESTRICTION_EXPAND})
                except ConfluenceNotFound:
                    raise ConfluenceNotFound(
                        f"the view restriction of ancestor {page_id} cannot be read (404)", status=404,
                        path=f"content/{page_id}",
                    ) from None
                read = _dig(content, "restrictions", "read") or {}
            return restriction_clause(read, self._people)

        return self._cached(self._restrictions, page_id, fetch)

    def _page_acl(self, item: Mapping[str, Any]) -> Acl:
        page_id = str(item.get("id", ""))
        key = str(_dig(item, "space", "key") or "")
        space = self._space_clause(key) if key else None
        if space is None:
            raise AclUnavailable(f"{page_id}: its space {key or '(unknown)'} is not readable")
        own = restriction_clause(_dig(item, "restrictions", "read"), self._people)
        with self._lock:
            self._restrictions[page_id] = own
        ancestors = [self._own_restriction(str(a["id"])) for a in _list(item.get("ancestors")) if a.get("id")]
        return build_acl(page_id, space, [own, *ancestors])

    def _all_pages(self, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Every page in scope, without bodies, each with its own view restriction (remembered:
        it is what every descendant's ACL needs) and its ancestors. 100 pages per request."""
        pages: dict[str, Mapping[str, Any]] = {}
        if not keys:
            return pages
        params = {"cql": self._cql(keys, attachments=False), "limit": str(_LISTING_LIMIT), "expand": _PAGE_EXPAND}
        for item in self.client.paged("content/search", params):
            page_id = str(item.get("id", ""))
            pages[page_id] = item
            clause = restriction_clause(_dig(item, "restrictions", "read"), self._people)
            with self._lock:
                self._restrictions[page_id] = clause
        return pages

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        """One listing of every page in scope with its own restriction and ancestors, then
        each document's ACL from it (ancestors come from the same listing). Attachments take
        their page's ACL; when any are asked for, one id listing of the attachments in scope
        finds those deleted from a page that is still there."""
        keys = self.space_keys()
        pages = self._all_pages(keys)
        attachments = self._attachment_ids(keys) if any("/" in sid for sid in source_ids) else set()
        for source_id in source_ids:
            page = pages.get(source_id.partition("/")[0])
            if page is None or ("/" in source_id and source_id not in attachments):
                yield Deleted(source_id, "no longer in Confluence (or out of scope)")
                continue
            access = self._page_access(source_id, page)
            yield AclRead(source_id, access) if isinstance(access, Acl) else access

    def _attachment_ids(self, keys: Sequence[str]) -> set[str]:
        """``page/attachment`` ids of the attachments in scope that would be indexed."""
        found: set[str] = set()
        if not keys or not self.settings.attachments:
            return found
        spaces = ", ".join(_quote(k) for k in keys)
        params = {"cql": f"type = attachment and space in ({spaces})", "limit": str(_LISTING_LIMIT),
                  "expand": "container"}
        for item in self.client.paged("content/search", params):
            source_id = self._indexed_attachment_id(item)
            if source_id:
                found.add(source_id)
        return found

    def _indexed_attachment_id(self, item: Mapping[str, Any]) -> str | None:
        """``page/attachment`` for an attachment search result that would be indexed."""
        container = str(_dig(item, "container", "id") or "")
        if container and self._attachment_problem(item) is None:
            return f"{container}/{item.get('id', '')}"
        return None

    def groups(self, referenced: frozenset[str]) -> GroupSnapshot:
        memberships: dict[str, frozenset[str]] = {}
        for principal in sorted(referenced):
            name = group_ref(principal, self._namespace)
            if name is None:
                continue
            ref = quote(name, safe="")
            path = f"group/{ref}/membersByGroupId" if self.settings.cloud else f"group/{ref}/member"
            try:
                members = list(self.client.paged(path, {"limit": "200"}))
            except ConfluenceNotFound:
                members = []  # the group is gone: nobody reads through it
            emails = {p.removeprefix("user:") for p in (self._people.principal(m) for m in members) if p}
            memberships[principal] = frozenset(emails)
        return GroupSnapshot(memberships)

    # -- deletion detection -----------------------------------------------------------------

    def list_ids(self) -> Iterator[str]:
        keys = self.space_keys()
        if not keys:
            return
        params = {"cql": self._cql(keys, attachments=True), "limit": str(_LISTING_LIMIT),
                  "expand": "container,metadata.labels"}
        pages: set[str] = set()
        attachments: list[str] = []
        for item in self.client.paged("content/search", params):
            if item.get("type") == "attachment":
                source_id = self._indexed_attachment_id(item)
                if source_id:
                    attachments.append(source_id)
            elif not self._excluded(item):
                page_id = str(item.get("id", ""))
                pages.add(page_id)
                yield page_id
        yield from (sid for sid in attachments if sid.partition("/")[0] in pages)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _author(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    name = user.get("displayName") or user.get("publicName")
    return str(name) if name else None
