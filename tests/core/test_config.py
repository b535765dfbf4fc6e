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


def test_lore_toml_in_the_working_directory_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).search.top_k == 5
    (tmp_path / "lore.toml").write_text("[search]\ntop_k = 9\n")
    assert load_config(env={}).search.top_k == 9
    other = tmp_path / "other.toml"
    other.write_text("[search]\ntop_k = 2\n")
    assert load_config(env={"LORE_CONFIG": str(other)}).search.top_k == 2
