from __future__ import annotations

import io
from collections.abc import Callable

import docx
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.parsers import html as html_parser
from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from core.models import Section

MARKDOWN = b"""\
# Leave

Everyone gets **28 days** a year; see [the calendar](https://intranet.example/cal).

## Carry-over

Up to *5 days* carry over. The `max_days` setting and snake_case_name stay as written.

```python
# not a heading, a comment
print("hi")
```

~~~
## also not a heading
~~~

### Requests

- Ask your manager
- Use the HR tool

# Sick leave ##

Call before 10:00.
"""


def test_markdown_heading_paths_ignore_headings_inside_fenced_code() -> None:
    parsed = parse_document("hr/leave.md", MARKDOWN)
    assert parsed.title == "Leave"
    assert parsed.acl_clause is None
    assert [s.heading_path for s in parsed.sections] == [
        ("Leave",),
        ("Leave", "Carry-over"),
        ("Leave", "Carry-over", "Requests"),
        ("Sick leave",),
    ]
    carry_over = parsed.sections[1].text
    assert "# not a heading, a comment" in carry_over
    assert "## also not a heading" in carry_over
    assert "```" not in carry_over
    assert (
        "Up to 5 days carry over. The max_days setting and snake_case_name stay as written."
        in carry_over
    )


def test_markdown_keeps_link_text_drops_urls_and_emphasis() -> None:
    text = parse_document("a.md", MARKDOWN).sections[0].text
    assert text == "Everyone gets 28 days a year; see the calendar."


def test_markdown_lists_stay_as_lines() -> None:
    assert (
        parse_document("a.md", MARKDOWN).sections[2].text == "- Ask your manager\n- Use the HR tool"
    )


def test_text_file_is_one_section_without_title() -> None:
    parsed = parse_document("notes.txt", b"\xef\xbb\xbfline one\r\nline two\r\n\r\n\r\n\r\nend\n")
    assert parsed.title is None
    assert parsed.sections == (Section((), "line one\nline two\n\nend"),)


def test_html_title_headings_and_text() -> None:
    html = b"""<!doctype html><html><head><title> Wi-Fi  guide </title>
    <style>p { color: red }</style><script>var secret = 1;</script></head>
    <body><nav><a href="/">Home</a> | <a href="/x">Menu</a></nav>
    <h1>Wi-Fi</h1><p>Two   networks
    exist.</p><p>Ask IT.</p><!-- a comment -->
    <h2>Guest <em>network</em></h2><ul><li>Password at reception</li><li>20 Mbit/s</li></ul>
    <h3>Printers</h3><table><tr><th>Name</th><th>Place</th></tr><tr><td>P1</td><td>Kitchen</td></tr></table>
    <h2>Staff</h2><pre>ssid: staff
  eap: peap</pre>
    </body></html>"""
    parsed = parse_document("wifi.html", html)
    assert parsed.title == "Wi-Fi guide"
    assert parsed.sections == (
        Section(("Wi-Fi",), "Two networks exist.\n\nAsk IT."),
        Section(("Wi-Fi", "Guest network"), "- Password at reception\n\n- 20 Mbit/s"),
        Section(("Wi-Fi", "Guest network", "Printers"), "Name | Place\n\nP1 | Kitchen"),
        Section(("Wi-Fi", "Staff"), "ssid: staff\n  eap: peap"),
    )


def test_html_title_falls_back_to_first_h1() -> None:
    parsed = parse_document("a.htm", b"<p>intro</p><h1>Expenses</h1><p>Use Pleo.</p>")
    assert parsed.title == "Expenses"
    assert parsed.sections == (Section((), "intro"), Section(("Expenses",), "Use Pleo."))


def test_pdf_text_pages_and_metadata_title(make_pdf: Callable[..., bytes]) -> None:
    data = make_pdf(["Budget rules for 2026", "Approval needs the CFO"], title="Budget")
    # The hand-made PDF is real: pypdf itself reads the same text back.
    assert pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text() == "Budget rules for 2026"
    parsed = parse_document("finance/budget.pdf", data)
    assert parsed.title == "Budget"
    assert parsed.sections == (
        Section(("Page 1",), "Budget rules for 2026"),
        Section(("Page 2",), "Approval needs the CFO"),
    )


