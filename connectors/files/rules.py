"""Hand-written access rules: ``_acl.yaml``, Markdown front matter and ``groups.yaml``.

People write these files by hand, and a mistake in one decides who may read a document, so
every problem is reported with the file, the line and what to write instead. Nothing here
guesses: anything unexpected is an error, and the connector fails closed on it.

Group names are local to the folder tree: ``group:files:hr`` in a rule means the ``hr`` of this
tree's ``groups.yaml`` and is stored as ``group:files:<instance>:hr`` (:func:`qualify`), so a
second tree that also defines ``hr`` grants nothing here. A rule may still name another
instance's group in full (``group:files:<instance>:<name>``), or a Confluence group with its
instance (``group:confluence:<instance>:<id>``).

The YAML is read by rule_yaml.py, which keeps every node's line for the error messages.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import yaml

from core.acl import PrincipalError, lacks_instance, parse_principal

from .rule_yaml import RuleError, compose, compose_text, is_null, key_of, line_of

ACL_FILE = "_acl.yaml"
GROUPS_FILE = "groups.yaml"

_ALLOW_EXAMPLE = "allow: [user:alice@example.com, group:files:engineering, org:members]"
_FRONT_MATTER_EXAMPLE = "acl: [group:files:engineering]"
_OWNER_EXAMPLE = "owner: Priya Raman (People team)"
OWNER_LIMIT = 200  # characters of a front matter `owner:`
# Invisible characters that reorder text: a name must read as it is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_GROUPS_EXAMPLE = "engineering: [alice@example.com, bob@example.com]"
_PRINCIPAL_FORMS = "user:<email>, group:<provider>:<id> or org:members"
_PRINCIPAL_KINDS = ("user", "group", "org")
_LOCAL_GROUP = "group:files:"
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

# Front matter keys that look like an attempt at an access rule. Ignoring them (as other keys
# are ignored) would leave the document readable by more people than its author meant.
_ACL_LOOKALIKES = frozenset({"allow", "acls", "access", "permissions", "readers"})


@dataclass(frozen=True)
class FrontMatter:
    title: str | None
    acl_clause: frozenset[str] | None
    owner: str | None = None  # whom to ask about the document: a person or a team


def parse_acl_file(where: str, data: bytes) -> frozenset[str]:
    """The allow-list of one folder's ``_acl.yaml``: exactly ``allow: [principal, ...]``."""
    root = compose(where, data, _ALLOW_EXAMPLE)
    if root is None:
        raise RuleError(where, f"the file is empty; write `{_ALLOW_EXAMPLE}`", 1)
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where,
            f"expected a mapping with the single key `allow`; write `{_ALLOW_EXAMPLE}`",
            line_of(root),
        )
    allow: yaml.Node | None = None
    allow_line = 1
    for key_node, value_node in root.value:
        key = key_of(where, key_node)
        if key != "allow":
            raise RuleError(
                where,
                f"unknown key {key!r}; the only key is `allow` (write `{_ALLOW_EXAMPLE}`)",
                line_of(key_node),
            )
        if allow is not None:
            raise RuleError(
                where, "`allow` appears twice; merge both lists into one", line_of(key_node)
            )
        allow, allow_line = value_node, line_of(key_node)
    if allow is None:
        raise RuleError(where, f"`allow` is missing; write `{_ALLOW_EXAMPLE}`", line_of(root))
    return _principals(where, "allow", allow, allow_line)


def parse_front_matter(where: str, text: str, first_line: int) -> FrontMatter:
    """Markdown front matter: ``title:``, ``acl: [principal, ...]`` and ``owner:`` (one line of
    text naming whom to ask about the document); other keys are ignored.

    ``first_line`` is the file line on which ``text`` starts, so that errors point into the file
    the author edits rather than into the extracted block."""
    root = compose_text(where, text, _FRONT_MATTER_EXAMPLE, first_line - 1)
    if root is None:
        return FrontMatter(None, None)
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where,
            "front matter must be `key: value` lines (for example `title: ...` and "
            "`acl: [group:files:engineering]`)",
            line_of(root, first_line - 1),
        )
    title: str | None = None
    clause: frozenset[str] | None = None
    owner: str | None = None
    seen: set[str] = set()
    for key_node, value_node in root.value:
        key = key_of(where, key_node, first_line - 1)
        line = line_of(key_node, first_line - 1)
        if key in seen and key in ("acl", "title", "owner"):
            raise RuleError(where, f"front matter `{key}` appears twice; keep one", line)
        seen.add(key)
        if key == "acl":
            clause = _principals(where, "acl", value_node, line, first_line - 1)
        elif key == "title":
            title = _title(where, value_node, first_line - 1)
        elif key == "owner":
            owner = _owner(where, value_node, line, first_line - 1)
        elif key.lower() == "acl" or key.lower() in _ACL_LOOKALIKES:
            raise RuleError(
                where,
                f"front matter key {key!r} is not an access rule and would be ignored; "
                "write `acl: [principal, ...]` to restrict this document",
                line,
            )
    return FrontMatter(title, clause, owner)


