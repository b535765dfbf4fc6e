"""Item 5, the server side: with a pathological Markdown file in a synced folder, /healthz took
22-24 s during every sync job (the parser's regexes held the interpreter lock), and unchanged
files were parsed again on every run. Parsing now runs in a worker process with a time budget,
and a content run does not parse a file whose bytes it has seen."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox
from core.config import Config, FilesConfig
from tests.builders import sync_engine
from tests.connectors.parsers import sandbox_targets

# The old parser's emphasis pattern: one regex call holds the interpreter lock throughout.
_OLD_EMPHASIS = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")


async def _worst_gap(work: asyncio.Future[object]) -> float:
    worst, last = 0.0, time.monotonic()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        worst, last = max(worst, now - last), now
    return worst


async def test_in_process_parsing_in_a_thread_stalls_the_loop_baseline() -> None:
    """The mechanism of the bug, measured in this run: a thread does not help when C code holds
    the lock (the sync jobs ran the parser in a worker thread)."""
    started = time.monotonic()
    work = asyncio.ensure_future(asyncio.to_thread(_OLD_EMPHASIS.sub, r"\1", " *a" * 6000))
    worst = await _worst_gap(work)
    assert worst > 0.5 * (time.monotonic() - started)


async def test_a_parser_holding_its_interpreter_lock_does_not_stall_the_event_loop() -> None:
    sandbox = ParserSandbox(FilesConfig(parse_timeout_seconds=2), target=sandbox_targets.spin)
    try:
        parsing = asyncio.ensure_future(asyncio.to_thread(sandbox.parse, "hostile.md", b""))
        worst = await _worst_gap(parsing)  # what /healthz needs: the loop gets to run
        with pytest.raises(ParseError, match="longer than 2 s"):
            await parsing
        assert worst < 0.5, f"the event loop stalled for {worst:.2f} s"
    finally:
        sandbox.close()


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "_acl.yaml").write_text("allow: [org:members]\n")
    for i in range(5):
        (root / f"d{i}.md").write_text(f"# Doc {i}\n\ntext {i}\n")
    engine = sync_engine(tmp_path / "store")
    db = engine.db
    parsed: list[str] = []
    real = ParserSandbox.parse

    def counting(self: ParserSandbox, relpath: str, data: bytes) -> object:
        parsed.append(relpath)
        return real(self, relpath, data)

    monkeypatch.setattr(ParserSandbox, "parse", counting)
    connector = FilesConnector(root, Config().files, instance="docs")
    assert engine.run(connector, "content").status == "succeeded"
    assert len(parsed) == 5
    (root / "d2.md").write_text("# Doc 2\n\nedited\n")
    report = engine.run(connector, "content")
    assert parsed[5:] == ["d2.md"] and report.indexed == ["d2.md"] and len(report.unchanged) == 4
    connector.close()
    db.close()
