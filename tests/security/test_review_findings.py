"""Regressions found by a review of the issue-9 fixes, each a way to freeze a sync or to read
what one may not: rule files that scan slowly or block, a reverted file trusted by its
fingerprint, one document that fails a whole batch, a database error that ended the permission
job, one Confluence page refused with 403, links that fan a tree out exponentially, and a Slack
request naming another organisation as home."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from bot.slack.app import BOT_SCOPES
from connectors.files import FilesConnector, RuleError
from connectors.files import walk as walk_module
from connectors.files.rules import parse_acl_file
from connectors.sync import SyncEngine
from core.acl import PrincipalError, parse_principal
from core.config import Config
from core.db import DocumentRow
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.bot.slack.test_slack_events import settle
from tests.builders import sync_engine, write
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn


@pytest.fixture
def engine(tmp_path: Path) -> SyncEngine:
    return sync_engine(tmp_path / "store")


def files(root: Path) -> FilesConnector:
    return FilesConnector(root, Config().files, instance="docs")


def hits(engine: SyncEngine, word: str, principals: list[str]) -> list[str]:
    return [h.source_id for h in engine.index.lexical_search(word, principals, 10)]


def test_unmatched_closers_are_refused_at_once_and_rule_files_are_small() -> None:
    started = time.monotonic()
    with pytest.raises(RuleError, match="closes nothing"):
        parse_acl_file("x/_acl.yaml", b"allow: " + b"]" * 60_000)
    assert time.monotonic() - started < 0.5  # PyYAML scans these super-linearly
    with pytest.raises(RuleError, match="nested more than"):
        parse_acl_file("x/_acl.yaml", b"allow: " + b"[" * 60_000)


def test_oversized_rule_files_and_front_matter_fail_their_files(engine: SyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members]\n")
    write(root, "big/_acl.yaml", "allow: [org:members]\n" + "# padding\n" * 8000)  # 80 KB
    write(root, "big/a.md", "# A\n\nalpha\n")
    write(root, "fm.md", "---\ntitle: x\n" + "#" * 70_000 + "\n---\n# F\n\nfoxtrot\n")
    write(root, "ok.md", "# Ok\n\nzebra\n")
    report = engine.run(files(root), "full")
    failed = dict(report.failed)
    assert "larger than 64 KB" in failed["big/a.md"] and "front matter longer" in failed["fm.md"]
    assert hits(engine, "zebra", ["org:members"]) == ["ok.md"]


def test_a_fifo_as_a_rule_file_or_groups_file_blocks_nothing(engine: SyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members]\n")
    write(root, "ok.md", "# Ok\n\nzebra\n")
    write(root, "pipe/a.md", "# A\n\nalpha\n")
    os.mkfifo(root / "pipe" / "_acl.yaml")
    os.mkfifo(root / "groups.yaml")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(engine.run(files(root), "full")), daemon=True)
    worker.start()
    worker.join(20)
    assert done, "the sync blocked opening a FIFO"
    report = done[0]
    assert "not a regular file" in dict(report.failed)["pipe/a.md"]  # type: ignore[attr-defined]
    assert any("not a regular file" in e for e in report.errors)  # type: ignore[attr-defined]
    assert hits(engine, "zebra", ["org:members"]) == ["ok.md"]


def test_a_reverted_file_is_read_again_not_trusted_by_an_older_fingerprint(
    engine: SyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members, user:hr@x.io]\n")
    v1 = "---\nacl: [org:members]\n---\n# Pay\n\nwe pay well\n"
    write(root, "a.md", v1)
    write(root, "zzz/_acl.yaml", "allow: [org:members]\n")
    write(root, "zzz/b.md", "# B\n\nbravo\n")
    assert engine.run(files(root), "content").status == "succeeded"  # v1 checkpointed
    write(root, "a.md", "---\nacl: [user:hr@x.io]\n---\n# Pay\n\nsalarysecret 112k\n")
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # one folder unlistable: the pass ends incomplete
        if str(path).endswith("/zzz"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    assert engine.run(files(root), "content").errors  # v2 written, no checkpoint saved
    monkeypatch.undo()
    write(root, "a.md", v1)  # reverted: the bytes the checkpoint knows
    engine.run(files(root), "content")
    assert hits(engine, "salarysecret", ["org:members"]) == []
    assert hits(engine, "pay", ["org:members"]) == ["a.md"]


def test_one_document_with_unstorable_text_fails_nothing_else(engine: SyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members]\n")
    write(root, "a.md", '---\ntitle: "lone \\ud800 surrogate"\n---\n# A\n\nalpha\n')
    write(root, "b.md", "# B\n\nzebra \x00 nul\n")
    write(root, "c.md", "# C\n\ncharlie\n")
    report = engine.run(files(root), "full")
    assert not report.errors, report.errors
    assert sorted(report.indexed) == ["a.md", "b.md", "c.md"]
    assert hits(engine, "charlie", ["org:members"]) == ["c.md"]


def test_principals_that_do_not_fit_the_database_are_refused() -> None:
    for raw in ("user:a\x00b@x.io", "user:" + "a" * 400 + "@x.io", "group:files:t:" + "g" * 600):
        with pytest.raises(PrincipalError):
            parse_principal(raw)


def test_a_stored_acl_in_an_older_principal_form_does_not_stop_permission_runs(
    engine: SyncEngine, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [group:files:eng]\n")
    write(root, "a.md", "# A\n\nalpha\n")
    write(root, "groups.yaml", "eng: [a@x.io]\n")
    assert engine.run(files(root), "full").status == "succeeded"
    with engine.db.session() as s:  # a row written before principals had to be ASCII
        s.add(DocumentRow(id="old:1", source="files:/gone", source_id="x.md", title="x", url="", content_hash="h",
                          acl=[["user:\u00fcber@x.io"], ["org:members"], ["user:b@x.io"], ["user:c@x.io"],
                               ["user:d@x.io"]], chunk_count=0, indexed_at=__import__("datetime").datetime.now()))
    write(root, "groups.yaml", "eng: [a@x.io, b@x.io]\n")  # memberships change: re-encoding runs
    write(root, "_acl.yaml", "allow: [group:files:eng, user:z@x.io]\n")
    report = engine.run(files(root), "permissions")
    assert report.status == "succeeded", report.errors
    assert report.acl_updated == ["a.md"]


def test_links_that_fan_out_do_not_multiply_the_walk(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for level in range(30):
        (root / f"d{level}").mkdir(parents=True)
        for name in ("a", "b"):
            (root / f"d{level}" / name).symlink_to(root / f"d{level + 1}")
    (root / "d30").mkdir()
    (root / "d30" / "leaf.md").write_text("# Leaf\n\nleaf\n")
    started = time.monotonic()
    ids = list(files(root).list_ids())
    assert time.monotonic() - started < 5
    assert len(ids) == 1  # one path to each real file


def test_one_confluence_page_refused_with_403_does_not_stop_the_acl_reread(tmp_path: Path) -> None:
    from tests.connectors.confluence.test_connector import connector, visible
    from tests.fakes.confluence_demo import seed_demo
    from tests.fakes.confluence_stand_in import ConfluenceStandIn

    with ConfluenceStandIn.serving() as wiki:
        seed_demo(wiki)
        engine = sync_engine(tmp_path / "wiki", max_tokens=60, min_tokens=10)
        db = engine.db
        engine.run(connector(wiki), "full")
        assert visible(engine, "bob@example.com", "holiday") == ["Holiday Policy"]
        (holiday,) = [p for p in wiki.pages.values() if p.title == "Holiday Policy"]
        wiki.set_read_restrictions(holiday.id, users=["alice-account"])  # bob loses it
        wiki.fail_next("/wiki/rest/api/space/ENG", 403, times=20)  # ENG's permissions: refused
        report = engine.run(connector(wiki), "permissions")
        assert visible(engine, "bob@example.com", "holiday") == []
        assert any("403" in why for _, why in report.failed)
        db.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        stand_in.add_workspace("TOTHER")
        stand_in.add_user("UFAKEALICE", team_id="TOTHER", email="alice@northwind.example")
        stand_in.add_channel("CSHARED", name="shared", members=["UFAKEALICE"], is_ext_shared=True)
        yield stand_in


async def test_a_request_naming_another_organisation_as_home_changes_nothing(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    async with TestClient(TestServer(create_app(cfg))) as client:
        text = "<@U0LOREBOT> how does the canary rollout of a deploy work?"
        question = slack.add_message("CSHARED", text, user="UFAKEALICE")
        event = sig.app_mention(user="UFAKEALICE", channel="CSHARED", text=text, ts=question.ts, team="TOTHER")
        signed = sig.signed_event(event, SECRET, team_id="TOTHER", is_ext_shared_channel=True)
        assert (await client.post("/slack/events", data=signed.body, headers=signed.headers)).status == 200
        await settle(slack, "chat.update")
        (reply,) = slack.messages("CSHARED", thread_ts=question.ts)
        assert "deploy-process" not in str(reply.blocks)
