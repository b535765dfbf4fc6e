"""The SharePoint Online stand-in's data: sites, document libraries (drives), items, site groups,
role assignments, sharing links and each library's change log (what delta reads).

Kept apart from the HTTP side (:mod:`tests.fakes.sharepoint`) so that the test controls and the
handlers share one model under one lock. Sizes: a library holds its items in one dict and its
change log as a list of item ids (the log index is the change's sequence number), so 20,000 files
cost 20,000 small objects and delta pages are cut from the log lazily (see
:meth:`Library.delta_page`), never by copying the drive.

Why the change log works as it does (learn.microsoft.com/graph/api/driveitem-delta, Remarks):
"The delta feed shows the latest state for each item, not each change" -- an entry is reported
only if it is the item's last change (``Item.last_seq``); "renaming a folder doesn't result in
any descendants of the folder being returned" -- a move logs only the moved item; a file copied
in logs a change whatever its ``lastModifiedDateTime`` says (the change log, not the timestamp,
drives delta).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import itertools
import operator
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.sharepoint import SharePointStandIn

ROLES = ("Full Control", "Design", "Edit", "Contribute", "Read", "Limited Access")
# SharePoint's built-in role definitions: (Id, RoleTypeKind, Order, Hidden)
ROLE_DEFINITIONS: dict[str, tuple[int, int, int, bool]] = {
    "Full Control": (1073741829, 5, 1, False),
    "Design": (1073741828, 4, 32, False),
    "Edit": (1073741830, 6, 48, False),
    "Contribute": (1073741827, 3, 64, False),
    "Read": (1073741826, 2, 128, False),
    "Limited Access": (1073741825, 1, 160, True),
}
# How Graph's permission resource names SharePoint roles (learn.microsoft.com/graph/api/
# resources/permission: roles "read", "write", "owner"); Limited Access is not listed by Graph.
GRAPH_ROLES = {"Full Control": "owner", "Design": "write", "Edit": "write", "Contribute": "write",
               "Read": "read"}
EVERYONE = "everyone"  # "Everyone except external users"
LINK_SCOPES = ("organization", "users", "anonymous")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quick_xor_hash(data: bytes) -> str:
    """OneDrive's QuickXorHash (learn.microsoft.com/onedrive/developer/code-snippets/
    quickxorhash): each byte XORed into a 160-bit register at a bit offset advancing by 11 and
    wrapping, then the length (64-bit little-endian) XORed into the last 8 bytes; base64. The
    offsets repeat every 160 bytes, so bytes 160 apart are XORed together first."""
    register = 0
    for start in range(min(160, len(data))):
        byte = functools.reduce(operator.xor, data[start::160], 0)
        shifted = byte << (start * 11 % 160)
        register ^= (shifted & ((1 << 160) - 1)) | (shifted >> 160)
    out = bytearray(register.to_bytes(20, "little"))
    for offset, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + offset] ^= value
    return base64.b64encode(bytes(out)).decode("ascii")


def user_id(email: str) -> str:
    """A stable Entra object id for a user, derived from the address."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "user:" + email.lower()))


@dataclass(eq=False)
class SiteGroup:
    """A SharePoint site group (not an Entra group): members are e-mail addresses or
    ``aad:<object id>`` for Entra groups."""

    site: Site
    id: int
    title: str
    members: list[str] = field(default_factory=list)


Principal = str | SiteGroup  # "user:x@..", "aad:<object id>", "everyone", or a site group


@dataclass(eq=False)
class SharingLink:
    id: str
    scope: str  # organization | users | anonymous
    group: SiteGroup  # the hidden "SharingLinks.<item>.<kind>.<link>" group SharePoint creates
    users: list[str]


