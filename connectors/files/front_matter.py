"""Markdown front matter, read on its own: a file's own access rule without parsing its body.

The permission job and unchanged files need a Markdown file's ``acl:`` clause but not its text;
reading just the block between the opening and closing ``---`` lines keeps them off the body
parser (slow or hostile bodies cannot delay a permission change). The connector's Markdown
parser (parse.py) uses the same split, so both always agree on the clause.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.parsers.parsed import decode_utf8

from .rule_yaml import RuleError
from .rules import FrontMatter, parse_front_matter

_NO_FRONT_MATTER = FrontMatter(None, None)
MAX_FRONT_MATTER = 64 * 1024  # characters: a title, an acl, an owner; larger is not front matter


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def front_matter_end(lines: Sequence[str]) -> int | None:
    """The index of the ``---`` line that closes a front matter block opened by the first line;
    None when the first line opens none, or the block is never closed."""
    if not lines or lines[0].rstrip() != "---":
        return None
    return next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)


def split_front_matter(relpath: str, text: str) -> tuple[FrontMatter, list[str]]:
    """``text`` (newlines normalised) -> its front matter and the body's lines. Raises RuleError
    for invalid front matter, and for one that is never closed: reading it as body text would
    drop an intended ``acl`` and widen access."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return _NO_FRONT_MATTER, lines
    close = front_matter_end(lines)
    if close is None:
        raise RuleError(relpath, "front matter opened here is never closed; add a `---` line after it", 1)
    block = "\n".join(lines[1:close])
    if len(block) > MAX_FRONT_MATTER:
        raise RuleError(relpath, f"front matter longer than {MAX_FRONT_MATTER // 1024} KB; keep it to a title, an acl and an owner", 1)
    front = parse_front_matter(relpath, block, first_line=2)
    return front, lines[close + 1 :]


def front_matter_of(relpath: str, data: bytes) -> FrontMatter:
    """The front matter of a Markdown file's bytes. Raises RuleError, or UnicodeDecodeError
    for bytes that are not UTF-8."""
    if not data.removeprefix(b"\xef\xbb\xbf").startswith(b"---"):
        return _NO_FRONT_MATTER  # the common case: no need to decode a large body
    return split_front_matter(relpath, normalise_newlines(decode_utf8(data)))[0]
