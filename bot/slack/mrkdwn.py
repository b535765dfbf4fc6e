"""Markdown (as a language model writes it, or as a document contains it) -> Slack mrkdwn.

The input is untrusted: answer text is model output or sentences quoted from documents. The one
rule that keeps it safe: Slack only acts on ``<...>`` (links, ``<!channel>``, ``<@U123>``,
``<!subteam^...>``), so every ``<`` in the output is one this module wrote around a link it
checked (http, https or mailto), and every other ``&``, ``<``, ``>`` is escaped as Slack
documents (``&amp;``, ``&lt;``, ``&gt;``; nothing else is entity-encoded, Slack decodes only
those three).

Decisions:

* ``>`` at the start of a line is mrkdwn's quote. A Markdown blockquote becomes exactly that (the
  only unescaped ``>`` this module writes outside a link); every other ``>`` is ``&gt;``. A
  literal ``>`` cannot form a mention or a link: those need a ``<``, and none is left.
* ``@channel``, ``@here``, ``@everyone`` words get an invisible WORD JOINER after the ``@``.
  Slack only notifies for the ``<!...>`` forms (which cannot occur), but a client, an
  ``link_names`` flag or a future parser will not find the bare word either. Text objects are
  also sent with ``verbatim: true`` by the renderer; bare URLs are linked here instead.
* Links: ``[text](url)`` -> ``<url|text>`` only for http(s) and mailto URLs; other schemes
  (``javascript:``, ``data:``, relative paths) keep their text and lose the link. In the URL,
  ``|``, ``<``, ``>`` and whitespace are percent-encoded and ``&`` is ``&amp;``; in the label a
  ``|`` becomes a full-width ``｜`` (Slack splits ``<url|label>`` at the first bar).
* Code (inline and fenced) is never reformatted: only escaped (Slack shows ``&lt;`` as ``<``
  inside code too). The language tag of a fence is dropped: mrkdwn has no syntax highlighting.
* Emphasis needs word boundaries (``snake_case_name`` and ``2*3*4`` stay as they are).
"""

from __future__ import annotations

import re
from collections.abc import Callable

SECTION_TEXT_MAX = 3000  # a section's (and any mrkdwn text object's) text, per Block Kit
URL_MAX = 1500  # longer URLs (as written into the link) are not linked
LABEL_MAX = 500  # plain-text characters of a label we shorten (document titles)
LINK_LABEL_MAX = 1000  # mrkdwn characters of a label inside <url|label>: one link < 2,600

_ATOM_OPEN, _ATOM_CLOSE = "\ue000", "\ue001"
_BOLD, _ITALIC, _STRIKE = "\ue002", "\ue003", "\ue004"
_RESERVED = re.compile("[\ue000-\ue00f]")  # our markers: never trusted from the input
_ATOM = re.compile(_ATOM_OPEN + r"(\d+)" + _ATOM_CLOSE)
_WORD_JOINER = "\u2060"
_ZWSP = "\u200b"

_BROADCAST = re.compile(r"(?<!\w)@(?=(?:channel|here|everyone|group)\b)", re.IGNORECASE)
# The same, for converted text: link targets (``<url|``) are left alone.
_BROADCAST_OUTSIDE_URLS = re.compile(r"(<[^|<>\n]*\|)|" + _BROADCAST.pattern, re.IGNORECASE)
_LINKABLE = re.compile(r"(?:https?://[^\s/?#<>|\\]+|mailto:[^\s<>|]+)", re.IGNORECASE)
_BARE_URL = re.compile(r"https?://[^\s<>\"'`|\[\]]+", re.IGNORECASE)
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>", re.IGNORECASE)
_ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s+(.*?))?\s*$")
_HEADING_TAIL = re.compile(r"\s+#+$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>(?:[ \t]*>)*[ \t]?(.*)$")  # nested quotes flatten to one
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_TASK = re.compile(r"^\[([ xX])\][ \t]+")
_ORDERED = re.compile(r"^([ \t]*)(\d{1,9})[.)][ \t]+(.*)$")
_BULLETS = ("•", "◦", "▪")

