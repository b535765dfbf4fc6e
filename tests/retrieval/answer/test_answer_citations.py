"""The citation check: invented numbers removed, renumbering, uncited sources hidden, one
citation per document and heading."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retrieval.answer.base import Source
from retrieval.answer.citations import CitationChecker, check_citations
from retrieval.index.base import Hit


@pytest.fixture
def sources(make_hit: Callable[..., Hit]) -> list[Source]:
    hits = [
        make_hit(
            "VPN requests go through the IT portal.", doc="vpn", title="VPN", heading=("Access",)
        ),
        make_hit("Laptops are replaced every three years.", doc="laptops", title="Laptops"),
        make_hit("Approval takes one working day.", doc="vpn", title="VPN", heading=("Access",)),
        make_hit("The VPN client is GlobalProtect.", doc="vpn", title="VPN", heading=("Client",)),
        make_hit("Expenses are paid monthly.", doc="expenses", title="Expenses"),
    ]
    return [Source(i, h) for i, h in enumerate(hits, 1)]


def test_invalid_numbers_are_removed_and_recorded(sources: list[Source]) -> None:
    final = check_citations(
        "Use the IT portal [1][7]. Ignore this [0]. Also [9, 1].", sources, provider="groq"
    )
    assert final.text == "Use the IT portal [1]. Ignore this. Also [1]."
    assert final.removed_citations == (7, 0, 9)
    assert [c.number for c in final.citations] == [1]


def test_cited_sources_are_renumbered_in_order_of_first_citation(sources: list[Source]) -> None:
    final = check_citations(
        "The client is GlobalProtect [4]. Expenses are monthly [5]. Again [4, 5].",
        sources,
        provider="groq",
    )
    assert final.text == "The client is GlobalProtect [1]. Expenses are monthly [2]. Again [1][2]."
    assert [(c.number, c.title, c.source_id) for c in final.citations] == [
        (1, "VPN", "vpn.md"),
        (2, "Expenses", "expenses.md"),
    ]
    assert final.citations[0].heading_path == ("Client",)
    assert final.citations[0].url == "https://wiki.example/vpn"


def test_uncited_sources_are_not_shown(sources: list[Source]) -> None:
    final = check_citations("Laptops last three years [2].", sources, provider="groq")
    assert [c.title for c in final.citations] == ["Laptops"]


def test_same_document_and_heading_collapse_into_one_citation(sources: list[Source]) -> None:
    # Sources 1 and 3 are two chunks of VPN > Access; 4 is another heading of the same page.
    final = check_citations(
        "Request it in the portal [1]. It takes a day [3]. Both [1][3]. Client [4].",
        sources,
        provider="groq",
    )
    assert final.text == "Request it in the portal [1]. It takes a day [1]. Both [1]. Client [2]."
    assert [(c.number, c.heading_path) for c in final.citations] == [
        (1, ("Access",)),
        (2, ("Client",)),
    ]


def test_marker_variants(sources: list[Source]) -> None:
    final = check_citations(
        "A [2, 5]. B [5; 2]. C [Source 1]. D [sources 2,1]. E [ 5 ]. F [3-4]. G [4-9].",
        sources,
        provider="groq",
    )
    assert final.text == "A [1][2]. B [2][1]. C [3]. D [1][3]. E [2]. F [3][4]. G [4][2]."
    assert final.removed_citations == (6, 7, 8, 9)


def test_non_markers_are_left_alone(sources: list[Source]) -> None:
    text = "In [2024] the policy [see below] changed; arrays like a[1] stay? No: a[1]."
    final = check_citations(text, sources, provider="groq")
    # "[2024]" and "[see below]" are not markers; "a[1]" is (models write "word[1]").
    assert (
        final.text == "In [2024] the policy [see below] changed; arrays like a[1] stay? No: a[1]."
    )
    assert len(final.citations) == 1


def test_text_with_nothing_valid_has_no_citations(sources: list[Source]) -> None:
    final = check_citations("Do as the document says [9].", sources, provider="groq")
    assert final.text == "Do as the document says."
    assert final.citations == () and final.removed_citations == (9,)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_streaming_gives_the_same_text_however_it_is_cut(sources: list[Source], size: int) -> None:
    text = "  First [3] and [1][9]  then [ 4 ,5 ] and [2024] x [Source 2]\n[8]\nend [5] [5]  "
    batch = check_citations(text, sources, provider="groq")
    checker = CitationChecker(sources)
    shown = [checker.feed(text[i : i + size]) for i in range(0, len(text), size)]
    shown.append(checker.finish())
    assert "".join(shown) == batch.text == checker.text
    assert checker.citations == batch.citations
    assert checker.removed == batch.removed_citations


def test_streaming_holds_back_only_what_may_be_a_marker(sources: list[Source]) -> None:
    checker = CitationChecker(sources)
    assert checker.feed("Use the portal") == "Use the portal"
    assert checker.feed(" [") == ""  # could become a marker
    assert checker.feed("9") == ""
    assert checker.feed("] now.") == " now."  # "[9]" was invalid: dropped with its space
    assert checker.finish() == ""
    assert checker.text == "Use the portal now."
