"""The SharePoint Online connector, for the sync engine.

Source ids: a file's ``<drive id>/<item id>``; a site page's ``page/<site id>/<page id>``.

Content. Per document library in scope, Graph delta (delta.py) from the stored link; a
CheckpointMark after every delta page holds, per drive, the link to resume from and the folder
paths seen (folders only: files are never held). Files become documents in documents.py after
their ACL is read (access.py); a file moved out of scope is deleted; a folder that moved or was
renamed has its files read again (their breadcrumb and link changed), found by a fresh
enumeration of the library (delta reports a moved folder without its descendants). Site pages are listed per site and
read when modified after the newest one the checkpoint saw.

Permissions. ``read_acls`` reads every file's effective permissions and every site's role
assignments without downloading anything; ``groups`` expands the site groups (SharePoint REST)
and Entra groups (Graph, transitively) that indexed ACLs name.

Deletions come from delta's ``deleted`` facet and from ``list_ids`` (a full enumeration), which
also removes what a 410 resync or a site leaving the scope left behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

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
from connectors.parsers.by_extension import SUPPORTED_SUFFIXES
from connectors.parsers.sandbox import ParserSandbox
from core.acl import Acl, PrincipalError, group_namespace
from core.config import ConfigError, FilesConfig
from core.secrets import SecretStore, require_secret

from .access import Access
from .client import SharePointClient
from .credentials import AppTokens
from .delta import Folders, last_wins, walk
from .documents import file_document, page_document, parse_instant
from .errors import SharePointAuthError, SharePointBadResponse, SharePointNotFound
from .principals import Namer, site_guid
from .scope import Library, Scope, Site
from .settings import SharePointConnectorConfig

PAGE_SELECT = "id,name,title,webUrl,lastModifiedDateTime,lastModifiedBy,createdBy"


class SharePointConnector(SyncConnector):
    def __init__(self, name: str, scope: Scope, client: SharePointClient, *, site_pages: bool = True,
                 concurrency: int = 4, files: FilesConfig | None = None) -> None:
        self.name = name
        self.scope = scope
        self.client = client
        self.site_pages = site_pages
        self.concurrency = concurrency
        self._source = f"sharepoint:{name}"
        try:
            self._namespace = group_namespace("sharepoint", name)
        except PrincipalError as exc:
            raise ConfigError(f"connectors.{name}: {exc}") from None
        self.namer = Namer(self._namespace)
        self.access = Access(client, self.namer, scope.anonymous)
        self._parser = ParserSandbox(files or FilesConfig())
        self._parsers = frozenset(SUPPORTED_SUFFIXES)
        self._sites: list[Site] | None = None

    @classmethod
    def from_config(cls, name: str, conf: SharePointConnectorConfig, secrets: SecretStore,
                    files: FilesConfig | None = None) -> SharePointConnector:
        scope = Scope.from_config(name, conf)
        where = f"connectors.{name}"
        if not conf.tenant_id or not conf.client_id:
            raise ConfigError(f"{where}.tenant_id and .client_id are required (the app registration's)")
        certificate = not conf.client_secret_secret
        if not certificate and conf.site_pages:
            raise ConfigError(f"{where}.site_pages needs a certificate (certificate_secret): a page's readers "
                              "come from SharePoint REST, which refuses tokens got with a client secret")
        secret = conf.certificate_secret if certificate else conf.client_secret_secret
        tokens = AppTokens(tenant_id=conf.tenant_id, client_id=conf.client_id,
                           credential=require_secret(secrets, secret), certificate=certificate,
                           secret_name=secret, authority_url=conf.authority_url, timeout=conf.timeout_seconds)
        try:
            client = SharePointClient(tokens, graph_url=conf.graph_url, rest_url=conf.rest_url or f"https://{scope.host}",
                                      host=scope.host, timeout=conf.timeout_seconds, max_retries=conf.max_retries,
                                      max_retry_wait=conf.max_retry_wait_seconds)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return cls(name, scope, client, site_pages=conf.site_pages, concurrency=conf.concurrency, files=files)

    @property
    def source(self) -> str:
        return self._source

    @property
    def group_namespace(self) -> str:
        return self._namespace

    def close(self) -> None:
        self.client.close()
        self._parser.close()

    # -- scope ----------------------------------------------------------------------------------

    def sites(self) -> list[Site]:
        if self._sites is None:
            if self.scope.sites:
                # GET /sites/{hostname}:/{server-relative-path}; the root site is /sites/{hostname}
                found = [self._site(self.client.get(f"sites/{self.scope.host}:{path}" if path else
                                                    f"sites/{self.scope.host}"))
                         for path in self.scope.sites]
            else:
                found = [self._site(s) for s in self.client.paged("sites", {"search": "*"})]
            self._sites = [s for s in found if self.scope.wants_site(s.path)]
        return self._sites

    def _site(self, body: Mapping[str, Any]) -> Site:
        web_url = str(body.get("webUrl") or "")
        path = unquote(urlsplit(web_url).path).strip("/")
        path = f"/{path}" if path else ""
        return Site(id=str(body.get("id") or ""), path=path.lower(),
                    title=str(body.get("displayName") or body.get("name") or path), web_url=web_url)

    def libraries(self) -> Iterator[Library]:
        for site in self.sites():
            for drive in self.client.paged(f"sites/{site.id}/drives", {"$select": "id,name,driveType"}):
                name = str(drive.get("name") or "")
                if drive.get("id") and self.scope.wants_library(name):
                    yield Library(site, str(drive["id"]), name)

    # -- content --------------------------------------------------------------------------------

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        self._sites = None
        drives: dict[str, Any] = dict((checkpoint or {}).get("drives") or {})
        pages: dict[str, Any] = dict((checkpoint or {}).get("pages") or {})

        def mark() -> CheckpointMark:
            return CheckpointMark({"drives": dict(drives), "pages": dict(pages)})

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sharepoint") as pool:
            for library in list(self.libraries()):
                saved = drives.get(library.drive_id) or {}
                folders = self._folders(library, saved.get("folders"))
                for page in walk(self.client, library.drive_id, saved.get("link")):
                    yield from self._delta_page(pool, library, folders, page.items)
                    drives[library.drive_id] = {"link": page.link, "folders": folders.saved()}
                    yield mark()
            if self.site_pages:
                for site in self.sites():
                    yield from self._pages(site, pages)
                    yield mark()
        yield mark()

    def _delta_page(self, pool: ThreadPoolExecutor, library: Library, folders: Folders,
                    items: list[dict[str, Any]]) -> Iterator[Change]:
        latest = last_wins(items)
        # Folders first: a page may list a file before the folder it was moved into.
        moved = {str(i["id"]) for i in latest if ("folder" in i or "root" in i) and folders.update(i)}
        files: list[tuple[dict[str, Any], str]] = []
        for item in latest:
            if "folder" in item or "root" in item:
                continue
            if item.get("deleted") is not None:
                yield Deleted(f"{library.drive_id}/{item.get('id', '')}")
            else:
                files.append((item, folders.parent_path(item) or ""))
        if moved:
            listed = {str(item.get("id")) for item, _ in files}
            files += [(i, w) for i, w in self._descendants(library, folders, moved) if str(i.get("id")) not in listed]
        yield from pool.map(lambda pair: self._file_change(library, pair[1], pair[0]), files)

    def _descendants(self, library: Library, folders: Folders, moved: set[str]) -> Iterator[tuple[dict[str, Any], str]]:
        """Every file below the folders ``moved``, with its folder's path. Delta is the one
        listing SharePoint offers from the root only, so the library is enumerated afresh (a
        rename or move is rare)."""
        for page in walk(self.client, library.drive_id, None):
            latest = last_wins(page.items)
            for item in latest:
                if "folder" in item or "root" in item:
                    folders.update(item)
            for item in latest:
                parent = item.get("parentReference") or {}
                if ("folder" in item or "root" in item or item.get("deleted") is not None
                        or not folders.below(str(parent.get("id") or ""), moved)):
                    continue
                yield item, folders.parent_path(item) or ""

    def _folders(self, library: Library, saved: Mapping[str, Any] | None = None) -> Folders:
        def lookup(folder_id: str) -> Mapping[str, Any] | None:
            try:
                return self.client.get(f"drives/{library.drive_id}/items/{folder_id}",
                                       {"$select": "id,name,root,parentReference"})
            except SharePointNotFound:
                return None
        return Folders(saved, lookup)

    def _file_change(self, library: Library, folder: str, item: Mapping[str, Any]) -> Change:
        source_id = f"{library.drive_id}/{item.get('id', '')}"
        if not self.scope.wants_file(library, folder):
            return Deleted(source_id, "out of scope (include_paths / exclude_paths)")
        problem = self.scope.problem(str(item.get("name") or ""), item.get("size"), self._parsers)
        if problem:
            return Skipped(source_id, problem)
        try:
            acl = self.access.file_acl(library.drive_id, str(item["id"]), site_guid(library.site.id))
        except SharePointNotFound:
            return Deleted(source_id, "no longer in SharePoint")
        except SharePointAuthError as exc:
            if exc.status != 403:
                raise  # the token itself: the whole source is unreadable
            return Failed(source_id, f"its permissions cannot be read: {exc}")
        if acl is None:
            return Skipped(source_id, "no permission lets anyone read it")
        return file_document(self._source, source_id, library, folder, item, acl, self.client,
                             self._parser, self.scope.max_bytes)

    def _pages(self, site: Site, seen: dict[str, Any]) -> Iterator[Change]:
        since = parse_instant(seen.get(site.id))
        newest = since
        acl: Acl | None | bool = False
        for page in self._list_pages(site):
            when = parse_instant(page.get("lastModifiedDateTime"))
            if since is not None and when is not None and when <= since:
                continue
            source_id = f"page/{site.id}/{page.get('id', '')}"
            if acl is False:
                acl = self.access.site_acl(site.path, site_guid(site.id))
            yield self._page_change(site, source_id, page, acl if isinstance(acl, Acl) else None)
            if when is not None and (newest is None or when > newest):
                newest = when
        if newest is not None:
            seen[site.id] = newest.isoformat()

    def _list_pages(self, site: Site) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.paged(f"sites/{site.id}/pages/microsoft.graph.sitePage", {"$select": PAGE_SELECT})
        except SharePointNotFound:
            return  # a site without a Site Pages library

    def _page_change(self, site: Site, source_id: str, listed: Mapping[str, Any], acl: Acl | None) -> Change:
        if acl is None:
            return Skipped(source_id, "no role assignment on the site lets anyone read it")
        refused = self._own_permissions(site, source_id, str(listed.get("name") or ""))
        if refused is not None:
            return refused
        try:
            page = self.client.get(f"sites/{site.id}/pages/{listed.get('id', '')}/microsoft.graph.sitePage",
                                   {"$expand": "canvasLayout"})
        except SharePointNotFound:
            return Deleted(source_id, "no longer in SharePoint")
        url = str(page.get("webUrl") or "")
        if url and "://" not in url:
            page = {**page, "webUrl": f"{site.web_url.rstrip('/')}/{url.lstrip('/')}"}
        return page_document(self._source, source_id, site, page, acl, self._parser)

    def _own_permissions(self, site: Site, source_id: str, name: str) -> Skipped | Failed | None:
        """None when the page inherits its site's readers. A page with its own permissions (its
        list item's inheritance broken) is refused, never indexed with the site's readers: Lore
        does not read a page's own role assignments yet."""
        path = f"{site.path.rstrip('/')}/SitePages/{name}".replace("'", "''")
        try:
            item = self.client.rest_get(site.path, f"web/GetFileByServerRelativeUrl('{path}')/ListItemAllFields",
                                        {"$select": "HasUniqueRoleAssignments"})
        except (SharePointNotFound, SharePointBadResponse) as exc:  # auth / outage: the run stops
            return Failed(source_id, f"the page's permissions could not be read, not indexed: {exc}")
        if item.get("HasUniqueRoleAssignments") is not False:
            return Skipped(source_id, "the page has permissions of its own, which Lore does not read yet")
        return None

    # -- permissions ------------------------------------------------------------------------------

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        self._sites = None
        libraries = {lib.drive_id: lib for lib in self.libraries()}
        sites = {s.id: s for s in self.sites()}
        # Every site in scope is validated, whether or not a page of it is asked for (REST: a
        # connector with a client secret, which reads no site pages, cannot).
        site_acls = ({sid: self.access.site_acl(s.path, site_guid(s.id)) for sid, s in sites.items()}
                     if self.site_pages else {})
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sharepoint-acl") as pool:
            yield from pool.map(lambda sid: self._acl_of(sid, libraries, site_acls, sites), source_ids)

    def _acl_of(self, source_id: str, libraries: Mapping[str, Library], site_acls: Mapping[str, Acl | None],
                sites: Mapping[str, Site]) -> AclItem:
        if source_id.startswith("page/"):
            _, site_id, page_id = source_id.split("/", 2)
            if site_id not in site_acls:
                return Deleted(source_id, "its site is no longer in scope")
            acl = site_acls[site_id]
            if not acl:
                return Skipped(source_id, "nobody may read the site")
            try:
                page = self.client.get(f"sites/{site_id}/pages/{page_id}/microsoft.graph.sitePage", {"$select": "name"})
            except SharePointNotFound:
                return Deleted(source_id, "no longer in SharePoint")
            return self._own_permissions(sites[site_id], source_id, str(page.get("name") or "")) or AclRead(source_id, acl)
        drive_id, _, item_id = source_id.rpartition("/")
        library = libraries.get(drive_id)
        if library is None:
            return Deleted(source_id, "its library is no longer in scope")
        try:
            file_acl = self.access.file_acl(drive_id, item_id, site_guid(library.site.id))
        except SharePointNotFound:
            return Deleted(source_id, "no longer in SharePoint")
        except SharePointAuthError as exc:
            if exc.status != 403:
                raise
            return Failed(source_id, f"its permissions cannot be read: {exc}")
        return AclRead(source_id, file_acl) if file_acl else Skipped(source_id, "no permission lets anyone read it")

    def groups(self, referenced: frozenset[str]) -> GroupSnapshot:
        by_guid = {site_guid(s.id): s for s in self.sites()}
        memberships: dict[str, frozenset[str]] = {}
        for principal in sorted(referenced):
            site_group = self.namer.parse_site_group(principal)
            oid = self.namer.parse_aad(principal)
            if site_group is not None:
                site = by_guid.get(site_group[0])
                memberships[principal] = (self.access.site_group_members(site.path, site_group[1])
                                          if site else frozenset())
            elif oid is not None:
                memberships[principal] = self.access.aad_members(oid)
        return GroupSnapshot(memberships)

    # -- deletion detection -----------------------------------------------------------------------

    def list_ids(self) -> Iterator[str]:
        self._sites = None
        for library in list(self.libraries()):
            folders = self._folders(library)
            for page in walk(self.client, library.drive_id, None):
                latest = last_wins(page.items)
                for item in latest:
                    if "folder" in item or "root" in item:
                        folders.update(item)
                for item in latest:
                    if ("folder" not in item and "root" not in item and item.get("deleted") is None
                            and self._listed(library, folders, item)):
                        yield f"{library.drive_id}/{item.get('id', '')}"
        if self.site_pages:
            for site in self.sites():
                yield from (f"page/{site.id}/{p.get('id', '')}" for p in self._list_pages(site))

    def _listed(self, library: Library, folders: Folders, item: Mapping[str, Any]) -> bool:
        folder = folders.parent_path(item) or ""
        return (self.scope.wants_file(library, folder)
                and self.scope.problem(str(item.get("name") or ""), item.get("size"), self._parsers) is None)


__all__ = ["SharePointConnector"]