def test_pdf_without_title_metadata(make_pdf: Callable[..., bytes]) -> None:
    assert parse_document("a.pdf", make_pdf(["text"])).title is None


def test_pdf_without_text_is_an_error() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ParseError, match=r"^no extractable text \(scanned image PDF\?\)$"):
        parse_document("scan.pdf", out.getvalue())


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not really a pdf", b"\x00\x01garbage"])
def test_corrupt_pdf(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a readable PDF: \w+"):
        parse_document("bad.pdf", data)


def test_password_protected_pdf(make_pdf: Callable[..., bytes]) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(["secret text"])))
    writer.encrypt("hunter2")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ParseError, match=r"^not a readable PDF: it is encrypted"):
        parse_document("locked.pdf", out.getvalue())


def test_docx_headings_and_table(make_docx: Callable[[], bytes]) -> None:
    parsed = parse_document("hr/leave.docx", make_docx())
    assert parsed.title == "Leave handbook"
    assert parsed.sections == (
        Section(("Leave handbook",), "Intro before any heading."),
        Section(("Leave handbook", "Leave"), "Everyone gets 28 days."),
        Section(
            ("Leave handbook", "Leave", "Carry-over"),
            # The merged cell appears once, not once per grid column it spans.
            "Up to 5 days carry over to March.\n\nCountry | Days | Notes\n\nPortugal | 25",
        ),
        Section(("Leave handbook", "Sick leave"), "Tell your manager before 10:00."),
    )


def test_docx_heading_styles_resolve_like_python_docx() -> None:
    document = docx.Document()
    document.add_paragraph("Policies", style="Heading 2")
    unknown = document.add_paragraph("Unknown style id: the default style")
    unknown._p.get_or_add_pPr().style = "NoSuchStyle"
    character = document.add_paragraph("A character style's id: the default style too")
    character._p.get_or_add_pPr().style = "Heading1Char"
    out = io.BytesIO()
    document.save(out)
    parsed = parse_document("a.docx", out.getvalue())
    assert [p.style.name for p in docx.Document(io.BytesIO(out.getvalue())).paragraphs] == [
        "Heading 2",
        "Normal",
        "Normal",
    ]
    assert parsed.sections == (
        Section(
            ("Policies",),
            "Unknown style id: the default style\n\nA character style's id: the default style too",
        ),
    )


@pytest.mark.parametrize("data", [b"PK\x03\x04 zip garbage", b"plain text, not a zip"])
def test_corrupt_docx(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a readable DOCX: BadZipFile"):
        parse_document("bad.docx", data)


def test_truncated_docx(make_docx: Callable[[], bytes]) -> None:
    with pytest.raises(ParseError, match=r"^not a readable DOCX: "):
        parse_document("bad.docx", make_docx()[:2000])


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"caf\xe9 au lait", 3),  # Latin-1 bytes
        (b"\xef\xbb\xbfok\n\xff", 6),  # offsets count the BOM, as an editor shows the file
    ],
)
@pytest.mark.parametrize("name", ["a.md", "a.txt", "a.html"])
def test_invalid_utf8_names_the_offset(name: str, data: bytes, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_document(name, data)
    assert (
        str(info.value) == f"not valid UTF-8 (first bad byte at offset {offset}); save it as UTF-8"
    )


def test_unexpected_parser_exception_becomes_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(html_parser, "BeautifulSoup", explode)
    with pytest.raises(ParseError, match=r"RuntimeError: parser bug"):
        parse_document("a.html", b"<p>x</p>")


def test_unsupported_suffix() -> None:
    with pytest.raises(ParseError, match="unsupported file type '.rtf'"):
        parse_document("a.rtf", b"{\\rtf1}")


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    name=st.sampled_from(["a.md", "a.txt", "a.html", "a.pdf", "a.docx", "a.pptx", "a.xlsx"]),
    data=st.binary(max_size=300) | st.sampled_from([b"%PDF-1.4\n", b"PK\x03\x04", b"---\n"]),
)
def test_arbitrary_bytes_never_escape_as_other_exceptions(name: str, data: bytes) -> None:
    try:
        parsed = parse_document(name, data)
    except ParseError:
        return
    assert all(s.text.strip() for s in parsed.sections)
