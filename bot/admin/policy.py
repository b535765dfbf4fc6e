"""Who may run admin commands, and where.

An admin is a verified identity (the chat platform resolved it), a full member of the company
(never a guest or an external user, even when listed), whose e-mail is in ``admins.users`` or
who holds one of the principals in ``admins.groups``. Admin output shows document titles and
access lists, so the commands only answer privately: a direct message, or a private reply.
A refusal never names the admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.admin.messages import UNVERIFIED, ask_privately, not_an_admin
from bot.turn import Identity, Kind, Turn
from core.sections import AdminsConfig

# Why a command was refused (the audit row's ``reason``); "" when it was allowed.
IDENTITY, GUEST, NOT_ADMIN, SHARED = "identity", "guest", "not_admin", "shared_conversation"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # IDENTITY, GUEST, NOT_ADMIN, SHARED
    message: str = ""  # what the asker is told when refused


def refusal(command: str, reason: str) -> str:
    word = f"!{command.replace('-', ' ')}" if command != "unknown" else "That"
    if reason == IDENTITY:
        return UNVERIFIED
    if reason == SHARED:
        return ask_privately(word)
    return not_an_admin(word)


class AdminPolicy:
    def __init__(self, admins: AdminsConfig) -> None:
        self.users = frozenset(e.strip().lower() for e in admins.users if e.strip())
        self.groups = frozenset(g.strip() for g in admins.groups if g.strip())

    def is_admin(self, identity: Identity, principals: Sequence[str]) -> bool:
        if not identity.org_member:
            return False
        return identity.email.strip().lower() in self.users or bool(self.groups & set(principals))

    def decide(self, command: str, turn: Turn, identity: Identity | None, principals: Sequence[str]) -> Decision:
        if identity is None:
            return Decision(False, IDENTITY, refusal(command, IDENTITY))
        if not identity.org_member:
            return Decision(False, GUEST, refusal(command, GUEST))
        if not self.is_admin(identity, principals):
            return Decision(False, NOT_ADMIN, refusal(command, NOT_ADMIN))
        if not (turn.private or turn.kind is Kind.DIRECT):
            return Decision(False, SHARED, refusal(command, SHARED))
        return Decision(True)
