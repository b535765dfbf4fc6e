"""`DatabaseAuditLog`: the audit sink on the metadata database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core.audit.chain import AuditRecord, canonical_details, event_hash
from core.audit.errors import AuditError
from core.audit.events import AuditEvent, JsonValue
from core.audit.head import EVENTS, locked_chain, read_head
from core.audit.keys import load_audit_key, question_hmac
from core.db.engine import Database
from core.secrets.base import SecretStore
from core.secrets.redaction import REDACTED, SENSITIVE_KEY, Redactor
from core.sections import AuditConfig


def _utc_now() -> datetime:
    return datetime.now(UTC)


def redact_json(value: Any, redactor: Redactor) -> Any:
    """Every string (keys too) through the redactor; a value under a key that names a
    credential (``token``, ``password``, ...) replaced whatever it looks like."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, Mapping):
        return {
            redactor.redact(str(k)): REDACTED if SENSITIVE_KEY.fullmatch(str(k)) and v not in (None, "")
            else redact_json(v, redactor)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(v, redactor) for v in value]
    return value


class DatabaseAuditLog:
    """Appends events to one hash chain in ``audit_events``, safe from several threads,
    processes and replicas at once (core.audit.head).

    ``secrets`` holds the audit key; its redactor (or ``redactor``) cleans every event before
    it is stored. In ``audit.question_text = "hash"`` mode the key is read here, so a missing
    or malformed key stops the start, not the first question."""

    def __init__(self, db: Database, config: AuditConfig, secrets: SecretStore, *,
                 redactor: Redactor | None = None, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._config = config
        self._redactor = redactor if redactor is not None else secrets.redactor
        self._clock = clock
        self._question_key = (
            load_audit_key(secrets, config.key_secret, why='audit.question_text is "hash"')
            if config.question_text == "hash" else None
        )

    def question_details(self, question: str) -> dict[str, JsonValue]:
        """The ``question`` event's detail for what was asked, per ``audit.question_text``."""
        if self._question_key is not None:
            return {"question_hmac": question_hmac(self._question_key, question)}
        return {"question": self._redactor.redact(question)}

    def record(self, event: AuditEvent) -> None:
        self.append(event)

    def append(self, event: AuditEvent) -> AuditRecord:
        """Store ``event`` as the chain's next link and return the stored row."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Store ``events`` as consecutive links in one transaction: one lock, one commit (what
        a writer that buffers events uses to keep up with a burst)."""
        cleaned = [self._clean(e) for e in events]
        if not cleaned:
            return []
        try:
            with locked_chain(self._db) as conn:
                return append_locked(conn, cleaned, self._clock())
        except SQLAlchemyError as exc:
            raise AuditError(f"cannot store a {events[0].kind} audit event: {exc.__class__.__name__}: "
                             f"{self._redactor.redact(str(exc).splitlines()[0] if str(exc) else '')}") from None

    def _clean(self, event: AuditEvent) -> tuple[str, str, str, str]:
        details = canonical_details(redact_json(event.details, self._redactor))
        platform = self._redactor.redact(event.platform)
        if len(event.kind) > 32 or len(platform) > 32:
            raise AuditError("an audit event's kind and platform are at most 32 characters")
        # PostgreSQL text cannot hold NUL (details are JSON, where it is escaped).
        actor = self._redactor.redact(event.actor).replace("\x00", "\ufffd")
        return event.kind, actor, platform.replace("\x00", "\ufffd"), details

    def __repr__(self) -> str:
        return f"<DatabaseAuditLog question_text={self._config.question_text}>"


def append_locked(conn: Any, events: Sequence[tuple[str, str, str, str]], at: datetime) -> list[AuditRecord]:
    """Insert the next links, each ``(kind, actor, platform, canonical details)``; the caller
    holds the chain's lock (``locked_chain``)."""
    head = read_head(conn)
    seq, prev = head.seq, head.hash
    records = []
    for kind, actor, platform, details in events:
        seq += 1
        record = AuditRecord(seq, at, kind, actor, platform, details, prev,
                             event_hash(seq, at, kind, actor, platform, details, prev))
        records.append(record)
        prev = record.hash
    conn.execute(EVENTS.insert(), [
        {"seq": r.seq, "at": r.at, "kind": r.kind, "actor": r.actor, "platform": r.platform,
         "details": r.details, "prev_hash": r.prev_hash, "hash": r.hash} for r in records
    ])
    return records