class Securable:
    """Something with role assignments: a site (web) or an item. ``unique`` is None while it
    inherits from its parent."""

    unique: list[tuple[Principal, str]] | None
    links: list[SharingLink]

    def _check(self, principal: Principal, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if isinstance(principal, str) and not (
            principal == EVERYONE or principal.startswith(("user:", "aad:"))
        ):
            raise ValueError(f"principal {principal!r}: 'user:<email>', 'aad:<id>', 'everyone' or a site group")


@dataclass(eq=False)
class Item(Securable):
    library: Library
    id: str
    list_item_id: int
    name: str
    parent: Item | None
    is_folder: bool
    content: bytes = b""
    created: dt.datetime = field(default_factory=now)
    modified: dt.datetime = field(default_factory=now)
    created_by: str = "admin@contoso.example"
    modified_by: str = "admin@contoso.example"
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1
    content_version: int = 1
    deleted: bool = False
    last_seq: int = 0
    children: dict[str, Item] = field(default_factory=dict)
    unique: list[tuple[Principal, str]] | None = None
    links: list[SharingLink] = field(default_factory=list)
    _hash: tuple[int, str] = (0, "")

    @property
    def quick_xor_hash(self) -> str:
        if self._hash[0] != self.content_version:
            self._hash = (self.content_version, quick_xor_hash(self.content))
        return self._hash[1]

    @property
    def path(self) -> str:
        """The item's path below the library root ("" for the root)."""
        parts: list[str] = []
        node: Item | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))

    def break_inheritance(self, copy: bool = False) -> None:
        """Give the item its own role assignments (``copy``: start from the inherited ones)."""
        with self.library.site.sp.lock:
            if self.unique is None:
                self.unique = list(self.library.effective(self)[0]) if copy else []
            self.library.touch(self, content=False)

    def reset_inheritance(self) -> None:
        with self.library.site.sp.lock:
            self.unique = None
            self.links = []
            self.library.touch(self, content=False)

    def grant(self, principal: Principal, role: str) -> None:
        self._check(principal, role)
        with self.library.site.sp.lock:
            if self.unique is None:
                raise ValueError("break_inheritance() first: the item inherits its permissions")
            self.unique.append((principal, role))
            self.library.touch(self, content=False)

    def revoke(self, principal: Principal) -> None:
        with self.library.site.sp.lock:
            if self.unique is not None:
                self.unique = [(p, r) for p, r in self.unique if p != principal]
            self.library.touch(self, content=False)

    def share_link(self, scope: str, users: list[str] | None = None) -> SharingLink:
        """A view link. Like SharePoint, creating one breaks the item's inheritance (keeping the
        inherited assignments) and grants Read to a hidden ``SharingLinks...`` site group."""
        if scope not in LINK_SCOPES:
            raise ValueError(f"link scope {scope!r}: one of {', '.join(LINK_SCOPES)}")
        site = self.library.site
        with site.sp.lock:
            if self.unique is None:
                self.unique = list(self.library.effective(self)[0])
            kind = {"organization": "OrganizationView", "users": "Flexible", "anonymous": "AnonymousView"}[scope]
            link_id = str(uuid.uuid4())
            group = site.new_group(f"SharingLinks.{self.unique_id}.{kind}.{link_id}", list(users or []), hidden=True)
            link = SharingLink(link_id, scope, group, list(users or []))
            self.links.append(link)
            self.unique.append((group, "Read"))
            self.library.touch(self, content=False)
            return link

    def remove_link(self, link: SharingLink) -> None:
        with self.library.site.sp.lock:
            self.links.remove(link)
            if self.unique is not None:
                self.unique = [(p, r) for p, r in self.unique if p is not link.group]
            self.library.touch(self, content=False)


