"""Who may read a file, a page or a site, and who is in the groups those ACLs name.

Files. Graph lists an item's *effective* sharing permissions, those set on the item and those
inherited from its ancestors (``inheritedFrom``; learn.microsoft.com/graph/api/
driveitem-list-permissions, .../resources/permission). The ACL is one clause: any principal of
a permission whose roles grant reading (``read``, ``write``, ``owner``; never Limited Access,
which only lets a principal traverse to something shared deeper). A file whose inheritance is
broken lists only what was granted on it, so the site's groups do not read it unless they were
copied. Sharing links (learn.microsoft.com/graph/api/resources/sharinglink): ``organization``
-> ``org:members``; ``users`` -> the people in ``grantedToIdentitiesV2``; ``anonymous`` -> the
``anonymous_link_readers`` setting (nobody by default); ``existingAccess`` adds nobody.

Site pages take the site's ACL: its role assignments read through SharePoint REST
(``_api/web/roleassignments?$expand=Member,RoleDefinitionBindings``; learn.microsoft.com/
sharepoint/dev/sp-add-ins/set-custom-permissions-on-a-list-by-using-the-rest-interface). A
binding grants reading by its RoleTypeKind for the built-in levels (Guest = 1 is Limited Access),
or, for a custom level
(RoleTypeKind 0), when its BasePermissions hold ViewListItems (bit 0x1 of ``Low``).

Groups. Site groups' members come from ``_api/web/sitegroups/getbyid(<id>)/users``; an Entra
group among them, and every Entra group granted directly, is expanded through Graph
``/groups/{id}/transitiveMembers`` (learn.microsoft.com/graph/api/group-list-transitivemembers),
users only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.errors import AclUnavailable
from core.acl import Acl

from .client import SharePointClient
from .errors import SharePointNotFound
from .principals import Namer

READ_ROLES = frozenset({"read", "write", "owner", "sp.full control", "sp.edit", "sp.read", "sp.contribute"})
_READ_KINDS = frozenset({2, 3, 4, 5, 6})  # Reader, Contributor, WebDesigner, Administrator, Editor
_READ_NAMES = frozenset({"read", "edit", "contribute", "design", "full control", "view only"})


def grants_read(roles: Iterable[object]) -> bool:
    names = {str(r).strip().lower() for r in roles}
    return any(n in READ_ROLES for n in names)


def binding_reads(binding: Mapping[str, Any]) -> bool:
    """The built-in levels by RoleTypeKind; a custom level (kind 0) by its ViewListItems bit."""
    kind = binding.get("RoleTypeKind")
    if isinstance(kind, int) and kind:
        return kind in _READ_KINDS
    base = binding.get("BasePermissions")
    if isinstance(base, Mapping) and str(base.get("Low") or "0") not in {"", "0"}:
        try:
            return int(str(base["Low"])) & 0x1 == 1
        except ValueError:
            pass
    return str(binding.get("Name") or "").strip().lower() in _READ_NAMES


class Access:
    """ACLs of one connector instance; ``anonymous`` are the principals an anonymous link gives."""

    def __init__(self, client: SharePointClient, namer: Namer, anonymous: Sequence[str]) -> None:
        self._client = client
        self._namer = namer
        self._anonymous = tuple(anonymous)

    def permission_principals(self, permission: Mapping[str, Any], site_guid: str) -> list[str]:
        """The principals one Graph permission lets read (none when its roles do not)."""
        if not grants_read(permission.get("roles") or []):
            return []
        link = permission.get("link")
        if isinstance(link, Mapping) and link:
            scope = str(link.get("scope") or "").lower()
            if scope == "organization":
                return ["org:members"]
            if scope == "anonymous":
                return list(self._anonymous)
            if scope == "users":
                return [p for ident in _identities(permission) for p in self._namer.identity(ident, site_guid)]
            return []  # existingAccess: the link adds nobody
        out: list[str] = []
        for ident in _identities(permission):
            out += self._namer.identity(ident, site_guid)
        return out

    def file_acl(self, drive_id: str, item_id: str, site_guid: str) -> Acl | None:
        """The file's ACL from its effective permissions; None when nobody may read it.
        Raises SharePointNotFound when the item is gone."""
        principals: set[str] = set()
        for permission in self._client.paged(f"drives/{drive_id}/items/{item_id}/permissions"):
            principals.update(self.permission_principals(permission, site_guid))
        return Acl.of([principals]) if principals else None

    def site_acl(self, site_path: str, site_guid: str) -> Acl | None:
        """The ACL of a site's own role assignments (what its pages inherit)."""
        principals: set[str] = set()
        params = {"$expand": "Member,RoleDefinitionBindings"}
        for assignment in self._client.rest_paged(site_path, "web/roleassignments", params):
            bindings = assignment.get("RoleDefinitionBindings")
            if isinstance(bindings, Mapping):  # verbose OData nests them under "results"
                bindings = bindings.get("results")
            if not any(isinstance(b, Mapping) and binding_reads(b) for b in bindings or []):
                continue
            principals.update(self.member_principals(assignment.get("Member") or {}, site_guid))
        return Acl.of([principals]) if principals else None

    def member_principals(self, member: Mapping[str, Any], site_guid: str) -> list[str]:
        """A REST role assignment's Member: user (1), security group (4), site group (8)."""
        kind = member.get("PrincipalType")
        if kind == 8:
            found = self._namer.site_group(site_guid, member.get("Id"))
            return [found] if found else []
        return self._namer.login(member.get("LoginName"), member.get("Email"))

    # -- memberships ---------------------------------------------------------------------------

    def site_group_members(self, site_path: str, group_id: str) -> frozenset[str]:
        emails: set[str] = set()
        try:
            users = list(self._client.rest_paged(site_path, f"web/sitegroups/getbyid({int(group_id)})/users"))
        except SharePointNotFound:
            return frozenset()  # the group is gone: nobody reads through it
        for user in users:
            for principal in self._namer.login(user.get("LoginName"), user.get("Email")):
                if principal.startswith("user:"):
                    emails.add(principal.removeprefix("user:"))
                elif oid := self._namer.parse_aad(principal):
                    emails |= self.aad_members(oid)
        return frozenset(emails)

    def aad_members(self, object_id: str) -> frozenset[str]:
        emails: set[str] = set()
        params = {"$select": "id,mail,userPrincipalName"}
        try:
            members = self._client.paged(f"groups/{object_id}/transitiveMembers", params)
            for member in members:
                kind = str(member.get("@odata.type") or "#microsoft.graph.user")
                if kind.endswith(".user"):
                    found = self._namer.user(member.get("mail")) or self._namer.user(member.get("userPrincipalName"))
                    if found:
                        emails.add(found.removeprefix("user:"))
        except SharePointNotFound:
            return frozenset()
        return frozenset(emails)


def _identities(permission: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    one = permission.get("grantedToV2") or permission.get("grantedTo")
    if isinstance(one, Mapping):
        found.append(one)
    for key in ("grantedToIdentitiesV2", "grantedToIdentities"):
        many = permission.get(key)
        if isinstance(many, list):
            found += [i for i in many if isinstance(i, Mapping)]
            break
    return found


__all__ = ["Access", "AclUnavailable", "binding_reads", "grants_read"]
