"""Walking a files root: every candidate file once, in sorted path order, without recursion.

The rule: anything the walk cannot handle is reported for itself and the walk goes on. A name
that is not UTF-8 or a folder nested absurdly deep is a Skipped or Failed item of that entry only; a
folder that cannot be listed is :class:`Unlistable`, which tells the caller that the listing is
incomplete (so it deletes nothing), but the rest of the tree is still walked. An explicit stack
instead of recursion: a tree 1,000 folders deep must not raise RecursionError, which would stop
the whole source.

Symlinks are followed only to targets inside the root (and never into a hidden folder), and
each real folder is listed once per walk: a link back up the tree would loop forever, and links
that fan out (two links in each of 30 folders to the next) would make 2^30 paths of one tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.base import Failed, Skipped

# Deeper than any real document tree, shallow enough that paths stay far below PATH_MAX.
MAX_DEPTH = 64


@dataclass(frozen=True)
class Entry:
    """A candidate file: ``source_id`` is its path below the root, with ``/``."""

    source_id: str
    path: Path


@dataclass(frozen=True)
class Unlistable:
    """A folder whose entries could not be listed: the listing is incomplete below it."""

    folder: str  # "" for the root
    reason: str

    def covers(self, source_id: str) -> bool:
        return not self.folder or source_id.startswith(self.folder + "/")


WalkItem = Entry | Skipped | Failed | Unlistable


def printable(name: str) -> str:
    """A file name as text that can be stored and shown: undecodable bytes as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir surrogate-escapes bytes that are not UTF-8
        return False
    return True


def hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def walk(root: Path, candidate: Callable[[str], bool]) -> Iterator[WalkItem]:
    """``root`` must be a resolved folder. ``candidate(name)``: whether a file name is read."""
    stack: list[tuple[Iterator[os.DirEntry[str]], tuple[str, ...]]] = []
    listed = _listing(root, ())
    if isinstance(listed, Unlistable):
        yield listed
        return
    stack.append((listed, ()))
    visited = {root}
    while stack:
        entries, rel = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        parts = (*rel, entry.name)
        source_id = "/".join(parts)
        if not _utf8(entry.name):
            yield Skipped(
                "/".join((*rel, printable(entry.name))),
                "its name is not valid UTF-8; rename it to index it",
            )
            continue
        path = Path(entry.path)
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError as exc:
            yield Failed(source_id, f"cannot be examined: {exc.strerror or exc}")
            continue
        if is_link:
            target = path.resolve()
            if not target.is_relative_to(root) or hidden(target.relative_to(root)):
                if candidate(entry.name) and not is_dir:
                    yield Entry(source_id, path)  # reported as skipped by the connector
                continue
        if is_dir:
            real = path.resolve()
            if real in visited:
                continue
            if len(parts) > MAX_DEPTH:
                yield Failed(
                    source_id,
                    f"folder nested more than {MAX_DEPTH} levels below the root; nothing in it is indexed",
                )
                continue
            listed = _listing(path, parts)
            if isinstance(listed, Unlistable):
                yield listed
                continue
            visited.add(real)
            stack.append((listed, parts))
        elif (is_file or is_link) and candidate(entry.name):
            # Broken symlinks and links to special files land here too; the connector says why.
            yield Entry(source_id, path)


def _listing(folder: Path, rel: tuple[str, ...]) -> Iterator[os.DirEntry[str]] | Unlistable:
    try:
        with os.scandir(folder) as listing:
            return iter(sorted(listing, key=lambda e: e.name))
    except OSError as exc:
        return Unlistable("/".join(rel), f"cannot list {'/'.join(rel) or 'the root'}: {exc.strerror or exc}")
