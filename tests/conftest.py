"""Shared fixtures. Real PostgreSQL when it runs; in CI (CI=true) its absence is a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.config import Config
from core.db import Database, open_database
from tests.fakes.openbao import bao  # noqa: F401 - the session's OpenBao server, for every test folder

PG_URL = os.environ.get("LORE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not there"
        return f"{exc.__class__.__name__}: {exc}"


def require_service(name: str, problem: str | None) -> None:
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI but unavailable: {problem}")
    pytest.skip(f"{name} unavailable: {problem}")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    require_service("PostgreSQL", _pg_available())
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The metadata database on both engines."""
    if request.param == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'lore.db'}")
    else:
        schema = request.getfixturevalue("pg_schema")
        db = open_database(PG_URL, schema)
    yield db
    db.close()


@pytest.fixture
def hash_config(tmp_path: Path) -> Config:
    """Config on a temporary data dir with the deterministic hash embedder."""
    cfg = Config(data_dir=tmp_path / "data")
    cfg.embedding.provider = "hash"
    cfg.embedding.dimension = 64
    cfg.chunking.max_tokens = 60
    cfg.chunking.min_tokens = 10
    return cfg


REDIS_URL = os.environ.get("LORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_available() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not there"
        return f"{exc.__class__.__name__}: {exc}"


@pytest.fixture
def redis_url() -> str:
    """The local Redis (LORE_TEST_REDIS_URL); skipped when absent, a failure in CI. Tests use a
    unique key prefix and delete their keys."""
    require_service("Redis", _redis_available())
    return REDIS_URL


@pytest.fixture(scope="session")
def handbook_model_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The sample handbook indexed once per run with the real embedding model (tests marked
    ``model``; read-only: a test that writes builds its own)."""
    from connectors.files import FilesConnector
    from connectors.ingest import IngestEngine
    from retrieval.runtime import Runtime

    rt = Runtime(Config(data_dir=tmp_path_factory.mktemp("handbook-model")))
    report = IngestEngine(rt.db, rt.index, rt.embedder, rt.chunker).ingest(
        FilesConnector(REPO / "examples" / "handbook", rt.config.files, instance="handbook")
    )
    assert report.status == "succeeded" and len(report.indexed) == 27, report
    yield rt
    rt.close()