def qualify(clause: frozenset[str], namespace: str) -> frozenset[str]:
    """A rule's clause with this tree's own groups (``group:files:<name>``) in ``namespace``."""
    return frozenset(
        namespace + p.removeprefix(_LOCAL_GROUP) if p.startswith(_LOCAL_GROUP) and lacks_instance(p) else p
        for p in clause
    )


def parse_groups_file(where: str, data: bytes, namespace: str) -> dict[str, frozenset[str]]:
    """``groups.yaml``: group name -> list of member emails, keyed by group principal in
    ``namespace`` (``group:files:<instance>:<name>``)."""
    root = compose(where, data, _GROUPS_EXAMPLE)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise RuleError(
            where, f"expected group names as keys; write `{_GROUPS_EXAMPLE}`", line_of(root)
        )
    groups: dict[str, frozenset[str]] = {}
    for key_node, value_node in root.value:
        name = key_of(where, key_node)
        line = line_of(key_node)
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
    if is_null(node):
        raise RuleError(
            where,
            f"group {name!r} has no member list; write `{name}: []` for an empty group",
            key_line,
        )
    if not isinstance(node, yaml.SequenceNode):
        raise RuleError(
            where,
            f"members of {name!r} must be a list; write `{name}: [alice@example.com]`",
            line_of(node),
        )
    members: set[str] = set()
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
            raise RuleError(where, "each member must be one email address", line_of(item))
        raw = item.value.strip()
        if ":" in raw:
            raise RuleError(
                where,
                f"{raw!r}: members are plain email addresses (no `user:` prefix, no nested "
                "groups); write the address alone, e.g. `- alice@example.com`",
                line_of(item),
            )
        try:
            members.add(parse_principal(f"user:{raw}").removeprefix("user:"))
        except PrincipalError:
            raise RuleError(
                where,
                f"{raw!r} is not an email address; write e.g. `- alice@example.com`",
                line_of(item),
            ) from None
    return frozenset(members)


def _principals(
    where: str, key: str, node: yaml.Node, key_line: int, line_offset: int = 0
) -> frozenset[str]:
    if is_null(node):
        raise RuleError(
            where,
            f"`{key}` is empty; list at least one principal, e.g. `{key}: [org:members]`",
            key_line,
        )
    if isinstance(node, yaml.ScalarNode):
        raise RuleError(
            where,
            f"`{key}` must be a list; write `{key}: [{node.value}]`",
            line_of(node, line_offset),
        )
    if not isinstance(node, yaml.SequenceNode):
        raise RuleError(
            where,
            f"`{key}` must be a list of principals; write `{key}: [{_PRINCIPAL_FORMS}]`",
            line_of(node, line_offset),
        )
    if not node.value:
        # An empty list would mean "nobody"; that is almost always an unfinished edit.
        raise RuleError(
            where,
            f"`{key}` is an empty list; list at least one principal, e.g. `{key}: [org:members]`",
            line_of(node, line_offset),
        )
    return frozenset(_principal(where, item, line_offset) for item in node.value)


def _principal(where: str, node: yaml.Node, line_offset: int) -> str:
    line = line_of(node, line_offset)
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


def _owner(where: str, node: yaml.Node, key_line: int, line_offset: int) -> str:
    """``owner:``: one line of text (a person or a team), at most OWNER_LIMIT characters, with
    no control characters."""
    line = line_of(node, line_offset)
    value = node.value.strip() if isinstance(node, yaml.ScalarNode) else ""
    if is_null(node) or (isinstance(node, yaml.ScalarNode) and not value):
        problem, line = "is empty", key_line
    elif not isinstance(node, yaml.ScalarNode):
        problem = "must be one name in plain text, not a list or a mapping"
    elif node.tag != "tag:yaml.org,2002:str":
        problem = f"{node.value!r} reads as a number, a date or true/false, not a name; put it in quotes"
    elif node.style in ("|", ">") or "\n" in node.value or node.end_mark.line != node.start_mark.line:
        problem = "must be on one line"
    elif len(value) > OWNER_LIMIT:
        problem = f"is {len(value)} characters long, more than {OWNER_LIMIT}"
    elif bad := next((c for c in value if c in _BIDI_CONTROLS
                      or unicodedata.category(c) in ("Cc", "Zl", "Zp")), None):
        problem = f"contains the control character U+{ord(bad):04X}"
    else:
        return value
    raise RuleError(
        where, f"front matter `owner` {problem}; write whom to ask, e.g. `{_OWNER_EXAMPLE}`", line
    )


def _title(where: str, node: yaml.Node, line_offset: int) -> str | None:
    if not isinstance(node, yaml.ScalarNode):
        raise RuleError(
            where,
            "front matter `title` must be plain text, e.g. `title: Leave policy`",
            line_of(node, line_offset),
        )
    return node.value.strip() or None
