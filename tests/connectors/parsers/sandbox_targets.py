"""Stand-in parsers for the sandbox tests; the worker imports them by name in a fresh process."""

from __future__ import annotations

import os
import time

from connectors.errors import DocumentUnreadable
from connectors.files.rules import RuleError
from connectors.parsers.parsed import Parsed
from core.models import Section

_MB = 1024 * 1024


def spin(relpath: str, data: bytes) -> Parsed:
    """Pure Python forever: holds the worker's interpreter lock, as the old regexes did."""
    while True:
        pass


def sleep(relpath: str, data: bytes) -> Parsed:
    time.sleep(float(data))
    return Parsed(relpath, ())


def hog_memory(relpath: str, data: bytes) -> Parsed:
    """Takes address space 64 MB at a time, up to 8 GB. bytes(n) comes from calloc, whose
    pages stay untouched: an uncapped worker fails the test without taking the machine's RAM."""
    blocks = [bytes(64 * _MB) for _ in range(128)]
    return Parsed(f"{len(blocks)} blocks and no cap", ())


def crash(relpath: str, data: bytes) -> Parsed:
    os._exit(3)


def rule_error(relpath: str, data: bytes) -> Parsed:
    raise RuleError(relpath, "front matter `acl` must be a list", 4)


class Unrebuildable(DocumentUnreadable):
    """A source error whose constructor pickle cannot call again."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def unrebuildable(relpath: str, data: bytes) -> Parsed:
    raise Unrebuildable(relpath, "cannot be rebuilt")


def unexpected(relpath: str, data: bytes) -> Parsed:
    raise KeyError("bug")


def echo(relpath: str, data: bytes) -> Parsed:
    return Parsed(None, (Section(("Echo",), data.decode()),))
