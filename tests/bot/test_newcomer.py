"""What a new user hits first, tried as they would: a taken port, a missing Slack secret, Slack
out of reach over Socket Mode, an over-long pasted question, a folder with a broken file,
`lore status`, an unknown `--as` person and `lore ask`."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.server import create_app, listening_socket
from bot.slack.surface import SlackSurface
from bot.status import collect_status, render_status
from core.config import ConfigError
from tests.bot.conftest import dev_config
from tests.conftest import REPO

HANDBOOK = REPO / "examples" / "handbook"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LORE_EMBEDDING_PROVIDER", "hash")
    monkeypatch.setenv("LORE_LLM_PROVIDER", "extractive")
    monkeypatch.setenv("LORE_SERVER_MODE", "development")  # as `make run`: env secrets allowed
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no lore.toml of the checkout's
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    # `lore serve` points the logs at this test's captured stderr: give the next test its own.
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_taken_port_is_one_line_naming_it_and_how_to_choose_another(
        env: Path, taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=f"port {taken_port} on 127.0.0.1 is already in use.*LORE_SERVER_PORT"):
        listening_socket("127.0.0.1", taken_port)
    code, _, err = run(capsys, "serve", "--port", str(taken_port))
    assert code == 2
    assert err.count("\n") == 1 and f"port {taken_port}" in err and "make run PORT=" in err
    assert "Traceback" not in err


def test_production_with_environment_secrets_is_refused_in_one_line(
        env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_SERVER_MODE", "production")
    monkeypatch.setenv("LORE_SECRET_GROQ_API_KEY", "gsk_" + "q" * 40)
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("lore: error: server.mode is 'production' but secrets.provider is 'env'")
    assert "vault" in line and "LORE_SERVER_MODE=development" in line and "gsk_" not in err


def test_slack_without_its_signing_secret_is_one_line_naming_the_secret_and_variable(
        env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_SLACK_ENABLED", "true")
    monkeypatch.setenv("LORE_SECRET_SLACK_BOT_TOKEN", "xoxb-1-test")
    monkeypatch.delenv("LORE_SECRET_SLACK_SIGNING_SECRET", raising=False)
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("lore:")]
    assert len(lines) == 1, err
    assert "slack-signing-secret" in lines[0] and "LORE_SECRET_SLACK_SIGNING_SECRET" in lines[0]
    assert "Traceback" not in err and "xoxb-1-test" not in err


async def test_socket_mode_out_of_reach_keeps_the_web_chat_and_reports_slack_degraded(
        handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.slack.enabled = True
    cfg.slack.socket_mode = True
    with socket.socket() as closed:  # a port nobody listens on: Slack "cannot be reached"
        closed.bind(("127.0.0.1", 0))
        cfg.slack.api_url = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
    monkeypatch.setenv("LORE_SECRET_SLACK_BOT_TOKEN", "xoxb-1-test")
    monkeypatch.setenv("LORE_SECRET_SLACK_APP_TOKEN", "xapp-1-A0LORE-1-test")
    app = create_app(cfg)
    async with TestClient(TestServer(app)) as client:
        from bot.server import STATE_KEY

        surface = app[STATE_KEY].surfaces.by_platform["slack"]
        assert isinstance(surface, SlackSurface)
        for _ in range(200):  # the first attempt fails within a second; the retries go on
            if "cannot connect" in surface.readiness():
                break
            await asyncio.sleep(0.05)
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["ready"] is True, body
        assert body["checks"]["surface:slack"].startswith("degraded: Socket Mode cannot connect")
        assert "retrying in" in body["checks"]["surface:slack"]
        asked = await client.post("/api/webchat/ask", json={"user": "carol@northwind.example", "text": "vpn access"})
        assert asked.status == 200 and "event: final" in await asked.text()
        # `lore status` shows the running server's view, the degraded surface included.
        cfg.server.port = int(client.port or 0)
        lines = render_status(await asyncio.to_thread(collect_status, cfg))
        assert f"server          ready at http://127.0.0.1:{cfg.server.port}" in lines
        assert any(line.strip().startswith("surface:slack ") and "degraded: Socket Mode cannot connect" in line
               for line in lines), lines


async def test_an_over_long_question_gets_the_servers_message_and_an_empty_one_too(
        handbook_data: Path, tmp_path: Path) -> None:
    shutil.copytree(handbook_data, tmp_path / "data")
    async with TestClient(TestServer(create_app(dev_config(tmp_path / "data")))) as client:
        long = await client.post("/api/webchat/ask", json={"user": "carol@northwind.example", "text": "x" * 5000})
        assert long.status == 400
        assert "too long (5000 characters; the limit is 4000)" in (await long.json())["error"]
        empty = await client.post("/api/webchat/ask", json={"user": "carol@northwind.example", "text": "  "})
        assert empty.status == 400 and (await empty.json())["error"]
    page = (REPO / "bot" / "webchat" / "static" / "index.html").read_text(encoding="utf-8")
    # A maxlength on the box cut pasted text to 4,000 characters without a word.
    assert "maxlength" not in page


def test_ingest_exits_1_when_a_file_failed(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = env / "docs"
    shutil.copytree(HANDBOOK, folder)
    (folder / "general" / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a PDF at all")
    code, out, _ = run(capsys, "ingest", str(folder))
    assert code == 1
    assert "FAILED  general/broken.pdf" in out
    code, _, _ = run(capsys, "ingest", str(HANDBOOK))  # another folder, all good: 0
    assert code == 0


def test_status_is_readable_text_with_zoned_times(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ingest", str(HANDBOOK))[0] == 0
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "{" not in out and "'" not in out  # no Python dicts
    assert " UTC" in out and "27 indexed" in out
    assert "server          not running at http://127.0.0.1:3978" in out
    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert status["sources"][0]["last_run"]["finished_at"].endswith("+00:00")
    assert status["server"]["running"] is False


def test_search_and_ask_as_someone_no_source_knows_say_so(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ingest", str(HANDBOOK))[0] == 0
    code, _, err = run(capsys, "search", "vpn", "--as", "nobody@elsewhere.example")
    assert code == 0 and "no source knows nobody@elsewhere.example" in err
    code, _, err = run(capsys, "search", "vpn", "--as", "carol@northwind.example")
    assert code == 0 and "no source knows" not in err
    code, _, err = run(capsys, "ask", "vpn", "--as", "nobody@elsewhere.example", "--guest", "--json")
    assert code == 0 and "answering from nothing" in err


def test_ask_answers_with_citations_as_the_chat_surfaces_do(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ingest", str(HANDBOOK))[0] == 0
    code, out, err = run(capsys, "ask", "How do I get VPN access?", "--as", "carol@northwind.example")
    assert code == 0, err
    assert "Searching documents you can access" in err
    assert "Sources:" in out and "[1]" in out
    code, out, _ = run(capsys, "ask", "How do I get VPN access?", "--as", "carol@northwind.example", "--json")
    answer = json.loads(out)
    assert answer["found_sources"] is True and answer["provider"] == "extractive"
    assert answer["citations"] and all(c["source_id"] for c in answer["citations"])
    # The permission boundary holds here as everywhere: erin may not read the salary bands.
    code, out, _ = run(capsys, "ask", "salary bands L5", "--as", "erin@northwind.example", "--json")
    assert "hr/confidential/salary-bands.md" not in {c["source_id"] for c in json.loads(out)["citations"]}
    code, _, err = run(capsys, "ask", "x" * 5000, "--as", "carol@northwind.example")
    assert code == 1 and "too long" in err


def test_config_for_ask_rejects_a_malformed_email(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "vpn", "--as", "not an email")
    assert code == 2 and err.startswith("lore: error: --as")



def test_ask_and_search_print_no_terminal_control_sequences_from_documents(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A document's text is untrusted: an escape sequence in it must not retitle the terminal,
    # clear the screen or set the clipboard (OSC 52) of whoever runs `lore ask` or `lore search`.
    folder = env / "handbook"
    shutil.copytree(HANDBOOK, folder)
    (folder / "general" / "printer.md").write_text(
        "# Printer \x1b]0;pwned\x07setup\n\nTo set up the printer press the \x1b[31mred\x1b[0m button, "
        "then \x1b]52;c;ZWNobyBoaQ==\x07 wait\r for the \x9b2J light.\n", encoding="utf-8")
    assert run(capsys, "ingest", str(folder))[0] == 0
    code, asked, _ = run(capsys, "ask", "how do I set up the printer", "--as", "carol@northwind.example")
    assert code == 0 and "red" in asked and "printer.md" in asked
    code, searched, _ = run(capsys, "search", "printer setup", "--as", "carol@northwind.example")
    assert code == 0 and "printer.md" in searched
    for out in (asked, searched):
        assert not [c for c in out if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f], repr(out)


def test_status_asks_the_local_server_directly_whatever_the_proxy_settings(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A corporate http_proxy (and no no_proxy) must not send the readiness request for the
    # server on this machine to the proxy: that would report it as not running.
    import http.server
    import threading

    from bot.status import server_readiness
    from core.config import Config

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"ready": True, "checks": {"database": "ok"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = http.server.HTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = Config()
        cfg.server.port = server.server_address[1]
        found = server_readiness(cfg)
    finally:
        server.shutdown()
        server.server_close()
    assert found["running"] is True and found["ready"] is True, found


def test_ask_answered_by_a_language_model_ends_cleanly(
        env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The extractive provider holds no connection; a real one does (the SDK's HTTP pool), and it
    # must be closed in the event loop that opened it: no "Event loop is closed" after the answer.
    import threading

    from tests.fakes.llm_stand_in import LlmStandIn, Reply

    assert run(capsys, "ingest", str(HANDBOOK))[0] == 0
    started: dict[str, str] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with LlmStandIn.running(["sk-lore-test"]) as stand_in:
            stand_in.default_reply = Reply("Request VPN access in the Helpdesk portal [1].")
            started["url"] = stand_in.openai_base_url
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if "url" in started:
                break
            threading.Event().wait(0.05)
        monkeypatch.setenv("LORE_LLM_PROVIDER", "openai")
        monkeypatch.setenv("LORE_LLM_BASE_URL", started["url"])
        monkeypatch.setenv("LORE_LLM_MODEL", "stand-in")
        monkeypatch.setenv("LORE_LLM_API_KEY_SECRET", "llm-key")
        monkeypatch.setenv("LORE_SECRET_LLM_KEY", "sk-lore-test")
        code, out, err = run(capsys, "ask", "How do I get VPN access?", "--as", "carol@northwind.example")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
    assert code == 0, err
    assert "Helpdesk portal" in out and "Sources:" in out
    assert "Event loop is closed" not in err and "RuntimeError" not in err


def test_status_reaches_a_server_on_a_wildcard_or_ipv6_address() -> None:
    from bot.status import _reachable

    assert _reachable("0.0.0.0") == "127.0.0.1" and _reachable("::") == "[::1]"
    assert _reachable("::1") == "[::1]" and _reachable("lore.internal") == "lore.internal"
