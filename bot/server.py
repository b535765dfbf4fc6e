"""The `lore` aiohttp server. For now: health and readiness; later issues add the chat surfaces."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from core.config import Config
from core.db import Database, open_database
from retrieval.index.lance import LanceIndex

log = logging.getLogger(__name__)

DB_KEY = web.AppKey("db", Database)
CONFIG_KEY = web.AppKey("config", Config)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG_KEY]
    db = request.app[DB_KEY]
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(db.ping)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        chunks = await asyncio.to_thread(LanceIndex.count_at, cfg.index_path)
        checks["index"] = f"ok ({chunks} chunks)"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["index"] = f"error: {exc.__class__.__name__}"
    ready = all(v.startswith("ok") for v in checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


def create_app(cfg: Config) -> web.Application:
    app = web.Application()
    app[CONFIG_KEY] = cfg
    app[DB_KEY] = open_database(cfg.database_url, cfg.database.schema)

    async def _close(app: web.Application) -> None:
        app[DB_KEY].close()

    app.on_cleanup.append(_close)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def serve(cfg: Config) -> None:
    logging.basicConfig(level=logging.INFO)
    log.info("lore listening on http://%s:%d", cfg.server.host, cfg.server.port)
    web.run_app(create_app(cfg), host=cfg.server.host, port=cfg.server.port, print=None)
