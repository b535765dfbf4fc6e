"""Audit log throughput: appends per second (every question appends one event) and verify's
rate, on SQLite and PostgreSQL.

Run: ``python -m pytest -q -m bench -p no:cacheprovider -s bench/test_bench_audit.py``

One writer appends N events one by one (each its own transaction: take the chain's lock, read
the head, insert, commit), then four threads append N between them (they queue on the lock:
this shows what the serialization costs), then N more in batches of 50 with ``append_many``
(one lock and one commit a batch), then the chain is verified.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench._workload import machine, write_result
from core.audit import AuditEvent, DatabaseAuditLog, verify_chain
from core.db import Database, open_database
from core.secrets import EnvSecretStore
from core.sections import AuditConfig
from tests.conftest import PG_URL, pg_schema  # noqa: F401 - the fixture, for this module

N = 2000
THREADS = 4
BATCH = 50
MIN_APPENDS_PER_S = 100.0  # far below what was measured: under it, appends regressed

pytestmark = [pytest.mark.bench, pytest.mark.timeout(600)]

EVENT = AuditEvent("question", actor="user:someone@example.com", platform="slack", details={
    "conversation": "channel", "question": "What is the parental leave policy for part-time staff?",
    "outcome": "answered", "retrieved": [f"files:handbook:hr/doc-{i}.md" for i in range(8)],
    "cited": ["files:handbook:hr/doc-1.md"], "withheld": [], "provider": "groq", "latency_ms": 1234,
})


def _appends_per_s(log: DatabaseAuditLog, threads: int) -> float:
    def work(n: int) -> None:
        for _ in range(n):
            log.record(EVENT)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(N // threads,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return N / (time.perf_counter() - started)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_bench_audit_appends(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db: Database = (open_database(f"sqlite:///{tmp_path / 'lore.db'}") if engine == "sqlite"
                    else open_database(PG_URL, request.getfixturevalue("pg_schema")))
    try:
        log = DatabaseAuditLog(db, AuditConfig(), EnvSecretStore({}))
        single = _appends_per_s(log, 1)
        threaded = _appends_per_s(log, THREADS)
        started = time.perf_counter()
        for _ in range(N // BATCH):
            log.append_many([EVENT] * BATCH)
        batched = N / (time.perf_counter() - started)
        started = time.perf_counter()
        result = verify_chain(db, None)
        verify_rate = result.events / (time.perf_counter() - started)
        assert result.ok and result.events == 3 * N
    finally:
        db.close()
    data = {"engine": engine, "events": 3 * N, f"appends_per_s_batches_of_{BATCH}": round(batched), "appends_per_s_1_writer": round(single),
            f"appends_per_s_{THREADS}_threads": round(threaded), "verify_events_per_s": round(verify_rate),
            "machine": machine()}
    print(f"\naudit {engine}: {single:.0f} appends/s (1 writer), {threaded:.0f} appends/s ({THREADS} threads), "
          f"{batched:.0f} appends/s (append_many, {BATCH} a batch), verify {verify_rate:.0f} events/s")
    write_result(f"audit_{engine}", data)
    assert single > MIN_APPENDS_PER_S and threaded > MIN_APPENDS_PER_S
