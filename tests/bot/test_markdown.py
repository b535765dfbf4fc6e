"""The platform-neutral Markdown tree every surface renders from."""

from __future__ import annotations

import gc
import time

from bot.markdown import (
    Break,
    Code,
    CodeBlock,
    Heading,
    Link,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Styled,
    Text,
    parse,
    plain_text,
)


def _inlines(markdown: str) -> tuple[object, ...]:
    (block,) = parse(markdown)
    assert isinstance(block, Paragraph)
    return block.inlines


def test_inline_structure() -> None:
    assert _inlines("**bold** _it_ ~~gone~~ `x < y`") == (
        Styled("strong", (Text("bold"),)), Text(" "), Styled("emphasis", (Text("it"),)), Text(" "),
        Styled("strike", (Text("gone"),)), Text(" "), Code("x < y"),
    )
    assert _inlines("a\nb") == (Text("a"), Break(), Text("b"))


def test_star_emphasis_needs_word_boundaries() -> None:
    assert _inlines("2*3*4 and snake_case_name") == (Text("2*3*4 and snake_case_name"),)
    assert _inlines("**x**y") == (Styled("strong", (Text("x"),)), Text("y"))  # strong: CommonMark


def test_links_are_kept_as_written_for_the_renderer_to_judge() -> None:
    assert _inlines("[run](javascript:alert(1))") == (Link("javascript:alert(1)", (Text("run"),)),)
    assert _inlines(r"[x](https://e.example\@i.example/?a&amp;b)") == (  # no unescaping
        Link(r"https://e.example\@i.example/?a&amp;b", (Text("x"),)),)
    assert _inlines("![d](https://x.example/d.png)") == (
        Link("https://x.example/d.png", (Text("d"),), "image"),)
    assert _inlines("<https://a.example/x>") == (
        Link("https://a.example/x", (Text("https://a.example/x"),), "autolink"),)


def test_bare_urls_are_found_before_emphasis_and_lose_trailing_punctuation() -> None:
    assert _inlines("see https://x.example/_a_b. Then") == (
        Text("see "), Link("https://x.example/_a_b", (Text("https://x.example/_a_b"),), "bare"),
        Text(". Then"),
    )
    assert _inlines("xhttps://x.example") == (Text("xhttps://x.example"),)  # inside a word
    assert _inlines("[see https://x.example](https://y.example)") == (
        Link("https://y.example", (Text("see https://x.example"),)),)


def test_what_stays_text() -> None:
    for markdown in ("<!subteam^S1|@team>", "<a@b.example>", "<javascript:x>", "&lt;b&gt;",
                     "<b>bold</b>", "[1][2]"):
        assert _inlines(markdown) == (Text(markdown),), markdown
    definition, marker = parse("[1]: https://evil.example\n\n[1]")  # no reference definitions
    assert isinstance(definition, Paragraph) and definition.inlines[0] == Text("[1]: ")
    assert marker == Paragraph((Text("[1]"),), blank_before=True)


def test_blocks_and_spacing() -> None:
    blocks = parse("# Title\n\n- [x] done\n- two\n  1. nested\n\n> quoted\n\n```py\ncode\n```\n---")
    heading, bullets, quote, code, rule = blocks
    assert heading == Heading(1, (Text("Title"),))
    assert isinstance(bullets, ListBlock) and bullets.blank_before and not bullets.ordered
    first, second = bullets.items
    assert first.checked is True and first.blocks == (Paragraph((Text("done"),)),)
    nested = second.blocks[1]
    assert isinstance(nested, ListBlock) and nested.ordered and nested.items[0].number == 1
    assert quote == Quote((Paragraph((Text("quoted"),)),), blank_before=True)
    assert code == CodeBlock("code", "py", blank_before=True)
    assert rule == Rule()


def test_indented_text_is_text_not_code() -> None:
    assert parse("    ```not a fence") == (Paragraph((Text("```not a fence"),)),)


def test_nesting_past_the_parsers_bound_keeps_the_text() -> None:
    (block,) = parse("> " * 40 + "deep")
    while isinstance(block, Quote):
        (block,) = block.blocks
    assert isinstance(block, Paragraph) and plain_text(block.inlines).endswith("deep")


def test_parsing_time_grows_linearly() -> None:
    def seconds(text: str) -> float:
        # The best of three, with the collector off: a full-suite heap's gen-2 collection landing
        # in one run is not the parser's cost.
        runs = []
        gc.disable()
        try:
            for _ in range(3):
                start = time.process_time()
                parse(text)
                runs.append(time.process_time() - start)
        finally:
            gc.enable()
        return min(runs)

    for piece in ("[", "![", " *a", "**_* ", "> "):
        seconds(piece * 100)
        small, large = seconds(piece * 2000), seconds(piece * 8000)
        assert large < max(8 * small, 0.05) + 0.5, (piece, small, large)
