"""Item 3: the index and the metadata database out of step.

(a) Database deleted (or replaced, or restored from an old backup), index kept: before the fix,
a document deleted meanwhile stayed searchable, a document moved into a restricted folder stayed
readable under its old ACL by every member, and no later run removed them. (b) Index deleted,
database kept: `lore status` said "0 chunks, 300 documents", ingest reported everything
unchanged and never rebuilt, and /readyz was ok.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.server import create_app
from tests.builders import load_config, write

SECRET_WORD = "salarybandsecret"


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    root = tmp_path / "docs"
    write(root, "general/_acl.yaml", "allow: [org:members]\n")
    write(root, "general/pay.md", f"# Pay\n\nThe {SECRET_WORD} table is here for now.\n")
    write(root, "general/old.md", "# Old\n\nobsoletepolicy text\n")
    write(root, "general/vpn.md", "# VPN\n\nwireguard access\n")
    write(root, "hr/_acl.yaml", "allow: [user:carol@x.io]\n")
    return root


def ask(capsys: pytest.CaptureFixture[str], word: str, email: str = "erin@x.io") -> set[str]:
    assert main(["search", word, "--as", email, "--json", "--mode", "bm25"]) == 0
    return {r["source_id"] for r in json.loads(capsys.readouterr().out)["results"]}


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["status", "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_database_lost_index_kept(docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(docs)]) == 0
    capsys.readouterr()
    (tmp_path / "data" / "lore.db").unlink()  # the database is lost (or replaced); the index stays
    (docs / "general" / "old.md").unlink()  # deleted meanwhile
    shutil.move(docs / "general" / "pay.md", docs / "hr" / "pay.md")  # moved into a restricted folder
    # Before any sync: nothing the database does not vouch for is served.
    assert ask(capsys, SECRET_WORD) == set()
    assert ask(capsys, "obsoletepolicy") == set()
    found = status(capsys)["consistency"]
    assert found["orphans"] == 3 and not found["ok"]  # type: ignore[index]
    assert main(["ingest", str(docs)]) == 0
    assert "3 documents in the index that the database did not know, deleted" in capsys.readouterr().out
    assert ask(capsys, SECRET_WORD) == set()
    assert ask(capsys, SECRET_WORD, "carol@x.io") == {"hr/pay.md"}
    assert ask(capsys, "obsoletepolicy") == set()
    assert ask(capsys, "wireguard") == {"general/vpn.md"}
    assert status(capsys)["consistency"]["ok"]  # type: ignore[index]


def test_index_lost_database_kept(docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(docs)]) == 0
    capsys.readouterr()
    shutil.rmtree(tmp_path / "data" / "index")
    found = status(capsys)
    assert found["index"]["chunks"] == 0 and found["documents"] == 3  # type: ignore[index]
    assert found["consistency"]["missing"] == 3  # type: ignore[index]
    assert main(["status"]) == 0
    assert "3 documents missing from the index" in capsys.readouterr().out
    assert main(["ingest", str(docs), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["indexed"] == 3 and report["counts"]["missing_reindexed"] == 3
    assert ask(capsys, "wireguard") == {"general/vpn.md"}
    assert status(capsys)["consistency"]["ok"]  # type: ignore[index]


@pytest.fixture
def index_lost(docs: Path, tmp_path: Path) -> Path:
    assert main(["ingest", str(docs)]) == 0
    shutil.rmtree(tmp_path / "data" / "index")
    return tmp_path


async def test_readyz_reports_a_mismatch_found_at_start(index_lost: Path) -> None:
    tmp_path = index_lost
    cfg = load_config(env={"LORE_DATA_DIR": str(tmp_path / "data"), "LORE_EMBEDDING_PROVIDER": "hash",
                           "LORE_SYNC_SCHEDULER": "false"})
    async with TestClient(TestServer(create_app(cfg))) as client:
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 200, body  # answering stays safe: shown as degraded, not taken out
        assert body["checks"]["consistency"].startswith("degraded: 3 documents missing from the index")
