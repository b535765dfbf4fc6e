"""`lore admin ...`: the admin commands for operators, on the handbook, audited as the OS user."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.cli.admin import cmd_admin
from bot.errors import CliError
from tests.bot.admin_helpers import ListSink
from tests.builders import load_config
from tests.conftest import REPO

HANDBOOK = REPO / "examples" / "handbook"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.setenv("LORE_SERVER_PORT", "9")  # status asks a server there: none listens
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    assert main(["ingest", str(HANDBOOK)]) == 0
    capsys.readouterr()
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["admin", *args])
    return code, capsys.readouterr().out


def test_who_can_read_why_and_status(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "who-can-read", "hr/confidential/salary-bands.md")
    assert code == 0 and "**Salary bands 2026**" in out and "(1 member)" in out
    code, out = run(capsys, "who-can-read", "no/such/page.md")
    assert code == 0 and out == "No document with that URL or id.\n"
    code, out = run(capsys, "why", "What is the salary band for L5?", "--as", "carol@northwind.example")
    assert code == 0 and out.startswith("A search with carol@northwind.example's access retrieves")
    assert "Salary bands 2026" in out and "withheld in a shared conversation" in out
    code, out = run(capsys, "why", "What is the salary band for L5?", "--as", "erin@northwind.example")
    assert code == 0 and "Salary bands" not in out
    code, out = run(capsys, "status")
    assert code == 0 and "27 documents" in out and "**Index and database**: in step" in out


def test_sync_without_connectors_is_one_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "sync"]) == 2
    assert "no connectors configured" in capsys.readouterr().err


def test_each_use_is_audited_as_the_operator(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_config()
    audit = ListSink()
    args = build_parser().parse_args(["admin", "who-can-read", "hr/benefits.md"])
    assert cmd_admin(cfg, args, audit) == 0
    (row,) = audit.events
    assert (row.kind, row.actor, row.platform) == ("admin", f"operator:{getpass.getuser()}", "cli")
    assert row.details == {"command": "who-can-read", "allowed": True, "reason": "", "target": "hr/benefits.md"}
    capsys.readouterr()
    with pytest.raises(CliError, match="audit log cannot be written"):
        cmd_admin(cfg, argparse.Namespace(admin_command="status"), ListSink(fail=True))
    assert capsys.readouterr().out == ""  # nothing ran
