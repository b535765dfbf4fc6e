"""Two processes appending to one chain at once (replicas), three threads each, on PostgreSQL
and on SQLite: the chain stays one, contiguous and verifiable, with every event of both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.audit import verify_chain
from core.db import open_database
from tests.conftest import PG_URL, REPO

WRITER = """
import sys
import threading
from core.audit import AuditEvent, DatabaseAuditLog
from core.db import open_database
from core.secrets import EnvSecretStore
from core.sections import AuditConfig

url, schema, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
db = open_database(url, schema, upgrade=False)
log = DatabaseAuditLog(db, AuditConfig(), EnvSecretStore({}))
print("ready", flush=True)
sys.stdin.readline()  # both start appending together

def work(thread):
    for i in range(count // 3):
        log.record(AuditEvent("question", actor=f"user:{name}@example.com", platform="teams",
                              details={"thread": thread, "i": i}))

threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
db.close()
"""

PER_PROCESS = 150


def _run_two(url: str, schema: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, schema, name, str(PER_PROCESS)], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("replica-a", "replica-b")]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr and p.stderr.read()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_two_processes_keep_one_verifiable_chain(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if engine == "postgresql":
        url, schema = PG_URL, request.getfixturevalue("pg_schema")
    else:
        url, schema = f"sqlite:///{tmp_path / 'lore.db'}", ""
    db = open_database(url, schema)  # migrated once, before the writers start
    try:
        _run_two(url, schema)
        result = verify_chain(db, None)
        assert result.broken is None, str(result.broken)
        assert (result.events, result.first_seq, result.last_seq) == (2 * PER_PROCESS, 1, 2 * PER_PROCESS)
        with db.engine.connect() as conn:
            actors: dict[str, int] = dict(conn.exec_driver_sql("SELECT actor, COUNT(*) FROM audit_events GROUP BY actor").all())
            interleaved = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM audit_events a JOIN audit_events b ON b.seq = a.seq + 1 "
                "WHERE a.actor <> b.actor").scalar_one()
        assert actors == {"user:replica-a@example.com": PER_PROCESS, "user:replica-b@example.com": PER_PROCESS}
        assert interleaved > 0  # they really wrote at the same time
    finally:
        db.close()
