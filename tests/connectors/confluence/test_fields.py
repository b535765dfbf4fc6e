"""Whom a Confluence page names as its owner: display names only."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.confluence.fields import author, owner

ALICE = {"type": "known", "accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Alice Example",
         "publicName": "alice", "email": "alice@example.com"}


@pytest.mark.parametrize(
    ("user", "name"),
    [
        pytest.param(ALICE, "Alice Example", id="display-name"),
        pytest.param({**ALICE, "displayName": ""}, "alice", id="public-name"),
        pytest.param({**ALICE, "displayName": "  Alice \n Example "}, "Alice Example", id="whitespace"),
        pytest.param({**ALICE, "displayName": ALICE["accountId"], "publicName": ""}, None, id="account-id"),
        pytest.param({**ALICE, "displayName": "Alice@Example.com", "publicName": None}, None, id="email"),
        pytest.param({"type": "known", "username": "asmith", "displayName": "asmith"}, None, id="dc-username"),
        pytest.param({"type": "known", "accountId": "x"}, None, id="no-name"),
        pytest.param({"type": "anonymous", "displayName": "Anonymous"}, None, id="anonymous"),
        pytest.param(None, None, id="missing"),
        pytest.param("Alice", None, id="not-an-object"),
    ],
)
def test_author_is_a_display_name_or_none(user: Any, name: str | None) -> None:
    assert author(user) == name


def test_owner_is_the_last_editor_else_the_creator() -> None:
    bob = {"type": "known", "accountId": "b", "displayName": "Bob Example"}
    nameless = {"type": "known", "accountId": "c"}
    assert owner({"version": {"by": bob}, "history": {"createdBy": ALICE}}) == "Bob Example"
    assert owner({"version": {"by": nameless}, "history": {"createdBy": ALICE}}) == "Alice Example"
    assert owner({"version": {"number": 2}, "history": {"createdBy": ALICE}}) == "Alice Example"
    assert owner({"version": {"by": nameless}}) is None
    assert owner({}) is None
