from __future__ import annotations

import pytest

from connectors.files import RuleError
from connectors.files.rules import parse_acl_file, parse_front_matter, parse_groups_file

WHERE = "eng/_acl.yaml"


def test_acl_file_block_list_normalises_principals() -> None:
    data = b"# engineers only\nallow:\n  - Group:Files:Engineering\n  - user:CTO@Example.com\n"
    assert parse_acl_file(WHERE, data) == frozenset(
        {"group:files:engineering", "user:cto@example.com"}
    )


def test_acl_file_flow_list() -> None:
    assert parse_acl_file(WHERE, b"allow: [org:members, 'user:a@example.com']") == frozenset(
        {"org:members", "user:a@example.com"}
    )


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        pytest.param(
            b"allow:\n  - org:members\n - user:a@example.com\n",
            3,
            "not valid YAML",
            id="bad-syntax",
        ),
        pytest.param(b"allow: [org:members\n", 2, "not valid YAML", id="unclosed-flow-list"),
        pytest.param(
            b"# rules\n{}\n", 2, "`allow` is missing; write `allow: [", id="allow-missing"
        ),
        pytest.param(b"\n\nallow: []\n", 3, "`allow` is an empty list", id="empty-list"),
        pytest.param(
            b"allow:\n", 1, "`allow` is empty; list at least one principal", id="null-allow"
        ),
        pytest.param(
            b"allow: org:members\n",
            1,
            "`allow` must be a list; write `allow: [org:members]`",
            id="scalar",
        ),
        pytest.param(
            b"allow:\n  - org:members\ndeny:\n  - user:a@example.com\n",
            3,
            "unknown key 'deny'; the only key is `allow`",
            id="unknown-key",
        ),
        pytest.param(
            b"allow:\n  - org:members\n  - usr:bob@x.com\n",
            3,
            "'usr:bob@x.com': unknown principal kind 'usr' (expected user, group or org); "
            "did you mean `user:bob@x.com`?",
            id="bad-principal",
        ),
        pytest.param(
            b"allow:\n  - user: bob@x.com\n",
            2,
            "remove the space after the colon: `user:bob@x.com`",
            id="space-after-colon",
        ),
        pytest.param(
            b"allow:\n  - bob@x.com\n", 2, "did you mean `user:bob@x.com`?", id="bare-email"
        ),
        pytest.param(b"allow:\n  -\n", 2, "empty item", id="empty-item"),
        pytest.param(
            b"allow: [org:members]\nallow: [user:a@x.com]\n", 2, "appears twice", id="duplicate"
        ),
        pytest.param(b"", 1, "the file is empty", id="empty-file"),
        pytest.param(
            b"- org:members\n",
            1,
            "expected a mapping with the single key `allow`",
            id="top-level-list",
        ),
        pytest.param(
            b"allow:\n  - org:m\xe9mbers\n",
            2,
            "not valid UTF-8 (first bad byte at offset 16)",
            id="latin1",
        ),
    ],
)
def test_acl_file_errors_name_file_line_and_fix(data: bytes, line: int, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_acl_file(WHERE, data)
    assert info.value.line == line
    assert str(info.value).startswith(f"{WHERE} line {line}: ")
    assert fragment in str(info.value)


def test_front_matter_line_numbers_are_file_lines() -> None:
    with pytest.raises(RuleError) as info:
        parse_front_matter("a.md", "title: x\nacl: []\n", first_line=2)
    assert str(info.value).startswith("a.md line 3: `acl` is an empty list")


def test_front_matter_yaml_syntax_error_line() -> None:
    with pytest.raises(RuleError) as info:
        parse_front_matter("a.md", "title: x\nacl: [org:members\n", first_line=2)
    assert info.value.line == 4
    assert "not valid YAML" in str(info.value)


def test_front_matter_title_must_be_text() -> None:
    with pytest.raises(RuleError, match=r"a.md line 2: front matter `title` must be plain text"):
        parse_front_matter("a.md", "title: [a, b]\n", first_line=2)


def test_empty_front_matter_is_no_rule() -> None:
    front = parse_front_matter("a.md", "", first_line=2)
    assert (front.title, front.acl_clause, front.owner) == (None, None, None)


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        pytest.param("owner: Priya Raman (People team)\n", "Priya Raman (People team)", id="plain"),
        pytest.param("owner:   Inês Carvalho  \n", "Inês Carvalho", id="trimmed-non-ascii"),
        pytest.param("owner: 'Finance: accounts payable'\n", "Finance: accounts payable", id="quoted-colon"),
        pytest.param('owner: "42"\n', "42", id="quoted-number"),
        pytest.param("owner: " + "x" * 200 + "\n", "x" * 200, id="at-the-limit"),
        pytest.param("owner: Shirin Rahimi\u200cpour\n", "Shirin Rahimi\u200cpour", id="zero-width-non-joiner"),
    ],
)
def test_front_matter_owner(text: str, owner: str) -> None:
    front = parse_front_matter("a.md", "title: T\n" + text + "acl: [org:members]\n", first_line=2)
    assert (front.title, front.owner, front.acl_clause) == ("T", owner, frozenset({"org:members"}))


