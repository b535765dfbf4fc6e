"""Audit log fixtures: a log on each engine, an audit key in an environment-variable store."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from core.audit import AuditEvent, DatabaseAuditLog
from core.db import Database
from core.secrets import EnvSecretStore
from core.sections import AuditConfig

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def store() -> EnvSecretStore:
    return EnvSecretStore({"LORE_SECRET_AUDIT_KEY": KEY})


@pytest.fixture
def key() -> bytes:
    return base64.b64decode(KEY)


class Clock:
    """Hands out increasing times from ``start`` (one second apart unless moved)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC))


@pytest.fixture
def audit_log(database: Database, store: EnvSecretStore, clock: Clock) -> DatabaseAuditLog:
    return DatabaseAuditLog(database, AuditConfig(), store, clock=clock)


def fill(log: DatabaseAuditLog, n: int) -> None:
    for i in range(n):
        log.record(AuditEvent("question", actor=f"user:u{i}@example.com", platform="slack",
                              details={"n": i, "outcome": "answered", "cited": [f"doc-{i}"]}))


@pytest.fixture
def filled(audit_log: DatabaseAuditLog) -> Callable[[int], None]:
    return lambda n: fill(audit_log, n)