_STRONG_EM = re.compile(r"(?<![*\w])\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*(?![*\w])")
_STRONG_STAR = re.compile(r"\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*")
_STRONG_UNDER = re.compile(r"(?<!\w)__(?=[^\s_])(.+?)(?<=[^\s_])__(?!\w)")
_EM_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_EM_UNDER = re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_STRIKE_RE = re.compile(r"~~(?=[^\s~])(.+?)(?<=[^\s~])~~")
_BACKTICK_RUN = re.compile(r"`{3,}")


def slack_len(text: str) -> int:
    """Length as Slack may count it (UTF-16 code units): never less than ``len``."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Plain text -> mrkdwn that shows exactly that text and can trigger nothing."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + _WORD_JOINER, text)


def unescape(text: str) -> str:
    """The inverse of :func:`escape` (for text this module escaped)."""
    text = text.replace("@" + _WORD_JOINER, "@")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe_url(url: str) -> str | None:
    """The URL ready to sit inside ``<...|...>``, or None when it must not be linked."""
    url = url.strip()
    if not url or len(url) > URL_MAX or not _LINKABLE.match(url):
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    url = re.sub(r"\s", "%20", url)
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return url if len(url) <= URL_MAX else None


def link_label(text: str) -> str:
    """Plain text -> an escaped, single-line label for ``<url|label>``."""
    text = " ".join(text.split())
    if len(text) > LABEL_MAX:
        text = text[: LABEL_MAX - 1].rstrip() + "…"
    return escape(text).replace("|", "｜")


def link(url: str, label: str) -> str:
    """``<url|label>`` when the URL may be linked, else just the label. ``label`` is mrkdwn
    already (escaped, one line); an empty label shows the URL."""
    label = " ".join(label.split()).replace("|", "｜") or link_label(url)
    target = safe_url(url)
    if target is None:
        return label
    if slack_len(label) > LINK_LABEL_MAX:  # keep every link small enough to split around
        return f"{label} (<{target}|link>)"
    return f"<{target}|{label}>"


def to_mrkdwn(markdown: str) -> str:
    """Convert Markdown to Slack mrkdwn (see the module docstring for the rules)."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            marker = fence.group(1)
            closing = re.compile(r"^ {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}\s*$")
            body: list[str] = []
            i += 1
            while i < len(lines) and not closing.match(lines[i]):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (an unclosed fence runs to the end, as in CommonMark)
            out.append(code_block("\n".join(body)))
            continue
        out.append(_line(lines[i]))
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def code_block(code: str) -> str:
    body = _BACKTICK_RUN.sub(lambda m: _ZWSP.join(m.group()), escape(code))
    return "```\n" + (body if body.strip() else " ") + "\n```"


def _line(line: str) -> str:
    if not line.strip():
        return ""
    if _RULE.match(line):
        return "──────────"
    heading = _HEADING.match(line)
    if heading:
        title = _HEADING_TAIL.sub("", heading.group(1) or "").strip()
        return f"*{inline(title, bold=False)}*" if title else ""
    quote = _QUOTE.match(line)
    if quote:
        inner = _line(quote.group(1))
        return f"> {inner}" if inner else ">"
    bullet = _BULLET.match(line)
    if bullet:
        level = _indent_level(bullet.group(1))
        item = bullet.group(2)
        task = _TASK.match(item)
        if task:
            item = ("☑ " if task.group(1) in "xX" else "☐ ") + item[task.end() :]
        return "    " * level + _BULLETS[level % len(_BULLETS)] + " " + inline(item)
    ordered = _ORDERED.match(line)
    if ordered:
        level = _indent_level(ordered.group(1))
        return "    " * level + f"{ordered.group(2)}. " + inline(ordered.group(3))
    return inline(line.strip())


