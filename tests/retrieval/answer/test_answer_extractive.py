"""The extractive provider: the sentence that answers, cited, deterministic, for any text."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.answer.base import NO_SOURCES_ANSWER, Source
from retrieval.answer.citations import check_citations
from retrieval.answer.extractive import (
    MAX_QUOTES,
    MAX_WORDS,
    ExtractiveProvider,
    compose,
)
from retrieval.index.base import Hit
from tests.retrieval.answer.conftest import quoted_words

MakeHit = Callable[..., Hit]

HR = [
    (
        "Leave policy",
        ("Annual leave",),
        (
            "# Annual leave\nEvery employee gets 25 days of paid annual leave per calendar year. "
            "Leave must be requested in Workday at least two weeks in advance. Up to five unused "
            "days can be carried over to the next year; the rest expires on 31 March."
        ),
    ),
    (
        "Leave policy",
        ("Sick leave",),
        (
            "## Sick leave\nIf you are ill, tell your manager before 10:00. From the fourth day of "
            "illness you need a doctor's note. Sick days do not count against annual leave."
        ),
    ),
    (
        "Travel and expenses",
        ("Travel",),
        (
            "Book all travel through Navan. Economy class is required for flights under six hours. "
            "Meals are reimbursed up to 60 EUR per day."
        ),
    ),
]

IT = [
    (
        "VPN",
        ("Access",),
        (
            "1. Open the IT portal at https://it.example/vpn\n2. Choose *Request VPN access*\n"
            "3. Your manager approves the request"
        ),
    ),
    (
        "VPN",
        ("Linux",),
        (
            "```\nsudo apt install globalprotect\ngpclient connect vpn.example.com\n```\n"
            "On Linux the GlobalProtect client is installed from the company apt repository"
        ),
    ),
    (
        "Salary bands",
        (),
        "| Level | Band |\n|---|---|\n| L4 | 70k-90k EUR |\n| L5 | 90k-120k EUR |",
    ),
    (
        "Office",
        ("Wifi",),
        (
            "the guest wifi password changes every monday and is posted at reception "
            "this text has no punctuation because it came from a slide deck"
        ),
    ),
]


def _sources(make_hit: MakeHit, pages: list[tuple[str, tuple[str, ...], str]]) -> list[Source]:
    return [
        Source(i, make_hit(text, doc=f"{title}-{i}", title=title, heading=heading))
        for i, (title, heading, text) in enumerate(pages, 1)
    ]


@pytest.mark.parametrize(
    ("pages", "question", "answer", "number"),
    [
        (HR, "How many days of annual leave do I get?", "25 days of paid annual leave", 1),
        (HR, "How many unused leave days can I carry over?", "Up to five unused days", 1),
        (HR, "When do I need a doctor's note?", "From the fourth day of illness", 2),
        (HR, "What is the meal allowance?", "Meals are reimbursed up to 60 EUR", 3),
        (HR, "Can I fly business class?", "Economy class is required", 3),
        (IT, "How do I get VPN access?", "Choose *Request VPN access*", 1),
        (IT, "How do I install the VPN client on Linux?", "GlobalProtect client is installed", 2),
        (IT, "What is the salary band for L5?", "L5; Band: 90k-120k EUR", 3),
        (IT, "What is the guest wifi password?", "guest wifi password changes every monday", 4),
    ],
)
def test_picks_the_sentence_with_the_answer(
    make_hit: MakeHit,
    pages: list[tuple[str, tuple[str, ...], str]],
    question: str,
    answer: str,
    number: int,
) -> None:
    text = compose(question, _sources(make_hit, pages))
    first = text.split("\n\n")[0]
    assert answer in first, text  # the quote with the best piece comes first
    assert re.search(rf"{re.escape(answer)}[^\[]*\[{number}\]", text), text


def test_limits_quotes_and_words_and_skips_headings(make_hit: MakeHit) -> None:
    text = compose("leave days annual sick doctor travel meals", _sources(make_hit, HR))
    markers = re.findall(r"\[(\d+)\]", text)
    assert 1 <= len(markers) <= MAX_QUOTES
    assert quoted_words(text) <= MAX_WORDS
    assert "#" not in text


def test_deterministic(make_hit: MakeHit) -> None:
    sources = _sources(make_hit, HR + IT)
    first = compose("How do I get VPN access and how many leave days?", sources)
    assert all(
        compose("How do I get VPN access and how many leave days?", sources) == first
        for _ in range(5)
    )


async def test_streams_in_a_few_deltas_that_add_up(make_hit: MakeHit) -> None:
    sources = _sources(make_hit, HR)
    question = "How many days of annual leave do I get?"
    deltas = [d async for d in ExtractiveProvider().stream(question, sources)]
    assert 1 <= len(deltas) <= MAX_QUOTES
    assert "".join(deltas) == compose(question, sources)


async def test_no_word_in_common_declines_instead_of_quoting_the_nearest_passage(make_hit: MakeHit) -> None:
    sources = _sources(make_hit, HR)
    assert compose("quarterly okr planning", sources) == ""
    assert [d async for d in ExtractiveProvider().stream("quarterly okr planning", sources)] == [NO_SOURCES_ANSWER]


def test_a_passage_holding_only_the_questions_common_words_is_not_an_answer(make_hit: MakeHit) -> None:
    office = [
        make_hit("The Lisbon office has 90 desks and two phone booths."),
        make_hit("Tell the office manager about dietary requirements before the team lunch."),
        make_hit("The office opens at 8:00 and closes at 20:00."),
    ]
    sources = [Source(i, h) for i, h in enumerate(office, 1)]
    # "office" is in every passage (little weight); "dog" and "bring" in none (most weight).
    assert compose("Can I bring my dog to the office?", sources) == ""
    assert compose("When does the office open?", sources).startswith("The office opens at 8:00")


def test_sources_without_text_give_nothing(make_hit: MakeHit) -> None:
    assert compose("vpn?", [Source(1, make_hit("# Heading\n\n---\n"))]) == ""


@settings(max_examples=150, deadline=None)
@given(
    question=st.text(max_size=80),
    texts=st.lists(st.text(max_size=400), min_size=1, max_size=4),
)
def test_any_text_never_cites_a_non_source(question: str, texts: list[str]) -> None:
    sources = [
        Source(
            i,
            Hit(f"c{i}", f"d{i}", f"s{i}", f"T{i}", f"u{i}", (), text, 1.0),
        )
        for i, text in enumerate(texts, 1)
    ]
    text = compose(question, sources)
    raw = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    assert set(raw) <= set(range(1, len(texts) + 1)), text
    checked = check_citations(text, sources, provider="extractive")
    assert checked.removed_citations == ()
    assert bool(text) == bool(checked.citations)
    assert len(raw) <= MAX_QUOTES
    assert quoted_words(text) <= MAX_WORDS


def test_a_documents_own_bracketed_numbers_are_not_citations(make_hit: MakeHit) -> None:
    sources = [Source(1, make_hit("The VPN rollout finished in May [3] after the audit [12]."))]
    text = compose("When did the VPN rollout finish?", sources)
    assert text == "The VPN rollout finished in May (3) after the audit (12) [1]."
