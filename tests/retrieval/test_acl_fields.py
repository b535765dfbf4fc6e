import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.acl import ORG_MEMBERS, Acl
from retrieval.acl_fields import (
    ACL_FIELDS,
    ANY,
    NOBODY,
    AclEncodingError,
    encode_acl,
    needs_expansion,
)

MEMBERS = {
    "group:files:a": {"u1@x.io", "u2@x.io", "u3@x.io"},
    "group:files:b": {"u2@x.io", "u3@x.io"},
    "group:files:c": {"u3@x.io", "u4@x.io"},
}


def members(group: str) -> set[str]:
    return MEMBERS.get(group, set())


def satisfied(fields, principals) -> bool:  # type: ignore[no-untyped-def]
    held = set(principals) | {ANY}
    return all(held & set(f) for f in fields)


def test_short_acl_pads_with_any() -> None:
    fields = encode_acl(Acl.of([[ORG_MEMBERS], ["group:files:a"]]), members)
    assert len(fields) == ACL_FIELDS
    assert fields[2:] == ((ANY,), (ANY,))


def test_surplus_clauses_are_intersected_into_users() -> None:
    acl = Acl.of([[ORG_MEMBERS], ["user:z@x.io", "group:files:c"], ["group:files:a"], ["group:files:b"], ["user:u3@x.io", "user:u2@x.io"]])
    assert needs_expansion(acl)
    fields = encode_acl(acl, members)
    assert len(fields) == ACL_FIELDS
    # Anyone the encoding admits satisfies the original ACL, and vice versa, for these users.
    groups_of = {u: {g for g, m in MEMBERS.items() if u in m} for u in ["u1@x.io", "u2@x.io", "u3@x.io", "u4@x.io", "z@x.io"]}
    for user, groups in groups_of.items():
        principals = {f"user:{user}", ORG_MEMBERS} | groups
        assert satisfied(fields, principals) == acl.allows(principals), user


def test_empty_intersection_allows_nobody() -> None:
    acl = Acl.of([["user:a@x.io"], ["user:b@x.io"], ["user:c@x.io"], ["user:d@x.io"], ["user:e@x.io"]])
    fields = encode_acl(acl, members)
    assert (NOBODY,) in fields
    assert not satisfied(fields, ["user:a@x.io", "user:b@x.io", "user:c@x.io", "user:d@x.io", "user:e@x.io"][:1])


def test_many_org_clauses_merge_by_distributivity() -> None:
    clauses = [[ORG_MEMBERS, f"group:files:{g}"] for g in "abc"] + [["user:u3@x.io", "user:u1@x.io"], ["user:u2@x.io", "user:z@x.io"]]
    acl = Acl.of(clauses)
    assert len(acl.clauses) == 5
    fields = encode_acl(acl, members)
    assert fields[0] == (ORG_MEMBERS, "user:u3@x.io")  # org OR (a AND b AND c) = org OR u3
    for principals in ([ORG_MEMBERS, "user:u1@x.io"], ["user:u3@x.io", "group:files:c"], [ORG_MEMBERS, "user:u2@x.io", "user:u1@x.io"]):
        assert satisfied(fields, principals) == acl.allows(principals)


_EMAILS = ["u1@x.io", "u2@x.io", "u3@x.io", "u4@x.io", "z@x.io"]
_principal = st.sampled_from([f"user:{e}" for e in _EMAILS] + sorted(MEMBERS) + [ORG_MEMBERS])


@settings(max_examples=400, database=None)
@given(
    clauses=st.lists(st.lists(_principal, min_size=1, max_size=3), min_size=1, max_size=8),
    email=st.sampled_from(_EMAILS),
    member=st.booleans(),
)
def test_encoding_admits_exactly_the_readers(clauses: list[list[str]], email: str, member: bool) -> None:
    acl = Acl.of(clauses)
    fields = encode_acl(acl, members)
    assert len(fields) == ACL_FIELDS
    principals = {f"user:{email}"} | {g for g, m in MEMBERS.items() if email in m}
    if member:
        principals.add(ORG_MEMBERS)
    assert satisfied(fields, principals) == acl.allows(principals)


def test_empty_acl_refused() -> None:
    with pytest.raises(AclEncodingError):
        encode_acl(Acl.of([]), members)
