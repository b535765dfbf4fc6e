"""The `lore` CLI end to end (in-process), on the bundled handbook with the hash embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import cli
from bot.cli import main
from bot.errors import CliError
from connectors.errors import SourceError
from core.db.engine import DatabaseError
from core.errors import LoreError
from retrieval.index.base import IndexError_
from tests.conftest import REPO

HANDBOOK = REPO / "examples" / "handbook"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def search(capsys: pytest.CaptureFixture[str], question: str, email: str, *extra: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, "search", question, "--as", email, "--json", "--top", "50", *extra)
    assert code == 0, err
    results: list[dict[str, object]] = json.loads(out)["results"]
    return results


def test_ingest_summary_and_if_empty(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ingest", str(HANDBOOK), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["status"] == "succeeded"
    assert report["counts"]["indexed"] == 27
    assert {s["source_id"] for s in report["skipped"]} == {"README.md", "drafts/unreviewed-ideas.md"}
    assert all("no access rule" in s["reason"] for s in report["skipped"])
    code, out, _ = run(capsys, "ingest", str(HANDBOOK), "--if-empty")
    assert code == 0 and "already has" in out
    code, out, _ = run(capsys, "ingest", str(HANDBOOK))
    assert "0 indexed" in out and "27 unchanged" in out and "skipped drafts/unreviewed-ideas.md" in out


def test_search_is_permission_correct_for_sample_users(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ingest", str(HANDBOOK), "--json")[0] == 0

    def sources(email: str, q: str, *extra: str) -> set[str]:
        return {str(r["source_id"]) for r in search(capsys, q, email, *extra)}

    salary = "salary bands L5 Helena Brandt"
    assert "hr/confidential/salary-bands.md" in sources("carol@northwind.example", salary)
    assert "hr/confidential/salary-bands.md" in sources("cfo@northwind.example", salary)
    for user in ["alice", "bob", "dave", "erin", "gina"]:
        assert not any(s.startswith("hr/confidential/") for s in sources(f"{user}@northwind.example", salary))
    incident = "Sev1 bridge incident response breakglass"
    assert "engineering/security/incident-response.md" in sources("bob@northwind.example", incident)
    assert not any("security/" in s for s in sources("alice@northwind.example", incident))  # eng, not security
    assert "hr/benefits.md" in sources("erin@northwind.example", "Wellbeing stipend")
    assert "hr/benefits.md" not in sources("gina@northwind.example", "Wellbeing stipend")  # not full-time
    assert sources("gina@northwind.example", "VPN access WireGuard", "--guest") == set()
    assert "general/it-vpn-access.md" in sources("gina@northwind.example", "VPN access WireGuard")
    assert not any(s.startswith("drafts/") for s in sources("cfo@northwind.example", "Project Moonshot"))
    # Someone the membership store has never heard of gets org-wide documents only.
    assert all(s.startswith(("general/", "hr/")) and "confidential" not in s and s != "hr/benefits.md"
               for s in sources("stranger@elsewhere.example", "policy"))


def test_search_json_shape_and_queries_file(env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "ingest", str(HANDBOOK), "--json")
    r = search(capsys, "VPN access", "erin@northwind.example")[0]
    assert set(r) == {"source_id", "title", "url", "score", "text"}
    assert r["source_id"] == "general/it-vpn-access.md"
    assert r["url"] == ""  # no url_base configured: never the server's own path
    qfile = tmp_path / "q.txt"
    qfile.write_text("VPN access\n\nparental leave\nexpenses receipts\n")
    code, out, _ = run(capsys, "search", "--queries", str(qfile), "--as", "erin@northwind.example", "--top", "2")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert [len(json.loads(line)["results"]) for line in lines] == [2, 2, 2]
    assert json.loads(lines[1])["results"][0]["source_id"] == "hr/parental-leave.md"


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "x", "--as", "not-an-email"], "--as: "),
        (["search", "--as", "a@b.co"], "give either a question or --queries"),
        (["search", "x", "--as", "a@b.co", "--top", "0"], "--top must be at least 1"),
        (["ingest", "/nonexistent/folder"], "is not a folder"),
        (["eval", "/nonexistent/folder"], "is not a BEIR folder"),
    ],
)
def test_clear_errors(env: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_status(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "ingest", str(HANDBOOK), "--json")
    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["documents"] == 27 and status["groups"] == 5
    assert status["index"]["chunks"] > 27
    (src,) = status["sources"]
    assert src["last_run"]["status"] == "succeeded"


def test_eval_on_a_tiny_beir_folder(env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "the vpn uses wireguard", "d2": "annual leave is 27 days", "d3": "expenses need receipts"}
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "wireguard vpn"}) + "\n" + json.dumps({"_id": "q2", "text": "leave days"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n")
    code, out, err = run(capsys, "eval", str(beir), "--json")
    assert code == 0, err
    res = json.loads(out)["results"]
    assert set(res) == {"hybrid", "dense", "bm25"}
    assert res["bm25"]["ndcg@10"] == 1.0 and res["bm25"]["mrr@10"] == 1.0
    assert res["hybrid"]["recall@10"] == 1.0


@pytest.mark.parametrize(
    "error",
    [
        DatabaseError("cannot open metadata database x"),
        IndexError_("index at /x holds 8-dimensional vectors\nbut the embedder makes 384"),
        SourceError("wiki: the source did not answer"),
        CliError("--top must be at least 1"),
    ],
)
def test_every_lore_error_is_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, error: LoreError
) -> None:
    def fail(cfg: object, args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "cmd_status", fail)
    code, _, err = run(capsys, "status")
    assert code == 2
    assert err == "lore: error: " + " ".join(str(error).splitlines()) + "\n"


def test_an_unexpected_error_keeps_its_traceback(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(cfg: object, args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "cmd_status", fail)
    with pytest.raises(KeyError, match="a bug"):
        main(["status"])


def test_ingest_output_cannot_drive_the_terminal(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file name with terminal escapes (retitle the window, OSC 52 clipboard) is printed inert."""
    tree = env / "tree"
    tree.mkdir()
    (tree / "_acl.yaml").write_text("allow: [org:members]\n", encoding="utf-8")
    hostile = "\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07.md"
    (tree / hostile).write_bytes(b"\xff\xfe not utf-8")  # fails to parse: its name is printed
    code, out, _ = run(capsys, "ingest", str(tree))
    assert code == 1  # a failed file fails the command
    assert "\x1b" not in out and "\x07" not in out
    assert "\ufffd]0;pwned" in out