class Library:
    """A document library: a SharePoint list and a Graph drive."""

    def __init__(self, site: Site, name: str) -> None:
        self.site = site
        self.name = name
        self.list_id = str(uuid.uuid4())
        self.id = "b!" + uuid.uuid4().hex + uuid.uuid4().hex[:22]
        self.url_name = "Shared Documents" if name == "Documents" else name
        self.created = now()
        self._ids = itertools.count(1)
        self.items: dict[str, Item] = {}
        self.by_number: dict[int, Item] = {}  # list item id -> item, for REST's items(N)
        self.log: list[str] = []  # item ids; the index is the change's sequence number
        self.epoch = 0  # delta tokens (and next links) of an older epoch answer 410
        self.rounds: dict[str, set[str]] = {}  # delta round id -> folders sent ahead of their turn
        self.root = self._new(None, "root", True)

    def _new(self, parent: Item | None, name: str, folder: bool, **kw: Any) -> Item:
        number = next(self._ids)
        item = Item(self, f"01{uuid.uuid4().hex.upper()[:30]}{number:06d}"[-38:], number, name, parent, folder, **kw)
        self.items[item.id] = item
        self.by_number[number] = item
        if parent is not None:
            parent.children[name.lower()] = item
        self._log(item)
        return item

    def _log(self, item: Item) -> None:
        item.last_seq = len(self.log)
        self.log.append(item.id)

    def touch(self, item: Item, *, content: bool) -> None:
        """Record a change (caller holds the lock). Permission changes show in delta too, as
        SharePoint reports sharing changes there (driveitem-delta, "Scanning permissions")."""
        item.version += 1
        if content:
            item.content_version += 1
        self._log(item)

    def _resolve(self, path: str, create: bool) -> Item:
        node = self.root
        for part in [p for p in path.strip("/").split("/") if p]:
            child = node.children.get(part.lower())
            if child is None:
                if not create:
                    raise KeyError(f"no folder {path!r} in {self.name}")
                child = self._new(node, part, True)
            elif not child.is_folder:
                raise ValueError(f"{part!r} in {path!r} is a file")
            node = child
        return node

    def item(self, path: str) -> Item:
        with self.site.sp.lock:
            folder, _, name = path.strip("/").rpartition("/")
            found = self._resolve(folder, False).children.get(name.lower()) if name else self.root
            if found is None:
                raise KeyError(f"no item {path!r} in {self.name}")
            return found

    def add_folder(self, path: str) -> Item:
        with self.site.sp.lock:
            return self._resolve(path, True)

    def add_file(self, path: str, content: bytes, modified: dt.datetime | None = None,
                 created_by: str = "admin@contoso.example") -> Item:
        with self.site.sp.lock:
            folder, _, name = path.strip("/").rpartition("/")
            parent = self._resolve(folder, True)
            if name.lower() in parent.children:
                raise ValueError(f"{path!r} exists; use edit()")
            stamp = modified or now()
            return self._new(parent, name, False, content=content, created=stamp, modified=stamp,
                             created_by=created_by, modified_by=created_by)

    def copy_in(self, path: str, content: bytes, modified: dt.datetime) -> Item:
        """A file copied or synced in keeps its old ``lastModifiedDateTime`` but is a change
        all the same (a timestamp-based crawl would miss it; delta does not)."""
        return self.add_file(path, content, modified=modified)

    def edit(self, item: Item, content: bytes, modified: dt.datetime | None = None,
             by: str | None = None) -> None:
        with self.site.sp.lock:
            if item.deleted or item.is_folder:
                raise ValueError("only a live file can be edited")
            item.content = content
            item.modified = modified or now()
            if by:
                item.modified_by = by
            self.touch(item, content=True)

    def delete(self, item: Item) -> None:
        """To the recycle bin: the item and everything below it appear with ``deleted``."""
        with self.site.sp.lock:
            if item.parent is None:
                raise ValueError("the root cannot be deleted")
            for node in list(_walk(item))[::-1]:
                node.deleted = True
                self._log(node)
            item.parent.children.pop(item.name.lower(), None)

    def move(self, item: Item, folder: str, new_name: str | None = None) -> None:
        with self.site.sp.lock:
            target = self._resolve(folder, True)
            name = new_name or item.name
            if name.lower() in target.children:
                raise ValueError(f"{folder}/{name} exists")
            node: Item | None = target
            while node is not None:
                if node is item:
                    raise ValueError("cannot move a folder into itself")
                node = node.parent
            assert item.parent is not None
            item.parent.children.pop(item.name.lower(), None)
            item.name, item.parent = name, target
            target.children[name.lower()] = item
            item.modified = now()
            self.touch(item, content=False)

    def rename(self, item: Item, new_name: str) -> None:
        assert item.parent is not None
        self.move(item, item.parent.path, new_name)

    def effective(self, item: Item) -> tuple[list[tuple[Principal, str]], Item | None]:
        """The role assignments that apply and the item they come from (None: the site)."""
        node: Item | None = item
        while node is not None:
            if node.unique is not None:
                return node.unique, node
            node = node.parent
        return self.site.unique, None

    def delta_page(self, start: int, end: int, cursor: int, top: int,
                   early: set[str]) -> tuple[list[Item], int]:
        """Items whose last change lies in ``[start, end)``, scanning the log from ``cursor``:
        (about ``top`` items, the next cursor; ``end`` when the round is done). A folder whose
        own last change comes later in the round (it was moved) is sent before its first
        descendant instead, and remembered in ``early`` (the round's state) to skip it there:
        parents precede children, as in the service's hierarchical enumeration."""
        found: list[Item] = []
        position = max(cursor, start)
        while position < end and len(found) < top:
            item = self.items[self.log[position]]
            if item.last_seq == position and item.id not in early:
                ahead = []
                node = item.parent
                while node is not None and not item.deleted:
                    if position < node.last_seq < end and node.id not in early:
                        ahead.append(node)
                    node = node.parent
                for ancestor in reversed(ahead):
                    early.add(ancestor.id)
                    found.append(ancestor)
                found.append(item)
            position += 1
        return found, position