def test_front_matter_owner_is_optional_and_other_keys_stay_ignored() -> None:
    front = parse_front_matter("a.md", "Owner: Priya\nowners: [a, b]\nauthor: Jonas\n", first_line=2)
    assert front.owner is None  # only `owner` is read; the rest are ignored as before


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param("owner:\n", 3, "`owner` is empty", id="null"),
        pytest.param("owner: ''\n", 3, "`owner` is empty", id="empty-string"),
        pytest.param("owner: [Priya, Jonas]\n", 3, "not a list or a mapping", id="list"),
        pytest.param("owner:\n  name: Priya\n", 4, "not a list or a mapping", id="mapping"),
        pytest.param("owner: 42\n", 3, "'42' reads as a number, a date or true/false", id="number"),
        pytest.param("owner: yes\n", 3, "put it in quotes", id="boolean"),
        pytest.param("owner: 2026-01-31\n", 3, "put it in quotes", id="date"),
        pytest.param("owner: |\n  Priya\n  Jonas\n", 3, "must be on one line", id="block-scalar"),
        pytest.param("owner: >-\n  Priya Raman\n", 3, "must be on one line", id="folded-scalar"),
        pytest.param("owner: Priya\n  Raman\n", 3, "must be on one line", id="plain-over-two-lines"),
        pytest.param('owner: "Priya\\nRaman"\n', 3, "must be on one line", id="escaped-newline"),
        pytest.param("owner: " + "x" * 201 + "\n", 3, "is 201 characters long, more than 200", id="too-long"),
        pytest.param('owner: "Priya\\tRaman"\n', 3, "control character U+0009", id="tab"),
        pytest.param('owner: "Priya\\x07"\n', 3, "control character U+0007", id="bell"),
        pytest.param('owner: "Priya \\u202eRaman"\n', 3, "control character U+202E", id="bidi-override"),
        pytest.param("owner: A\nowner: B\n", 4, "front matter `owner` appears twice; keep one", id="twice"),
    ],
)
def test_front_matter_owner_errors_name_file_line_and_fix(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_front_matter("hr/a.md", "title: T\n" + text, first_line=2)
    assert info.value.line == line
    assert str(info.value).startswith(f"hr/a.md line {line}: ")
    assert fragment in str(info.value)
    if "twice" not in fragment:
        assert "e.g. `owner: Priya Raman (People team)`" in str(info.value)


def test_groups_file() -> None:
    data = b"Engineering:\n  - Alice@Example.com\n  - bob@example.com\nempty: []\n"
    assert parse_groups_file("groups.yaml", data, "group:files:t:") == {
        "group:files:t:engineering": frozenset({"alice@example.com", "bob@example.com"}),
        "group:files:t:empty": frozenset(),
    }


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        pytest.param(
            b"eng:\n  - alice@example.com\n  - bob(at)example.com\n",
            3,
            "'bob(at)example.com' is not an email",
            id="bad-email",
        ),
        pytest.param(
            b"eng:\n  - user:alice@example.com\n",
            2,
            "plain email addresses (no `user:` prefix",
            id="prefixed",
        ),
        pytest.param(
            b"eng:\n  - a@example.com\nsecurity team:\n  - b@example.com\n",
            3,
            "must be one word of letters, digits",
            id="bad-name",
        ),
        pytest.param(
            b"eng:\n  - a@example.com\nENG:\n  - b@example.com\n",
            3,
            "defined twice",
            id="duplicate",
        ),
        pytest.param(
            b"eng:\nops: []\n", 1, "write `eng: []` for an empty group", id="null-members"
        ),
        pytest.param(b"eng: a@example.com\n", 1, "must be a list", id="scalar-members"),
        pytest.param(
            b"eng:\n  - a@example.com\n - b@example.com\n", 3, "not valid YAML", id="bad-syntax"
        ),
    ],
)
def test_groups_file_errors(data: bytes, line: int, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_groups_file("groups.yaml", data, "group:files:t:")
    assert str(info.value).startswith(f"groups.yaml line {line}: ")
    assert fragment in str(info.value)
