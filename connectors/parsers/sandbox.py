"""Parses documents in a worker process, so that no document can stall or exhaust the server.

One rule: a document either parses within ``files.parse_timeout_seconds`` (wall clock), in a
worker whose address space is capped at ``files.parse_memory_mb`` and yielding at most
``files.max_text_chars`` of text, or it fails as that document's ParseError; the calling
process only ever waits on a pipe, so its interpreter lock stays free for health checks and
answers while a hostile file is being parsed.

The worker is started with the "spawn" method (forking a process that runs threads, as the
server does, can copy a lock some other thread holds), on the first document, and is kept for
the following ones. A worker that overran its time, ran out of memory or died is killed, and the
next document starts a fresh one. Like every spawned process, the worker imports the main
module of the program again (``lore``'s is a one-line script): a program that starts parsing
at import time, without the ``if __name__ == "__main__":`` guard, gets a ParseError saying the
worker died.

Where the OS has no ``RLIMIT_AS`` (Windows; macOS does not enforce it) the worker runs without
a memory cap, which is logged once per worker; the time budget still holds there.

The budgets are the ``files.*`` settings (FilesConfig), which Confluence attachments share.
A source error the parser raises (a ParseError, or a caller's own such as the files
connector's RuleError) crosses the process boundary pickled, so the caller gets the same class
and message; anything else the parser raises becomes a ParseError.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import pickle
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Self

from connectors.errors import SourceError
from core.config import ConfigError, FilesConfig

from .by_extension import Parser, parse_document
from .parsed import Parsed, ParseError, describe

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

log = logging.getLogger("lore.parsers.sandbox")

Target = Parser
_MB = 1024 * 1024
_START_SECONDS = 60.0  # a fresh interpreter importing lxml, pypdf, python-docx: about 0.3 s
_STOP_SECONDS = 2.0


class ParserSandbox:
    """``target`` (by default ``parse_document``) in a worker process, with a time, memory and
    output budget.

    One document at a time: concurrent callers wait for each other (a lock), so it is safe to
    share between threads but gives no parallelism. ``target`` must be importable by name in a
    fresh interpreter (the files connector passes its own, tests pass stand-ins)."""

    def __init__(self, config: FilesConfig, target: Target = parse_document) -> None:
        for name in ("parse_timeout_seconds", "parse_memory_mb", "max_text_chars"):
            if getattr(config, name) <= 0:
                raise ConfigError(f"files.{name} must be positive, got {getattr(config, name)}")
        self._timeout = float(config.parse_timeout_seconds)
        self._memory_mb = config.parse_memory_mb
        self._max_chars = config.max_text_chars
        self._target = target
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._closed = False

    def parse(self, relpath: str, data: bytes) -> Parsed:
        """Parse one file; raises what ``target`` raises (ParseError or another source error),
        and ParseError when the document overruns a budget or the worker dies."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the parser sandbox is closed")
            worker = self._running_worker()
            started = time.monotonic()
            try:
                outcome = worker.run(relpath, data, self._timeout)
            except _WorkerLost as lost:
                self._discard(relpath, lost.reason)
                raise ParseError(f"{lost.reason}; the file is not indexed") from None
            log.debug(
                "parsed in the sandbox",
                extra={"file": relpath, "seconds": round(time.monotonic() - started, 3)},
            )
            return self._result(relpath, outcome)

    def close(self) -> None:
        """Stops the worker; no child process is left behind. Safe to call twice."""
        with self._lock:
            self._closed = True
            if self._worker is not None:
                self._worker.stop()
                self._worker = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _running_worker(self) -> _Worker:
        if self._worker is not None and not self._worker.alive():
            self._worker.kill()  # died between documents (killed from outside, say)
            self._worker = None
        if self._worker is None:
            try:
                self._worker = _Worker.start(
                    self._context, self._target, self._memory_mb * _MB, self._max_chars
                )
            except _WorkerLost as lost:
                raise ParseError(f"{lost.reason}; the file is not indexed") from None
        return self._worker

    def _discard(self, relpath: str, reason: str) -> None:
        log.warning("parse worker replaced", extra={"file": relpath, "reason": reason})
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    def _result(self, relpath: str, outcome: tuple[Any, ...]) -> Parsed:
        kind = outcome[0]
        if kind == "ok":
            parsed: Parsed = outcome[1]
            return parsed
        if kind == "error":
            error: SourceError = outcome[1]
            raise error
        if kind == "memory":
            self._discard(relpath, "out of memory")  # its heap is left fragmented
            raise ParseError(
                f"parsing needed more than {self._memory_mb} MB of memory "
                "(files.parse_memory_mb); the file is not indexed"
            )
        if kind == "text":
            raise ParseError(
                f"too much text: {outcome[1]:,} characters, more than files.max_text_chars "
                f"({self._max_chars:,}); the file is not indexed"
            )
        raise ParseError(str(outcome[1]))


