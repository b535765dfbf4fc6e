"""A folder tree of documents as a Lore source.

Access comes from the tree itself: every ``_acl.yaml`` from the root down to a file's folder is
one clause of the file's ACL (rules stack, like Confluence restrictions), and Markdown front
matter may add one more. A file with no rule on its path is not indexed (deny by default), and
an invalid rule fails every file under it rather than letting them through with fewer clauses.

Rules are looked up along a file's *real* location: a symlink cannot give a file the (possibly
wider) rules of the folder the link sits in.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import Failed, GroupSnapshot, ScanItem, Skipped
from core.acl import Acl
from core.config import ConfigError, FilesConfig
from core.models import Document, document_id

from .parsers import SUPPORTED_SUFFIXES, ParseError, parse_document
from .rules import ACL_FILE, GROUPS_FILE, RuleError, parse_acl_file, parse_groups_file

if TYPE_CHECKING:
    from connectors.base import Connector

_MB = 1024 * 1024
_MARKDOWN = frozenset({".md", ".markdown"})
# Rule files are a handful of lines; a huge one is a mistake, not something to load.
_RULE_FILE_LIMIT = _MB


class FilesConnector:
    """Scans ``root`` for documents; see the module docstring for how access is decided."""

    def __init__(self, root: Path, config: FilesConfig) -> None:
        self._root = Path(root).resolve()
        if config.max_file_mb <= 0:
            raise ConfigError(f"files.max_file_mb must be positive, got {config.max_file_mb}")
        self._limit_mb = config.max_file_mb
        self._limit = int(config.max_file_mb * _MB)
        self._extensions = _extensions(config.extensions)
        self._source = "files:" + str(self._root)

    @property
    def source(self) -> str:
        return self._source

    def scan(self) -> Iterator[ScanItem]:
        """Every candidate file in sorted path order.

        Raises OSError if the root or a folder cannot be listed: a partial listing must not look
        like deleted documents to the sync engine."""
        if not self._root.is_dir():
            raise NotADirectoryError(f"files root {self._root} is not a folder")
        rules = _FolderRules(self._root)
        for source_id, path in self._walk(self._root, (), frozenset({self._root})):
            yield self._item(source_id, path, rules)

    def list_ids(self) -> Iterator[str]:
        """Every candidate file's source id, without reading any file (deletion detection)."""
        if not self._root.is_dir():
            raise NotADirectoryError(f"files root {self._root} is not a folder")
        for source_id, _path in self._walk(self._root, (), frozenset({self._root})):
            yield source_id

    def groups(self) -> GroupSnapshot:
        """Groups from ``groups.yaml`` at the root (none when it is absent); raises RuleError."""
        path = self._root / GROUPS_FILE
        if not os.path.lexists(path):
            return GroupSnapshot({})
        data = _read_rule_file(self._root, path, GROUPS_FILE, self._limit)
        return GroupSnapshot(parse_groups_file(GROUPS_FILE, data))

    def _walk(
        self, folder: Path, rel: tuple[str, ...], ancestors: frozenset[Path]
    ) -> Iterator[tuple[str, Path]]:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            parts = (*rel, entry.name)
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(self._root) or _hidden(target.relative_to(self._root)):
                    if self._candidate(entry.name) and not entry.is_dir():
                        yield "/".join(parts), path  # reported as skipped by _item
                    continue
            if entry.is_dir():
                real = path.resolve()
                if real in ancestors:  # a symlink back up the tree would loop forever
                    continue
                yield from self._walk(path, parts, ancestors | {real})
            elif (entry.is_file() or entry.is_symlink()) and self._candidate(entry.name):
                # A broken symlink lands here too, and becomes a Failed item with the reason.
                yield "/".join(parts), path

    def _candidate(self, name: str) -> bool:
        # No parser handles .yaml, so _acl.yaml and groups.yaml can never be taken for documents.
        return Path(name).suffix.lower() in self._extensions

    def _item(self, source_id: str, path: Path, rules: _FolderRules) -> ScanItem:
        real = path.resolve()
        if not real.is_relative_to(self._root) or _hidden(real.relative_to(self._root)):
            return Skipped(
                source_id,
                "symlink to a file outside the root (or in a hidden folder); not followed",
            )
        try:
            clauses = rules.clauses_for(real.relative_to(self._root).parent.parts)
        except RuleError as exc:
            return Failed(source_id, str(exc))
        markdown = path.suffix.lower() in _MARKDOWN
        if not clauses and not markdown:
            # Only Markdown can carry its own rule, so nothing else needs to be read to decide.
            return Skipped(source_id, _no_rule(markdown))
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):  # opening a FIFO would block the scan
                return Skipped(source_id, "not a regular file")
            if info.st_size > self._limit:
                return Skipped(source_id, self._too_large(info.st_size))
            if info.st_size == 0:
                return Skipped(source_id, "empty file")
            data = _read_at_most(path, self._limit)
        except OSError as exc:
            return Failed(source_id, f"cannot read: {exc.strerror or exc}")
        if data is None:  # grew past the limit after stat
            return Skipped(source_id, self._too_large(self._limit + 1))
        try:
            parsed = parse_document(source_id, data)
        except (ParseError, RuleError) as exc:
            return Failed(source_id, str(exc))
        if parsed.acl_clause is not None:
            clauses = [*clauses, parsed.acl_clause]
        if not clauses:
            return Skipped(source_id, _no_rule(markdown))
        if not parsed.sections:
            return Skipped(source_id, "empty file")
        return Document(
            id=document_id(self._source, source_id),
            source=self._source,
            source_id=source_id,
            title=parsed.title or path.stem,
            url=(self._root / source_id).as_uri(),
            sections=parsed.sections,
            acl=Acl.of(clauses),
            updated_at=datetime.fromtimestamp(info.st_mtime, tz=UTC),
        )

    def _too_large(self, size: int) -> str:
        return f"too large: {size / _MB:.1f} MB, limit {self._limit_mb:g} MB (files.max_file_mb)"


