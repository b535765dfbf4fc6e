"""Item 14: citation URLs of the files connector showed absolute server paths
(``file:///srv/...``). Now a citation links to the configured ``url_base`` + the path below the
folder, or shows only that path."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.registry import build_connector
from core.config import ConfigError, FilesConfig
from core.models import Document
from tests.builders import load_config
from tests.fakes.memory_secrets import MemorySecretStore


def test_no_server_path_in_any_url(tmp_path: Path) -> None:
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "_acl.yaml").write_text("allow: [org:members]\n")
    (tmp_path / "a b" / "Leave policy.md").write_text("# Leave\n\nTwenty days.\n")
    (doc,) = FilesConnector(tmp_path, FilesConfig(), instance="t").scan()
    assert isinstance(doc, Document) and doc.url == "" and str(tmp_path) not in doc.url
    (doc,) = FilesConnector(tmp_path, FilesConfig(), instance="t", url_base="https://intranet.example/hb").scan()
    assert isinstance(doc, Document)
    assert doc.url == "https://intranet.example/hb/a%20b/Leave%20policy.md"


def test_url_base_comes_from_the_connector_config(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    config = tmp_path / "lore.toml"
    config.write_text(f'[connectors.hb]\ntype = "files"\npath = "{tmp_path / "docs"}"\n'
                      'url_base = "https://intranet.example/handbook/"\n')
    cfg = load_config(config, env={})
    connector = build_connector("hb", cfg.connectors["hb"], cfg, MemorySecretStore())
    assert isinstance(connector, FilesConnector) and connector._url("x/y.md") == "https://intranet.example/handbook/x/y.md"
    config.write_text(f'[connectors.hb]\ntype = "files"\npath = "{tmp_path / "docs"}"\nurl_base = "file:///srv"\n')
    cfg = load_config(config, env={})
    with pytest.raises(ConfigError, match="url_base must be an http"):
        build_connector("hb", cfg.connectors["hb"], cfg, MemorySecretStore())
