"""Slides: title-headed sections, reading order, tables, groups, notes, hidden slides."""

from __future__ import annotations

import io
from collections.abc import Callable

import pptx
import pytest

from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from core.models import Section
from tests.connectors.parsers import office_files


def test_slides_become_title_headed_sections_with_tables_groups_and_notes() -> None:
    parsed = parse_document("deck.pptx", office_files.deck())
    assert parsed.title == "Leave handbook"
    assert parsed.sections == (
        Section(
            ("Annual leave",),
            "Everyone gets 28 days\nUp to 5 days carry over\n\n"
            "Grade | Days | Carry\n\nA | 28 | 5\n\nNotes:\nMention the HR tool",
        ),
        # No title placeholder: the slide's number heads it; the group and its inner group
        # are read in place, in shape-tree order.
        Section(("Slide 2",), "Sick leave: call by 10\n\nNested note"),
    )


def test_hidden_slides_are_skipped_and_numbering_counts_them() -> None:
    presentation = pptx.Presentation()
    for text, hide in (("first", True), ("second", False)):
        slide = presentation.slides.add_slide(presentation.slide_layouts[6])
        slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = text
        if hide:
            slide.element.set("show", "0")
    out = io.BytesIO()
    presentation.save(out)
    parsed = parse_document("deck.pptx", out.getvalue())
    assert parsed.sections == (Section(("Slide 2",), "second"),)


def test_merged_table_cells_are_read_once() -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    table = slide.shapes.add_table(2, 2, 0, 0, 400, 200).table
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(0, 0).text = "Region"
    table.cell(1, 0).text = "EU"
    table.cell(1, 1).text = "25"
    out = io.BytesIO()
    presentation.save(out)
    assert parse_document("t.pptx", out.getvalue()).sections == (
        Section(("Slide 1",), "Region\n\nEU | 25"),
    )


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04garbage", b"not a zip at all"])
def test_corrupt_pptx(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a readable PPTX: "):
        parse_document("broken.pptx", data)


def test_a_docx_renamed_pptx_is_refused_clearly(make_docx: Callable[[], bytes]) -> None:
    with pytest.raises(ParseError, match=r"^not a readable PPTX: "):
        parse_document("renamed.pptx", make_docx())
