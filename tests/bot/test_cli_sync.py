"""`lore sync` and `lore sync status` in-process, on a files connector and the Confluence
stand-in, with the hash embedder."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from core.db import open_database
from core.leases import LeaseManager
from tests.builders import load_config
from tests.conftest import REPO
from tests.fakes.confluence_demo import EMAIL, TOKEN, seed_demo
from tests.fakes.confluence_stand_in import ConfluenceStandIn


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "examples" / "handbook", tmp_path / "handbook")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    path = tmp_path / "lore.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[connectors.handbook]\ntype = "files"\npath = "handbook"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sync_then_status(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sync", "--json")
    assert code == 0, err
    [report] = [json.loads(line) for line in out.splitlines()]
    assert (report["connector"], report["kind"], report["status"]) == ("handbook", "content", "succeeded")
    assert report["counts"]["indexed"] == 27
    (config.parent / "handbook" / "hr" / "benefits.md").unlink()
    code, out, _ = run(capsys, "sync", "handbook")  # a folder scan: deletions by omission
    assert code == 0 and "1 deleted" in out
    (config.parent / "handbook" / "hr" / "performance-reviews.md").unlink()
    code, out, _ = run(capsys, "sync", "handbook", "--full", "--permissions")
    assert code == 0
    assert "handbook full: succeeded" in out and "1 deleted" in out
    assert "handbook permissions: succeeded" in out
    code, out, _ = run(capsys, "sync", "status")
    assert code == 0
    assert "handbook (files:" in out
    assert "content      last succeeded" in out and "full         last succeeded" in out
    code, out, _ = run(capsys, "sync", "status", "--json")
    [entry] = json.loads(out)["connectors"]
    assert entry["running_on"] is None
    assert entry["jobs"]["content"]["next_run"] != "due now"
    assert entry["jobs"]["permissions"]["last_run"]["counts"]["unchanged"] == 25


def test_sync_refuses_while_another_replica_holds_the_lease(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_config(config, env={})
    db = open_database(cfg.database_url)
    try:
        assert asyncio.run(LeaseManager(db).acquire("sync:handbook", "server:other-host:1", 300))
    finally:
        db.close()
    code, _, err = run(capsys, "sync", "handbook")
    assert code == 2
    assert "handbook is being synced by server:other-host:1 until" in err
    code, out, _ = run(capsys, "sync", "status")
    assert "running on server:other-host:1" in out


def test_unknown_or_missing_connectors_are_clear_errors(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sync", "wiki")
    assert code == 2 and "no connector 'wiki' in the config (configured: handbook)" in err
    config.write_text("")
    code, _, err = run(capsys, "sync")
    assert code == 2 and "no connectors configured" in err


def test_confluence_secret_missing_or_wrong_never_shows_the_token(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ConfluenceStandIn.serving() as wiki:
        seed_demo(wiki)
        config.write_text(
            f'data_dir = "{config.parent / "data"}"\n[server]\nmode = "development"\n'
            f'[connectors.wiki]\ntype = "confluence"\nurl = "{wiki.wiki_url}"\nemail = "{EMAIL}"\nmax_retries = 0\n'
        )
        code, _, err = run(capsys, "sync", "wiki")
        assert code == 2 and "secret 'confluence-api-token' is not set" in err
        monkeypatch.setenv("LORE_SECRET_CONFLUENCE_API_TOKEN", TOKEN + "-wrong")
        code, out, err = run(capsys, "sync", "wiki", "--json")
        assert code == 1
        [report] = [json.loads(line) for line in out.splitlines()]
        assert report["status"] == "failed" and "401" in report["errors"][0]
        assert TOKEN not in out + err
        monkeypatch.setenv("LORE_SECRET_CONFLUENCE_API_TOKEN", TOKEN)
        code, out, err = run(capsys, "sync", "wiki")
        assert code == 0, err
        assert "wiki content: succeeded" in out
        assert TOKEN not in out + err
