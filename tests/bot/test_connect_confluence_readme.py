"""README "Connect Confluence" works as written against the stand-in: the same TOML, secret and
commands (with the stand-in on a free port and the hash embedder instead of the model)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO
from tests.fakes.confluence_demo import seed_demo
from tests.fakes.confluence_stand_in import ConfluenceStandIn


def _section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("## Connect Confluence", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[list[str]]:
    block = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[-1]
    out = []
    for line in block.splitlines():
        line = line.split("   #", 1)[0].strip()
        if line.startswith(".venv/bin/lore "):
            out.append(shlex.split(line)[1:])
    return out


def test_connect_confluence_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    section = _section()
    toml = re.search(r"```toml\n(# confluence-demo.toml\n.*?)```", section, re.DOTALL)
    assert toml, "the README's confluence-demo.toml block"
    assert "export LORE_SECRET_CONFLUENCE_API_TOKEN=demo-token" in section
    assert "python -m tests.fakes.confluence_demo --port 8090" in section
    commands = _commands(section)
    assert [c[2:4] for c in commands][:1] == [["sync", "wiki"]]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LORE_SECRET_CONFLUENCE_API_TOKEN", "demo-token")
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    with ConfluenceStandIn.serving() as wiki:
        seed_demo(wiki)
        text = toml.group(1).replace("127.0.0.1:8090", f"127.0.0.1:{wiki.port}")
        (tmp_path / "confluence-demo.toml").write_text(text, encoding="utf-8")
        results = []
        for argv in commands:
            if argv[2] == "search":
                argv = [*argv, "--json"]
            assert main(argv) == 0, argv
            results.append(capsys.readouterr().out)
    sync_out, carol, bob, incident, status = results
    assert "wiki full: succeeded" in sync_out
    titles = lambda out: [r["title"] for r in json.loads(out)["results"]]
    assert titles(carol)[0] == "On-call Runbook"
    assert not {"On-call Runbook", "Engineering Handbook"} & set(titles(bob))
    assert set(titles(bob)) <= {"Holiday Policy", "Onboarding Checklist", "Onboarding Checklist: first-week.txt"}
    assert not {"Security Incident 2026-01", "Incident Follow-ups"} & set(titles(incident))
    assert "content" in status and "last succeeded" in status
