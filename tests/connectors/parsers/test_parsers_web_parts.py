"""SharePoint modern pages: text web parts' innerHtml as one document with headings and tables."""

from __future__ import annotations

from connectors.parsers.html import parse_web_parts
from core.models import Section


def test_headings_carry_across_web_parts_and_tables_keep_their_rows() -> None:
    parts = [
        "<h2>Leave</h2><p>Everyone gets <strong>28 days</strong>.</p>",
        # No heading of its own: still under "Leave".
        "<p>Ask your manager first.</p><table><tr><th>Grade</th><th>Days</th></tr>"
        + "<tr><td>A</td><td>28</td></tr></table>",
        "<h3>Carry-over</h3><ul><li>Up to 5 days</li><li>By March</li></ul>",
        "<h2>Sick leave</h2><p>Call before 10:00.</p><script>alert(1)</script>",
    ]
    parsed = parse_web_parts(parts, title="  Working  at Contoso ")
    assert parsed.title == "Working at Contoso"
    assert parsed.sections == (
        Section(
            ("Leave",),
            "Everyone gets 28 days.\n\nAsk your manager first.\n\nGrade | Days\n\nA | 28",
        ),
        Section(("Leave", "Carry-over"), "- Up to 5 days\n\n- By March"),
        Section(("Sick leave",), "Call before 10:00."),
    )


def test_empty_and_markup_only_web_parts_give_no_sections() -> None:
    parsed = parse_web_parts(["", "<p> </p>", "<div><br></div>"])
    assert parsed.title is None
    assert parsed.sections == ()


def test_deeply_nested_web_part_html_does_not_hit_the_recursion_limit() -> None:
    html = "<div>" * 5_000 + "deep text" + "</div>" * 5_000
    assert parse_web_parts([html]).sections == (Section((), "deep text"),)
