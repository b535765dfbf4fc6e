"""A folder tree of documents as a Lore source (a SyncConnector whose every run is a full scan).

Access comes from the tree itself: every ``_acl.yaml`` from the root down to a file's folder is
one clause of the file's ACL (rules stack, like Confluence restrictions), and Markdown front
matter may add one more. A file with no rule on its path is not indexed (deny by default), and
an invalid rule fails every file under it rather than letting them through with fewer clauses.
Group names in the rules are this tree's own (``group:files:<instance>:<name>``, see rules.py).

One file never stops the others: whatever goes wrong while reading one (a bad rule, a parser
crash, a name that is not UTF-8) becomes a Skipped or Failed item for it. Only a folder that
cannot be listed makes a listing incomplete, and then the engine deletes nothing.

Unchanged files are not parsed again: a content run compares each file's fingerprint (SHA-256
of its bytes and of what else shapes its document) with the one its last finished run saw (kept
in the checkpoint) and yields ``Unchanged`` with the ACL from the folder rules and front matter
alone. The daily full run reads everything again from scratch.

Citation URLs never show server paths: a configured ``url_base`` + the path below the root, or
none (the citation shows that path as its source id).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from connectors.base import (
    AclItem,
    AclRead,
    Change,
    CheckpointMark,
    Deleted,
    Failed,
    GroupSnapshot,
    ScanItem,
    Skipped,
    Unchanged,
)
from connectors.errors import SourceUnavailable
from connectors.parsers.by_extension import SUPPORTED_SUFFIXES
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox
from core.acl import Acl, PrincipalError, group_namespace
from core.config import ConfigError, FilesConfig
from core.models import Document, document_id

from .folder_rules import (
    GROUPS_FILE_LIMIT,
    FolderRules,
    NotARegularFile,
    read_at_most,
    read_rule_file,
)
from .front_matter import front_matter_of
from .parse import MARKDOWN_SUFFIXES, parse_file
from .rule_yaml import RuleError
from .rules import GROUPS_FILE, parse_groups_file, qualify
from .walk import Entry, Unlistable, WalkItem, hidden, walk

if TYPE_CHECKING:
    from connectors.base import Connector, SyncConnector

log = logging.getLogger("lore.files")

_MB = 1024 * 1024
# Part of every fingerprint: bump it when parsing changes what a file's document holds, so that
# content runs parse every file again instead of trusting fingerprints of the old parser.
PARSE_VERSION = "3"  # 3: front matter `owner:` (Document.author)
T = TypeVar("T")


class ListingIncomplete(SourceUnavailable, OSError):
    """Some folder could not be listed: what the walk did not see must not count as deleted."""


@dataclass(frozen=True)
class _File:
    """A candidate file that passed the cheap checks: its bytes (when needed) and clauses."""

    entry: Entry
    clauses: list[frozenset[str]]
    markdown: bool
    info: os.stat_result
    data: bytes


class FilesConnector:
    """Scans ``root``; see the module docstring for how access is decided."""

    lists_everything = True  # every content run is a complete listing: omissions are deletions

    def __init__(self, root: Path, config: FilesConfig, *, instance: str, url_base: str = "") -> None:
        self._root = Path(root).resolve()
        if config.max_file_mb <= 0:
            raise ConfigError(f"files.max_file_mb must be positive, got {config.max_file_mb}")
        try:
            self._namespace = group_namespace("files", instance)
        except PrincipalError as exc:
            raise ConfigError(str(exc)) from None
        if url_base and not url_base.startswith(("https://", "http://")):
            raise ConfigError(f"url_base must be an http(s) URL, got {url_base!r}")
        self._url_base = url_base.rstrip("/") + "/" if url_base else ""
        self._limit_mb = config.max_file_mb
        self._limit = int(config.max_file_mb * _MB)
        self._extensions = _extensions(config.extensions)
        self._source = "files:" + str(self._root)
        # Bodies are parsed in a worker process with a time, memory and text budget, so that
        # a hostile file can neither stall the server nor exhaust it (connectors.parsers.sandbox).
        self._parser = ParserSandbox(config, target=parse_file)

    @property
    def source(self) -> str:
        return self._source

    @property
    def group_namespace(self) -> str:
        return self._namespace

    def close(self) -> None:
        """Stops the parse worker: the connector is done."""
        self._parser.close()

    # -- listings ---------------------------------------------------------------------------

    def scan(self) -> Iterator[ScanItem]:
        """Every candidate file, read and parsed, in sorted path order. Raises
        ListingIncomplete at the end when a folder could not be listed."""
        for item in self._items({}, {}):
            assert not isinstance(item, Unchanged)  # nothing is unchanged without fingerprints
            yield item

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        previous = _versions(checkpoint)
        versions: dict[str, list[str]] = {}
        yield from self._items(previous, versions)
        yield CheckpointMark({"scanned_at": datetime.now(UTC).isoformat(), "versions": versions})

    def list_ids(self) -> Iterator[str]:
        """Every candidate file's source id, without reading any file (deletion detection)."""
        unlistable = []
        for item in self._walk():
            if isinstance(item, Entry):
                yield item.source_id
            elif isinstance(item, Unlistable):
                unlistable.append(item)
        _raise_if_incomplete(unlistable)

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        """Each document's ACL from the folder rules and its front matter; bodies are not
        parsed. Documents under a folder that cannot be listed keep their ACL (nothing is
        yielded for them)."""
        wanted = set(source_ids)
        rules = FolderRules(self._root, self._namespace)
        unlistable: list[Unlistable] = []
        for item in self._walk():
            if isinstance(item, Unlistable):
                unlistable.append(item)
                yield Failed(f"{item.folder or '.'}/", f"{item.reason}; access of the files in it left as it was")
            elif item.source_id not in wanted:
                continue
            elif not isinstance(item, Entry):
                wanted.discard(item.source_id)
                yield item
            else:
                wanted.discard(item.source_id)
                yield self._guarded(item.source_id, self._acl_item, item, rules)
        for source_id in sorted(wanted):
            if not any(u.covers(source_id) for u in unlistable):
                yield Deleted(source_id)  # a complete walk did not find it: gone

    def groups(self, referenced: frozenset[str] = frozenset()) -> GroupSnapshot:
        """Groups from ``groups.yaml`` at the root (none when it is absent); raises RuleError."""
        path = self._root / GROUPS_FILE
        if not os.path.lexists(path):
            return GroupSnapshot({})
        data = read_rule_file(self._root, path, GROUPS_FILE, GROUPS_FILE_LIMIT)
        return GroupSnapshot(parse_groups_file(GROUPS_FILE, data, self._namespace))

    def _walk(self) -> Iterator[WalkItem]:
        if not self._root.is_dir():
            raise NotADirectoryError(f"files root {self._root} is not a folder")
        return walk(self._root, self._candidate)

    def _items(
        self, previous: Mapping[str, tuple[str, str]], versions: dict[str, list[str]]
    ) -> Iterator[ScanItem | Unchanged]:
        rules = FolderRules(self._root, self._namespace)
        unlistable = []
        for item in self._walk():
            if isinstance(item, Unlistable):
                unlistable.append(item)
            elif not isinstance(item, Entry):
                yield item
            else:
                yield self._guarded(item.source_id, self._change, item, rules, previous, versions)
        _raise_if_incomplete(unlistable)

    def _guarded(self, source_id: str, read: Callable[..., T], *args: Any) -> T | Failed:
        try:
            return read(*args)
        except Exception as exc:
            log.exception("file could not be read", extra={"source_id": source_id})
            return Failed(source_id, f"could not be read: {exc.__class__.__name__}: {str(exc)[:200]}")

    def _candidate(self, name: str) -> bool:
        # No parser handles .yaml, so _acl.yaml and groups.yaml can never be taken for documents.
        return Path(name).suffix.lower() in self._extensions

    # -- one file ---------------------------------------------------------------------------

    def _change(
        self, entry: Entry, rules: FolderRules, previous: Mapping[str, tuple[str, str]],
        versions: dict[str, list[str]],
    ) -> ScanItem | Unchanged:
        file = self._read(entry, rules, need_data=True)
        if not isinstance(file, _File):
            return file
        version = self._version(file.data)
        seen = previous.get(entry.source_id)
        if seen is not None and seen[0] == version:
            acl = self._acl(file)
            if isinstance(acl, Acl):
                versions[entry.source_id] = list(seen)
                return Unchanged(entry.source_id, acl, seen[1], read=lambda: self._document(file))
            return acl
        document = self._document(file)
        if isinstance(document, Document):
            versions[entry.source_id] = [version, document.content_hash()]
        return document

    def _acl_item(self, entry: Entry, rules: FolderRules) -> AclItem:
        markdown = entry.path.suffix.lower() in MARKDOWN_SUFFIXES
        file = self._read(entry, rules, need_data=markdown)
        if not isinstance(file, _File):
            return file
        acl = self._acl(file)
        return AclRead(entry.source_id, acl) if isinstance(acl, Acl) else acl

    def _read(self, entry: Entry, rules: FolderRules, *, need_data: bool) -> _File | Skipped | Failed:
        source_id, path = entry.source_id, entry.path
        real = path.resolve()
        if not real.is_relative_to(self._root) or hidden(real.relative_to(self._root)):
            return Skipped(source_id, "symlink to a file outside the root (or in a hidden folder); not followed")
        try:
            clauses = rules.clauses_for(real.relative_to(self._root).parent.parts)
        except RuleError as exc:
            return Failed(source_id, str(exc))
        markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
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
            data = read_at_most(path, self._limit, real) if need_data else b""
        except NotARegularFile as exc:
            return Skipped(source_id, str(exc))
        except OSError as exc:
            return Failed(source_id, f"cannot read: {exc.strerror or exc}")
        if data is None:  # grew past the limit after stat
            return Skipped(source_id, self._too_large(self._limit + 1))
        return _File(entry, clauses, markdown, info, data)

    def _acl(self, file: _File) -> Acl | Skipped | Failed:
        """The ACL without parsing the body: folder clauses and the front matter's clause."""
        clauses = list(file.clauses)
        if file.markdown:
            try:
                clause = front_matter_of(file.entry.source_id, file.data).acl_clause
            except RuleError as exc:
                return Failed(file.entry.source_id, str(exc))
            except UnicodeDecodeError:
                return Failed(file.entry.source_id, "not valid UTF-8; save it as UTF-8")
            if clause is not None:
                clauses.append(qualify(clause, self._namespace))
        if not clauses:
            return Skipped(file.entry.source_id, _no_rule(file.markdown))
        return Acl.of(clauses)

    def _document(self, file: _File) -> Document | Skipped | Failed:
        source_id = file.entry.source_id
        try:
            parsed = self._parser.parse(source_id, file.data)
        except (ParseError, RuleError) as exc:
            return Failed(source_id, str(exc))
        clauses = list(file.clauses)
        if parsed.acl_clause is not None:
            clauses.append(qualify(parsed.acl_clause, self._namespace))
        if not clauses:
            return Skipped(source_id, _no_rule(file.markdown))
        if not parsed.sections:
            return Skipped(source_id, "empty file")
        return Document(
            id=document_id(self._source, source_id),
            source=self._source,
            source_id=source_id,
            title=parsed.title or file.entry.path.stem,
            url=self._url(source_id),
            sections=parsed.sections,
            acl=Acl.of(clauses),
            updated_at=datetime.fromtimestamp(file.info.st_mtime, tz=UTC),
            author=parsed.owner,
        ).storable()  # the fingerprint's content hash must be the one the row will hold

    def _url(self, source_id: str) -> str:
        return self._url_base + quote(source_id) if self._url_base else ""

    def _version(self, data: bytes) -> str:
        digest = hashlib.sha256(f"{PARSE_VERSION}\n{self._url_base}\n".encode())
        digest.update(data)
        return digest.hexdigest()[:32]

    def _too_large(self, size: int) -> str:
        return f"too large: {size / _MB:.1f} MB, limit {self._limit_mb:g} MB (files.max_file_mb)"


