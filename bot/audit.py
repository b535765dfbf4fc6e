"""The server's side of the audit log: events recorded off the event loop, failures counted and
logged (never raised into a conversation), and authentication failures throttled.

Why failures do not stop answers: the audit log lives in the metadata database, which every
answer needs anyway (a database that is down takes the replica out of ``/readyz``); a write that
fails on its own is an alarm (``lore_audit_failures_total``, an error log line, ``/readyz``
degraded) rather than a refusal to answer.

Why authentication failures are throttled: anyone on the internet can send unsigned requests to
``/slack/events`` or ``/api/messages``; one audit row per request would let them fill the
database. One event per (platform, reason, remote address) per window is kept, and the next one
says how many were folded into it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.metrics import Metrics
from core.audit import AuditError, DatabaseAuditLog, load_audit_key, prune_events
from core.audit.events import AuditEvent, AuditSink, JsonValue
from core.config import Config
from core.db import Database
from core.secrets import SecretStore

log = logging.getLogger("lore.audit")

AUTH_WINDOW_SECONDS = 60.0
MAX_TRACKED_SOURCES = 10_000  # remote addresses remembered for the throttle (oldest dropped)

QuestionFields = Callable[[str], Mapping[str, JsonValue]]


def plain_question(text: str) -> Mapping[str, JsonValue]:
    return {"question": text}


class Auditor:
    def __init__(self, sink: AuditSink, metrics: Metrics, *,
                 question_fields: QuestionFields = plain_question,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.metrics = metrics
        self.question_fields = question_fields
        self.clock = clock
        self.last_error = ""  # for /readyz: the latest failure, until a write succeeds again
        self._auth_seen: OrderedDict[tuple[str, str, str], tuple[float, int]] = OrderedDict()
        self._pending: set[asyncio.Task[None]] = set()

    def record_now(self, event: AuditEvent) -> bool:
        """Store ``event`` (blocking); False when it could not be stored (counted and logged)."""
        try:
            self.sink.record(event)
        except Exception as exc:  # noqa: BLE001 - any failure is an alarm, never a crash
            self.metrics.audit_failures.labels(kind=event.kind).inc()
            self.last_error = exc.__class__.__name__
            log.error("audit event not stored", extra={"kind": event.kind, "error": exc.__class__.__name__})
            return False
        self.last_error = ""
        return True

    async def record(self, event: AuditEvent) -> bool:
        return await asyncio.to_thread(self.record_now, event)

    def record_later(self, build: Callable[[], Any]) -> None:
        """Run the coroutine ``build()`` returns as a task that finishes even if the caller is
        gone (an answer whose consumer stopped early is still audited); ``drain`` awaits it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a generator finalised outside any loop: nothing can run it now
            log.error("audit event dropped: no event loop to record it")
            self.metrics.audit_failures.labels(kind="unknown").inc()
            return
        task = loop.create_task(build())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the events still being recorded (tests; graceful shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def auth_failure(self, platform: str, reason: str, remote: str | None, *, claimed: str = "") -> None:
        key = (platform, reason, remote or "")
        now = self.clock()
        seen = self._auth_seen.get(key)
        if seen is not None and now - seen[0] < AUTH_WINDOW_SECONDS:
            self._auth_seen[key] = (seen[0], seen[1] + 1)
            return
        folded = seen[1] if seen is not None else 0
        self._auth_seen[key] = (now, 0)
        self._auth_seen.move_to_end(key)
        while len(self._auth_seen) > MAX_TRACKED_SOURCES:
            self._auth_seen.popitem(last=False)
        details: dict[str, JsonValue] = {"reason": reason, "remote": remote or ""}
        if folded:
            details["folded_since_last"] = folded
        await self.record(AuditEvent("auth_failure", actor=claimed[:200], platform=platform, details=details))

    def readiness(self) -> str:
        return "ok" if not self.last_error else f"degraded: last audit write failed ({self.last_error})"


class SecretFailureAudit:
    """The secret store's ``on_failure``: each failed vault operation becomes a
    ``secret_failure`` event (the store calls it at most once per attempt, and a vault that is
    down is attempted with backoff). Attached after the store is open (the audit log reads its
    key from it); a failure met while recording one is not recorded again."""

    def __init__(self) -> None:
        self.auditor: Auditor | None = None
        self._busy = threading.local()

    def __call__(self, name: str, operation: str, error: str) -> None:
        auditor = self.auditor
        if auditor is None or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            auditor.record_now(AuditEvent("secret_failure", actor="server", details={
                "secret_name": name, "operation": operation, "error": error}))
        finally:
            self._busy.on = False


def database_auditor(cfg: Config, db: Database, secrets: SecretStore, metrics: Metrics) -> Auditor:
    """The audit log in the metadata database (``audit.question_text = "hash"`` reads its key
    now: a missing key stops the start with one line, not the first question)."""
    sink = DatabaseAuditLog(db, cfg.audit, secrets)
    return Auditor(sink, metrics, question_fields=sink.question_details)


PRUNE_EVERY_SECONDS = 24 * 3600.0


async def prune_forever(cfg: Config, db: Database, secrets: SecretStore,
                        every: float = PRUNE_EVERY_SECONDS) -> None:
    """``audit.retention_days``: events older than that are pruned once a day behind a signed
    checkpoint (several replicas may do it; the chain's lock makes the later ones find nothing)."""
    while True:
        try:
            key = await asyncio.to_thread(load_audit_key, secrets, cfg.audit.key_secret,
                                          why="audit.retention_days prunes behind a signed checkpoint")
            result = await asyncio.to_thread(prune_events, db, key, cfg.audit.retention_days,
                                             now=datetime.now(UTC), actor="server", platform="")
            if result.pruned:
                log.info("audit log pruned", extra={"pruned": result.pruned, "through_seq": result.through_seq})
        except AuditError as exc:
            log.error("audit log not pruned", extra={"error": str(exc)})
        await asyncio.sleep(every)
