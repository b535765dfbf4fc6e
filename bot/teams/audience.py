"""Who else reads an answer posted in a Teams group chat or channel (the policy of bot.audience).

A roster member (the Bot Framework ``TeamsChannelAccount`` of ``GET /v3/conversations/{id}/
pagedmembers``: ``id``, ``aadObjectId``, ``tenantId``, ``userRole``, ``email``,
``userPrincipalName``, ``name``) is an outsider when Teams says it is a guest or anonymous
(``userRole`` other than ``"user"``), when it belongs to another tenant than the one Lore serves
there, when it has no Entra object id, or when its UPN is a B2B one (``#EXT#``). A roster with
an outsider, or whose people Graph cannot all vouch for as full members, includes outsiders:
the answer may only draw on what every member can read, so each member's identity is needed
(None when any is unknown: the conversation service then searches nothing). A roster of full
members only uses ``org:members``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import BotError
from bot.turn import Audience, Identity

__all__ = ["BadRosterMember", "TeamsMember", "audience_of"]


class BadRosterMember(BotError, ValueError):
    """A roster entry that is not a Bot Framework TeamsChannelAccount: the roster is unreadable."""


@dataclass(frozen=True)
class TeamsMember:
    id: str  # the Bot Framework user id ("29:...")
    aad_object_id: str | None
    tenant_id: str | None
    user_role: str | None  # "user", "guest", "anonymous" (None: Teams did not say)
    email: str | None = None
    user_principal_name: str | None = None
    name: str = ""

    @classmethod
    def from_json(cls, data: object) -> TeamsMember:
        """A roster entry; BadRosterMember (a ValueError) for anything that is not one."""
        if not isinstance(data, Mapping):
            raise BadRosterMember(
                f"a Teams roster member must be a JSON object, not {type(data).__name__}"
            )
        member_id = data.get("id")
        if not isinstance(member_id, str) or not member_id.strip():
            raise BadRosterMember("a Teams roster member has no id")
        fields = {
            key: _text(data, key)
            for key in ("aadObjectId", "tenantId", "userRole", "email", "userPrincipalName", "name")
        }
        return cls(
            id=member_id,
            aad_object_id=fields["aadObjectId"],
            tenant_id=fields["tenantId"],
            user_role=fields["userRole"].lower() if fields["userRole"] else None,
            email=fields["email"],
            user_principal_name=fields["userPrincipalName"],
            name=fields["name"] or "",
        )

    def is_outsider(self, served_tenant: str) -> bool:
        """What the roster alone says: guest, anonymous, another tenant, no object id, B2B."""
        return (
            self.user_role != "user"
            or not self.aad_object_id
            or (self.tenant_id or "").lower() != served_tenant.lower()
            or "#ext#" in (self.user_principal_name or "").lower()
        )


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRosterMember(f"a Teams roster member's {key} must be text")
    return value.strip() or None


def audience_of(
    members: Sequence[TeamsMember], served_tenant: str, identities: Sequence[Identity] | None
) -> Audience:
    """The audience of a conversation whose roster is ``members``; ``identities`` are theirs
    (TeamsDirectory.identities, in any order), None when some could not be resolved."""
    if not members:  # a conversation has at least the asker: an empty roster was not read
        return Audience(includes_outsiders=True, members=None)
    complete = identities is not None and len(identities) == len(members)
    outsiders = (
        any(m.is_outsider(served_tenant) for m in members)
        or not complete
        or any(not i.org_member for i in identities or ())
    )
    if not outsiders:
        return Audience(includes_outsiders=False)
    return Audience(
        includes_outsiders=True, members=tuple(identities) if complete and identities else None
    )
