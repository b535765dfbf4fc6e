"""Watching a block of code for file writes (Python's ``open`` audit events), to show that a
secret store keeps values in memory only: no token cache, no fallback file."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_watching: list[list[str]] = []
_installed = threading.Lock()
_hooked = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _watching:
        return
    path, mode, flags = args
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & _WRITE_FLAGS
    )
    if writes and not str(path).startswith(("/dev/", "/proc/")):  # not files on a disk
        for seen in _watching:
            seen.append(str(path))


@contextmanager
def file_writes() -> Iterator[list[str]]:
    """Yields the list of paths opened for writing (by any thread) while the block runs."""
    global _hooked
    with _installed:
        if not _hooked:  # an audit hook cannot be removed: one, switched by _watching
            sys.addaudithook(_hook)
            _hooked = True
    seen: list[str] = []
    _watching.append(seen)
    try:
        yield seen
    finally:
        _watching.remove(seen)
