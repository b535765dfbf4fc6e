"""Hand-written access rules: ``_acl.yaml``, Markdown front matter and ``groups.yaml``.

People write these files by hand, and a mistake in one decides who may read a document, so
every problem is reported with the file, the line and what to write instead. Nothing here
guesses: anything unexpected is an error, and the connector fails closed on it.

Group names are local to the folder tree: ``group:files:hr`` in a rule means the ``hr`` of this
tree's ``groups.yaml`` and is stored as ``group:files:<instance>:hr`` (:func:`qualify`), so a
second tree that also defines ``hr`` grants nothing here. A rule may still name another
instance's group in full (``group:files:<instance>:<name>``), or a Confluence group with its
instance (``group:confluence:<instance>:<id>``).

Line numbers come from PyYAML's composed node tree (``yaml.compose``), which keeps the position
of every node; constructing Python objects would lose them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import yaml

from connectors.errors import AclUnavailable
from connectors.parsers.parsed import decode_utf8, utf8_problem
from core.acl import PrincipalError, lacks_instance, parse_principal

ACL_FILE = "_acl.yaml"
GROUPS_FILE = "groups.yaml"

_ALLOW_EXAMPLE = "allow: [user:alice@example.com, group:files:engineering, org:members]"
_FRONT_MATTER_EXAMPLE = "acl: [group:files:engineering]"
_GROUPS_EXAMPLE = "engineering: [alice@example.com, bob@example.com]"
_PRINCIPAL_FORMS = "user:<email>, group:<provider>:<id> or org:members"
_PRINCIPAL_KINDS = ("user", "group", "org")
_LOCAL_GROUP = "group:files:"
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

# Front matter keys that look like an attempt at an access rule. Ignoring them (as other keys
# are ignored) would leave the document readable by more people than its author meant.
_ACL_LOOKALIKES = frozenset({"allow", "acls", "access", "permissions", "readers"})


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


@dataclass(frozen=True)
class FrontMatter:
    title: str | None
    acl_clause: frozenset[str] | None


def parse_acl_file(where: str, data: bytes) -> frozenset[str]:
    """The allow-list of one folder's ``_acl.yaml``: exactly ``allow: [principal, ...]``."""
    root = _compose(where, data, _ALLOW_EXAMPLE)
    if root is None:
        raise RuleError(where, f"the file is empty; write `{_ALLOW_EXAMPLE}`", 1)
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where,
            f"expected a mapping with the single key `allow`; write `{_ALLOW_EXAMPLE}`",
            _line(root),
        )
    allow: yaml.Node | None = None
    allow_line = 1
    for key_node, value_node in root.value:
        key = _key(where, key_node)
        if key != "allow":
            raise RuleError(
                where,
                f"unknown key {key!r}; the only key is `allow` (write `{_ALLOW_EXAMPLE}`)",
                _line(key_node),
            )
        if allow is not None:
            raise RuleError(
                where, "`allow` appears twice; merge both lists into one", _line(key_node)
            )
        allow, allow_line = value_node, _line(key_node)
    if allow is None:
        raise RuleError(where, f"`allow` is missing; write `{_ALLOW_EXAMPLE}`", _line(root))
    return _principals(where, "allow", allow, allow_line)


def parse_front_matter(where: str, text: str, first_line: int) -> FrontMatter:
    """Markdown front matter: ``title:`` and ``acl: [principal, ...]``; other keys are ignored.

    ``first_line`` is the file line on which ``text`` starts, so that errors point into the file
    the author edits rather than into the extracted block."""
    root = _compose_text(where, text, _FRONT_MATTER_EXAMPLE, first_line - 1)
    if root is None:
        return FrontMatter(None, None)
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where,
            "front matter must be `key: value` lines (for example `title: ...` and "
            "`acl: [group:files:engineering]`)",
            _line(root, first_line - 1),
        )
    title: str | None = None
    clause: frozenset[str] | None = None
    seen: set[str] = set()
    for key_node, value_node in root.value:
        key = _key(where, key_node, first_line - 1)
        line = _line(key_node, first_line - 1)
        if key in seen and key in ("acl", "title"):
            raise RuleError(where, f"front matter `{key}` appears twice; keep one", line)
        seen.add(key)
        if key == "acl":
            clause = _principals(where, "acl", value_node, line, first_line - 1)
        elif key == "title":
            title = _title(where, value_node, first_line - 1)
        elif key.lower() == "acl" or key.lower() in _ACL_LOOKALIKES:
            raise RuleError(
                where,
                f"front matter key {key!r} is not an access rule and would be ignored; "
                "write `acl: [principal, ...]` to restrict this document",
                line,
            )
    return FrontMatter(title, clause)


def qualify(clause: frozenset[str], namespace: str) -> frozenset[str]:
    """A rule's clause with this tree's own groups (``group:files:<name>``) in ``namespace``."""
    return frozenset(
        namespace + p.removeprefix(_LOCAL_GROUP) if p.startswith(_LOCAL_GROUP) and lacks_instance(p) else p
        for p in clause
    )


def parse_groups_file(where: str, data: bytes, namespace: str) -> dict[str, frozenset[str]]:
    """``groups.yaml``: group name -> list of member emails, keyed by group principal in
    ``namespace`` (``group:files:<instance>:<name>``)."""
    root = _compose(where, data, _GROUPS_EXAMPLE)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where, f"expected group names as keys; write `{_GROUPS_EXAMPLE}`", _line(root)
        )
    groups: dict[str, frozenset[str]] = {}
    for key_node, value_node in root.value:
        name = _key(where, key_node)
        line = _line(key_node)
        if not _GROUP_NAME.match(name.strip().lower()):
            raise RuleError(
                where,
                f"group name {name!r} must be one word of letters, digits, '.', '-' or '_' "
                "(e.g. `eng-leads`)",
                line,
            )
        principal = namespace + name.strip().lower()
        if principal in groups:
            raise RuleError(
                where, f"group {name!r} is defined twice (names ignore case); merge the lists", line
            )
        groups[principal] = _members(where, name, value_node, line)
    return groups