def derived_instance(root: Path) -> str:
    """An instance name for a folder indexed without a configured connector (`lore ingest
    PATH`): its name and a hash of its absolute path, so two folders never share one."""
    resolved = Path(root).resolve()
    slug = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in resolved.name.lower())
    slug = slug.strip("-_")[:40] or "files"
    return f"{slug}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"


def _versions(checkpoint: Mapping[str, Any] | None) -> dict[str, tuple[str, str]]:
    """source id -> (fingerprint of the bytes, content hash of the document made from them)."""
    found = checkpoint.get("versions") if checkpoint else None
    if not isinstance(found, dict):
        return {}
    return {
        k: (v[0], v[1]) for k, v in found.items()
        if isinstance(k, str) and isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
    }


def _raise_if_incomplete(unlistable: list[Unlistable]) -> None:
    if unlistable:
        more = f" (and {len(unlistable) - 3} more)" if len(unlistable) > 3 else ""
        raise ListingIncomplete("; ".join(u.reason for u in unlistable[:3]) + more)


def _no_rule(markdown: bool) -> str:
    where = "add an _acl.yaml with `allow: [...]` to its folder or a parent folder"
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
    # Keeps FilesConnector structurally in step with both protocols under mypy.
    def _conforms(connector: FilesConnector) -> tuple[Connector, SyncConnector]:
        return connector, connector
