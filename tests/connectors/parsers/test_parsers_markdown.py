"""The Markdown body as markdown-it-py reads it: what reaches the index, and what does not."""

from __future__ import annotations

from connectors.parsers.by_extension import parse_document
from core.models import Section


def _parse(text: str) -> tuple[str | None, list[Section]]:
    parsed = parse_document("doc.md", text.encode())
    return parsed.title, list(parsed.sections)


def test_setext_headings_are_headings_and_the_first_h1_is_the_title() -> None:
    title, sections = _parse("Handbook\n========\n\nIntro.\n\nLeave\n-----\n\n28 days.\n")
    assert title == "Handbook"
    assert sections == [
        Section(("Handbook",), "Intro."),
        Section(("Handbook", "Leave"), "28 days."),
    ]


def test_headings_inside_lists_and_quotes_are_text_not_sections() -> None:
    _, sections = _parse("# Top\n\n- # in a list\n\n> ## in a quote\n")
    assert sections == [Section(("Top",), "- in a list\n\nin a quote")]


def test_a_line_of_hashes_without_words_is_no_heading() -> None:
    _, sections = _parse("# A\n\n#\n\ntext\n")
    assert sections == [Section(("A",), "text")]


def test_inline_markup_links_images_html_and_escapes() -> None:
    _, sections = _parse(
        "Press <kbd>Ctrl</kbd>, see <https://intranet.example/a> and [the guide][g],\n"
        "![the logo](logo.png) \\*not emphasis\\*, ~~old~~ new, __bold__ and `a*b*c_d`.\n"
        "\n[g]: https://intranet.example/guide\n"
    )
    assert sections == [
        Section(
            (),
            "Press Ctrl, see https://intranet.example/a and the guide,\n"
            "the logo *not emphasis*, old new, bold and a*b*c_d.",
        )
    ]


def test_lists_keep_their_markers_numbers_and_nesting() -> None:
    _, sections = _parse("* one\n+ two\n\n3. three\n4. four\n   - nested\n     more\n")
    assert sections == [
        Section((), "- one\n- two\n3. three\n4. four\n   - nested\n     more"),
    ]


def test_tables_become_rows_without_the_delimiter_row() -> None:
    _, sections = _parse("| Country | Days |\n|---|--:|\n| PT | *25* |\n|  |  |\n| DE | `30` |\n")
    assert sections == [Section((), "Country | Days\nPT | 25\nDE | 30")]


def test_html_blocks_keep_their_text_but_not_tags_scripts_or_comments() -> None:
    _, sections = _parse(
        '<div class="note">\n<p>Ask &amp; <b>wait</b></p>\n</div>\n\n'
        "<script>track();</script>\n\n<style>p { color: red }</style>\n\n<!-- draft -->\n"
    )
    assert sections == [Section((), "Ask & wait")]


def test_code_is_verbatim_in_fences_indented_blocks_and_list_items() -> None:
    _, sections = _parse(
        "```sh\n# not a heading\nrm -rf *.tmp  \n```\n\n    indented_code = *1*\n\n"
        "- step:\n\n  ```\n  make _all_\n  ```\n"
    )
    assert sections == [
        Section(
            (),
            "# not a heading\nrm -rf *.tmp\n\nindented_code = *1*\n\n- step:\n\n  make _all_",
        )
    ]


def test_text_after_very_deep_nesting_is_kept() -> None:
    # markdown-it-py on its own drops everything after nesting deeper than its maxNesting.
    deep_list = "\n".join("  " * i + f"- level {i}" for i in range(40))
    deep_quote = "> " * 100 + "quoted"
    _, sections = _parse(f"{deep_list}\n\n{deep_quote}\n\n# After\n\nstill here\n")
    assert sections[-1] == Section(("After",), "still here")
    body = sections[0].text
    assert all(f"level {i}" in body for i in range(40))
    assert body.endswith("quoted")


def test_a_leading_dashed_block_is_text_here_never_dropped_unread() -> None:
    # Front matter means something to the files connector only (connectors.files.parse); a
    # Confluence attachment that starts with a rule keeps every line in the index.
    data = b"---\nowner: the pay team\nreview: yearly\n---\n\n**Band 1**: 40k.\n"
    parsed = parse_document("hr/pay.md", data)
    assert parsed.acl_clause is None
    assert parsed.sections == (Section(("owner: the pay team review: yearly",), "Band 1: 40k."),)


def test_an_unclosed_front_matter_line_is_a_thematic_break() -> None:
    parsed = parse_document("x.md", b"---\n# Title\ntext\n")
    assert parsed.title == "Title"
    assert parsed.sections == (Section(("Title",), "text"),)
