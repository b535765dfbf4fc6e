"""The `lore` aiohttp server: health, readiness, metrics and the chat surfaces.

Graceful shutdown: on SIGTERM/SIGINT the server stops accepting connections, /readyz turns 503
and new questions are refused, and answers in flight get ``server.shutdown_timeout_seconds`` to
finish before the process exits.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app_state import STATE_KEY, AppState, build_state
from bot.audit import prune_forever
from bot.readiness import readiness_checks
from core.config import Config, ConfigError
from core.logging import configure_logging, request_context
from core.secrets.redaction import Redactor
from retrieval.consistency import check_consistency

__all__ = ["STATE_KEY", "AppState", "build_state", "create_app", "listening_socket", "serve"]

log = logging.getLogger("lore.server")


# -- middleware -----------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
    started = time.perf_counter()
    with request_context(rid):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Request-Id"] = rid
            raise
        if not response.prepared:
            response.headers["X-Request-Id"] = rid
        if request.path not in ("/healthz", "/metrics"):
            log.info(
                "request",
                extra={"method": request.method, "path": request.path, "status": response.status,
                       "ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        return response


@web.middleware
async def track_inflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    state = request.app[STATE_KEY]
    if state.draining:
        return web.json_response({"error": "the server is shutting down; try again"}, status=503)
    if not state.ready:
        return web.json_response({"error": "the server is starting; try again shortly"}, status=503)
    async with state.answering():
        return await handler(request)


# -- handlers -------------------------------------------------------------------------------------


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ready, checks = await readiness_checks(
        state.runtime.db, state.runtime.index, state.redis, state.consistency,
        loaded=state.ready, draining=state.draining,
        surfaces={surface.platform: surface.readiness() for surface in state.surfaces},
        audit=state.audit.readiness() if state.audit is not None else None,
        secrets=await asyncio.to_thread(state.secrets.health),  # may probe a vault that was down
    )
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[STATE_KEY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


# -- lifecycle ------------------------------------------------------------------------------------


async def _warm_up(app: web.Application) -> None:
    """Load the embedder and open the index before answering: the first question is not slow."""
    state = app[STATE_KEY]

    def load() -> None:
        state.runtime.searcher.search("warm up", ["acl:nobody"])

    try:
        await asyncio.to_thread(load)
        found = await asyncio.to_thread(check_consistency, state.runtime.db, state.runtime.index)
        if not found.ok:
            log.error("index and database disagree", extra={"problem": found.describe()})
            state.consistency = found
            task = asyncio.get_running_loop().create_task(_recheck_consistency(state))
            state.background.add(task)
            task.add_done_callback(state.background.discard)
        state.ready = True
        log.info("ready", extra={"chunks": state.runtime.index.count_chunks()})
    except Exception:
        log.exception("startup failed: the index or the embedding model cannot be loaded")
        raise


async def _drain(app: web.Application) -> None:
    state = app[STATE_KEY]
    state.draining = True
    if state.inflight:
        log.info("waiting for answers in flight", extra={"inflight": state.inflight})
        try:
            await asyncio.wait_for(state.idle.wait(), state.config.server.shutdown_timeout_seconds)
        except TimeoutError:
            log.warning("shutdown timeout: answers still in flight", extra={"inflight": state.inflight})


async def _close(app: web.Application) -> None:
    state = app[STATE_KEY]
    for task in list(state.background):
        task.cancel()
    if state.audit is not None:
        await state.audit.drain()  # the answers just finished are still being recorded
    state.conversation.close()
    await state.answerer.aclose()
    if state.redis is not None:
        await state.redis.aclose()
    state.runtime.close()


def _surface_lifecycle(app: web.Application, state: AppState) -> None:
    """Surfaces start after warm-up (the first question is not slow) and stop before draining
    (no new questions while answers in flight finish)."""

    async def start(_app: web.Application) -> None:
        for surface in state.surfaces:
            await surface.start()
        if state.config.audit.retention_days > 0:
            task = asyncio.get_running_loop().create_task(
                prune_forever(state.config, state.runtime.db, state.secrets))
            state.background.add(task)
            task.add_done_callback(state.background.discard)

    async def stop(_app: web.Application) -> None:
        for surface in state.surfaces:
            try:
                await surface.stop()
            except Exception:
                log.exception("chat surface did not stop cleanly", extra={"surface": surface.platform})

    app.on_startup.append(start)
    app.on_shutdown.insert(0, stop)


CONSISTENCY_RECHECK_SECONDS = 60.0


async def _recheck_consistency(state: AppState) -> None:
    """While the index and the database disagree, look again every minute: whoever repairs it
    (this replica's scheduler, another replica, `lore sync --full` or `lore ingest`)."""
    while state.consistency is not None:
        await asyncio.sleep(CONSISTENCY_RECHECK_SECONDS)
        try:
            found = await asyncio.to_thread(check_consistency, state.runtime.db, state.runtime.index)
        except Exception as exc:  # noqa: BLE001 - the database or the index is down: /readyz says so
            log.warning("consistency check failed; trying again", extra={"error": exc.__class__.__name__})
            continue
        state.consistency = None if found.ok else found
    log.info("index and database agree")


def _sync_lifecycle(app: web.Application, state: AppState, cfg: Config) -> None:
    """The sync scheduler runs in the server once it is warm, and stops before draining."""
    from connectors.registry import scheduled_targets
    from connectors.sync import SyncEngine
    from connectors.sync.scheduler import SyncScheduler, default_holder
    from core.leases import LeaseManager

    targets = scheduled_targets(cfg, state.secrets)
    if not cfg.sync.scheduler or not targets:
        return
    rt = state.runtime
    scheduler = SyncScheduler(
        SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker, audit=state.audit.sink if state.audit else None),
        LeaseManager(rt.db), targets,
        holder=default_holder(), lease_seconds=cfg.sync.lease_seconds, tick_seconds=cfg.sync.tick_seconds,
        on_report=lambda name, r: state.metrics.sync_finished(name, r.kind, r.status, r.counts(), time.time()),
    )
    handle: dict[str, asyncio.Task[None]] = {}

    async def start(_app: web.Application) -> None:
        if state.consistency is not None:
            scheduler.request_full()  # found out of step at warm-up: repair now, not in a day
        handle["task"] = asyncio.create_task(scheduler.run_forever())
        state.sync_trigger.bind(scheduler)
        log.info("sync scheduler started", extra={"connectors": [t.name for t in targets]})

    async def stop(_app: web.Application) -> None:
        state.sync_trigger.bind(None)
        scheduler.stop()
        task = handle.get("task")
        if task is not None:
            try:
                await asyncio.wait_for(task, cfg.server.shutdown_timeout_seconds)
            except TimeoutError:
                log.warning("sync run still stopping at shutdown")

    app.on_startup.append(start)
    app.on_shutdown.insert(0, stop)


