"""Fixtures for server tests: the handbook indexed once per module (hash embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.config import Config
from retrieval.runtime import Runtime
from tests.conftest import REPO

SAMPLE_USERS = [
    "alice@northwind.example",
    "bob@northwind.example",
    "carol@northwind.example",
    "erin@northwind.example",
    "gina@northwind.example guest",
]


@pytest.fixture(scope="module")
def handbook_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the indexed sample handbook; tests copy it before writing."""
    data = tmp_path_factory.mktemp("handbook-data")
    cfg = dev_config(data)
    rt = Runtime(cfg)
    report = IngestEngine(rt.db, rt.index, rt.embedder, rt.chunker).ingest(
        FilesConnector(REPO / "examples" / "handbook", cfg.files, instance="handbook")
    )
    rt.close()
    assert report.status == "succeeded"
    return data


def dev_config(data: Path) -> Config:
    cfg = Config(data_dir=data)
    cfg.embedding.provider = "hash"
    cfg.server.mode = "development"
    cfg.webchat.enabled = True
    cfg.webchat.users = list(SAMPLE_USERS)
    cfg.llm.provider = "extractive"
    return cfg
