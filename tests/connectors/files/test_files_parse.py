"""The files connector's parser: the shared parsers, with Markdown front matter read for the
title and the file's own access rule."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.files.parse import parse_file
from connectors.files.rules import RuleError
from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from core.models import Section


def test_markdown_front_matter_sets_title_acl_clause_and_owner_and_ignores_other_keys() -> None:
    data = (
        b"---\n"
        b"title: Salary bands\n"
        b"owner: people-team\n"
        b"tags: [pay, hr]\n"
        b"acl:\n"
        b"  - group:files:People-Leads\n"
        b"  - USER:cfo@example.com\n"
        b"---\n"
        b"# Bands 2026\n"
        b"Band 1: 40k.\n"
    )
    parsed = parse_file("hr/bands.md", data)
    assert parsed.title == "Salary bands"  # front matter wins over the first heading
    assert parsed.acl_clause == frozenset({"group:files:people-leads", "user:cfo@example.com"})
    assert parsed.owner == "people-team"
    assert parsed.sections == (Section(("Bands 2026",), "Band 1: 40k."),)


def test_markdown_bad_principal_in_front_matter_reports_the_file_line() -> None:
    data = b"---\ntitle: X\nacl:\n  - org:members\n  - usr:bob@example.com\n---\nbody\n"
    with pytest.raises(RuleError) as info:
        parse_file("notes/x.md", data)
    assert info.value.line == 5  # line 5 of the file, not of the front-matter block
    assert str(info.value).startswith("notes/x.md line 5: ")
    assert "did you mean `user:bob@example.com`?" in str(info.value)


def test_markdown_unclosed_front_matter_fails_closed() -> None:
    with pytest.raises(RuleError, match=r"x.md line 1: front matter .* never closed"):
        parse_file("x.md", b"---\nacl: [user:a@example.com]\n# Title\ntext\n")


def test_markdown_front_matter_key_that_looks_like_a_rule_is_an_error() -> None:
    with pytest.raises(RuleError, match=r"x.md line 3: front matter key 'allow' .* write `acl:"):
        parse_file("x.md", b"---\ntitle: T\nallow: [org:members]\n---\ntext\n")


def test_front_matter_then_body() -> None:
    data = b"---\ntitle: Pay\nacl: [org:members]\n---\nBands\n=====\n\n**Band 1**: 40k.\n"
    parsed = parse_file("hr/pay.md", data)
    assert parsed.title == "Pay"
    assert parsed.acl_clause == frozenset({"org:members"})
    assert parsed.sections == (Section(("Bands",), "Band 1: 40k."),)


def test_other_types_parse_as_the_shared_parsers_do() -> None:
    for name, data in [("a.txt", b"plain\n"), ("a.html", b"<h1>T</h1><p>x</p>"),
                       ("a.md", b"# T\n\nbody\n")]:
        assert parse_file(name, data) == parse_document(name, data)


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.binary(max_size=300) | st.sampled_from([b"---\n", b"---\nacl: [\n---\n"]))
def test_arbitrary_markdown_bytes_never_escape_as_other_exceptions(data: bytes) -> None:
    try:
        parsed = parse_file("a.md", data)
    except (ParseError, RuleError):
        return
    assert all(s.text.strip() for s in parsed.sections)
