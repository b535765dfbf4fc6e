"""Kill `lore sync` (SIGKILL: no cleanup runs) in the middle of a Confluence sync, run it again:
it resumes from the saved checkpoint (its first search asks only for what changed since), the
killed run is recorded as interrupted, and index and database agree."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from core.db import DocumentRow, IngestRun, open_database
from core.leases import LeaseInfo, LeaseManager
from retrieval.index.lance import LanceIndex
from tests.builders import load_config
from tests.fakes.confluence_demo import EMAIL, TOKEN
from tests.fakes.confluence_stand_in import ConfluenceStandIn

PAGES = 240
SEARCH = "/wiki/rest/api/content/search"


def _seed(wiki: ConfluenceStandIn) -> None:
    wiki.add_credentials(EMAIL, TOKEN)
    wiki.add_user("alice-account", "alice@example.com")
    wiki.add_group("engineering", ["alice-account"], group_id="g-engineering")
    wiki.add_space("ENG", "Engineering")
    wiki.set_space_permission("ENG", group="engineering")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(PAGES):
        body = "".join(f"<p>Paragraph {p} of page {i} about topic{i % 13} and item{p}.</p>" for p in range(10))
        wiki.add_page("ENG", f"Page {i:03d}", body, modified=start + timedelta(minutes=7 * i))


def _lease(config: Path) -> LeaseInfo | None:
    db = open_database(load_config(config, env={}).database_url)
    try:
        return asyncio.run(LeaseManager(db).current("sync:wiki"))
    finally:
        db.close()


def test_kill_midway_then_resume(tmp_path: Path) -> None:
    with ConfluenceStandIn.serving() as wiki:
        _seed(wiki)
        config = tmp_path / "lore.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n[server]\nmode = "development"\n'
            "[embedding]\nprovider = \"hash\"\ndimension = 64\n[sync]\nlease_seconds = 3\n"
            f'[connectors.wiki]\ntype = "confluence"\nurl = "{wiki.wiki_url}"\nemail = "{EMAIL}"\n'
            "page_size = 5\nattachments = false\n"
        )
        env = os.environ | {"LORE_CONFIG": str(config), "LORE_SECRET_CONFLUENCE_API_TOKEN": TOKEN}
        cmd = [sys.executable, "-m", "bot.cli", "sync", "wiki", "--json"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(wiki.calls(SEARCH)) < 12:
            time.sleep(0.01)
        assert proc.poll() is None, "the sync finished before it could be killed; add pages"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        searched_before_kill = len(wiki.calls(SEARCH))
        held = _lease(config)
        assert held is not None and held.holder.startswith("cli:") and not held.expired  # the dead run's
        time.sleep(max(0.0, (held.expires_at - datetime.now(UTC)).total_seconds()) + 0.2)  # ... expires

        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        resumed = wiki.calls(SEARCH)[searched_before_kill]
        assert "lastmodified >=" in resumed.query["cql"]  # from the checkpoint, not from zero
        # a restart from zero would need PAGES / 5 searches again
        assert len(wiki.calls(SEARCH)) - searched_before_kill < PAGES // 5

    cfg = load_config(config, env={})
    db = open_database(cfg.database_url)
    try:
        with db.session() as s:
            rows = {r.id: r for r in s.execute(select(DocumentRow)).scalars()}
            statuses = [r.status for r in s.execute(select(IngestRun).order_by(IngestRun.id)).scalars()]
    finally:
        db.close()
    assert statuses == ["interrupted", "succeeded"]
    assert len(rows) == PAGES and all(r.content_hash for r in rows.values())
    index = LanceIndex(cfg.index_backends["lance"].folder(cfg.data_dir), 64)
    assert index.document_ids() == set(rows)
    chunk_ids = index._table.search().select(["chunk_id"]).limit(None).to_arrow().column("chunk_id").to_pylist()
    assert len(chunk_ids) == len(set(chunk_ids)), "duplicate chunks"
