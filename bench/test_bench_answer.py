"""Answer latency through the real server under 20 concurrent askers.

Time to first streamed token and to the full answer, measured by the client over HTTP + SSE,
with the extractive provider and with the LLM stand-in at a fixed latency (first token after
300 ms, then 5 chunks 50 ms apart). The handbook is indexed with the real embedding model.
"Overhead" is the client's full time minus the server-side retrieval and answer-generation
times of the same request. The server runs as its own process (`lore serve`), as in production;
"overhead" is what the server measures outside retrieval and answer generation (rate limit,
identity, principals, audience, thread memory, events), "client_overhead" adds HTTP, SSE and
the client's own event loop (shared with the LLM stand-in and 19 other askers).

Run: `make bench` or `python -m pytest -m bench bench/test_bench_answer.py -s`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench._workload import percentiles_ms, write_result
from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.config import Config
from retrieval.runtime import Runtime
from tests.fakes.llm_stand_in import LlmStandIn, Reply

REPO = Path(__file__).resolve().parents[1]
ASKERS = 20
ROUNDS = 5  # questions per asker
KEY = "gsk_bench_key_0123456789abcdef"
USERS = ["alice", "bob", "carol", "dave", "erin", "cfo"]
QUESTIONS = [
    "How do I get VPN access?", "How many days of annual leave do I get?", "How do I report phishing?",
    "What is the expense limit for meals?", "How does on-call escalation work?", "What is the laptop policy?",
]


async def one(session: aiohttp.ClientSession, url: str, user: str, question: str) -> dict[str, float]:
    started = time.perf_counter()
    first = None
    final: dict[str, Any] = {}
    async with session.post(f"{url}/api/webchat/ask", json={"user": user, "text": question, "thread_id": None}) as r:
        assert r.status == 200, await r.text()
        buffer = b""
        async for chunk in r.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                name, _, data = block.decode().partition("\ndata: ")
                if name == "event: delta" and first is None:
                    first = time.perf_counter()
                elif name == "event: final":
                    final = json.loads(data)
    end = time.perf_counter()
    t = final["timing_ms"]
    total = (end - started) * 1000
    return {
        "first_token_ms": ((first or end) - started) * 1000,
        "total_ms": total,
        "overhead_ms": t["overhead"],
        "client_overhead_ms": total - t["retrieval"] - t["answer"],
        "retrieval_ms": t["retrieval"],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_load(data: Path, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Start `lore serve` as its own process (as in production), then 20 concurrent askers."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
        env=base | {
            "LORE_DATA_DIR": str(data),
            "LORE_SERVER_MODE": "development",
            "LORE_WEBCHAT_ENABLED": "true",
            "LORE_WEBCHAT_USERS": ",".join(f"{u}@northwind.example" for u in USERS),
            "LORE_RATELIMIT_QUESTIONS_PER_MINUTE": "0",  # measuring, not limiting
            "LORE_SERVER_LOG_LEVEL": "WARNING",
        } | env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            for _ in range(600):
                try:
                    async with session.get(f"{url}/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            await one(session, url, "erin@northwind.example", "warm up")
            samples: list[dict[str, float]] = []

            async def asker(i: int) -> None:
                for r in range(ROUNDS):
                    user = f"{USERS[i % len(USERS)]}@northwind.example"
                    samples.append(await one(session, url, user, QUESTIONS[(i + r) % len(QUESTIONS)]))

            started = time.perf_counter()
            await asyncio.gather(*(asker(i) for i in range(ASKERS)))
            wall = time.perf_counter() - started
    finally:
        proc.terminate()
        await proc.wait()
    out: dict[str, dict[str, float]] = {
        key.removesuffix("_ms"): percentiles_ms([s[key] / 1000 for s in samples])
        for key in ("first_token_ms", "total_ms", "overhead_ms", "client_overhead_ms", "retrieval_ms")
    }
    out["throughput"] = {"answers_per_s": round(len(samples) / wall, 2), "answers": len(samples)}
    return out


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bench-answer")
    rt = Runtime(Config(data_dir=data))
    IngestEngine(rt.db, rt.index, rt.embedder, rt.chunker).ingest(FilesConnector(REPO / "examples" / "handbook", rt.config.files, instance="handbook"))
    rt.close()
    return data


@pytest.mark.bench
async def test_answer_latency_under_load(indexed: Path) -> None:
    results: dict[str, Any] = {"askers": ASKERS, "questions_per_asker": ROUNDS, "cpus": os.cpu_count()}
    results["extractive"] = await run_load(indexed, {"LORE_LLM_PROVIDER": "extractive"})
    async with LlmStandIn.running(api_keys=[KEY]) as stand_in:
        stand_in.default_reply = Reply(
            "Here is the answer from the policy [1]. More detail [2].", chunks=5, chunk_delay=0.05, first_token_delay=0.3
        )
        results["llm_stand_in"] = await run_load(indexed, {
            "LORE_LLM_PROVIDER": "groq", "LORE_LLM_BASE_URL": stand_in.groq_base_url, "LORE_SECRET_GROQ_API_KEY": KEY,
        })
    write_result("answer_latency", results)
    print("\n" + json.dumps(results, indent=2))
    for provider in ("extractive", "llm_stand_in"):
        overhead = results[provider]["overhead"]["p95_ms"]
        assert overhead < 20, f"{provider}: overhead outside retrieval and the LLM {overhead} ms p95"
