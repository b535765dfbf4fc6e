"""Converted mrkdwn -> pieces of at most one Block Kit text object (3,000 characters) each.

Cuts fall between paragraphs where possible, else between lines, else between words; never inside
a link or an entity. A code block longer than a piece is closed and reopened, so that every piece
is valid mrkdwn on its own, and a cut inside a word cannot leave a bare ``@here`` at the start of
a piece.
"""

from __future__ import annotations

import re

from bot.slack.escaping import SECTION_TEXT_MAX, defuse, slack_len


def split_mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Cut converted mrkdwn into pieces of at most ``limit`` (Slack-counted) characters:
    between paragraphs where possible, else between lines, else between words; never inside a
    link or an entity. A code block longer than ``limit`` is closed and reopened so that every
    piece stays valid mrkdwn."""
    pieces: list[tuple[str, str]] = []  # (separator before it, text)
    lines = text.split("\n")
    sep = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line == "```":
            j = i + 1
            while j < len(lines) and lines[j] != "```":
                j += 1
            for chunk in _code_chunks(lines[i + 1 : j], limit):
                pieces.append((sep, chunk))
                sep = "\n"
            i = j + 1
            continue
        if not line.strip():
            if pieces:
                sep = "\n\n"
            i += 1
            continue
        for chunk in _line_chunks(line, limit):
            pieces.append((sep, chunk))
            sep = "\n"
        i += 1
    # A cut inside a word can leave "@here…" at the start of a piece: defuse it there too.
    return [defuse(chunk) for chunk in _pack(pieces, limit)]


def _pack(pieces: list[tuple[str, str]], limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[tuple[str, str]] = []
    size = 0  # of the current chunk as it would be joined (its first separator dropped)

    def flush(items: list[tuple[str, str]]) -> None:
        chunks.append("".join((sep if k else "") + piece for k, (sep, piece) in enumerate(items)))

    def measure(items: list[tuple[str, str]]) -> int:
        return sum(slack_len(piece) + (slack_len(sep) if k else 0) for k, (sep, piece) in enumerate(items))

    for sep, piece in pieces:
        if current and size + slack_len(sep) + slack_len(piece) > limit:
            # Prefer to end the chunk at its last paragraph break, if that keeps it half full.
            cut, head = len(current), 0
            for k, (s, p) in enumerate(current):
                if k and s == "\n\n" and head >= limit // 2:
                    cut = k
                head += slack_len(p) + (slack_len(s) if k else 0)
            flush(current[:cut])
            current = current[cut:]
            size = measure(current)
            while current and size + slack_len(sep) + slack_len(piece) > limit:
                flush(current[:1])
                current = current[1:]
                size = measure(current)
        size += slack_len(piece) + (slack_len(sep) if current else 0)
        current.append((sep, piece))
    if current:
        flush(current)
    return [c for c in chunks if c.strip()]


def _code_chunks(lines: list[str], limit: int) -> list[str]:
    budget = limit - len("```\n\n```")
    bodies: list[str] = []
    current = ""
    for line in lines:
        for part in _hard_split(line, budget):
            candidate = f"{current}\n{part}" if current else part
            if current and slack_len(candidate) > budget:
                bodies.append(current)
                candidate = part
            current = candidate
    bodies.append(current)
    return ["```\n" + (b if b.strip() else " ") + "\n```" for b in bodies]


_TOKEN = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);|\s+|[^\s<&]{1,100}|.")


def _line_chunks(line: str, limit: int) -> list[str]:
    if slack_len(line) <= limit:
        return [line]
    prefix = ["> "] if line.startswith("> ") else []  # a quote stays a quote on every piece
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for token in _TOKEN.findall(line):
        if current and size + slack_len(token) > limit:
            # Break at the last space in the second half of the chunk, if there is one; the
            # tokens keep links and entities whole.
            cut, seen = len(current), 0
            for k, tok in enumerate(current):
                if tok.isspace() and seen >= limit // 2:
                    cut = k
                seen += slack_len(tok)
            chunks.append("".join(current[:cut]))
            current = prefix + current[cut + 1 :]
            size = slack_len("".join(current))
        current.append(token)
        size += slack_len(token)
    if "".join(current[len(prefix) :]).strip():
        chunks.append("".join(current))
    return chunks


def _hard_split(line: str, budget: int) -> list[str]:
    if slack_len(line) <= budget:
        return [line]
    parts: list[str] = []
    current = ""
    for token in _TOKEN.findall(line):
        if current and slack_len(current + token) > budget:
            parts.append(current)
            current = ""
        current += token
    parts.append(current)
    return parts
