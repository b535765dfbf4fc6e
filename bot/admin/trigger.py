"""How ``!sync now`` reaches the server's sync scheduler.

The conversation service (and with it the admin commands) is built before the scheduler, which
only exists once the server starts, and not at all in ``lore ask`` or with ``sync.scheduler``
off: the trigger is bound late, and says so when nothing is bound.
"""

from __future__ import annotations

from typing import Protocol


class SyncRequests(Protocol):
    """What the trigger needs of connectors.sync.scheduler.SyncScheduler."""

    @property
    def names(self) -> list[str]: ...

    def request(self, name: str | None = None) -> list[str]: ...


class SyncTrigger:
    def __init__(self) -> None:
        self._scheduler: SyncRequests | None = None

    def bind(self, scheduler: SyncRequests | None) -> None:
        """The running scheduler (None: it stopped)."""
        self._scheduler = scheduler

    @property
    def bound(self) -> bool:
        return self._scheduler is not None

    @property
    def connectors(self) -> list[str]:
        return [] if self._scheduler is None else list(self._scheduler.names)

    def request(self, name: str | None) -> list[str]:
        """Ask for a content sync of ``name`` (None: all) now; the names requested. Raises
        KeyError for a connector the scheduler does not run, RuntimeError when none is bound."""
        if self._scheduler is None:
            raise RuntimeError("no sync scheduler")
        return self._scheduler.request(name)
