"""Each folder's ``_acl.yaml``, read once per pass: the clauses a file's location gives it.

Every ``_acl.yaml`` from the root down to a file's folder is one clause of its ACL (rules
stack). A folder whose rule is invalid fails every file under it, never letting them through
with fewer clauses; the rest of the tree is unaffected. Rules are read along a file's *real*
location, and a rule file that is a symlink out of the root is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from connectors.errors import DocumentUnreadable

from .rule_yaml import RuleError
from .rules import ACL_FILE, parse_acl_file, qualify

_MB = 1024 * 1024
_KB = 1024
# Rule files are a handful of lines; a huge one is a mistake, not something to load (and PyYAML
# reads about a megabyte a second, so a size cap is also a time cap).
RULE_FILE_LIMIT = 64 * _KB
GROUPS_FILE_LIMIT = 4 * _MB  # about 130,000 members listed one per line


class NotARegularFile(DocumentUnreadable, OSError):
    """A FIFO, device or socket where a file was expected (opening a FIFO blocks forever), or a
    file that changed under the reader (a symlink swapped between the rule check and the read)."""


class FolderRules:
    """Parsed ``_acl.yaml`` per folder, for one pass (files change between passes)."""

    def __init__(self, root: Path, namespace: str) -> None:
        self._root = root
        self._namespace = namespace
        self._cache: dict[tuple[str, ...], frozenset[str] | RuleError | None] = {}

    def clauses_for(self, folder: tuple[str, ...]) -> list[frozenset[str]]:
        """One clause per ``_acl.yaml`` from the root down to ``folder``; raises the first
        invalid one's RuleError."""
        clauses: list[frozenset[str]] = []
        for depth in range(len(folder) + 1):
            rule = self._rule(folder[:depth])
            if isinstance(rule, RuleError):
                raise rule
            if rule is not None:
                clauses.append(rule)
        return clauses

    def _rule(self, folder: tuple[str, ...]) -> frozenset[str] | RuleError | None:
        if folder not in self._cache:
            try:
                self._cache[folder] = self._load(folder)
            except RuleError as exc:
                self._cache[folder] = exc
        return self._cache[folder]

    def _load(self, folder: tuple[str, ...]) -> frozenset[str] | None:
        directory = self._root.joinpath(*folder)
        where = "/".join((*folder, ACL_FILE))
        try:
            names = os.listdir(directory)
        except OSError as exc:
            raise RuleError(where, f"cannot list the folder: {exc.strerror or exc}") from None
        # A misspelt rule file would otherwise be ignored, leaving the folder open to more people.
        misnamed = sorted(
            n for n in names if n.lower() in {"_acl.yaml", "_acl.yml"} and n != ACL_FILE
        )
        if misnamed:
            raise RuleError(
                "/".join((*folder, misnamed[0])),
                f"access rules are only read from a file named exactly {ACL_FILE}; rename it",
            )
        if ACL_FILE not in names:
            return None
        data = read_rule_file(self._root, directory / ACL_FILE, where, RULE_FILE_LIMIT)
        return qualify(parse_acl_file(where, data), self._namespace)


def read_rule_file(root: Path, path: Path, where: str, limit: int) -> bytes:
    real = path.resolve()
    if not real.is_relative_to(root):
        raise RuleError(where, "is a symlink to outside the root; replace it with a regular file")
    try:
        data = read_at_most(path, limit, real)
    except OSError as exc:
        raise RuleError(where, f"cannot read: {exc.strerror or exc}") from None
    if data is None:
        size = f"{limit // _MB} MB" if limit >= _MB else f"{limit // _KB} KB"
        raise RuleError(where, f"larger than {size}; this is not a rule file")
    return data


def read_at_most(path: Path, limit: int, real: Path | None = None) -> bytes | None:
    """The file's bytes, or None if it holds more than ``limit`` bytes (never reads past it).
    Raises NotARegularFile for anything but a regular file, and, when ``real`` is given (where
    the caller found the file, and took its rules from), for a file that is not there any more
    once opened: what is read is then always what the rules were decided for."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"{path.name} is not a regular file")
        if real is not None and not _is_at(info, real):
            raise NotARegularFile(f"{path.name} changed while it was read; it is read again next run")
        # read(n) allocates n bytes up front, so ask for the file's size rather than the limit.
        expected = info.st_size
        data = handle.read(min(expected, limit) + 1)
        while len(data) <= limit:  # the file may have grown since fstat
            more = handle.read(min(_MB, limit + 1 - len(data)))
            if not more:
                break
            data += more
    return data if len(data) <= limit else None


def _is_at(info: os.stat_result, real: Path) -> bool:
    try:
        there = os.stat(real)
    except OSError:
        return False
    return (there.st_dev, there.st_ino) == (info.st_dev, info.st_ino)
