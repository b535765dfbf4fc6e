"""Who is asking, and who else will read the reply, on Slack.

Identity: ``users.info`` (scope ``users:read.email``). A user becomes a full member of the
company (``org:members``) only when Slack says they are neither a guest (``is_restricted``,
``is_ultra_restricted``) nor from another organisation (a different team outside our Enterprise
Grid org, as in Slack Connect). A user from another organisation gets no identity at all unless
their team or org is listed in ``slack.trusted_teams``: the other organisation's admins set their
users' emails, so an email from there names nobody of ours (alice@ours set on their user would
otherwise read alice's documents). Deleted users, bots and users whose email Slack will not show
us get no identity either: the conversation service then answers nothing (fail closed).

Audience: ``conversations.info`` and ``conversations.members``. A channel shared with another
organisation (``is_ext_shared``), or with a guest or external member among its members, includes
outsiders; for those channels the members' identities are returned so the service can use only
what all of them may read. Channels larger than ``max_scan`` members are treated as including
outsiders (fail closed) rather than scanned member by member.

Lookups are cached per workspace and user for ``ttl`` seconds: an identity is a property of one
person, so the cache never lets one person's access serve another.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.turn import Audience, Identity, Turn

log = logging.getLogger("lore.slack")

ClientFor = Callable[[Turn], Awaitable[Any]]  # the workspace's AsyncWebClient for a turn


@dataclass(frozen=True)
class Workspace:
    team_id: str
    enterprise_id: str | None = None


def workspace_of(turn: Turn) -> Workspace:
    # Turn.workspace is "<enterprise_id>:<team_id>" on Enterprise Grid, "<team_id>" otherwise.
    enterprise, _, team = turn.workspace.rpartition(":")
    return Workspace(team_id=team, enterprise_id=enterprise or None)


@dataclass(frozen=True)
class Member:
    """A conversation member: a bot (reads nothing, so it does not narrow the audience), a
    person with a trusted identity, or a person we cannot name (identity None)."""

    is_bot: bool
    identity: Identity | None


def classify(user: dict[str, Any], home: Workspace, trusted: frozenset[str] = frozenset()) -> Member:
    if user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT":
        return Member(is_bot=True, identity=None)
    return Member(is_bot=False, identity=identity_from_user(user, home, trusted))


def identity_from_user(user: dict[str, Any], home: Workspace, trusted: frozenset[str] = frozenset()) -> Identity | None:
    """An ``Identity`` from a users.info ``user`` object, or None when Lore must not trust it.
    ``trusted``: ids of other teams / Enterprise Grid orgs whose users' emails are trusted."""
    if user.get("deleted") or user.get("is_bot") or user.get("id") == "USLACKBOT":
        return None
    email = (user.get("profile") or {}).get("email")
    if not isinstance(email, str) or "@" not in email:
        return None  # no users:read.email scope, or hidden: we cannot name this person
    guest = bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
    team = user.get("team_id")
    enterprise = (user.get("enterprise_user") or {}).get("enterprise_id") or user.get("enterprise_id")
    same_org = team == home.team_id or (home.enterprise_id is not None and enterprise == home.enterprise_id)
    if not same_org and not ({team, enterprise} & trusted):
        log.info("user of another organisation gets no identity", extra={"team": team, "enterprise": enterprise})
        return None
    name = str(user.get("real_name") or (user.get("profile") or {}).get("real_name") or "")
    return Identity(email=email.strip().lower(), org_member=same_org and not guest, display_name=name)


class _TtlCache:
    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, str], tuple[float, Member]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Member | None:
        entry = self._items.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return entry[1]

    def put(self, key: tuple[str, str], value: Member) -> None:
        self._items[key] = (time.monotonic() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


HomeFor = Callable[[Turn], Awaitable["Workspace"]]  # the organisation Lore is installed in


async def home_from_turn(turn: Turn) -> Workspace:
    """Home as the turn names it: right only where the turn was matched to an installation."""
    return workspace_of(turn)


class SlackPeople:
    """Implements both ``IdentityResolver`` and ``AudienceResolver`` for Slack turns.

    ``home_for`` names the organisation whose people are ours: with one configured bot token it
    is the token's own workspace (``auth.test``), whatever a request says; with OAuth installs
    it is the installation the turn was delivered for."""

    def __init__(self, client_for: ClientFor, *, ttl: float = 300.0, max_entries: int = 50_000,
                 max_scan: int = 2_000, trusted_teams: frozenset[str] = frozenset(),
                 home_for: HomeFor = home_from_turn) -> None:
        self.client_for = client_for
        self.home_for = home_for
        self.trusted_teams = trusted_teams
        self.max_scan = max_scan
        self._cache = _TtlCache(ttl, max_entries)

    async def _member(self, client: Any, home: Workspace, user_id: str) -> Member:
        key = (home.enterprise_id or home.team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        response = await client.users_info(user=user_id)
        member = classify(response["user"], home, self.trusted_teams)
        self._cache.put(key, member)
        return member

    async def resolve(self, turn: Turn) -> Identity | None:
        client = await self.client_for(turn)
        return (await self._member(client, await self.home_for(turn), turn.user_id)).identity

    async def audience(self, turn: Turn) -> Audience:
        client = await self.client_for(turn)
        home = await self.home_for(turn)
        info = (await client.conversations_info(channel=turn.conversation_id))["channel"]
        member_ids: list[str] = []
        cursor = ""
        while True:
            page = await client.conversations_members(channel=turn.conversation_id, limit=200, cursor=cursor or None)
            member_ids.extend(page.get("members") or [])
            if len(member_ids) > self.max_scan:
                log.info("channel too large to scan for guests; treating it as shared",
                         extra={"members": len(member_ids)})
                return Audience(includes_outsiders=True, members=None)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        people = [m.identity for m in [await self._member(client, home, uid) for uid in member_ids] if not m.is_bot]
        outsiders = bool(info.get("is_ext_shared")) or any(p is None or not p.org_member for p in people)
        if not outsiders:
            return Audience(includes_outsiders=False)
        if any(p is None for p in people):
            return Audience(includes_outsiders=True, members=None)  # someone we cannot name
        return Audience(includes_outsiders=True, members=tuple(p for p in people if p is not None))