def create_app(cfg: Config, state: AppState | None = None) -> web.Application:
    state = state or build_state(cfg)
    state.idle.set()
    app = web.Application(middlewares=[request_ids, track_inflight], client_max_size=1024 * 1024)
    app[STATE_KEY] = state
    app.on_startup.append(_warm_up)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    for surface in state.surfaces:
        surface.add_routes(app)
    _surface_lifecycle(app, state)
    _sync_lifecycle(app, state, cfg)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything slow starts: a port already in use is one
    clear line at once, not a traceback after the model has loaded."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"server.host {host!r} cannot be resolved ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another Lore, or another program): "
                f"choose another with LORE_SERVER_PORT=<port> (make run PORT=<port>) or server.port"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def check_production_secrets(cfg: Config) -> None:
    """Production secrets come from a vault: environment variables leak into child processes,
    crash reports and /proc, and cannot be rotated without a restart."""
    if cfg.server.mode == "production" and cfg.secrets.provider == "env":
        raise ConfigError(
            "server.mode is 'production' but secrets.provider is 'env' (environment variables, "
            "for development only): configure a vault (secrets.provider = \"azure-key-vault\", "
            "\"vault\" or \"aws-secrets-manager\"), or set server.mode = \"development\" "
            "(LORE_SERVER_MODE=development) on a machine only you use"
        )


def serve(cfg: Config) -> None:
    check_production_secrets(cfg)
    redactor = Redactor()  # shared: every secret the store hands out is masked in the logs
    configure_logging(cfg.server.log_level, redactor)
    sock = listening_socket(cfg.server.host, cfg.server.port)
    try:
        app = create_app(cfg, build_state(cfg, redactor))
    except BaseException:
        sock.close()
        raise
    url = f"http://{cfg.server.host}:{sock.getsockname()[1]}"
    log.info("listening", extra={"url": url})

    async def say_ready(_app: web.Application) -> None:
        # One human line beside the JSON logs (stderr): where to go now.
        sys.stdout.write(f"Lore is ready at {url}\n")
        sys.stdout.flush()

    app.on_startup.append(say_ready)
    web.run_app(
        app,
        sock=sock,
        print=None,
        shutdown_timeout=cfg.server.shutdown_timeout_seconds,
        access_log=None,
    )