def _indent_level(indent: str) -> int:
    return min(len(indent.replace("\t", "    ")) // 2, 5)


def inline(text: str, *, bold: bool = True, links: bool = True) -> str:
    """Convert one line of Markdown. Links and code become opaque atoms first, so emphasis
    never reaches into a URL or code, and escaping never touches the link syntax we write."""
    text = _RESERVED.sub("\ufffd", text)
    atoms: list[str] = []

    def atom(rendered: str) -> str:
        atoms.append(rendered)
        return f"{_ATOM_OPEN}{len(atoms) - 1}{_ATOM_CLOSE}"

    plain: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            plain.append(atom(escape(text[i + 1])))
            i += 2
            continue
        if c == "`":
            run = _run_length(text, i)
            end = _closing_backticks(text, i + run, run)
            if end is not None:
                code = text[i + run : end]
                if code.startswith(" ") and code.endswith(" ") and code.strip():
                    code = code[1:-1]
                if code.strip():
                    plain.append(atom("`" + escape(code.replace("`", "ˋ")) + "`"))
                else:
                    plain.append(text[i : end + run])
                i = end + run
                continue
            plain.append(text[i : i + run])
            i += run
            continue
        if links and (c == "[" or (c == "!" and text.startswith("[", i + 1))):
            parsed = _parse_link(text, i)
            if parsed is not None:
                label, url, end = parsed
                rendered = inline(label, bold=bold, links=False) or link_label(url)
                plain.append(atom(link(url, rendered)))
                i = end
                continue
        if links and c == "<":
            auto = _AUTOLINK.match(text, i)
            if auto:
                plain.append(atom(link(auto.group(1), link_label(auto.group(1)))))
                i = auto.end()
                continue
        if links and c in "hH" and (i == 0 or not text[i - 1].isalnum()):
            bare = _BARE_URL.match(text, i)
            if bare:
                url = _trim_url(bare.group())
                plain.append(atom(link(url, link_label(url))))
                i += len(url)
                continue
        plain.append(c)
        i += 1

    out = escape("".join(plain))
    out = _BACKTICK_RUN.sub(lambda m: _ZWSP.join(m.group()), out)
    out = _STRONG_EM.sub(_wrap(_BOLD + _ITALIC, _ITALIC + _BOLD), out)
    out = _STRONG_STAR.sub(_wrap(_BOLD, _BOLD), out)
    out = _STRONG_UNDER.sub(_wrap(_BOLD, _BOLD), out)
    out = _EM_STAR.sub(_wrap(_ITALIC, _ITALIC), out)
    out = _EM_UNDER.sub(_wrap(_ITALIC, _ITALIC), out)
    out = _STRIKE_RE.sub(_wrap(_STRIKE, _STRIKE), out)
    out = out.replace(_BOLD, "*" if bold else "").replace(_ITALIC, "_").replace(_STRIKE, "~")
    out = _ATOM.sub(lambda m: atoms[int(m.group(1))], out)
    # Again over the whole line: an escaped or formatted "@" (``\@here``, ``*@*here``) joins
    # up with its word only now.
    return _defuse(out)


def _wrap(before: str, after: str) -> Callable[[re.Match[str]], str]:
    return lambda m: before + m.group(1) + after


def _run_length(text: str, i: int) -> int:
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j - i


def _closing_backticks(text: str, start: int, run: int) -> int | None:
    j = start
    while True:
        j = text.find("`" * run, j)
        if j < 0:
            return None
        length = _run_length(text, j)
        if length == run:
            return j
        j += length


def _parse_link(text: str, start: int) -> tuple[str, str, int] | None:
    """``[label](url "title")`` or ``![alt](url)`` at ``start`` -> (label, url, end)."""
    i = start + (2 if text[start] == "!" else 1)
    depth, j = 1, i
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                break
        j += 1
    if j >= len(text) or not text.startswith("(", j + 1):
        return None
    label = text[i:j]
    k = j + 2
    while k < len(text) and text[k] in " \t":
        k += 1
    if text.startswith("<", k):
        close = text.find(">", k)
        if close < 0:
            return None
        url, k = text[k + 1 : close], close + 1
    else:
        parens, u = 0, k
        while u < len(text) and not text[u].isspace():
            if text[u] == "(":
                parens += 1
            elif text[u] == ")":
                if parens == 0:
                    break
                parens -= 1
            u += 1
        url, k = text[k:u], u
    title = re.compile(r"""[ \t]*(?:"[^"]*"|'[^']*'|\([^()]*\))?[ \t]*\)""").match(text, k)
    if title is None:
        return None
    return label, url, title.end()


def _trim_url(url: str) -> str:
    """Trailing punctuation belongs to the sentence, a closing paren only if unbalanced."""
    while url and url[-1] in ".,;:!?*_~'\")":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


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
    return [_defuse(chunk) for chunk in _pack(pieces, limit)]


def _defuse(mrkdwn: str) -> str:
    return _BROADCAST_OUTSIDE_URLS.sub(lambda m: m.group(1) or "@" + _WORD_JOINER, mrkdwn)


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
