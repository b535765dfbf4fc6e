"""SharePoint's and Graph's identities -> Lore principals.

- A person: ``user:<email>`` (Graph ``email``/``userPrincipalName``; SharePoint login names
  ``i:0#.f|membership|<upn>``).
- A Microsoft Entra group (security or Microsoft 365; login names ``c:0t.c|tenant|<object id>``
  and ``c:0o.c|federateddirectoryclaimprovider|<object id>``, ``_o`` for its owners): both
  ``group:aad:<object id>`` (what the Teams adapter gives its members) and this connector's
  ``group:sharepoint:<instance>:aad:<object id>``, whose members the connector syncs
  transitively (Slack and the web chat get no directory groups).
- A SharePoint site group: ``group:sharepoint:<instance>:sitegroup:<site guid>:<group id>``
  (site group numbers are unique only within one site collection); members synced through
  SharePoint REST.
- "Everyone except external users" (``c:0-.f|rolemanager|spo-grid-all-users/<tenant>``) and
  "Everyone" (``c:0(.s|true``): ``org:members`` (never guests: Lore cannot tell external users
  apart, so it gives them nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.acl import ORG_MEMBERS, PrincipalError, parse_principal

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EVERYONE = ("spo-grid-all-users", "c:0(.s|true", "c:0-.f|rolemanager|everyone")


class Namer:
    """Principals in the namespace ``namespace`` (``group:sharepoint:<instance>:``)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def user(self, email: object) -> str | None:
        if not isinstance(email, str) or "@" not in email:
            return None
        try:
            return parse_principal(f"user:{email}")
        except PrincipalError:
            return None

    def aad(self, object_id: object) -> list[str]:
        oid = str(object_id or "").lower()
        if not _GUID.fullmatch(oid):
            return []
        return [f"group:aad:{oid}", f"{self.namespace}aad:{oid}"]

    def site_group(self, site_guid: str, group_id: object) -> str | None:
        gid = str(group_id or "")
        if not gid.isdigit() or not _GUID.fullmatch(site_guid.lower()):
            return None
        return f"{self.namespace}sitegroup:{site_guid.lower()}:{gid}"

    def parse_site_group(self, principal: str) -> tuple[str, str] | None:
        """(site guid, group id) of one of our site-group principals."""
        rest = principal.removeprefix(self.namespace)
        kind, _, tail = rest.partition(":")
        guid, _, gid = tail.partition(":")
        return (guid, gid) if kind == "sitegroup" and principal != rest and gid else None

    def parse_aad(self, principal: str) -> str | None:
        rest = principal.removeprefix(self.namespace)
        kind, _, oid = rest.partition(":")
        return oid if kind == "aad" and principal != rest and _GUID.fullmatch(oid) else None

    def login(self, login_name: object, email: object = None) -> list[str]:
        """The principals of a SharePoint login name (claims encoded)."""
        login = str(login_name or "").lower()
        if any(marker in login for marker in _EVERYONE):
            return [ORG_MEMBERS]
        if login.startswith(("c:0t.c|tenant|", "c:0o.c|federateddirectoryclaimprovider|")):
            oid = login.rsplit("|", 1)[-1]
            if oid.endswith("_o"):  # the owners of a Microsoft 365 group: not its members
                return []
            return self.aad(oid)
        if login.startswith("i:0#.f|membership|"):
            found = self.user(email) or self.user(login.rsplit("|", 1)[-1])
            return [found] if found else []
        found = self.user(email)
        return [found] if found else []

    def identity(self, identity: Mapping[str, Any], site_guid: str) -> list[str]:
        """A Graph ``sharePointIdentitySet`` / ``identitySet`` (``grantedToV2``, one of
        ``grantedToIdentitiesV2``): user, group, siteUser, siteGroup."""
        out: list[str] = []
        user = identity.get("user")
        if isinstance(user, Mapping):
            found = self.user(user.get("email")) or self.user(user.get("userPrincipalName"))
            out += [found] if found else []
        group = identity.get("group")
        if isinstance(group, Mapping):
            if _is_everyone(group):
                out.append(ORG_MEMBERS)
            else:
                out += self.aad(group.get("id"))
        site_user = identity.get("siteUser")
        if isinstance(site_user, Mapping):
            out += self.login(site_user.get("loginName"), site_user.get("email"))
        site_group = identity.get("siteGroup")
        if isinstance(site_group, Mapping):
            if _is_everyone(site_group):
                out.append(ORG_MEMBERS)
            else:
                found = self.site_group(site_guid, site_group.get("id"))
                out += [found] if found else []
        return out


def _is_everyone(entity: Mapping[str, Any]) -> bool:
    login = str(entity.get("loginName") or "").lower()
    return any(marker in login for marker in _EVERYONE) or str(entity.get("displayName") or "").lower() in {
        "everyone except external users"}


def site_guid(site_id: str) -> str:
    """The site collection's guid in a Graph site id ``<host>,<site guid>,<web guid>``."""
    parts = site_id.split(",")
    return parts[1].lower() if len(parts) == 3 else site_id.lower()