def _members(where: str, name: str, node: yaml.Node, key_line: int) -> frozenset[str]:
    if _is_null(node):
        raise RuleError(
            where,
            f"group {name!r} has no member list; write `{name}: []` for an empty group",
            key_line,
        )
    if not isinstance(node, yaml.SequenceNode):
        raise RuleError(
            where,
            f"members of {name!r} must be a list; write `{name}: [alice@example.com]`",
            _line(node),
        )
    members: set[str] = set()
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
            raise RuleError(where, "each member must be one email address", _line(item))
        raw = item.value.strip()
        if ":" in raw:
            raise RuleError(
                where,
                f"{raw!r}: members are plain email addresses (no `user:` prefix, no nested "
                "groups); write the address alone, e.g. `- alice@example.com`",
                _line(item),
            )
        try:
            members.add(parse_principal(f"user:{raw}").removeprefix("user:"))
        except PrincipalError:
            raise RuleError(
                where,
                f"{raw!r} is not an email address; write e.g. `- alice@example.com`",
                _line(item),
            ) from None
    return frozenset(members)


def _principals(
    where: str, key: str, node: yaml.Node, key_line: int, line_offset: int = 0
) -> frozenset[str]:
    if _is_null(node):
        raise RuleError(
            where,
            f"`{key}` is empty; list at least one principal, e.g. `{key}: [org:members]`",
            key_line,
        )
    if isinstance(node, yaml.ScalarNode):
        raise RuleError(
            where,
            f"`{key}` must be a list; write `{key}: [{node.value}]`",
            _line(node, line_offset),
        )
    if not isinstance(node, yaml.SequenceNode):
        raise RuleError(
            where,
            f"`{key}` must be a list of principals; write `{key}: [{_PRINCIPAL_FORMS}]`",
            _line(node, line_offset),
        )
    if not node.value:
        # An empty list would mean "nobody"; that is almost always an unfinished edit.
        raise RuleError(
            where,
            f"`{key}` is an empty list; list at least one principal, e.g. `{key}: [org:members]`",
            _line(node, line_offset),
        )
    return frozenset(_principal(where, item, line_offset) for item in node.value)


def _principal(where: str, node: yaml.Node, line_offset: int) -> str:
    line = _line(node, line_offset)
    if isinstance(node, yaml.MappingNode) and len(node.value) == 1:
        k, v = node.value[0]
        if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode):
            # `- user: bob@x.com` parses as a mapping because of the space after the colon.
            raise RuleError(
                where,
                f"`{k.value}: {v.value}` is not a principal; remove the space after the colon: "
                f"`{k.value}:{v.value}`",
                line,
            )
    if not isinstance(node, yaml.ScalarNode):
        raise RuleError(where, f"each item must be one principal ({_PRINCIPAL_FORMS})", line)
    raw = node.value.strip()
    if not raw:
        raise RuleError(
            where, f"empty item; write a principal ({_PRINCIPAL_FORMS}) or remove the line", line
        )
    try:
        principal = parse_principal(raw)
    except PrincipalError as exc:
        raise RuleError(where, f"{exc}; {_suggest(raw)}", line) from None
    if not lacks_instance(principal):
        return principal
    if not principal.startswith(_LOCAL_GROUP):
        provider = principal.split(":")[1]
        raise RuleError(
            where,
            f"{raw!r}: {provider} group ids are unique only within one connector; name it as "
            f"`group:{provider}:<connector>:<id>`",
            line,
        )
    if not _GROUP_NAME.match(principal.removeprefix(_LOCAL_GROUP)):  # this tree's own group
        raise RuleError(where, f"{raw!r}: group names are letters, digits, '.', '-' or '_'", line)
    return principal


def _suggest(raw: str) -> str:
    kind, sep, rest = raw.partition(":")
    close = difflib.get_close_matches(kind.lower(), _PRINCIPAL_KINDS, n=1, cutoff=0.6)
    if sep and close and close[0] != kind.lower():
        return f"did you mean `{close[0]}:{rest}`?"
    if not sep and "@" in raw:
        return f"did you mean `user:{raw}`?"
    return f"write {_PRINCIPAL_FORMS}"


def _title(where: str, node: yaml.Node, line_offset: int) -> str | None:
    if not isinstance(node, yaml.ScalarNode):
        raise RuleError(
            where,
            "front matter `title` must be plain text, e.g. `title: Leave policy`",
            _line(node, line_offset),
        )
    return node.value.strip() or None


def _compose(where: str, data: bytes, example: str) -> yaml.Node | None:
    try:
        text = decode_utf8(data)
    except UnicodeDecodeError as exc:
        raise RuleError(where, utf8_problem(exc), data.count(b"\n", 0, exc.start) + 1) from None
    return _compose_text(where, text, example)


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


def _compose_text(where: str, text: str, example: str, line_offset: int = 0) -> yaml.Node | None:
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


def _key(where: str, node: yaml.Node, line_offset: int = 0) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise RuleError(where, "keys must be plain words such as `allow`", _line(node, line_offset))
    return str(node.value)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _line(node: yaml.Node, line_offset: int = 0) -> int:
    return int(node.start_mark.line) + 1 + line_offset