def _walk(item: Item) -> Iterator[Item]:
    yield item
    for child in list(item.children.values()):
        yield from _walk(child)


@dataclass(eq=False)
class Page:
    site: Site
    id: str
    name: str
    title: str
    web_parts: list[str]
    created: dt.datetime
    modified: dt.datetime
    version: int = 1
    unique: bool = False  # its list item's inheritance broken (its own permissions)

    def break_inheritance(self) -> None:
        with self.site.sp.lock:
            self.unique = True

    def update(self, html_web_parts: list[str] | None = None, title: str | None = None,
               modified: dt.datetime | None = None) -> None:
        with self.site.sp.lock:
            if html_web_parts is not None:
                self.web_parts = list(html_web_parts)
            if title is not None:
                self.title = title
            self.modified = modified or now()
            self.version += 1


class Site(Securable):
    def __init__(self, sp: SharePointStandIn, path: str, title: str) -> None:
        self.sp = sp
        self.path = "/" + path.strip("/")
        self.title = title
        self.site_guid, self.web_guid = str(uuid.uuid4()), str(uuid.uuid4())
        self.id = f"{sp.host},{self.site_guid},{self.web_guid}"
        self.created = now()
        self.libraries: list[Library] = []
        self.pages: list[Page] = []
        self.groups: dict[int, SiteGroup] = {}
        self.hidden: set[int] = set()
        self._ids = itertools.count(7)
        self.site_users: dict[str, int] = {}  # login name -> site user id
        self.owners = self._group(3, f"{title} Owners")
        self.visitors = self._group(4, f"{title} Visitors")
        self.members = self._group(5, f"{title} Members")
        self.unique: list[tuple[Principal, str]] = [
            (self.owners, "Full Control"), (self.members, "Edit"), (self.visitors, "Read")]
        self.links: list[SharingLink] = []
        self.default = self.add_library("Documents")

    @property
    def web_url(self) -> str:
        return f"https://{self.sp.host}{self.path}"

    def _group(self, number: int, title: str) -> SiteGroup:
        group = SiteGroup(self, number, title)
        self.groups[number] = group
        return group

    def new_group(self, title: str, members: list[str], hidden: bool = False) -> SiteGroup:
        group = self._group(next(self._ids), title)
        group.members = list(members)
        if hidden:
            self.hidden.add(group.id)
        return group

    def site_user_id(self, login: str) -> int:
        """Site user ids are per site (the User Information List), assigned on first use."""
        if login not in self.site_users:
            self.site_users[login] = next(self._ids)
        return self.site_users[login]

    def add_library(self, name: str) -> Library:
        with self.sp.lock:
            library = Library(self, name)
            self.libraries.append(library)
            self.sp.drives[library.id] = library
            return library

    def add_site_group(self, title: str, members: list[str] | None = None) -> SiteGroup:
        with self.sp.lock:
            return self.new_group(title, list(members or []))

    def set_group_members(self, group: SiteGroup, members: list[str]) -> None:
        with self.sp.lock:
            group.members = list(members)

    def grant(self, principal: Principal, role: str) -> None:
        self._check(principal, role)
        with self.sp.lock:
            self.unique.append((principal, role))

    def revoke(self, principal: Principal) -> None:
        with self.sp.lock:
            self.unique = [(p, r) for p, r in self.unique if p != principal]

    def add_page(self, name: str, title: str, html_web_parts: list[str],
                 modified: dt.datetime | None = None) -> Page:
        with self.sp.lock:
            stamp = modified or now()
            page = Page(self, str(uuid.uuid4()), name, title, list(html_web_parts), stamp, stamp)
            self.pages.append(page)
            return page

    def delete_page(self, page: Page) -> None:
        with self.sp.lock:
            self.pages.remove(page)


@dataclass
class AadGroup:
    id: str
    display_name: str
    members: list[str]  # e-mail addresses
    nested: list[str]  # object ids of member groups


def new_lock() -> threading.RLock:
    return threading.RLock()
