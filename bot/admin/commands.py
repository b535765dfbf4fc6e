"""Running one admin command: parse, decide, audit, answer.

Every attempt is audited (``kind="admin"``), allowed or refused, before anything runs; an audit
log that cannot be written refuses the command, since an admin action nobody can review later
must not happen. The commands' output only ever goes to an admin privately (bot.admin.policy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from bot.admin.access import who_can_read
from bot.admin.messages import (
    AUDIT_FAILED,
    NO_SCHEDULER,
    TRY_HELP,
    command_failed,
    sync_requested,
    unknown_command,
    unknown_connector,
)
from bot.admin.messages import HELP as HELP_LIST
from bot.admin.parse import (
    HELP,
    STATUS,
    SYNC,
    UNKNOWN,
    WHO_CAN_READ,
    WHY,
    Command,
    is_command,
    parse_command,
)
from bot.admin.policy import AdminPolicy, Decision
from bot.admin.status import render_compact
from bot.admin.trigger import SyncTrigger
from bot.admin.why import Search, explain
from bot.turn import Identity, Notice, Refused, Turn
from core.audit.events import AuditEvent, AuditSink, JsonValue
from core.config import Config
from core.db import Database
from core.secrets.redaction import redact_patterns
from retrieval.relevance import RelevanceGate, RelevanceSettings
from retrieval.runtime import Runtime
from retrieval.search import Mode

log = logging.getLogger("lore.admin")

StatusText = Callable[[], str]  # the compact status (blocking: database, server readiness)
MAX_TARGET_CHARS = 500


def sync_now(trigger: SyncTrigger | None, connector: str) -> str:
    if trigger is None or not trigger.bound:
        return NO_SCHEDULER
    try:
        names = trigger.request(connector or None)
    except KeyError:
        return unknown_connector(connector, trigger.connectors)
    return sync_requested(names)


class AdminCommands:
    """The conversation service's admin hook (``ConversationService(admin=...)``)."""

    def __init__(self, policy: AdminPolicy, audit: AuditSink, *, db: Database, search: Search,
                 status: StatusText, relevance: RelevanceGate | None = None,
                 sync: SyncTrigger | None = None) -> None:
        self.policy = policy
        self.audit = audit
        self.db = db
        self.search = search
        self.status = status
        self.relevance = relevance
        self.sync = sync

    @staticmethod
    def wants(text: str) -> bool:
        return is_command(text)

    async def run(self, turn: Turn, identity: Identity | None, principals: Sequence[str], *,
                  limited: Refused | None = None) -> Refused | Notice:
        """``limited``: the rate limiter refused the asker; audited as such and returned."""
        command = parse_command(turn.text) or Command(UNKNOWN)
        decision = self.policy.decide(command.name, turn, identity, principals)
        if limited is not None:
            decision = Decision(False, "rate_limited", limited.reason)
        actor = f"user:{identity.email}" if identity else f"{turn.platform}:{turn.workspace}:{turn.user_id}"
        details: dict[str, JsonValue] = {"command": command.name, "allowed": decision.allowed,
                                         "reason": decision.reason, "target": _target(command)}
        try:
            await asyncio.to_thread(self.audit.record, AuditEvent("admin", actor, turn.platform, details))
        except Exception:
            log.exception("admin command not audited; refused", extra={"command": command.name})
            return Refused(AUDIT_FAILED, "unavailable")
        if not decision.allowed:
            return limited or Refused(decision.message, "admin")
        return Notice(await self.execute(command, principals), command.name)

    async def execute(self, command: Command, principals: Sequence[str]) -> str:
        """The command's output for someone already allowed to run it (chat, or `lore admin`)."""
        if command.name == HELP:
            return HELP_LIST
        if command.name == UNKNOWN:
            return unknown_command(command.typed) if command.typed else TRY_HELP
        if command.name == SYNC:
            return sync_now(self.sync, command.argument)  # in the loop: the scheduler's wake event
        try:
            if command.name == STATUS:
                return await asyncio.to_thread(self.status)
            if command.name == WHO_CAN_READ:
                return await asyncio.to_thread(who_can_read, self.db, command.argument)
            return await asyncio.to_thread(explain, self.db, self.search, self.relevance, command.argument,
                                           list(principals))
        except Exception as exc:
            log.exception("admin command failed", extra={"command": command.name})
            return command_failed(command.name, exc.__class__.__name__)


def _target(command: Command) -> str:
    # The question of !why is not recorded: the question audit (audit.question_text) decides
    # whether question text is stored at all; the command and its outcome are.
    if command.name == WHY:
        return ""
    # A pasted URL may carry a credential (a token in its query): well-known shapes are masked.
    return redact_patterns((command.argument or command.typed)[:MAX_TARGET_CHARS])


def status_text(cfg: Config) -> StatusText:
    """The compact status of the configuration ``cfg``."""
    from bot.status import collect_status, collect_sync_status

    def text() -> str:
        return render_compact(collect_status(cfg), collect_sync_status(cfg) if cfg.connectors else [])

    return text


def admin_commands(runtime: Runtime, audit: AuditSink, *, sync: SyncTrigger | None = None) -> AdminCommands:
    """The admin commands over one runtime, searching as the conversation service does."""
    cfg = runtime.config
    return AdminCommands(
        AdminPolicy(cfg.admins), audit, db=runtime.db,
        search=lambda q, principals: runtime.searcher.search_with_detail(q, principals, mode=Mode.HYBRID),
        status=status_text(cfg), relevance=RelevanceGate(RelevanceSettings(min_score=cfg.answers.min_relevance)),
        sync=sync,
    )
