"""`lore audit verify | export | prune` in-process, on the SQLite database of a config file."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.cli.audit import parse_when
from bot.errors import CliError
from core.audit import AuditEvent, DatabaseAuditLog
from core.db import open_database
from core.secrets import EnvSecretStore
from core.sections import AuditConfig
from tests.builders import load_config

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    monkeypatch.setenv("LORE_SECRET_AUDIT_KEY", KEY)
    path = tmp_path / "lore.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[server]\nmode = "development"\n'
                    '[audit]\nretention_days = 30\n')
    return path


def append(config: Path, count: int, start: datetime) -> None:
    cfg = load_config(config, env={})
    db = open_database(cfg.database_url)
    times = iter(start + timedelta(hours=i) for i in range(count))
    try:
        log = DatabaseAuditLog(db, AuditConfig(), EnvSecretStore({}), clock=lambda: next(times))
        for i in range(count):
            log.record(AuditEvent("admin", actor="user:ops@example.com", platform="slack",
                                  details={"command": "status", "allowed": True, "i": i}))
    finally:
        db.close()


def tamper(config: Path, statement: str) -> None:
    db = open_database(load_config(config, env={}).database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        db.close()


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "audit", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_verify_passes_then_reports_the_first_broken_link(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, config, "verify")
    assert (code, out) == (0, "ok: 0 events\n")
    append(config, 6, datetime.now(UTC) - timedelta(hours=6))
    code, out, _ = run(capsys, config, "verify")
    assert code == 0 and out.startswith("ok: 6 events, seq 1-6, head ")
    head = out.split("head ")[1].strip()
    assert len(head) == 64
    assert run(capsys, config, "verify", "--anchor", head)[0] == 0
    tamper(config, "DELETE FROM audit_events WHERE seq = 3")
    code, out, _ = run(capsys, config, "verify")
    assert code == 1
    assert out == "broken: seq 4: seq 3 missing after seq 2: rows were deleted (2 events verified before it)\n"


def test_verify_with_an_anchor_catches_truncation(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    append(config, 4, datetime.now(UTC) - timedelta(hours=4))
    head = run(capsys, config, "verify")[1].split("head ")[1].strip()
    tamper(config, "DELETE FROM audit_events WHERE seq = 4")
    assert run(capsys, config, "verify")[0] == 0  # the chain alone cannot tell
    code, out, _ = run(capsys, config, "verify", "--anchor", head)
    assert code == 1 and f"the anchored hash {head} is not in the chain" in out


def test_export_to_a_file_and_to_stdout(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    append(config, 5, datetime(2026, 3, 1, 22, tzinfo=UTC))  # 22:00 March 1st .. 02:00 March 2nd
    target = tmp_path / "audit.jsonl"
    code, out, err = run(capsys, config, "export", "--since", "2026-03-02", "--output", str(target))
    assert (code, out, err) == (0, "", f"exported 3 events to {target}\n")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [3, 4, 5] and lines[0]["details"]["command"] == "status"
    code, out, _ = run(capsys, config, "export", "--since", "2026-03-01T23:00:00+01:00", "--until", "2026-03-02T01:00")
    assert code == 0 and [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3]
    code, _, err = run(capsys, config, "export", "--since", "last tuesday")
    assert code == 2 and "--since: 'last tuesday' is not an ISO 8601 date or datetime" in err
    code, _, err = run(capsys, config, "export", "--since", "2026-03-02", "--until", "2026-03-01")
    assert code == 2 and "--until must be later than --since" in err


def test_prune_then_verify(config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    append(config, 3, datetime.now(UTC) - timedelta(days=50))
    append(config, 2, datetime.now(UTC) - timedelta(days=2))
    code, out, _ = run(capsys, config, "prune", "--older-than-days", "60")
    assert (code, out) == (0, "nothing to prune: no events older than 60 days\n")
    code, out, _ = run(capsys, config, "prune")  # audit.retention_days = 30
    assert code == 0
    assert out == "pruned 3 events (seq up to 3, older than 30 days); recorded as event 6\n"
    code, out, _ = run(capsys, config, "verify")
    assert code == 0 and out.startswith("ok: 3 events, seq 4-6, seq 1-3 pruned (signed checkpoint), head ")
    monkeypatch.delenv("LORE_SECRET_AUDIT_KEY")
    code, _, err = run(capsys, config, "verify")
    assert code == 2 and "needs the audit key" in err
    code, _, err = run(capsys, config, "prune")
    assert code == 2 and "the audit key is not set (to sign the pruning checkpoint)" in err
    assert "LORE_SECRET_AUDIT_KEY" in err


def test_prune_needs_a_retention(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.write_text(config.read_text().replace("retention_days = 30", "retention_days = 0"))
    code, _, err = run(capsys, config, "prune")
    assert code == 2 and "set audit.retention_days, or pass --older-than-days N" in err


def test_a_malformed_key_is_one_clear_line(config: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_SECRET_AUDIT_KEY", "bm90LTMyLWJ5dGVz")
    code, _, err = run(capsys, config, "prune")
    assert code == 2 and "is not base64 of 32 bytes" in err and "bm90LTMyLWJ5dGVz" not in err


def test_parse_when() -> None:
    assert parse_when("2026-12-01", "--since") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_when("2026-12-01T08:30", "--since") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert parse_when("2026-12-01T08:30:00Z", "--since") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert parse_when("2026-12-01T09:30:00+01:00", "--since") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(CliError):
        parse_when("2026-13-01", "--until")
