"""Reading the YAML that people write by hand (rule files, groups, front matter): positions
kept, nesting bounded, and every problem a :class:`RuleError` naming the file, the line and what
to write instead.

Line numbers come from PyYAML's composed node tree (``yaml.compose``), which keeps the position
of every node; constructing Python objects would lose them.
"""

from __future__ import annotations

import yaml

from connectors.errors import AclUnavailable
from connectors.parsers.parsed import decode_utf8, utf8_problem


class RuleError(AclUnavailable, ValueError):
    """An access-rule or group file that cannot be used as written: the documents it governs
    are not indexed (fail closed)."""

    def __init__(self, where: str, problem: str, line: int | None = None) -> None:
        self.where = where
        self.problem = problem
        self.line = line
        at = f"{where} line {line}" if line is not None else where
        super().__init__(f"{at}: {problem}")

    def __reduce__(self) -> tuple[type[RuleError], tuple[str, str, int | None]]:
        # Rebuilt from its parts when it crosses a process boundary (the parse sandbox).
        return type(self), (self.where, self.problem, self.line)


def compose(where: str, data: bytes, example: str) -> yaml.Node | None:
    """The node tree of a rule file's bytes (None when empty); ``example`` is the form a YAML
    error message suggests."""
    try:
        text = decode_utf8(data)
    except UnicodeDecodeError as exc:
        raise RuleError(where, utf8_problem(exc), data.count(b"\n", 0, exc.start) + 1) from None
    return compose_text(where, text, example)


# Rule files are two levels deep; anything far deeper is a mistake or an attack. PyYAML's
# composer recurses once per level, so a 6 KB `[[[[...` would otherwise raise RecursionError.
MAX_NESTING = 32
MAX_TOKENS = 1_000_000  # a 4 MB groups.yaml of one address per line has about 160,000
_OPENERS = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken, yaml.BlockSequenceStartToken,
            yaml.BlockMappingStartToken)
_CLOSERS = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)


def _check_nesting(where: str, text: str, line_offset: int) -> None:
    """Refuse deep nesting from the token stream, which PyYAML's scanner produces without
    recursion, before the recursive composer sees it."""
    depth = 0
    for count, token in enumerate(yaml.scan(text, Loader=yaml.SafeLoader)):
        if count > MAX_TOKENS:
            raise RuleError(where, f"more than {MAX_TOKENS:,} YAML tokens; this is not a rule file")
        if isinstance(token, _OPENERS):
            depth += 1
            if depth > MAX_NESTING:
                raise RuleError(
                    where,
                    f"nested more than {MAX_NESTING} levels deep; a rule is a flat list of principals",
                    token.start_mark.line + 1 + line_offset,
                )
        elif isinstance(token, _CLOSERS):
            depth -= 1
            if depth < 0:  # PyYAML scans unmatched closers slowly (super-linear): stop at the first
                raise RuleError(where, "a `]` or `}` closes nothing", token.start_mark.line + 1 + line_offset)


def compose_text(where: str, text: str, example: str, line_offset: int = 0) -> yaml.Node | None:
    """:func:`compose` for text already decoded (front matter, which starts ``line_offset``
    lines into its file)."""
    try:
        _check_nesting(where, text, line_offset)
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise RuleError(where, "nested too deeply to read; a rule is a flat list of principals") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark is not None else None
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            # e.g. an unclosed `[`: the problem shows at the end, the cause is where it began.
            what += f", started on line {exc.context_mark.line + 1 + line_offset}"
        if "'\\t'" in what:
            fix = "indent with spaces, not tabs"
        elif "block" in what:
            fix = f"check the indentation (items of one list start in the same column); `{example}`"
        else:
            fix = f"the expected form is `{example}`"
        raise RuleError(where, f"not valid YAML ({what}); {fix}", line) from None
    except yaml.YAMLError as exc:
        # ReaderError (control characters) carries a character position instead of a mark.
        position = getattr(exc, "position", None)
        line = (
            text.count("\n", 0, position) + 1 + line_offset if isinstance(position, int) else None
        )
        character = getattr(exc, "character", None)
        code = ord(character) if isinstance(character, str) else character
        what = f"control character U+{code:04X}" if isinstance(code, int) else str(exc)
        raise RuleError(where, f"not valid YAML ({what}); remove it", line) from None
    return node


def key_of(where: str, node: yaml.Node, line_offset: int = 0) -> str:
    """A mapping key, which must be a plain scalar."""
    if not isinstance(node, yaml.ScalarNode):
        raise RuleError(where, "keys must be plain words such as `allow`", line_of(node, line_offset))
    return str(node.value)


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def line_of(node: yaml.Node, line_offset: int = 0) -> int:
    """The file line (from 1) a node starts on; ``line_offset`` for text that starts lower."""
    return int(node.start_mark.line) + 1 + line_offset
