"""Serving a stand-in's aiohttp app on a free loopback port (shared by every stand-in)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving(app: web.Application, port: int = 0) -> AsyncIterator[int]:
    """Run ``app`` on 127.0.0.1 and ``port`` (0: one the OS picks); yields the port."""
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if port:  # a fixed port (a demo) may be rebound right after the previous run closed it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = int(sock.getsockname()[1])
    await web.SockSite(runner, sock).start()
    try:
        yield port
    finally:
        await runner.cleanup()
