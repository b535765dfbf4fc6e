"""What one server process holds (:class:`AppState`) and how it is built from the settings:
the secret store, the runtime (database, index, embedder), the audit log, the answerer, the
conversation service with its admin commands, and the configured chat surfaces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.admin.commands import admin_commands
from bot.admin.trigger import SyncTrigger
from bot.audit import Auditor, SecretFailureAudit, database_auditor
from bot.conversation import ConversationService
from bot.metrics import Metrics
from bot.service import conversation_service
from bot.surface import SurfaceContext, Surfaces
from bot.surfaces import SURFACES
from bot.threads import InProcessThreadMemory, RedisThreadMemory, ThreadMemory
from core.audit.events import AuditSink
from core.config import Config
from core.ratelimit import make_rate_limiter
from core.secrets import SecretStore, open_configured_store
from core.secrets.redaction import Redactor
from retrieval.answer.answerer import Answerer, make_answerer
from retrieval.consistency import Consistency
from retrieval.runtime import Runtime


@dataclass
class AppState:
    config: Config
    runtime: Runtime
    secrets: SecretStore
    metrics: Metrics
    answerer: Answerer
    conversation: ConversationService
    surfaces: Surfaces = field(default_factory=Surfaces)  # the configured chat surfaces
    redis: Any = None
    audit: Auditor | None = None
    # Index and database checked at start; shown in /readyz until a full sync repairs them.
    consistency: Consistency | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)
    ready: bool = False
    draining: bool = False
    inflight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    # `!sync now` reaches the scheduler through this: bound once it runs (bot.admin.trigger).
    sync_trigger: SyncTrigger = field(default_factory=SyncTrigger)

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """Count one answer in flight (an HTTP request, or an answer a chat surface runs after its
        ack) so that shutdown waits for it."""
        self.inflight += 1
        self.idle.clear()
        try:
            yield
        finally:
            self.inflight -= 1
            if self.inflight == 0:
                self.idle.set()


STATE_KEY = web.AppKey("state", AppState)


def _thread_memory(cfg: Config, redis: Any) -> ThreadMemory:
    return RedisThreadMemory(redis, cfg.redis.key_prefix) if redis is not None else InProcessThreadMemory()


def build_state(cfg: Config, redactor: Redactor | None = None, *, audit_sink: AuditSink | None = None) -> AppState:
    """``audit_sink``: where audit events go (default: the audit log in the metadata database)."""
    secret_failures = SecretFailureAudit()  # the audit log needs the store: attached below
    secrets = open_configured_store(cfg, redactor=redactor, on_failure=secret_failures)
    runtime = Runtime(cfg)
    metrics = Metrics()
    try:
        auditor = Auditor(audit_sink, metrics) if audit_sink is not None else database_auditor(cfg, runtime.db, secrets, metrics)
    except BaseException:
        runtime.close()
        raise
    secret_failures.auditor = auditor
    answerer = make_answerer(cfg.llm, secrets.get, secrets.where, secrets.redactor.redact)
    redis = None
    if cfg.redis.url:
        import redis.asyncio as aioredis

        # Short timeouts: a Redis that stops answering (no refusal, just silence) must reach the
        # fallbacks in a second, not hold every question until the OS gives up.
        redis = aioredis.from_url(cfg.redis.url, socket_connect_timeout=1.0, socket_timeout=1.0)
    surfaces = Surfaces()  # filled below: the surfaces need the service, the service asks them
    limiter = make_rate_limiter(cfg.ratelimit, cfg.redis)
    threads = _thread_memory(cfg, redis)
    if isinstance(threads, RedisThreadMemory):
        metrics.track_thread_store_errors(lambda: threads.store_errors)
    metrics.track_rate_limit_store_errors(lambda: limiter.store_errors)
    trigger = SyncTrigger()  # bound by _sync_lifecycle once the scheduler runs
    admin = admin_commands(runtime, auditor.sink, sync=trigger)
    conversation = conversation_service(runtime, answerer, identities=surfaces, audiences=surfaces,
                                        rate_limiter=limiter, threads=threads, metrics=metrics, audit=auditor,
                                        admin=admin, redact=secrets.redactor.redact)
    state = AppState(cfg, runtime, secrets, metrics, answerer, conversation, surfaces, redis, audit=auditor,
                     sync_trigger=trigger)
    context = SurfaceContext(cfg, secrets, runtime.db, conversation, metrics, redis, state.answering, auditor)
    try:
        for build in SURFACES.values():
            surface = build(context)
            if surface is not None:
                surfaces.add(surface)
    except BaseException:
        conversation.close()
        runtime.close()
        raise
    return state
