"""The sources table: each type's settings are read and checked at load time, and a source
registers with one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors import registry
from connectors.base import Source, SyncConnector
from connectors.confluence.settings import ConfluenceConnectorConfig
from connectors.files.settings import FilesConnectorConfig
from connectors.registry import build_connector, connector_source
from core.config import Config, ConfigError, ConnectorConfig
from core.secrets import SecretStore
from tests.builders import load_config
from tests.connectors.sync.fake_source import FakeSource
from tests.fakes.memory_secrets import MemorySecretStore


def test_connector_instances(tmp_path: Path) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(
        '[connectors.wiki]\ntype = "confluence"\nurl = "https://acme.atlassian.net/wiki"\n'
        'spaces = ["ENG", "HR"]\nuser_emails = { "557058:abc" = "Carol@Acme.example" }\n'
        'content_interval_minutes = 5\ndeployment = "datacenter"\n'
        '[connectors.handbook]\ntype = "files"\npath = "docs"\nenabled = false\n'
    )
    cfg = load_config(f, env={})
    wiki, handbook = cfg.connectors["wiki"], cfg.connectors["handbook"]
    assert isinstance(wiki, ConfluenceConnectorConfig) and isinstance(handbook, FilesConnectorConfig)
    assert wiki.spaces == ["ENG", "HR"] and wiki.content_interval_minutes == 5.0
    assert wiki.user_emails == {"557058:abc": "Carol@Acme.example"} and wiki.deployment == "datacenter"
    assert wiki.permissions_interval_minutes == 30.0  # default
    assert handbook.path == "docs" and handbook.enabled is False
    assert connector_source("wiki", wiki) == "confluence:wiki"
    assert connector_source("handbook", handbook) == "files:" + str(Path("docs").resolve())


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ('[connectors.wiki]\nurl = "x"\n', "type must be one of confluence, files, sharepoint, got None"),
        ('[connectors.wiki]\ntype = "jira"\n', "type must be one of"),
        ('[connectors.Wiki]\ntype = "files"\n', "connector name 'Wiki'"),
        ('[connectors.status]\ntype = "files"\n', "connector name 'status'"),
        ('[connectors.wiki]\ntype = "files"\nspace = "ENG"\n', "connectors.wiki: unknown setting 'space'"),
        ('[connectors.wiki]\ntype = "confluence"\nuser_emails = ["a"]\n', "user_emails: expected a table"),
        ('[connectors.wiki]\ntype = "files"\nfull_interval_hours = 0\n', "full_interval_hours must be positive"),
        ('[connectors.wiki]\ntype = "confluence"\ndeployment = "server"\n',
         "connectors.wiki.deployment: expected one of cloud, datacenter, got 'server'"),
        ('[connectors.wiki]\ntype = "confluence"\nanonymous_access = "allow"\n',
         "connectors.wiki.anonymous_access: expected one of deny, org-members, got 'allow'"),
        ('[connectors.a]\ntype = "files"\npath = "docs"\n[connectors.b]\ntype = "files"\npath = "./docs"\n',
         "connectors 'a' and 'b' both index"),
    ],
)
def test_bad_connector_config(tmp_path: Path, toml: str, fragment: str) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load_config(f, env={})


@dataclass
class _FakeSourceConfig(ConnectorConfig):
    name_of_source: str = "fake:test"


def _build_fake(name: str, conf: _FakeSourceConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    return FakeSource(name=conf.name_of_source)


def test_a_source_registers_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SOURCES, "fake", Source(_FakeSourceConfig, _build_fake))  # the one line
    f = tmp_path / "lore.toml"
    f.write_text('[connectors.demo]\ntype = "fake"\nname_of_source = "fake:demo"\n')
    cfg = load_config(f, env={})
    conf: Any = cfg.connectors["demo"]
    assert isinstance(conf, _FakeSourceConfig) and connector_source("demo", conf) == "fake:demo"
    connector = build_connector("demo", conf, cfg, MemorySecretStore())
    assert isinstance(connector, FakeSource) and connector.source == "fake:demo"
    [target] = registry.scheduled_targets(cfg, MemorySecretStore())
    assert target.name == "demo" and target.source == "fake:demo"
