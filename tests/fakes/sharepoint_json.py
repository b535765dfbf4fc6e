"""How the SharePoint stand-in renders its model: Graph resources (driveItem, permission, site,
drive, sitePage, directory objects) and SharePoint REST (odata=nometadata) role assignments.

Shapes follow learn.microsoft.com/graph/api/resources/driveitem, .../resources/permission
(grantedToV2 / grantedToIdentitiesV2 with user, group, siteUser, siteGroup; link with scope and
type; inheritedFrom as an itemReference), .../resources/sitepage and .../resources/canvaslayout
(horizontalSections -> columns -> webparts, textWebPart.innerHtml), and
learn.microsoft.com/sharepoint/dev/sp-add-ins/set-custom-permissions-on-a-list-by-using-the-rest-interface
(RoleAssignment: PrincipalId, Member {Id, Title, LoginName, PrincipalType}, RoleDefinitionBindings
{Id, Name, RoleTypeKind, Hidden, Order}; PrincipalType 1 user, 4 security group, 8 SharePoint group).
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any
from urllib.parse import quote

from tests.fakes.sharepoint_model import (
    EVERYONE,
    GRAPH_ROLES,
    ROLE_DEFINITIONS,
    Item,
    Library,
    Page,
    Principal,
    SharingLink,
    Site,
    SiteGroup,
    iso,
    user_id,
)

EVERYONE_TITLE = "Everyone except external users"


def login_name(principal: str, tenant: str) -> str:
    if principal == EVERYONE:
        return f"c:0-.f|rolemanager|spo-grid-all-users/{tenant}"
    if principal.startswith("aad:"):
        return f"c:0t.c|tenant|{principal[4:]}"
    return f"i:0#.f|membership|{principal.removeprefix('user:')}"


def identity(email: str) -> dict[str, Any]:
    return {"id": user_id(email), "displayName": email.split("@")[0], "email": email}


def item_url(item: Item) -> str:
    lib = item.library
    path = "/".join(filter(None, [lib.url_name, item.path]))
    return lib.site.web_url + "/" + quote(path)


def drive_json(lib: Library) -> dict[str, Any]:
    return {"id": lib.id, "name": lib.name, "driveType": "documentLibrary", "description": "",
            "createdDateTime": iso(lib.created), "lastModifiedDateTime": iso(lib.created),
            "webUrl": lib.site.web_url + "/" + quote(lib.url_name)}


def site_json(site: Site) -> dict[str, Any]:
    return {"id": site.id, "name": site.path.rsplit("/", 1)[-1], "displayName": site.title,
            "webUrl": site.web_url, "createdDateTime": iso(site.created),
            "lastModifiedDateTime": iso(site.created), "siteCollection": {"hostname": site.sp.host}}


def item_json(item: Item, *, in_delta: bool, select: set[str] | None = None) -> dict[str, Any]:
    """A driveItem. In delta, as documented for OneDrive for Business / SharePoint: no
    ``parentReference.path``, no ``cTag``; a deleted item has neither ``name`` nor ``cTag``."""
    lib = item.library
    parent: dict[str, Any] = {"driveType": "documentLibrary", "driveId": lib.id, "siteId": lib.site.id}
    if item.parent is not None:
        parent["id"] = item.parent.id
        if not in_delta:
            parent["path"] = f"/drives/{lib.id}/root:" + ("/" + item.parent.path if item.parent.path else "")
    body: dict[str, Any] = {"@odata.type": "#microsoft.graph.driveItem", "id": item.id}
    if item.deleted:
        body.update({"deleted": {"state": "deleted"}, "parentReference": parent})
        body["folder" if item.is_folder else "file"] = {}
        return body
    body.update({
        "name": item.name,
        "eTag": f'"{{{item.unique_id.upper()}}},{item.version}"',
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "createdBy": {"user": identity(item.created_by)},
        "lastModifiedBy": {"user": identity(item.modified_by)},
        "parentReference": parent,
        "webUrl": item_url(item),
        "size": len(item.content) if not item.is_folder else sum(
            len(c.content) for c in item.children.values() if not c.is_folder),
        "fileSystemInfo": {"createdDateTime": iso(item.created), "lastModifiedDateTime": iso(item.modified)},
        "sharepointIds": {"listId": lib.list_id, "listItemId": str(item.list_item_id),
                          "listItemUniqueId": item.unique_id, "siteId": lib.site.site_guid,
                          "siteUrl": lib.site.web_url, "webId": lib.site.web_guid},
    })
    if not in_delta:
        body["cTag"] = f'"c:{{{item.unique_id.upper()}}},{item.content_version}"'
    if item.parent is None:
        body["root"] = {}
    if item.is_folder:
        body["folder"] = {"childCount": len(item.children)}
    else:
        mime = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
        body["file"] = {"mimeType": mime, "hashes": {"quickXorHash": item.quick_xor_hash}}
    if item.links:
        body["shared"] = {"scope": "anonymous" if any(k.scope == "anonymous" for k in item.links)
                          else "organization" if any(k.scope == "organization" for k in item.links) else "users"}
    if select is not None:
        body = {k: v for k, v in body.items() if k in select or k in ("id", "@odata.type", "deleted")}
    return body


def granted(principal: Principal, site: Site) -> dict[str, Any]:
    """``grantedToV2`` for a principal (identitySet / sharePointIdentitySet)."""
    tenant = site.sp.tenant
    if isinstance(principal, SiteGroup):
        return {"siteGroup": {"id": str(principal.id), "displayName": principal.title, "loginName": principal.title}}
    login = login_name(principal, tenant)
    site_user = {"id": str(site.site_user_id(login)), "loginName": login}
    if principal == EVERYONE:
        return {"siteUser": {**site_user, "displayName": EVERYONE_TITLE}}
    if principal.startswith("aad:"):
        group = site.sp.aad_groups.get(principal[4:])
        name = group.display_name if group else principal[4:]
        return {"group": {"id": principal[4:], "displayName": name},
                "siteUser": {**site_user, "displayName": name}}
    email = principal.removeprefix("user:")
    return {"user": identity(email), "siteUser": {**site_user, **{k: v for k, v in identity(email).items() if k != "id"}}}


def permissions_json(item: Item) -> list[dict[str, Any]]:
    """The item's permissions: direct ones, or those inherited (``inheritedFrom`` names the
    item they come from; the library root when they come from the site)."""
    lib = item.library
    grants, source = lib.effective(item)
    links: list[SharingLink] = source.links if source is not None else []
    link_groups = {id(k.group) for k in links}
    inherited: dict[str, Any] | None = None
    if source is not item:
        origin = source or lib.root
        inherited = {"driveId": lib.id, "id": origin.id,
                     "path": f"/drives/{lib.id}/root:" + ("/" + origin.path if origin.path else "")}
    out: list[dict[str, Any]] = []
    for principal, role in grants:
        if role not in GRAPH_ROLES or id(principal) in link_groups:
            continue
        perm: dict[str, Any] = {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{item.id}/{principal!s}/{role}").hex,
                                "roles": [GRAPH_ROLES[role]], "grantedToV2": granted(principal, lib.site),
                                "shareId": ""}
        if inherited is not None:
            perm["inheritedFrom"] = inherited
        out.append(perm)
    for link in links:
        holder = source or item
        perm = {"id": link.id, "roles": ["read"], "hasPassword": False, "shareId": "u!" + link.id,
                "link": {"scope": link.scope, "type": "view", "preventsDownload": False,
                         "webUrl": f"https://{lib.site.sp.host}/:w:/s{lib.site.path}/{link.id[:8]}"},
                "grantedToIdentitiesV2": [granted("user:" + u, lib.site) for u in link.users]}
        if inherited is not None or holder is not item:
            perm["inheritedFrom"] = inherited
        out.append(perm)
    return out


def member_json(principal: Principal, site: Site) -> dict[str, Any]:
    """A REST principal (SP.User / SP.Group), odata=nometadata."""
    if isinstance(principal, SiteGroup):
        return {"Id": principal.id, "IsHiddenInUI": principal.id in site.hidden,
                "LoginName": principal.title, "Title": principal.title, "PrincipalType": 8,
                "AllowMembersEditMembership": False, "OnlyAllowMembersViewMembership": True,
                "Description": None, "OwnerTitle": f"{site.title} Owners"}
    login = login_name(principal, site.sp.tenant)
    body: dict[str, Any] = {"Id": site.site_user_id(login), "IsHiddenInUI": False, "LoginName": login}
    if principal == EVERYONE:
        body.update({"Title": EVERYONE_TITLE, "PrincipalType": 4, "Email": "", "UserPrincipalName": None})
    elif principal.startswith("aad:"):
        group = site.sp.aad_groups.get(principal[4:])
        body.update({"Title": group.display_name if group else principal[4:], "PrincipalType": 4,
                     "Email": "", "UserPrincipalName": None})
    else:
        email = principal.removeprefix("user:")
        body.update({"Title": email.split("@")[0], "PrincipalType": 1, "Email": email,
                     "UserPrincipalName": email, "IsSiteAdmin": False})
    return body


def role_json(role: str) -> dict[str, Any]:
    number, kind, order, hidden = ROLE_DEFINITIONS[role]
    return {"Id": number, "Name": role, "RoleTypeKind": kind, "Order": order, "Hidden": hidden,
            "Description": role, "BasePermissions": {"High": "0", "Low": "0"}}


def assignment_json(principal: Principal, roles: list[str], site: Site, expand: set[str]) -> dict[str, Any]:
    member = member_json(principal, site)
    body: dict[str, Any] = {"PrincipalId": member["Id"]}
    if "member" in expand:
        body["Member"] = member
    if "roledefinitionbindings" in expand:
        body["RoleDefinitionBindings"] = [role_json(r) for r in roles]
    return body


def assignments(grants: list[tuple[Principal, str]]) -> list[tuple[Principal, list[str]]]:
    """Role assignments, one per principal with all its roles (as SharePoint groups them)."""
    merged: dict[int | str, tuple[Principal, list[str]]] = {}
    for principal, role in grants:
        key: int | str = id(principal) if isinstance(principal, SiteGroup) else principal
        entry = merged.setdefault(key, (principal, []))
        if role not in entry[1]:
            entry[1].append(role)
    return list(merged.values())


def page_json(page: Page, expand: bool) -> dict[str, Any]:
    site = page.site
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.sitePage", "id": page.id, "name": page.name,
        "title": page.title, "webUrl": f"{site.web_url}/SitePages/{quote(page.name)}",
        "pageLayout": "article", "promotionKind": "page", "showComments": True,
        "createdDateTime": iso(page.created), "lastModifiedDateTime": iso(page.modified),
        "eTag": f'"{{{page.id.upper()}}},{page.version}"',
        "parentReference": {"siteId": site.site_guid},
        "publishingState": {"level": "published", "versionId": f"{page.version}.0"},
    }
    if expand:
        body["canvasLayout"] = {"horizontalSections": [{
            "layout": "oneColumn", "id": "1", "emphasis": "none",
            "columns": [{"id": "1", "width": 12, "webparts": web_parts_json(page)}]}]}
    return body


def web_parts_json(page: Page) -> list[dict[str, Any]]:
    return [{"@odata.type": "#microsoft.graph.textWebPart", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{page.id}/{n}")),
             "innerHtml": html} for n, html in enumerate(page.web_parts)]
