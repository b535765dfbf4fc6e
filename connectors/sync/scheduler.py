"""Runs connectors' sync jobs on their intervals, one replica per connector at a time.

All jobs of one connector instance share one lease (``sync:<name>``): besides keeping a job on
one replica, this keeps a permission sync and a content sync of the same source from racing (a
content run that read a page before its restriction was added must not write it after the
permission run removed access). When a job is due is decided from the run records in the
metadata database, so every replica agrees and a job that just finished elsewhere is not rerun.

The engine is synchronous (SDKs, embedding); a job runs in a worker thread while the event loop
renews the lease every third of its TTL. A renewal that fails (taken over, or the database gone
for longer than the TTL) sets the run's stop flag: the run ends at the next item, and its
checkpoint writes are fenced by the lease token anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.base import SyncConnector
from connectors.errors import SourceError
from connectors.sync.engine import JOB_KINDS, Progress, SyncEngine, SyncStopped
from connectors.sync.report import SyncReport
from connectors.sync.state import LeaseLost, SyncState, process_holder
from core.db import as_utc
from core.leases import Lease, LeaseError, LeaseManager
from core.liveness import holder_gone

log = logging.getLogger("lore.sync")


def default_holder(prefix: str = "server") -> str:
    return process_holder(prefix)


def close_connector(connector: SyncConnector) -> None:
    """Close a connector built for a run (it may hold HTTP sessions, a parse worker); a
    failure to close is logged, never raised."""
    try:
        connector.close()
    except Exception as exc:  # noqa: BLE001 - closing must not end the scheduler
        log.warning("connector did not close cleanly", extra={"error": str(exc)})


def lease_job(name: str) -> str:
    return f"sync:{name}"


@dataclass(frozen=True)
class ScheduledConnector:
    name: str
    source: str
    build: Callable[[], SyncConnector]  # called per run: a broken config or secret is one failed run
    intervals: dict[str, timedelta]  # job kind -> interval


class LeaseHeld(SourceError, RuntimeError):
    """Another replica (or a `lore sync` elsewhere) holds this connector's lease."""


