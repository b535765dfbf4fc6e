from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import ConfigError, ConnectorConfig, Plugins, load_config
from tests.builders import load_config as load


def test_defaults(tmp_path: Path) -> None:
    cfg = load(env={})
    assert cfg.data_dir == Path("data")
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("data/lore.db")
    assert cfg.index.backend == "lance" and cfg.index_backends["lance"].path == ""
    assert cfg.server.port == 3978 and cfg.server.mode == "production" and cfg.search.fusion == "convex"


def test_toml_then_env_overrides(tmp_path: Path) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(
        'data_dir = "/srv/lore"\n[search]\ntop_k = 8\ndense_weight = 0.5\n[files]\nextensions = [".md"]\n'
        '[index.lance]\npath = "/srv/index"\nvector_index_min_chunks = 10\n'
    )
    cfg = load(env={"LORE_CONFIG": str(f), "LORE_SEARCH_TOP_K": "3", "LORE_DATA_DIR": str(tmp_path),
                    "LORE_INDEX_LANCE_VECTOR_INDEX_MIN_CHUNKS": "0"})
    assert cfg.search.top_k == 3  # environment wins over the file
    assert cfg.search.dense_weight == 0.5
    assert cfg.files.extensions == [".md"]
    assert cfg.data_dir == tmp_path
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'lore.db').resolve()}"
    assert cfg.index_backends["lance"].path == "/srv/index"
    assert cfg.index_backends["lance"].vector_index_min_chunks == 0


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ("[search]\ntopk = 3\n", "unknown setting 'topk'"),
        ("[serch]\ntop_k = 3\n", "unknown section or setting 'serch'"),
        ("[search]\ntop_k = 'many'\n", "search.top_k: expected an integer, got 'many'"),
        ("[search\n", "lore.toml"),
        ('[search]\nfusion = "borda"\n', "search.fusion: expected one of convex, rrf, got 'borda'"),
        ('[server]\nmode = "dev"\n', "server.mode: expected one of production, development, got 'dev'"),
        ('[index]\nbackend = "qdrant"\n', "index.backend: expected one of lance, got 'qdrant'"),
        ('[index]\npath = "x"\n', r"unknown setting or backend 'path' .*'path' is a setting of \[index.lance\]"),
        ('[index.qdrant]\nurl = "x"\n', r"unknown setting or backend 'qdrant' \(settings: backend; backends: lance\)"),
        ("[index.lance]\npaht = 'x'\n", "index.lance: unknown setting 'paht'"),
        ('[secrets]\nprovider = "hashicorp"\n', "secrets.provider: expected one of env, .*got 'hashicorp'"),
        ('[secrets.vault]\nurll = "x"\n', "secrets.vault: unknown setting 'urll'"),
        ('[secrets]\nvault_url = "x"\n', r"unknown setting or provider 'vault_url' .*\[secrets.azure-key-vault\]"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, toml: str, fragment: str) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load(f, env={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(env={"LORE_CONFIG": str(tmp_path / "nope.toml")})


def test_bad_env_value() -> None:
    with pytest.raises(ConfigError, match="LORE_SERVER_PORT"):
        load(env={"LORE_SERVER_PORT": "eighty"})
    with pytest.raises(ConfigError, match="LORE_SERVER_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        load(env={"LORE_SERVER_LOG_LEVEL": "LOUD"})


def test_choices_are_read_in_any_case() -> None:
    cfg = load(env={"LORE_SERVER_LOG_LEVEL": "debug", "LORE_LLM_PROVIDER": " Groq ", "LORE_SECRETS_PROVIDER": "ENV"})
    assert (cfg.server.log_level, cfg.llm.provider, cfg.secrets.provider) == ("DEBUG", "groq", "env")


@pytest.mark.parametrize(
    "name, message",
    [
        ("LORE_SEARCH_TOPK", "unknown setting LORE_SEARCH_TOPK in the environment; did you mean LORE_SEARCH_TOP_K?"),
        ("LORE_INDEX_PATH", "did you mean LORE_INDEX_LANCE_PATH?"),
        ("LORE_CONFG", "did you mean LORE_CONFIG?"),
        ("LORE_SECRETS_GROQ_API_KEY", "secret values are LORE_SECRET_<NAME> .did you mean LORE_SECRET_GROQ_API_KEY"),
        ("LORE_CONNECTORS_WIKI_URL", "unknown setting LORE_CONNECTORS_WIKI_URL in the environment"),
        ("LORE_SECRETS_GROQ_API_KEY", "unknown setting LORE_SECRETS_GROQ_API_KEY"),
    ],
)
def test_unknown_environment_variables_are_errors(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env={name: "1"})


def test_exempt_environment_variables() -> None:
    cfg = load(env={"LORE_SECRET_GROQ_API_KEY": "gsk_x", "LORE_TEST_PG_URL": "postgresql://x", "PATH": "/bin"})
    assert cfg.search.top_k == 5


def test_lore_toml_in_the_working_directory_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load(env={}).search.top_k == 5
    (tmp_path / "lore.toml").write_text("[search]\ntop_k = 9\n")
    assert load(env={}).search.top_k == 9
    other = tmp_path / "other.toml"
    other.write_text("[search]\ntop_k = 2\n")
    assert load(env={"LORE_CONFIG": str(other)}).search.top_k == 2


# -- the plug-in tables, as the loader sees them (fakes: core knows no plug-in) -------------


@dataclass
class _ShardSettings:
    url: str = ""
    shards: int = 1


@dataclass
class _NoSettings:
    pass


@dataclass
class _VaultSettings:
    url: str = ""
    auth_mount: str = "kubernetes"


@dataclass
class _NoteSource(ConnectorConfig):
    folder: str = ""


def _plugins() -> Plugins:
    return Plugins(
        sources={"notes": _NoteSource},
        index_backends={"lance": _ShardSettings, "shard-db": _ShardSettings},
        secret_providers={"env": _NoSettings, "vault": _VaultSettings},
    )


def test_plugins_bring_their_settings(tmp_path: Path) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(
        '[index]\nbackend = "shard-db"\n[index.shard-db]\nurl = "http://db:1"\n[secrets]\nprovider = "vault"\n'
        '[connectors.team]\ntype = "notes"\nfolder = "n"\n'
    )
    cfg = load_config(f, {"LORE_INDEX_SHARD_DB_SHARDS": "4"}, plugins=_plugins())
    assert cfg.index.backend == "shard-db" and cfg.secrets.provider == "vault"
    assert cfg.index_backends["shard-db"] == _ShardSettings(url="http://db:1", shards=4)
    assert cfg.index_backends["lance"] == _ShardSettings()
    team = cfg.connectors["team"]
    assert isinstance(team, _NoteSource) and team.folder == "n" and team.document_source("team") == "notes:team"
    f.write_text('[connectors.team]\ntype = "files"\n')
    with pytest.raises(ConfigError, match="connectors.team: type must be one of notes, got 'files'"):
        load_config(f, {}, plugins=_plugins())


def test_kubernetes_service_links_are_not_settings() -> None:
    # Kubernetes gives every pod of a namespace these variables for each Service (enableServiceLinks
    # is on by default): a Service named "lore" (or "lore-redis") must not stop Lore from starting.
    links = {
        "LORE_SERVICE_HOST": "10.0.0.11", "LORE_SERVICE_PORT": "3978", "LORE_SERVICE_PORT_HTTP": "3978",
        "LORE_PORT": "tcp://10.0.0.11:3978", "LORE_PORT_3978_TCP": "tcp://10.0.0.11:3978",
        "LORE_PORT_3978_TCP_PROTO": "tcp", "LORE_PORT_3978_TCP_PORT": "3978", "LORE_PORT_3978_TCP_ADDR": "10.0.0.11",
        "LORE_REDIS_SERVICE_HOST": "10.0.0.12", "LORE_REDIS_SERVICE_PORT": "6379",
        "LORE_REDIS_PORT": "tcp://10.0.0.12:6379", "LORE_REDIS_PORT_6379_TCP_ADDR": "10.0.0.12",
    }
    cfg = load(env={**links, "LORE_SERVER_PORT": "8080"})
    assert cfg.server.port == 8080 and cfg.redis.url == ""
    # A typo is still one, even when it ends like a service link.
    with pytest.raises(ConfigError, match="did you mean LORE_SERVER_PORT"):
        load(env={"LORE_SERVR_PORT": "8080"})
