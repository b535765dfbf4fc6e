"""Item 12: a killed run stayed "running" in `lore status` until the connector's lease was next
taken (only the scheduler closed it then). Now a run whose process is gone shows as
interrupted, and a new `lore ingest` does not wait for the dead process's lease to expire."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import load_config
from tests.connectors.test_restart_safety import _env, _final_rows, _make_tree


def test_a_killed_ingest_shows_as_interrupted(tmp_path: Path) -> None:
    root, data = tmp_path / "docs", tmp_path / "data"
    _make_tree(root, 600)
    env = _env(data)
    cfg = load_config(env=env)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (data / "lore.db").exists() and _final_rows(cfg.database_url) >= 50:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    status = subprocess.run([sys.executable, "-m", "bot.cli", "status", "--json"], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    (source,) = json.loads(status.stdout)["sources"]
    assert source["last_run"]["status"] == "interrupted", source
    # The dead process's lease (120 s) does not hold up the next run either.
    started = time.monotonic()
    again = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(root)], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 100
