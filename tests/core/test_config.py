from pathlib import Path

import pytest

from core.config import ConfigError, load_config


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config(env={})
    assert cfg.data_dir == Path("data")
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("data/lore.db")
    assert cfg.index_path == Path("data/index")
    assert cfg.server.port == 3978


def test_toml_then_env_overrides(tmp_path: Path) -> None:
    f = tmp_path / "lore.toml"
    f.write_text('data_dir = "/srv/lore"\n[search]\ntop_k = 8\ndense_weight = 0.5\n[files]\nextensions = [".md"]\n')
    cfg = load_config(env={"LORE_CONFIG": str(f), "LORE_SEARCH_TOP_K": "3", "LORE_DATA_DIR": str(tmp_path)})
    assert cfg.search.top_k == 3  # environment wins over the file
    assert cfg.search.dense_weight == 0.5
    assert cfg.files.extensions == [".md"]
    assert cfg.data_dir == tmp_path
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'lore.db').resolve()}"


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ("[search]\ntopk = 3\n", "unknown setting 'topk'"),
        ("[serch]\ntop_k = 3\n", "unknown section or setting 'serch'"),
        ("[search]\ntop_k = 'many'\n", "search.top_k: expected an integer, got 'many'"),
        ("[search\n", "lore.toml"),
        ('[search]\nfusion = "borda"\n', "search.fusion: expected one of convex, rrf, got 'borda'"),
        ('[server]\nmode = "dev"\n', "server.mode: expected one of production, development, got 'dev'"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, toml: str, fragment: str) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load_config(f, env={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"LORE_CONFIG": str(tmp_path / "nope.toml")})


def test_bad_env_value() -> None:
    with pytest.raises(ConfigError, match="LORE_SERVER_PORT"):
        load_config(env={"LORE_SERVER_PORT": "eighty"})
    with pytest.raises(ConfigError, match="expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"):
        load_config(env={"LORE_SERVER_LOG_LEVEL": "LOUD"})


def test_choices_are_read_in_any_case() -> None:
    cfg = load_config(env={"LORE_SERVER_LOG_LEVEL": "debug", "LORE_LLM_PROVIDER": " Groq "})
    assert (cfg.server.log_level, cfg.llm.provider) == ("DEBUG", "groq")


def test_lore_toml_in_the_working_directory_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).search.top_k == 5
    (tmp_path / "lore.toml").write_text("[search]\ntop_k = 9\n")
    assert load_config(env={}).search.top_k == 9
    other = tmp_path / "other.toml"
    other.write_text("[search]\ntop_k = 2\n")
    assert load_config(env={"LORE_CONFIG": str(other)}).search.top_k == 2


def test_connector_instances(tmp_path: Path) -> None:
    from core.config import ConfluenceConnectorConfig, FilesConnectorConfig

    f = tmp_path / "lore.toml"
    f.write_text(
        '[connectors.wiki]\ntype = "confluence"\nurl = "https://acme.atlassian.net/wiki"\n'
        'spaces = ["ENG", "HR"]\nuser_emails = { "557058:abc" = "Carol@Acme.example" }\n'
        "content_interval_minutes = 5\n"
        '[connectors.handbook]\ntype = "files"\npath = "docs"\nenabled = false\n'
    )
    cfg = load_config(f, env={})
    wiki, handbook = cfg.connectors["wiki"], cfg.connectors["handbook"]
    assert isinstance(wiki, ConfluenceConnectorConfig) and isinstance(handbook, FilesConnectorConfig)
    assert wiki.spaces == ["ENG", "HR"] and wiki.content_interval_minutes == 5.0
    assert wiki.user_emails == {"557058:abc": "Carol@Acme.example"}
    assert wiki.permissions_interval_minutes == 30.0  # default
    assert handbook.path == "docs" and handbook.enabled is False


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ('[connectors.wiki]\nurl = "x"\n', "type must be one of confluence, files, got None"),
        ('[connectors.wiki]\ntype = "jira"\n', "type must be one of"),
        ('[connectors.Wiki]\ntype = "files"\n', "connector name 'Wiki'"),
        ('[connectors.status]\ntype = "files"\n', "connector name 'status'"),
        ('[connectors.wiki]\ntype = "files"\nspace = "ENG"\n', "connectors.wiki: unknown setting 'space'"),
        ('[connectors.wiki]\ntype = "confluence"\nuser_emails = ["a"]\n', "user_emails: expected a table"),
        ('[connectors.wiki]\ntype = "files"\nfull_interval_hours = 0\n', "full_interval_hours must be positive"),
        ('[connectors.wiki]\ntype = "confluence"\ndeployment = "server"\n',
         "connectors.wiki.deployment: expected one of cloud, datacenter, got 'server'"),
    ],
)
def test_bad_connector_config(tmp_path: Path, toml: str, fragment: str) -> None:
    f = tmp_path / "lore.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load_config(f, env={})
