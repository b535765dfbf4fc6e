"""Teams 1:1 answers with the real model (issue 12's measure): 20 people ask at once, each in their
own 1:1 chat; seconds from each post to the first streamed update and to the final message, as
the Bot Connector stand-in received them, through the real server, its token checks and the
streaming protocol. `make bench` runs it (or: python -m pytest -q -m bench -p no:cacheprovider
-s bench/test_bench_teams_latency.py); numbers go to bench/results/teams-latency.json and
docs/PERFORMANCE.md ("Teams")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench._workload import CpuMonitor, machine, write_result
from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.config import Config
from retrieval.runtime import Runtime
from tests.bot.teams.conftest import Teams, percentile, stream_latencies, teams  # noqa: F401
from tests.conftest import REPO

ASKERS = 20
ROUNDS = 3


@pytest.fixture(scope="module")
def handbook_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample handbook indexed with the real model (the Teams fixture copies it)."""
    data = tmp_path_factory.mktemp("handbook-model-data")
    rt = Runtime(Config(data_dir=data))
    report = IngestEngine(rt.db, rt.index, rt.embedder, rt.chunker).ingest(
        FilesConnector(REPO / "examples" / "handbook", rt.config.files, instance="handbook")
    )
    rt.close()
    assert report.status == "succeeded"
    return data


@pytest.fixture
def teams_tweak() -> Callable[[Config], None]:
    def tweak(cfg: Config) -> None:
        cfg.embedding.provider = "sentence-transformers"  # the real model, as in production
        cfg.ratelimit.questions_per_minute = 10_000
    return tweak


@pytest.mark.bench
async def test_teams_stream_latency_with_the_real_model(teams: Teams) -> None:  # noqa: F811
    await stream_latencies(teams, 1)  # warm: the model loads on the first question
    cpu = CpuMonitor()
    first: list[float] = []
    final: list[float] = []
    for _ in range(ROUNDS):
        f, g = await stream_latencies(teams, ASKERS)
        first += f
        final += g
    load = cpu.stop()
    result = {
        "machine": machine(), "load": load, "askers": ASKERS, "rounds": ROUNDS,
        "first_update_s": {"p50": round(percentile(first, 50), 3), "p95": round(percentile(first, 95), 3)},
        "final_message_s": {"p50": round(percentile(final, 50), 3), "p95": round(percentile(final, 95), 3)},
    }
    write_result("teams-latency", result)
    print(f"\nteams, {ASKERS} concurrent 1:1 askers x {ROUNDS}: first update p50 {result['first_update_s']['p50']} s "
          f"p95 {result['first_update_s']['p95']} s; final p50 {result['final_message_s']['p50']} s "
          f"p95 {result['final_message_s']['p95']} s; other processes {load['other_processes_busy_fraction']:.0%}")
    assert percentile(first, 95) < 2.0