class _FolderRules:
    """Parsed ``_acl.yaml`` per folder, for one scan (files change between scans)."""

    def __init__(self, root: Path) -> None:
        self._root = root
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
        data = _read_rule_file(self._root, directory / ACL_FILE, where, _RULE_FILE_LIMIT)
        return parse_acl_file(where, data)


def _read_rule_file(root: Path, path: Path, where: str, limit: int) -> bytes:
    if not path.resolve().is_relative_to(root):
        raise RuleError(where, "is a symlink to outside the root; replace it with a regular file")
    try:
        data = _read_at_most(path, limit)
    except OSError as exc:
        raise RuleError(where, f"cannot read: {exc.strerror or exc}") from None
    if data is None:
        raise RuleError(where, f"larger than {limit // _MB} MB; this is not a rule file")
    return data


def _read_at_most(path: Path, limit: int) -> bytes | None:
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


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _no_rule(markdown: bool) -> str:
    where = f"add an {ACL_FILE} with `allow: [...]` to its folder or a parent folder"
    if markdown:
        where += ", or `acl: [...]` to its front matter"
    return f"no access rule on its path ({where})"


def _extensions(configured: list[str]) -> frozenset[str]:
    normalised: set[str] = set()
    for raw in configured:
        ext = raw.strip().lower()
        ext = ext if ext.startswith(".") else "." + ext
        if ext not in SUPPORTED_SUFFIXES:
            raise ConfigError(
                f"files.extensions: {raw!r} is not supported "
                f"(supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})"
            )
        normalised.add(ext)
    return frozenset(normalised)


if TYPE_CHECKING:
    # Keeps FilesConnector structurally in step with the Connector protocol under mypy.
    def _conforms(connector: FilesConnector) -> Connector:
        return connector