async def run_leased(
    engine: SyncEngine,
    leases: LeaseManager,
    name: str,
    connector: SyncConnector,
    kinds: Sequence[str],
    *,
    holder: str,
    lease_seconds: float,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> list[SyncReport]:
    """Run ``kinds`` of one connector in order, under its lease. Raises LeaseHeld when the
    lease is held elsewhere."""
    job = lease_job(name)
    lease = await leases.acquire(job, holder, lease_seconds)
    if lease is None:
        info = await leases.current(job)
        if info is not None and not info.expired and holder_gone(info.holder):
            # Its process on this host is gone (killed, crashed): waiting for the lease to
            # expire would only delay this run.
            log.warning("taking over the sync lease of a process that is gone",
                        extra={"job": job, "holder": info.holder})
            if await leases.expire(job, info.holder, info.acquired_at):
                lease = await leases.acquire(job, holder, lease_seconds)
    if lease is None:
        info = await leases.current(job)
        who = f"{info.holder} until {info.expires_at:%Y-%m-%d %H:%M:%S} UTC" if info else "another replica"
        raise LeaseHeld(f"{name} is being synced by {who}")
    lost = threading.Event()  # this run's own flag: a lost lease stops this run, not the caller
    flag = _Either(lost, stop) if stop is not None else lost
    renewer = asyncio.create_task(_keep_renewing(leases, lease, lease_seconds, lost))
    reports: list[SyncReport] = []
    try:
        await asyncio.to_thread(engine.state.close_abandoned, connector.source)
        for kind in kinds:
            worker = asyncio.ensure_future(
                asyncio.to_thread(engine.run, connector, kind, lease=lease, progress=progress, stop=flag)
            )
            try:
                reports.append(await asyncio.shield(worker))
            except asyncio.CancelledError:
                # Shutdown or Ctrl-C: the thread cannot be killed; ask it to stop at its next
                # item and wait for it, so that the lease is released after the last write.
                lost.set()
                with contextlib.suppress(Exception):
                    await worker
                raise
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        try:
            await leases.release(lease)
        except LeaseError as exc:  # it expires on its own
            log.warning("could not release sync lease", extra={"job": job, "error": str(exc)})
    return reports


class _Either:
    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()


async def _keep_renewing(leases: LeaseManager, lease: Lease, ttl: float, stop: threading.Event) -> None:
    last_ok = time.monotonic()
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            if not await leases.renew(lease, ttl):
                log.warning("sync lease taken over; stopping the run", extra={"job": lease.job})
                stop.set()
                return
            last_ok = time.monotonic()
        except LeaseError as exc:
            if time.monotonic() - last_ok > ttl * 0.8:  # others may take it over any moment now
                log.warning("sync lease not renewable; stopping the run", extra={"job": lease.job, "error": str(exc)})
                stop.set()
                return


RETRY_FAILED_AFTER = timedelta(minutes=5)  # a failed or interrupted run is retried sooner


def due_kinds(state: SyncState, target: ScheduledConnector, now: datetime) -> list[str]:
    """The job kinds of ``target`` that are due, in the order they should run (full first: it
    makes a content run right after it cheap)."""
    due = []
    for kind in ("full", "permissions", "content"):
        interval = target.intervals.get(kind)
        if interval is None:
            continue
        when = next_run(state, target.source, kind, interval)
        if when is None or when <= now:
            due.append(kind)
    return due


def next_run(state: SyncState, source: str, kind: str, interval: timedelta) -> datetime | None:
    """When ``kind`` is due next: its interval after the last finished run, or at most
    RETRY_FAILED_AFTER after one that failed; None when it never ran (due now)."""
    last = state.last_finished(source, kind)
    if last is None or last.finished_at is None:
        return None
    if last.status in ("failed", "interrupted"):
        interval = min(interval, RETRY_FAILED_AFTER)
    return as_utc(last.finished_at) + interval


class SyncScheduler:
    """Looks for due jobs every ``tick_seconds`` and runs them; one connector at a time per
    replica (the index writer is shared)."""

    def __init__(
        self,
        engine: SyncEngine,
        leases: LeaseManager,
        targets: Sequence[ScheduledConnector],
        *,
        holder: str,
        lease_seconds: float = 120.0,
        tick_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_report: Callable[[str, SyncReport], None] | None = None,
    ) -> None:
        if lease_seconds <= 0 or tick_seconds <= 0:
            raise ValueError("lease_seconds and tick_seconds must be positive")
        self.engine = engine
        self.leases = leases
        self.targets = list(targets)
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.on_report = on_report  # (connector name, report) after each run, e.g. metrics
        self._stop = threading.Event()
        self._wake = asyncio.Event()
        self._full_requested: set[str] = set()  # connector names whose full job runs next tick
        self._content_requested: set[str] = set()  # ... and whose content job does (an admin asked)

    def request_full(self) -> None:
        """Run every connector's full job at the next tick, whatever its interval (the index
        and the database were found out of step: a full run repairs them)."""
        self._full_requested = {t.name for t in self.targets}
        self._wake.set()

    @property
    def names(self) -> list[str]:
        """The connectors this scheduler runs, in the order it runs them."""
        return [t.name for t in self.targets]

    def request(self, name: str | None = None) -> list[str]:
        """Run the content job of connector ``name`` (None: of every connector) at once, whatever
        its interval; returns the names requested. Raises KeyError for a connector this
        scheduler does not run. Call it from the scheduler's event loop."""
        names = self.names if name is None else [name]
        if name is not None and name not in self.names:
            raise KeyError(name)
        self._content_requested.update(names)
        self._wake.set()
        return names

    async def tick(self) -> list[SyncReport]:
        """Run every due job this replica can get the lease for; returns their reports."""
        done: list[SyncReport] = []
        for target in self.targets:
            if self._stop.is_set():
                break
            kinds = await asyncio.to_thread(due_kinds, self.engine.state, target, self.clock())
            if target.name in self._full_requested:
                self._full_requested.discard(target.name)
                kinds = ["full", *(k for k in kinds if k != "full")]
            if target.name in self._content_requested:
                self._content_requested.discard(target.name)
                kinds = kinds if "content" in kinds else [*kinds, "content"]
            if not kinds:
                continue
            try:
                connector = await asyncio.to_thread(target.build)
            except Exception as exc:  # noqa: BLE001 - a broken connector must not stop the others
                log.error("connector could not be built", extra={"connector": target.name, "error": str(exc)})
                await asyncio.to_thread(self._record_unbuildable, target, kinds, exc)
                continue
            try:
                reports = await run_leased(
                    self.engine, self.leases, target.name, connector, kinds,
                    holder=self.holder, lease_seconds=self.lease_seconds, stop=self._stop,
                )
            except LeaseHeld:
                continue  # another replica runs it
            except (SyncStopped, LeaseLost) as exc:
                log.warning("sync run stopped", extra={"connector": target.name, "error": str(exc)})
                continue
            except LeaseError as exc:
                log.error("sync lease unavailable", extra={"connector": target.name, "error": str(exc)})
                continue
            except Exception as exc:
                log.exception("sync run failed", extra={"connector": target.name, "error": str(exc)})
                continue
            finally:
                close_connector(connector)
            done.extend(reports)
            for report in reports:
                if self.on_report is not None:
                    self.on_report(target.name, report)
        return done

    def _record_unbuildable(self, target: ScheduledConnector, kinds: list[str], exc: Exception) -> None:
        """A connector that cannot be built (bad settings, a secret missing from the vault)
        shows up in `lore sync status` as failed runs saying why; they are retried like any
        failed run."""
        for kind in kinds:
            report = SyncReport(target.source, kind, status="failed")
            report.errors.append(f"connector {target.name} could not be built: {exc}")
            self.engine.state.finish_run(self.engine.state.start_run(target.source, kind), report)

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            # Cleared before the tick, not after: a request made while a job runs wakes the
            # loop again at once instead of waiting out a whole tick.
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("sync scheduler tick failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        """Ask the running job to stop at its next item and the loop to end."""
        self._stop.set()
        self._wake.set()


__all__ = [
    "JOB_KINDS",
    "LeaseHeld",
    "ScheduledConnector",
    "SyncScheduler",
    "default_holder",
    "due_kinds",
    "lease_job",
    "next_run",
    "run_leased",
]
