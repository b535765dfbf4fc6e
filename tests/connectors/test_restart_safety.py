"""Kill `lore ingest` midway (SIGKILL: no cleanup runs), run it again: index and database agree
and no chunk is duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from core.db import DocumentRow, open_database
from retrieval.index.lance import LanceIndex
from tests.builders import load_config


def _make_tree(root: Path, files: int) -> None:
    (root / "all").mkdir(parents=True)
    (root / "all/_acl.yaml").write_text("allow: [org:members]\n")
    for i in range(files):
        body = "\n\n".join(f"Paragraph {p} of document {i} about topic{i % 17} and item{p}." for p in range(12))
        (root / f"all/doc{i:04d}.md").write_text(f"# Document {i}\n\n{body}\n")


def _env(data: Path) -> dict[str, str]:
    return os.environ | {
        "LORE_DATA_DIR": str(data),
        "LORE_EMBEDDING_PROVIDER": "hash",
        "LORE_EMBEDDING_DIMENSION": "64",
        "LORE_CHUNKING_MAX_TOKENS": "30",
        "LORE_CHUNKING_MIN_TOKENS": "5",
    }


def _final_rows(db_url: str) -> int:
    db = open_database(db_url, upgrade=False)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(DocumentRow).where(DocumentRow.content_hash != "")) or 0)
    except Exception:  # noqa: BLE001 - the killed process may leave it mid-write
        return 0
    finally:
        db.close()


def test_kill_midway_then_rerun(tmp_path: Path) -> None:
    root, data = tmp_path / "docs", tmp_path / "data"
    _make_tree(root, 800)
    env = _env(data)
    cfg = load_config(env=env)
    cmd = [sys.executable, "-m", "bot.cli", "ingest", str(root), "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (data / "lore.db").exists() and _final_rows(cfg.database_url) >= 100:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed; make the tree bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _final_rows(cfg.database_url)
    assert 0 < killed_at < 800

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr

    db = open_database(cfg.database_url)
    with db.session() as s:
        rows = {r.id: r for r in s.execute(select(DocumentRow)).scalars()}
    db.close()
    index = LanceIndex(cfg.index_backends["lance"].folder(cfg.data_dir), 64)
    assert len(rows) == 800
    assert all(r.content_hash for r in rows.values())
    assert index.document_ids() == set(rows)
    chunk_ids = index._table.search().select(["chunk_id"]).limit(None).to_arrow().column("chunk_id").to_pylist()
    assert len(chunk_ids) == len(set(chunk_ids)), "duplicate chunks"
    assert len(chunk_ids) == sum(r.chunk_count for r in rows.values())

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert '"indexed": 0' in again.stdout and '"unchanged": 800' in again.stdout