class _WorkerLost(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Worker:
    """One child process and its end of the pipe."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self._process = process
        self._connection = connection

    @classmethod
    def start(
        cls, context: SpawnContext, target: Target, memory_bytes: int, max_chars: int
    ) -> _Worker:
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child_end, target, memory_bytes, max_chars),
            name="lore-parse-worker",
            daemon=True,  # never outlives the server, even if close() is never reached
        )
        process.start()
        child_end.close()
        worker = cls(process, parent_end)
        started = time.monotonic()
        if not parent_end.poll(_START_SECONDS):
            worker.kill()
            raise _WorkerLost(f"the parser process did not start within {_START_SECONDS:g} s")
        try:
            ready = parent_end.recv()
        except (EOFError, OSError):
            reason = worker.death()
            worker.kill()
            raise _WorkerLost(reason) from None
        if not ready[1]:
            log.warning("parse worker runs without a memory cap: this OS has no RLIMIT_AS")
        log.debug("parse worker started", extra={"seconds": round(time.monotonic() - started, 3)})
        return worker

    def alive(self) -> bool:
        return self._process.is_alive()

    def run(self, relpath: str, data: bytes, timeout: float) -> tuple[Any, ...]:
        try:
            self._connection.send((relpath, data))
            if not self._connection.poll(timeout):
                raise _WorkerLost(
                    f"parsing took longer than {timeout:g} s (files.parse_timeout_seconds)"
                )
            outcome: tuple[Any, ...] = self._connection.recv()
        except (EOFError, OSError):
            raise _WorkerLost(self.death()) from None
        return outcome

    def death(self) -> str:
        self._process.join(_STOP_SECONDS)
        code = self._process.exitcode
        if code is not None and code < 0:
            return f"the parser process was killed by signal {-code}"
        return f"the parser process died (exit code {code})"

    def stop(self) -> None:
        """Asks the (idle) worker to leave; kills it if it does not."""
        if self._process.is_alive():
            try:
                self._connection.send(None)
            except OSError:
                pass
            self._process.join(_STOP_SECONDS)
        self.kill()

    def kill(self) -> None:
        """Ends the worker at once, whatever it is doing, and releases the pipe."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(_STOP_SECONDS)
        self._connection.close()
        if self._process.exitcode is not None:  # close() refuses a process still running
            self._process.close()


# --- In the worker process ------------------------------------------------------------------


def _serve(connection: Connection, target: Target, memory_bytes: int, max_chars: int) -> None:
    """The worker's loop: one request, one reply, until told to stop or the pipe closes."""
    capped = _cap_memory(memory_bytes)
    # Everything imported so far lives as long as the worker: the collector need not scan it.
    gc.freeze()
    connection.send(("ready", capped))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        relpath, data = request
        connection.send(_outcome(target, relpath, data, max_chars))
        del request, data


def _cap_memory(memory_bytes: int) -> bool:
    if resource is None or not hasattr(resource, "RLIMIT_AS"):
        return False
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ValueError, OSError):  # macOS refuses it; a hard limit may already be lower
        return False
    return True


def _outcome(target: Target, relpath: str, data: bytes, max_chars: int) -> tuple[Any, ...]:
    # Parsers build large trees of objects without cycles; collecting while they grow costs
    # up to 40% of the time on large inputs. Collect once per document instead.
    gc.disable()
    try:
        parsed = target(relpath, data)
    except MemoryError:
        return ("memory",)
    except Exception as exc:  # noqa: BLE001 - every failure is this document's, not the worker's
        if _caused_by_memory(exc):
            return ("memory",)
        if isinstance(exc, SourceError):
            return ("error", exc) if _crosses(exc) else ("parse", str(exc))
        return ("parse", f"could not parse: {describe(exc)}")
    finally:
        gc.enable()
        gc.collect()
    chars = len(parsed.title or "") + sum(len(s.text) for s in parsed.sections)
    if chars > max_chars:
        return ("text", chars)
    return ("ok", parsed)


def _crosses(exc: SourceError) -> bool:
    """Whether ``exc`` survives pickling, as the pipe will pickle it (a custom constructor
    without ``__reduce__`` would fail to unpickle in the parent)."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - then only its message crosses
        return False
    return True


def _caused_by_memory(exc: BaseException) -> bool:
    """parse_document reports any exception as a ParseError; the cause tells memory apart."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
