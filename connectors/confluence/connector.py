"""The Confluence connector (Cloud and Data Center), for the sync engine.

Source ids: a page's or blog post's content id (``"65538"``); an attachment's container id and
its own (``"65538/att65540"``). Document ids follow from them (core.models.document_id).

Content. One CQL query over the spaces in scope, ``type in (page, blogpost, attachment)``,
ordered by ``lastmodified``; incrementally with ``lastmodified >= <checkpoint - overlap>``, the
checkpoint being a UTC instant (the newest modification seen; queries.py says how it becomes a
CQL date). A checkpoint is yielded after each result page: a crash resumes from the last one.
Pages become documents in documents.py, attachments in attachments.py; their ACLs are read in
access.py.

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
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import (
    AclItem,
    AclRead,
    Change,
    CheckpointMark,
    Deleted,
    GroupSnapshot,
    SyncConnector,
)
from connectors.confluence.settings import ConfluenceConnectorConfig
from connectors.parsers.sandbox import ParserSandbox
from core.acl import Acl, PrincipalError, group_namespace
from core.config import ConfigError, FilesConfig
from core.secrets import SecretStore, require_secret

from .access import PageAccess
from .attachments import Attachments
from .client import ConfluenceClient
from .credentials import Credentials
from .documents import page_document
from .errors import ConfluenceNotFound
from .fields import dig, parse_instant
from .permissions import People, group_ref
from .queries import CONTENT_EXPAND, LISTING_LIMIT, PAGE_EXPAND, content_cql


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
        self._access = PageAccess(client, self._people, anonymous_to_org=settings.anonymous_to_org,
                                  exclude_labels=settings.exclude_labels)
        self._attachments = Attachments(
            self._source, client, self._access, self._parser, enabled=settings.attachments,
            max_bytes=settings.attachment_max_bytes, extensions=settings.attachment_extensions,
            wiki_url=settings.url,
        )

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
            return [k for k in keys if self._access.space_clause(k) is not None]
        listed = self.client.paged("space", {"status": "current", "limit": LISTING_LIMIT})
        return sorted(str(sp["key"]) for sp in listed if sp.get("key") and sp["key"] not in s.exclude_spaces)

    def _cql(self, keys: Sequence[str], *, attachments: bool, since: datetime | None = None) -> str:
        types = ["page"] + (["blogpost"] if self.settings.blogposts else [])
        if attachments and self.settings.attachments:
            types.append("attachment")
        return content_cql(types, keys, since=since, overlap=self.settings.overlap, zone=self.settings.zone)

    # -- content ----------------------------------------------------------------------------

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        started = datetime.now(UTC)
        since = parse_instant(checkpoint.get("since")) if checkpoint else None
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
                  "expand": CONTENT_EXPAND}
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="confluence") as pool:
            for results in self.client.pages("content/search", params):
                yield from pool.map(self._change, results)
                for item in results:
                    when = parse_instant(dig(item, "version", "when"))
                    if when is not None and (newest is None or when > newest):
                        newest = when
                yield CheckpointMark({"since": (newest or started).isoformat()})
        yield CheckpointMark({"since": (newest or started).isoformat()})

    def _change(self, item: Mapping[str, Any]) -> Change:
        if item.get("type") == "attachment":
            return self._attachments.change(item)
        access = self._access.access(str(item.get("id", "")), item)
        return page_document(self._source, item, access, self.settings.url) if isinstance(access, Acl) else access

    # -- permissions ------------------------------------------------------------------------

    def _all_pages(self, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Every page in scope, without bodies, each with its own view restriction (remembered:
        it is what every descendant's ACL needs) and its ancestors. 100 pages per request."""
        pages: dict[str, Mapping[str, Any]] = {}
        if not keys:
            return pages
        params = {"cql": self._cql(keys, attachments=False), "limit": str(LISTING_LIMIT), "expand": PAGE_EXPAND}
        for item in self.client.paged("content/search", params):
            pages[str(item.get("id", ""))] = item
            self._access.remember(item)
        return pages

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        """One listing of every page in scope with its own restriction and ancestors, then
        each document's ACL from it (ancestors come from the same listing). Attachments take
        their page's ACL; when any are asked for, one id listing of the attachments in scope
        finds those deleted from a page that is still there."""
        keys = self.space_keys()
        pages = self._all_pages(keys)
        wanted = any("/" in sid for sid in source_ids)
        attachments = self._attachments.ids_in_scope(keys) if wanted else set()
        for source_id in source_ids:
            page = pages.get(source_id.partition("/")[0])
            if page is None or ("/" in source_id and source_id not in attachments):
                yield Deleted(source_id, "no longer in Confluence (or out of scope)")
                continue
            access = self._access.access(source_id, page)
            yield AclRead(source_id, access) if isinstance(access, Acl) else access

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
        params = {"cql": self._cql(keys, attachments=True), "limit": str(LISTING_LIMIT),
                  "expand": "container,metadata.labels"}
        pages: set[str] = set()
        attachments: list[str] = []
        for item in self.client.paged("content/search", params):
            if item.get("type") == "attachment":
                source_id = self._attachments.indexed_id(item)
                if source_id:
                    attachments.append(source_id)
            elif not self._access.excluded(item):
                page_id = str(item.get("id", ""))
                pages.add(page_id)
                yield page_id
        yield from (sid for sid in attachments if sid.partition("/")[0] in pages)
