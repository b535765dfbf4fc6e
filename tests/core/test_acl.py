import pytest

from core.acl import ORG_MEMBERS, Acl, PrincipalError, parse_principal
from core.models import Document, DocumentRefused, Section


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("user:Alice@Example.com", "user:alice@example.com"),
        (" group:files:Engineering ", "group:files:engineering"),
        ("group:aad:5f2b-11", "group:aad:5f2b-11"),
        ("org:members", ORG_MEMBERS),
    ],
)
def test_valid_principals_are_normalised(raw: str, expected: str) -> None:
    assert parse_principal(raw) == expected


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("usr:bob@x.com", "unknown principal kind 'usr'"),
        ("bob@x.com", "is not a principal"),
        ("alice", "is not a principal"),
        ("user:alice", "needs an email address"),
        ("group:github:devs", "provider one of"),
        ("group:files:", "must be non-empty"),
        ("group:files:two words", "contain no spaces"),
        ("org:everyone", "the only org principal is org:members"),
    ],
)
def test_invalid_principals_say_why(raw: str, fragment: str) -> None:
    with pytest.raises(PrincipalError, match=fragment):
        parse_principal(raw)


def test_acl_is_cnf_and_order_independent() -> None:
    acl = Acl.of([["group:files:eng", "user:a@x.io"], ["group:files:sec"]])
    assert acl == Acl.of([["group:files:sec"], ["user:a@x.io", "group:files:eng"]])
    assert acl.allows(["group:files:eng", "group:files:sec"])
    assert acl.allows(["user:a@x.io", "group:files:sec"])
    assert not acl.allows(["group:files:eng"])  # misses the second clause
    assert not acl.allows(["group:files:sec"])  # misses the first clause
    assert not acl.allows([])


def test_superset_clauses_are_dropped() -> None:
    acl = Acl.of([[ORG_MEMBERS], [ORG_MEMBERS, "group:files:x"]])
    assert acl.clauses == (frozenset({ORG_MEMBERS}),)


def test_empty_clause_and_empty_acl() -> None:
    with pytest.raises(PrincipalError, match="at least one principal"):
        Acl.of([[]])
    assert not Acl.of([]).allows([ORG_MEMBERS])


def test_json_round_trip() -> None:
    acl = Acl.of([["group:files:b", "group:files:a"], [ORG_MEMBERS]])
    assert Acl.from_json(acl.to_json()) == acl


def test_document_without_acl_is_refused() -> None:
    doc = Document("d", "files:/x", "a.md", "A", "file:///x/a.md", (Section((), "hi"),), acl=None)
    with pytest.raises(DocumentRefused, match="a.md: no access rule applies"):
        doc.require_acl()
    empty = Document("d", "files:/x", "a.md", "A", "u", (Section((), "hi"),), acl=Acl.of([]))
    with pytest.raises(DocumentRefused):
        empty.require_acl()


def test_content_hash_ignores_acl_but_not_text() -> None:
    base = Document("d", "s", "a.md", "A", "u", (Section(("H",), "text"),), acl=Acl.of([[ORG_MEMBERS]]))
    other_acl = Document("d", "s", "a.md", "A", "u", (Section(("H",), "text"),), acl=Acl.of([["user:a@b.co"]]))
    other_text = Document("d", "s", "a.md", "A", "u", (Section(("H",), "text!"),), acl=base.acl)
    assert base.content_hash() == other_acl.content_hash()
    assert base.content_hash() != other_text.content_hash()
