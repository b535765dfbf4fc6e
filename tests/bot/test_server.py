"""The server end to end over HTTP: web chat API as two sample users, citations, the ACL
difference, the LLM fallback, rate limits, metrics, readiness and configuration guards.
The LLM is the loopback Groq stand-in driven through the real groq SDK."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from core.config import Config, ConfigError
from tests.bot.conftest import dev_config
from tests.fakes.llm_stand_in import Fail, LlmStandIn, Reply

KEY = "gsk_test_key_0123456789abcdef"


@pytest.fixture
def cfg(handbook_data: Path, tmp_path: Path) -> Config:
    data = tmp_path / "data"
    shutil.copytree(handbook_data, data)
    return dev_config(data)


@pytest.fixture
async def stand_in() -> AsyncIterator[LlmStandIn]:
    async with LlmStandIn.running(api_keys=[KEY]) as server:
        yield server


@pytest.fixture
def groq_cfg(cfg: Config, stand_in: LlmStandIn, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("LORE_SECRET_GROQ_API_KEY", KEY)
    cfg.llm.provider = "groq"
    cfg.llm.base_url = stand_in.groq_base_url
    cfg.llm.max_retries = 1
    cfg.llm.timeout_seconds = 3
    return cfg


async def ask(client: TestClient, user: str, text: str, thread_id: str | None = None) -> dict[str, Any]:
    """POST a question; return the parsed SSE events: {"events": [...], "final": {...}}."""
    r = await client.post("/api/webchat/ask", json={"user": user, "text": text, "thread_id": thread_id})
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for block in (await r.text()).split("\n\n"):
        if block.strip():
            name = block.split("\n")[0].removeprefix("event: ")
            data = json.loads(block.split("\n")[1].removeprefix("data: "))
            events.append((name, data))
    finals = [d for n, d in events if n == "final"]
    assert len(finals) == 1, events
    return {"events": events, "final": finals[0]}


def cited(result: dict[str, Any]) -> set[str]:
    return {c["source_id"] for c in result["final"]["citations"]}


async def test_health_ready_metrics(cfg: Config) -> None:
    async with TestClient(TestServer(create_app(cfg))) as client:
        assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 200, body
        assert body["checks"]["database"] == "ok" and body["checks"]["index"].startswith("ok (")
        r = await client.get("/metrics")
        assert r.status == 200 and "lore_questions_total" in await r.text()
        assert r.headers["X-Request-Id"]


async def test_two_users_get_different_answers_from_the_llm(groq_cfg: Config, stand_in: LlmStandIn) -> None:
    stand_in.script(Reply("Band L5 is described in the salary bands [1]. See also [7].", chunks=4),
                    Reply("I can only tell you about general policies [1]."))
    async with TestClient(TestServer(create_app(groq_cfg))) as client:
        carol = await ask(client, "carol@northwind.example", "What is the salary band for L5?")
        erin = await ask(client, "erin@northwind.example", "What is the salary band for L5?")
    assert [n for n, _ in carol["events"]][:2] == ["status", "status"]
    assert any(n == "delta" for n, _ in carol["events"])
    assert carol["final"]["provider"] == "groq" and not carol["final"]["fell_back"]
    assert "hr/confidential/salary-bands.md" in cited(carol)
    assert "[7]" not in carol["final"]["text"]  # a number that was not a source is removed
    assert not any(s.startswith("hr/confidential/") for s in cited(erin))
    # The model never saw the restricted text when answering erin.
    prompts = [json.dumps(r.body) for r in stand_in.requests]
    assert "Salary bands 2026" in prompts[0]
    assert not any("Salary bands 2026" in p or "CONFIDENTIAL" in p for p in prompts[1:])
    assert all(r.headers.get("Authorization") == f"Bearer {KEY}" for r in stand_in.requests)


async def test_llm_failure_falls_back_and_is_counted(groq_cfg: Config, stand_in: LlmStandIn) -> None:
    stand_in.script(Fail(500), Fail(500), Fail(500))
    async with TestClient(TestServer(create_app(groq_cfg))) as client:
        result = await ask(client, "erin@northwind.example", "How do I get VPN access?")
        metrics = await (await client.get("/metrics")).text()
    final = result["final"]
    assert final["fell_back"] and final["provider"] == "extractive"
    assert "general/it-vpn-access.md" in cited(result)
    assert "lore_fallbacks_total 1.0" in metrics
    assert 'lore_provider_errors_total{provider="groq"} 1.0' in metrics
    assert 'lore_questions_total{outcome="answered",platform="webchat"} 1.0' in metrics
    assert 'lore_stage_seconds_count{stage="retrieval"} 1.0' in metrics
    assert KEY not in metrics


async def test_no_permitted_source_is_said_honestly(cfg: Config) -> None:
    async with TestClient(TestServer(create_app(cfg))) as client:
        result = await ask(client, "gina@northwind.example", "What is the Sev1 bridge procedure?")
    final = result["final"]
    assert not any("security/" in s for s in cited(result))
    if not final["found_sources"]:
        assert final["text"] == "I couldn't find this in documents you can access." and final["citations"] == []


async def test_follow_up_uses_the_thread(cfg: Config) -> None:
    async with TestClient(TestServer(create_app(cfg))) as client:
        first = await ask(client, "carol@northwind.example", "What are the salary bands per level?")
        thread = first["final"]["thread_id"]
        follow = await ask(client, "carol@northwind.example", "And for managers?", thread)
        other = await ask(client, "carol@northwind.example", "And for managers?")
    assert follow["final"]["thread_id"] == thread
    assert "hr/confidential/salary-bands.md" in cited(follow)
    assert other["final"]["thread_id"] != thread


async def test_rate_limit_is_per_user(cfg: Config) -> None:
    cfg.ratelimit.questions_per_minute = 2
    async with TestClient(TestServer(create_app(cfg))) as client:
        for _ in range(2):
            await ask(client, "erin@northwind.example", "expenses")
        r = await client.post("/api/webchat/ask", json={"user": "erin@northwind.example", "text": "expenses"})
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await r.json())["retry_after"] >= 1
        await ask(client, "alice@northwind.example", "expenses")  # another user is not limited
        assert "lore_rate_limited_total 1.0" in await (await client.get("/metrics")).text()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"user": "mallory@evil.example", "text": "hi"}, "unknown user"),
        ({"user": "erin@northwind.example", "text": 3}, "text must be a string"),
        ({"user": "erin@northwind.example", "text": "   "}, "Ask me a question"),
        ({"user": "erin@northwind.example", "text": "x" * 5000}, "too long"),
        ({"user": "erin@northwind.example", "text": "hi", "thread_id": ["x"]}, "thread_id"),
        ([1, 2], "JSON object"),
    ],
)
async def test_bad_requests(cfg: Config, body: Any, message: str) -> None:
    async with TestClient(TestServer(create_app(cfg))) as client:
        r = await client.post("/api/webchat/ask", json=body)
        assert r.status == 400 and message in (await r.json())["error"]
        r = await client.post("/api/webchat/ask", data=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status == 400


async def test_webchat_exists_only_in_development(cfg: Config) -> None:
    cfg.server.mode = "production"
    async with TestClient(TestServer(create_app(cfg))) as client:
        assert (await client.get("/")).status == 404
        assert (await client.get("/api/webchat/users")).status == 404
    cfg.server.mode = "development"
    async with TestClient(TestServer(create_app(cfg))) as client:
        page = await client.get("/")
        assert page.status == 200 and "<select" in await page.text()
        users = (await (await client.get("/api/webchat/users")).json())["users"]
        assert {"id": "gina@northwind.example", "label": "gina@northwind.example", "guest": True} in users


def test_webchat_refuses_a_non_loopback_address(cfg: Config) -> None:
    cfg.server.host = "0.0.0.0"
    with pytest.raises(ConfigError, match="loopback"):
        create_app(cfg)
