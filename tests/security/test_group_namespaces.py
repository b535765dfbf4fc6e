"""Item 1: group names collide across sources.

Root ``hr/`` has ``groups.yaml`` ``hr: [carol]`` and ``secret/_acl.yaml`` allowing
``group:files:hr``; a second files root ``team/`` declares ``hr: [mallory]``. Before the fix,
after ingesting ``team/`` mallory found ``hr/secret/salaries.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from connectors.files import FilesConnector, RuleError
from core.config import Config
from core.db import open_database
from core.memberships import groups_of, members_of
from tests.builders import sync_engine, write
from tests.connectors.sync.fake_source import FakeSource


@pytest.fixture
def two_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    hr, team = tmp_path / "hr", tmp_path / "team"
    write(hr, "groups.yaml", "hr: [carol@northwind.example]\n")
    write(hr, "secret/_acl.yaml", "allow: [group:files:hr]\n")
    write(hr, "secret/salaries.md", "# Salaries\n\nThe L5 salary band is 90k to 110k.\n")
    write(team, "groups.yaml", "hr: [mallory@northwind.example]\n")
    write(team, "_acl.yaml", "allow: [org:members]\n")
    write(team, "notes.md", "# Team notes\n\nStandup at nine.\n")
    return hr, team


def search(capsys: pytest.CaptureFixture[str], email: str) -> set[str]:
    assert main(["search", "salary band", "--as", email, "--json", "--mode", "bm25"]) == 0
    return {r["source_id"] for r in json.loads(capsys.readouterr().out)["results"]}


def test_a_second_root_defining_the_same_group_grants_nothing(
    two_roots: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    hr, team = two_roots
    assert main(["ingest", str(hr)]) == 0
    assert main(["ingest", str(team)]) == 0
    capsys.readouterr()
    assert search(capsys, "carol@northwind.example") == {"secret/salaries.md"}
    assert search(capsys, "mallory@northwind.example") == set()


def test_configured_connectors_name_their_groups(tmp_path: Path, two_roots: tuple[Path, Path]) -> None:
    hr, team = two_roots
    engine = sync_engine(tmp_path / "store")
    db = engine.db
    for name, root in (("hr", hr), ("team", team)):
        assert engine.run(FilesConnector(root, Config().files, instance=name), "full").status == "succeeded"
    assert members_of(db, "group:files:hr:hr") == {"carol@northwind.example"}
    assert members_of(db, "group:files:team:hr") == {"mallory@northwind.example"}
    assert groups_of(db, "mallory@northwind.example") == {"group:files:team:hr"}
    assert engine.index.lexical_search("salary", ["group:files:team:hr", "org:members"], 5) == []
    db.close()


def test_a_source_handing_out_another_sources_group_is_ignored(tmp_path: Path) -> None:
    engine = sync_engine(tmp_path / "store")
    db = engine.db
    source = FakeSource()  # its namespace is group:files:fake:
    source.put("a", "apples", [["group:files:fake:eng"]])
    source.memberships = {
        "group:files:fake:eng": frozenset({"e@x.io"}),
        "group:files:hr:hr": frozenset({"mallory@x.io"}),  # another instance's group
        "group:confluence:wiki:admins": frozenset({"mallory@x.io"}),
    }
    report = engine.run(source, "permissions")
    assert any("groups outside group:files:fake:* ignored" in e for e in report.errors)
    assert groups_of(db, "mallory@x.io") == set()
    assert members_of(db, "group:files:fake:eng") == {"e@x.io"}
    db.close()


def test_a_rule_must_name_the_instance_of_a_confluence_group(tmp_path: Path) -> None:
    write(tmp_path, "_acl.yaml", "allow: [group:confluence:5f0c]\n")
    write(tmp_path, "doc.md", "# Doc\n\ntext\n")
    items = list(FilesConnector(tmp_path, Config().files, instance="t").scan())
    assert len(items) == 1 and "group:confluence:<connector>:<id>" in items[0].reason  # type: ignore[union-attr]
    with pytest.raises(RuleError, match="letters, digits"):
        from connectors.files.rules import parse_groups_file

        parse_groups_file("groups.yaml", b"'hr:x': [a@x.io]\n", "group:files:t:")


def test_upgrading_drops_memberships_without_a_namespace(tmp_path: Path) -> None:
    """Migration 0006: old-form memberships could be written by any source, so they go."""
    from core.db.engine import migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = open_database(url, upgrade=False)
    migrate(db.engine, "0005")
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO group_memberships (source, \"group\", member_email) VALUES "
            "('files:/hr', 'group:files:hr', 'carol@x.io'), ('files:/team', 'group:files:hr', 'mallory@x.io'),"
            "('confluence:wiki', 'group:confluence:g-1', 'ann@x.io'), ('x', 'group:aad:1234', 'ann@x.io')"
        ))
    db.close()
    db = open_database(url)
    assert members_of(db, "group:files:hr") == set()
    assert members_of(db, "group:confluence:g-1") == set()
    assert members_of(db, "group:aad:1234") == {"ann@x.io"}  # global ids are unaffected
    db.close()
