"""Each folder's ``_acl.yaml``, read once per pass: the clauses a file's location gives it.

Every ``_acl.yaml`` from the root down to a file's folder is one clause of its ACL (rules
stack). A folder whose rule is invalid fails every file under it, never letting them through
with fewer clauses; the rest of the tree is unaffected. Rules are read along a file's *real*
location, and a rule file that is a symlink out of the root is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from .rules import ACL_FILE, RuleError, parse_acl_file, qualify

_MB = 1024 * 1024
# Rule files are a handful of lines; a huge one is a mistake, not something to load.
RULE_FILE_LIMIT = _MB


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
    if not path.resolve().is_relative_to(root):
        raise RuleError(where, "is a symlink to outside the root; replace it with a regular file")
    try:
        data = read_at_most(path, limit)
    except OSError as exc:
        raise RuleError(where, f"cannot read: {exc.strerror or exc}") from None
    if data is None:
        raise RuleError(where, f"larger than {limit // _MB} MB; this is not a rule file")
    return data


def read_at_most(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None if it holds more than ``limit`` bytes (never reads past it)."""
    with open(path, "rb") as handle:
        # read(n) allocates n bytes up front, so ask for the file's size rather than the limit.
        expected = os.fstat(handle.fileno()).st_size
        data = handle.read(min(expected, limit) + 1)
        while len(data) <= limit:  # the file may have grown since fstat
            more = handle.read(min(_MB, limit + 1 - len(data)))
            if not more:
                break
            data += more
    return data if len(data) <= limit else None
