"""Serving a stand-in's aiohttp app on a free loopback port (shared by every stand-in)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
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


class ThreadedSite:
    """An aiohttp app on a free loopback port, served by its own event loop in a thread: for
    stand-ins that synchronous SDKs (msal, azure-identity, the Azure SDK) call from the test's
    thread. ``build`` makes the app inside that loop; ``before_stop`` runs there first."""

    def __init__(self, name: str, build: Callable[[], web.Application], ssl_context: ssl.SSLContext | None = None,
                 before_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self._build = build
        self._ssl = ssl_context
        self._before_stop = before_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self._runner = web.AppRunner(self._build(), shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock, ssl_context=self._ssl).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the {self.name} did not start")
        return self.port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._before_stop is not None:
                await self._before_stop()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None
