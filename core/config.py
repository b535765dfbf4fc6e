"""Configuration: defaults, then a TOML file, then ``LORE_*`` environment variables.

The file is ``--config`` / ``LORE_CONFIG`` when given (it must exist), else ``lore.toml`` in the
working directory when there is one.

Every setting lives in a section; the environment name is ``LORE_<SECTION>_<KEY>`` in upper case
(``LORE_EMBEDDING_BATCH_SIZE``), plus the two top-level ones ``LORE_DATA_DIR`` and
``LORE_CONFIG``. Unknown keys are errors, in the file and in the environment (with a "did you
mean"): a typo must not silently fall back to a default. Exempt are ``LORE_SECRET_*`` (values
for the env secret store), ``LORE_TEST_*`` (test-suite switches) and the variables Kubernetes
sets for a Service named ``lore`` or ``lore-...`` (``LORE_SERVICE_HOST``, ``LORE_PORT=tcp://...``).

Plug-ins own their settings and this module imports none of them: the composition root
(``bot.plugins``) passes their registration tables as :class:`Plugins`, checked once:

- sources: connector instances are tables ``[connectors.<name>]`` with a ``type`` from the
  sources table and that type's settings; they come from the file only (their secrets are
  referenced by name);
- index backends: ``index.backend`` names one; each backend's settings are ``[index.<backend>]``
  (``LORE_INDEX_<BACKEND>_<KEY>``);
- secret providers: ``secrets.provider`` names one; each provider's settings are
  ``[secrets.<provider>]`` (``LORE_SECRETS_<PROVIDER>_<KEY>``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.coerce import apply_values, one_of, set_value, setting_names
from core.errors import ConfigError
from core.sections import (
    AdminsConfig,
    AnswersConfig,
    AuditConfig,
    ChunkingConfig,
    DatabaseConfig,
    EmbeddingConfig,
    FilesConfig,
    IndexConfig,
    LlmConfig,
    RateLimitConfig,
    RedisConfig,
    SearchConfig,
    SecretsConfig,
    ServerConfig,
    SlackConfig,
    SyncConfig,
    TeamsConfig,
    WebChatConfig,
)

__all__ = [
    "AdminsConfig",
    "AnswersConfig",
    "AuditConfig",
    "ChunkingConfig",
    "Config",
    "ConfigError",
    "ConnectorConfig",
    "DatabaseConfig",
    "EmbeddingConfig",
    "FilesConfig",
    "IndexConfig",
    "LlmConfig",
    "Plugins",
    "RateLimitConfig",
    "RedisConfig",
    "SearchConfig",
    "SecretsConfig",
    "ServerConfig",
    "SlackConfig",
    "SyncConfig",
    "TeamsConfig",
    "WebChatConfig",
    "load_config",
]

# LORE_* variables that are not settings: values for the env secret store, test-suite switches.
ENV_EXEMPT = ("LORE_SECRET_", "LORE_TEST_")
# Kubernetes' service links, set in every pod of a namespace for each Service ("lore",
# "lore-redis", ...): <SVC>_SERVICE_HOST, <SVC>_SERVICE_PORT[_<port name>],
# <SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR], and <SVC>_PORT=tcp://<ip>:<port>.
_SERVICE_LINK = re.compile(
    r"LORE(?:_[A-Z0-9_]+?)?_(?:SERVICE_(?:HOST|PORT(?:_[A-Z0-9_]+)?)|PORT_\d+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)"
)
_SERVICE_URL = re.compile(r"(?:tcp|udp|sctp)://\S+")


@dataclass
class ConnectorConfig:
    """Settings every connector instance has (``[connectors.<name>]``). Each source type's
    settings model extends it, next to its code (``connectors/<source>/settings.py``)."""

    type: str = ""
    enabled: bool = True  # scheduled by the server; `lore sync NAME` runs it either way
    content_interval_minutes: float = 15.0
    permissions_interval_minutes: float = 30.0
    full_interval_hours: float = 24.0

    def document_source(self, name: str) -> str:
        """The ``source`` the instance's documents carry (stable: changing it re-indexes
        everything)."""
        return f"{self.type}:{name}"

    @classmethod
    def check_instances(cls, instances: Mapping[str, ConnectorConfig], where: str) -> None:
        """Rules across the configured instances of this type (two indexing one folder, say):
        raises ConfigError. Called once at load time; none by default."""


@dataclass(frozen=True)
class Plugins:
    """The settings models of the plug-ins, by name, one mapping per kind (from its
    registration table): the loader checks the settings against them."""

    sources: Mapping[str, type[ConnectorConfig]]  # connectors.registry.source_settings()
    index_backends: Mapping[str, type[Any]]  # retrieval.index.registry.BACKENDS
    secret_providers: Mapping[str, type[Any]]  # core.secrets.provider_settings()


_CONNECTOR_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass
class Config:
    data_dir: Path = Path("data")
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    answers: AnswersConfig = field(default_factory=AnswersConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    admins: AdminsConfig = field(default_factory=AdminsConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    ratelimit: RateLimitConfig = field(default_factory=RateLimitConfig)
    webchat: WebChatConfig = field(default_factory=WebChatConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    teams: TeamsConfig = field(default_factory=TeamsConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    # [connectors.<name>] tables; configured in the file only (no environment overrides)
    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    # [index.<backend>] tables: every registered backend's settings, by backend name. A Config
    # built in code has none; the backend's defaults then apply.
    index_backends: dict[str, Any] = field(default_factory=dict)
    # [secrets.<provider>] tables, the same way: every registered provider's settings.
    secret_providers: dict[str, Any] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_dir / 'lore.db').resolve()}"


_TOP_LEVEL = ("data_dir", "connectors", "index_backends", "secret_providers")  # Config fields that are not sections


def _sections(cfg: Config) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in _TOP_LEVEL}


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    plugins: Plugins,
) -> Config:
    env = dict(os.environ if env is None else env)
    cfg = Config(
        index_backends={name: model() for name, model in plugins.index_backends.items()},
        secret_providers={name: model() for name, model in plugins.secret_providers.items()},
    )
    path = path or env.get("LORE_CONFIG")
    if not path and Path("lore.toml").is_file():
        path = "lore.toml"
    if path:
        _apply_file(cfg, Path(path), plugins)
    _apply_env(cfg, env)
    cfg.index.backend = one_of(cfg.index.backend, list(plugins.index_backends), "index.backend")
    cfg.secrets.provider = one_of(cfg.secrets.provider, list(plugins.secret_providers), "secrets.provider")
    return cfg


def _apply_file(cfg: Config, p: Path, plugins: Plugins) -> None:
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist (LORE_CONFIG / --config)")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    sections = _sections(cfg)
    for key, value in data.items():
        if key == "data_dir":
            cfg.data_dir = Path(str(value))
        elif key == "connectors" and isinstance(value, dict):
            cfg.connectors = _connectors(value, f"{p}: connectors", plugins.sources)
        elif key == "index" and isinstance(value, dict):
            _with_tables(cfg.index, cfg.index_backends, value, f"{p}: index", "backend")
        elif key == "secrets" and isinstance(value, dict):
            _with_tables(cfg.secrets, cfg.secret_providers, value, f"{p}: secrets", "provider")
        elif key in sections and isinstance(value, dict):
            apply_values(sections[key], value, f"{p}: {key}")
        else:
            raise ConfigError(f"{p}: unknown section or setting {key!r}")


def _with_tables(
    section: Any, tables: dict[str, Any], values: dict[str, Any], where: str, kind: str
) -> None:
    """A section with its own settings and a table per registered plug-in (``[index]`` with
    ``[index.<backend>]``, ``[secrets]`` with ``[secrets.<provider>]``)."""
    own = {}
    head = where.rpartition(": ")[2]
    for key, value in values.items():
        if key in tables and isinstance(value, dict):
            apply_values(tables[key], value, f"{where}.{key}")
        elif key in setting_names(section):
            own[key] = value
        else:
            owners = [name for name, settings in tables.items() if key in setting_names(settings)]
            hint = f"; {key!r} is a setting of [{head}.{owners[0]}]" if owners else ""
            raise ConfigError(
                f"{where}: unknown setting or {kind} {key!r} (settings: "
                f"{', '.join(setting_names(section))}; {kind}s: {', '.join(tables)}){hint}"
            )
    apply_values(section, own, where)


def _env_names(cfg: Config) -> dict[str, tuple[Any, str]]:
    """Every setting that has an environment name: name -> (section, key)."""
    found = {}
    for name, section in _sections(cfg).items():
        for key in setting_names(section):
            found[f"LORE_{name}_{key}".upper()] = (section, key)
    for backend, settings in cfg.index_backends.items():
        for key in setting_names(settings):
            found[f"LORE_INDEX_{backend}_{key}".upper().replace("-", "_")] = (settings, key)
    for provider, settings in cfg.secret_providers.items():
        for key in setting_names(settings):
            found[f"LORE_SECRETS_{provider}_{key}".upper().replace("-", "_")] = (settings, key)
    return found


def _apply_env(cfg: Config, env: Mapping[str, str]) -> None:
    settings = _env_names(cfg)
    for name in sorted(env):
        if not name.startswith("LORE_") or name.startswith(ENV_EXEMPT) or name == "LORE_CONFIG":
            continue
        if name == "LORE_DATA_DIR":
            cfg.data_dir = Path(env[name])
        elif name in settings:
            section, key = settings[name]
            set_value(section, key, env[name], name)
        elif _service_link(name, env[name]):
            continue
        else:
            close = difflib.get_close_matches(name, [*settings, "LORE_CONFIG", "LORE_DATA_DIR"], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            providers = tuple(f"LORE_SECRETS_{p}_".upper().replace("-", "_") for p in cfg.secret_providers)
            if name.startswith("LORE_SECRETS_") and not name.startswith(providers):
                hint = f"; secret values are LORE_SECRET_<NAME> (did you mean LORE_SECRET_{name[13:]}?)"
            raise ConfigError(f"unknown setting {name} in the environment{hint}")


def _service_link(name: str, value: str) -> bool:
    """A variable Kubernetes sets for a Service whose name starts with "lore" (not a setting)."""
    if _SERVICE_LINK.fullmatch(name):
        return True
    return name.endswith("_PORT") and _SERVICE_URL.fullmatch(value.strip()) is not None


def _connectors(
    tables: dict[str, Any], where: str, sources: Mapping[str, type[ConnectorConfig]]
) -> dict[str, ConnectorConfig]:
    out: dict[str, ConnectorConfig] = {}
    for name, values in tables.items():
        if not _CONNECTOR_NAME.match(name) or name == "status":  # `lore sync status` is a command
            raise ConfigError(f"{where}: connector name {name!r}: use lowercase letters, digits, - and _")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}.{name}: expected a table [connectors.{name}]")
        kind = values.get("type")
        if not isinstance(kind, str) or kind not in sources:
            raise ConfigError(
                f"{where}.{name}: type must be one of {', '.join(sorted(sources))}, got {kind!r}"
            )
        section = sources[kind]()
        apply_values(section, values, f"{where}.{name}")
        for interval in ("content_interval_minutes", "permissions_interval_minutes", "full_interval_hours"):
            if getattr(section, interval) <= 0:
                raise ConfigError(f"{where}.{name}.{interval} must be positive")
        out[name] = section
    for kind in sorted({conf.type for conf in out.values()}):
        sources[kind].check_instances(
            {name: conf for name, conf in out.items() if conf.type == kind}, where
        )
    return out
