"""`lore serve` as a real process: SIGTERM while an answer streams lets the answer finish; logs
are JSON lines with request ids and never contain the LLM key."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.bot.conftest import SAMPLE_USERS
from tests.fakes.llm_stand_in import LlmStandIn, Reply

KEY = "gsk_process_test_key_abcdef0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                raise AssertionError("server exited during startup")
            try:
                async with session.get(f"{url}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server not ready in 30 s")


async def test_sigterm_lets_the_answer_in_flight_finish(handbook_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(handbook_data, data)
    port = _free_port()
    async with LlmStandIn.running(api_keys=[KEY]) as stand_in:
        stand_in.script(Reply("A slow but complete answer [1].", chunks=5, chunk_delay=0.3, first_token_delay=1.0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")} | {
            "LORE_DATA_DIR": str(data),
            "LORE_EMBEDDING_PROVIDER": "hash",
            "LORE_SERVER_MODE": "development",
            "LORE_WEBCHAT_ENABLED": "true",
            "LORE_WEBCHAT_USERS": ",".join(SAMPLE_USERS),
            "LORE_LLM_PROVIDER": "groq",
            "LORE_LLM_BASE_URL": stand_in.groq_base_url,
            "LORE_SECRET_GROQ_API_KEY": KEY,
            "LORE_SERVER_SHUTDOWN_TIMEOUT_SECONDS": "10",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(url, proc)
            async with aiohttp.ClientSession() as session:
                body = {"user": "erin@northwind.example", "text": "How do I get VPN access?", "thread_id": None}
                async with session.post(f"{url}/api/webchat/ask", json=body, headers={"X-Request-Id": "req-sigterm-1"}) as r:
                    assert r.status == 200
                    first = await r.content.readuntil(b"\n\n")
                    assert b"event: status" in first
                    proc.send_signal(signal.SIGTERM)
                    rest = (await r.content.read()).decode()
            assert "event: final" in rest
            final = json.loads(rest.split("event: final\ndata: ")[1].split("\n")[0])
            assert final["provider"] == "groq" and final["text"].startswith("A slow but complete answer")
            code = await asyncio.wait_for(proc.wait(), 15)
            assert code == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
        stdout = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert stdout.splitlines() == [f"Lore is ready at {url}"]  # one human line beside the JSON logs
    assert KEY not in stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert records, stderr[-2000:]
    assert any(r.get("request_id") == "req-sigterm-1" and r.get("path") == "/api/webchat/ask" for r in records)
    assert any(r["message"] == "ready" for r in records)
    non_json = [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert not non_json, non_json[:5]
