"""Markdown -> mrkdwn conversion and the Block Kit answer message."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack import render
from bot.slack.mrkdwn import escape, split_mrkdwn, to_mrkdwn
from bot.turn import Answer
from retrieval.answer.base import NO_SOURCES_ANSWER, Citation

WJ = "\u2060"
# Every "<" we write opens a checked link: <http(s)://…|label> or <mailto:…|label>.
OUR_LINK = re.compile(r"<(?:https?://|mailto:)[^\s<>|]+\|[^<>\n]*>", re.IGNORECASE)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        # emphasis
        ("**bold**", "*bold*"),
        ("__bold__", "*bold*"),
        ("*italic*", "_italic_"),
        ("_italic_", "_italic_"),
        ("~~gone~~", "~gone~"),
        ("***both***", "*_both_*"),
        ("**bold _and italic_ inside**", "*bold _and italic_ inside*"),
        ("*italic **and bold** inside*", "_italic *and bold* inside_"),
        ("snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
        ("a ** b ** c", "a ** b ** c"),
        # code: escaped, never reformatted
        ("use `**not bold**` here", "use `**not bold**` here"),
        ("`a < b && c`", "`a &lt; b &amp;&amp; c`"),
        ("```python\nx = **y** < 2\n# not a heading\n- not a bullet\n```",
         "```\nx = **y** &lt; 2\n# not a heading\n- not a bullet\n```"),
        ("~~~\n<!channel>\n~~~", "```\n&lt;!channel&gt;\n```"),
        ("```\nunclosed *code*", "```\nunclosed *code*\n```"),
        # headings, lists, quotes, rules
        ("# Title", "*Title*"),
        ("### Title with **bold** ###", "*Title with bold*"),
        ("#hashtag", "#hashtag"),
        ("- one\n* two\n+ three", "• one\n• two\n• three"),
        ("- top\n  - nested\n    - deeper", "• top\n    ◦ nested\n        ▪ deeper"),
        ("1. first\n2) second", "1. first\n2. second"),
        ("- [x] done\n- [ ] todo", "• ☑ done\n• ☐ todo"),
        ("> quoted **text**", "> quoted *text*"),
        ("> > nested quote", "> nested quote"),
        ("> - quoted bullet", "> • quoted bullet"),
        ("a > b", "a &gt; b"),
        ("---", "──────────"),
        # links
        ("[VPN guide](https://wiki.example/vpn)", "<https://wiki.example/vpn|VPN guide>"),
        ("[a | b](https://x.example/p?a=1&b=2|3)", "<https://x.example/p?a=1&amp;b=2%7C3|a ｜ b>"),
        ("[x](https://x.example/a>b)", "<https://x.example/a%3Eb|x>"),
        ("[mail us](mailto:it@example.com)", "<mailto:it@example.com|mail us>"),
        ("[click](javascript:alert(1))", "click"),
        ("[data](data:text/html,<b>x</b>)", "data"),
        ("[relative](/wiki/page)", "relative"),
        ("[**Bold** link](https://x.example)", "<https://x.example|*Bold* link>"),
        ('[t](https://x.example "a title")', "<https://x.example|t>"),
        ("[wiki](https://en.example/Foo_(bar))", "<https://en.example/Foo_(bar)|wiki>"),
        ("![diagram](https://x.example/d.png)", "<https://x.example/d.png|diagram>"),
        ("<https://auto.example/x>", "<https://auto.example/x|https://auto.example/x>"),
        ("see https://x.example/a_b. Then", "see <https://x.example/a_b|https://x.example/a_b>. Then"),
        # citations stay plain markers
        ("VPN needs MFA [1][2].", "VPN needs MFA [1][2]."),
        ("See [1] and [3]", "See [1] and [3]"),
        # untrusted text: escaped, mentions defused
        ("<!channel> ping", "&lt;!channel&gt; ping"),
        ("hi <@U123> and <#C1|general>", "hi &lt;@U123&gt; and &lt;#C1|general&gt;"),
        ("<!subteam^S1|@team>", "&lt;!subteam^S1|@team&gt;"),
        ("R&D < Ops > HR", "R&amp;D &lt; Ops &gt; HR"),
        ("&lt; stays literal", "&amp;lt; stays literal"),
        ("@channel @Here @everyone", f"@{WJ}channel @{WJ}Here @{WJ}everyone"),
        ("mail ops@here.com", "mail ops@here.com"),
        (r"\@here and @@channel", f"@{WJ}here and @@{WJ}channel"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        (r"\*not italic\*", "*not italic*"),
    ],
)
def test_to_mrkdwn(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_triple_backticks_in_text_cannot_open_a_code_block() -> None:
    out = to_mrkdwn("    ```not a fence")
    assert "```" not in out


def _citation(n: int, **kw: Any) -> Citation:
    fields: dict[str, Any] = {
        "number": n,
        "title": f"Doc {n}",
        "url": f"https://wiki.example/{n}",
        "source_id": f"confluence:{n}",
    }
    fields.update(kw)
    return Citation(**fields)


def _answer(text: str = "VPN needs MFA [1].", citations: tuple[Citation, ...] | None = None, **kw: Any) -> Answer:
    fields: dict[str, Any] = {
        "text": text,
        "citations": (_citation(1),) if citations is None else citations,
        "found_sources": True,
        "restricted_to_audience": False,
        "provider": "groq",
        "fell_back": False,
        "thread_id": "t1",
    }
    fields.update(kw)
    return Answer(**fields)


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for b in blocks:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.extend(e["text"] for e in b["elements"])
    return out


def _check_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= render.MAX_BLOCKS
    for b in blocks:
        if b["type"] == "section":
            assert 1 <= len(b["text"]["text"]) <= 3000
            assert b["text"]["verbatim"] is True
        elif b["type"] == "context":
            assert 1 <= len(b["elements"]) <= 10
            assert all(1 <= len(e["text"]) <= 3000 for e in b["elements"])
        elif b["type"] == "actions":
            for e in b["elements"]:
                assert len(e["text"]["text"]) <= 75
                assert len(e["action_id"]) <= 255
                assert len(e["value"]) <= 2000
        elif b["type"] == "context_actions":
            for e in b["elements"]:
                assert e["type"] == "feedback_buttons" and len(e["action_id"]) <= 255
                for side in (e["positive_button"], e["negative_button"]):
                    assert len(side["text"]["text"]) <= 75 and len(side["value"]) <= 2000
    assert len(json.dumps(blocks)) < 60_000


def _feedback(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    (element,) = blocks[-1]["elements"]
    assert blocks[-1]["type"] == "context_actions" and element["type"] == "feedback_buttons"
    return dict(element)


def test_simple_answer_layout() -> None:
    blocks = render.answer_blocks(
        _answer(citations=(_citation(1, heading_path=("IT", "VPN")),)), feedback_ref="C1:123.4"
    )
    assert [b["type"] for b in blocks] == ["section", "divider", "context", "context_actions"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "VPN needs MFA [1].", "verbatim": True}
    assert blocks[2]["elements"][0]["text"] == (
        "*1.* <https://wiki.example/1|Doc 1> · IT › VPN · confluence:1"
    )
    feedback = _feedback(blocks)
    assert feedback["action_id"] == "lore_feedback"
    assert [(b["value"], b["text"]["text"]) for b in (feedback["positive_button"], feedback["negative_button"])] == [
        ("up:C1:123.4", "Helpful"), ("down:C1:123.4", "Not helpful"),
    ]
    _check_limits(blocks)


def test_feedback_is_read_back_from_the_action_payload() -> None:
    # A feedback_buttons action carries the pressed button's value (bolt-js FeedbackButtonsAction).
    pressed = {"type": "feedback_buttons", "action_id": "lore_feedback", "block_id": "b", "value": "down:C1:12.3",
               "text": {"type": "plain_text", "text": "Not helpful"}}
    assert render.read_feedback(pressed) == ("C1:12.3", False)
    assert render.read_feedback({**pressed, "value": "up:C1:12.3"}) == ("C1:12.3", True)
    legacy = {"type": "button", "action_id": "lore_feedback_up", "value": "C1:9.9"}  # answers posted before
    assert render.read_feedback(legacy) == ("C1:9.9", True)
    for other in ({**pressed, "value": "sideways:x"}, {**pressed, "value": "up:"}, {"action_id": "x", "value": "up:r"}):
        assert render.read_feedback(other) is None


def test_titles_and_urls_from_documents_are_escaped() -> None:
    evil = _citation(1, title="<!channel> R&D | <@U1>", url="javascript:alert(1)", source_id="x<y>")
    odd = _citation(2, title="Pipes | here", url="https://w.example/a b|c>d?x=1&y=2")
    blocks = render.answer_blocks(_answer(citations=(evil, odd)))
    lines = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert lines[0] == "*1.* &lt;!channel&gt; R&amp;D ｜ &lt;@U1&gt; · x&lt;y&gt;"
    assert lines[1] == "*2.* <https://w.example/a%20b%7Cc%3Ed?x=1&amp;y=2|Pipes ｜ here> · confluence:2"


def test_long_answer_is_split_into_sections_at_line_boundaries() -> None:
    paragraph = "The VPN client needs multi-factor authentication before it connects [1]. " * 6
    text = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(1, 30))  # ~13,000 chars
    assert len(text) > 10_000
    blocks = render.answer_blocks(_answer(text))
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) >= 4
    assert all(len(s) <= 3000 for s in sections)
    assert all(s.split("\n")[0][:3].rstrip(" .").isdigit() for s in sections)  # starts a paragraph
    assert "\n\n".join(sections) == to_mrkdwn(text)
    _check_limits(blocks)


def test_long_code_block_is_closed_and_reopened() -> None:
    code = "\n".join(f"line {i} <tag> && more" for i in range(400))
    pieces = split_mrkdwn(to_mrkdwn(f"Run this:\n```\n{code}\n```\nDone."))
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 3000
        assert piece.count("```") % 2 == 0  # every piece's code blocks are closed
    body = "".join(p.replace("```\n", "").replace("\n```", "") for p in pieces)
    assert body.count("line 399 &lt;tag&gt; &amp;&amp; more") == 1


def test_a_long_line_is_split_between_words_never_inside_a_link() -> None:
    words = " ".join(f"word{i} [link {i}](https://x.example/{i}?a=1&b=2)" for i in range(300))
    pieces = split_mrkdwn(to_mrkdwn(words))
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 3000
        assert piece.count("<") == piece.count(">")
        assert len(OUR_LINK.findall(piece)) == piece.count("<")
        assert not re.search(r"&(?!amp;|lt;|gt;)", piece)  # no entity cut in half


def test_sixty_citations_fit_in_fifty_blocks() -> None:
    citations = tuple(_citation(n) for n in range(1, 61))
    blocks = render.answer_blocks(
        _answer("x " * 6000, citations, restricted_to_audience=True, fell_back=True),
        question="How?",
        feedback_ref="r",
        private_ref="r",
        max_sources=100,
    )
    _check_limits(blocks)
    texts = _texts(blocks)
    more = [t for t in texts if t.startswith("…and ")]
    shown = [t for t in texts if re.match(r"\*\d+\.\*", t)]
    assert more == [f"…and {60 - len(shown)} more sources"]
    assert len(shown) >= 3
    assert [b["type"] for b in blocks[-2:]] == ["actions", "context_actions"]


def test_sources_are_capped_by_default() -> None:
    citations = tuple(_citation(n) for n in range(1, 31))
    blocks = render.answer_blocks(_answer(citations=citations))
    texts = _texts(blocks)
    assert sum(1 for t in texts if re.match(r"\*\d+\.\*", t)) == render.MAX_SOURCES
    assert texts[-1] == "…and 10 more sources"


def test_an_enormous_answer_is_truncated_not_rejected() -> None:
    blocks = render.answer_blocks(_answer("word " * 100_000), feedback_ref="r")
    _check_limits(blocks)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == render.MAX_ANSWER_SECTIONS
    assert sections[-1].endswith(render.TRUNCATED_NOTE)


def test_restricted_answer_shows_note_and_private_button() -> None:
    answer = _answer(restricted_to_audience=True, note="Only documents everyone here can read.")
    blocks = render.answer_blocks(answer, feedback_ref="fb-1", private_ref="pv-1")
    assert ":lock: Only documents everyone here can read." in _texts(blocks)
    assert blocks[-2]["type"] == "actions"
    (button,) = blocks[-2]["elements"]
    assert button["action_id"] == "lore_private_answer"
    assert button["value"] == "pv-1"
    assert button["text"]["text"] == "Answer privately with my access"
    assert _feedback(blocks)["positive_button"]["value"] == "up:fb-1"
    _check_limits(blocks)


def test_restricted_answer_without_permission_for_private_button() -> None:
    answer = _answer(restricted_to_audience=True)
    blocks = render.answer_blocks(answer, allow_private=False, feedback_ref="fb", private_ref="pv")
    assert [b["type"] for b in blocks if "actions" in b["type"]] == ["context_actions"]
    assert _feedback(blocks)["action_id"] == "lore_feedback"
    assert f":lock: {render.RESTRICTED_NOTE}" in _texts(blocks)  # no note given: the default


def test_private_button_only_for_restricted_answers() -> None:
    blocks = render.answer_blocks(_answer(), private_ref="pv")
    assert all(b["type"] != "actions" for b in blocks)


def test_no_refs_no_buttons() -> None:
    blocks = render.answer_blocks(_answer(restricted_to_audience=True), feedback_ref="", private_ref=None)
    assert all(b["type"] not in ("actions", "context_actions") for b in blocks)


def test_fell_back_answer_says_so() -> None:
    blocks = render.answer_blocks(_answer(fell_back=True))
    assert f":warning: {render.FELL_BACK_NOTE}" in _texts(blocks)
    assert render.FELL_BACK_NOTE == (
        "The language model was unavailable; this answer quotes the documents directly."
    )


def test_no_sources_answer_has_no_sources_block() -> None:
    answer = _answer(NO_SOURCES_ANSWER, (), found_sources=False, restricted_to_audience=True,
                     note="Guests are here.")
    blocks = render.answer_blocks(answer, feedback_ref="fb", private_ref="pv")
    assert [b["type"] for b in blocks] == ["section", "context", "actions", "context_actions"]
    assert blocks[0]["text"]["text"] == "I couldn't find this in documents you can access."
    assert [e["action_id"] for e in blocks[-2]["elements"]] == ["lore_private_answer"]
    # citations on a not-found answer are never shown
    stray = _answer(NO_SOURCES_ANSWER, (_citation(1),), found_sources=False)
    assert [b["type"] for b in render.answer_blocks(stray)] == ["section"]


def test_empty_answer_text_still_renders_a_valid_section() -> None:
    blocks = render.answer_blocks(_answer("", (), found_sources=False))
    assert blocks[0]["text"]["text"] == escape(NO_SOURCES_ANSWER)


def test_button_value_over_limit_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="2000"):
        render.answer_blocks(_answer(), feedback_ref="x" * 2001)


def test_question_round_trips_through_the_blocks() -> None:
    question = "Who owns <!here> & the R&D @channel budget?"
    blocks = render.answer_blocks(_answer(), question=question, feedback_ref="r")
    first = blocks[0]
    assert first["block_id"] == render.QUESTION_BLOCK_ID
    assert "<!" not in first["elements"][0]["text"]
    assert render.question_from_blocks(json.loads(json.dumps(blocks))) == question
    assert render.question_from_blocks(render.answer_blocks(_answer())) is None


def test_nested_quote_with_extra_spaces_flattens() -> None:
    # Found by the property test: Markdown allows up to three spaces between nested markers.
    assert to_mrkdwn(">  > quoted") == "> quoted"
    assert to_mrkdwn(">  > ") in (">", "> ", "")


def test_updated_date() -> None:
    cited = Citation(1, "Doc", "https://x.example", "s:1", (), updated_at=dt.datetime(2024, 5, 1, 9, 30))
    blocks = render.answer_blocks(_answer(citations=(cited,)))
    source = next(b for b in blocks if b["type"] == "context")
    assert [e["text"] for e in source["elements"]][1] == "Updated 2024-05-01"
    # a citation without a date shows none: nothing is invented
    plain = next(b for b in render.answer_blocks(_answer()) if b["type"] == "context")
    assert len(plain["elements"]) == 1


def test_answer_text_is_escaped_and_bounded() -> None:
    assert render.answer_text(_answer("**Yes** <!channel> [1]")) == "*Yes* &lt;!channel&gt; [1]"
    long = render.answer_text(_answer("para. " * 2000))
    assert len(long) <= 3000 and long.endswith(" …")
    assert render.answer_text(_answer("", (), found_sources=False)) == escape(NO_SOURCES_ANSWER)


def test_status_refused_and_help() -> None:
    assert render.status_text("retrieving") == "Searching documents you can access…"
    blocks = render.status_blocks("retrieving")
    assert blocks == [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": ":mag: Searching documents you can access…", "verbatim": True}]}]
    assert render.status_text("answering") != render.status_text("unknown-stage")
    assert render.refused_text("Slow down <!channel> & retry") == "Slow down &lt;!channel&gt; &amp; retry"
    help_text = render.help_text()
    for needle in ("/lore", "direct message", "channel", "privately", "audit"):
        assert needle in help_text
    assert "<" not in help_text


# ---- property: nothing in the output can mention, broadcast or fake a link ----------------

_pieces = st.sampled_from([
    "<!channel>", "<!here>", "<@U123>", "<#C1>", "<!subteam^S1>", "<", ">", "&", "&lt;", "|",
    "[", "]", "(", ")", "[t](https://x.example/a|b>c)", "[j](javascript:x)", "<https://a.example>",
    "**", "*", "_", "~~", "`", "```", "\n", "\n\n", "> ", "# ", "- ", "1. ", "@channel", "@here",
    "https://x.example/p?q=<b>", "mailto:a@b", "\ue000", "\ue0010\ue001", "\\", "!", " ",
])
_text = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40).map("".join)


def _assert_safe(mrkdwn: str) -> None:
    assert "<!" not in mrkdwn
    assert "<@" not in mrkdwn
    assert "<#" not in mrkdwn
    rest = OUR_LINK.sub("", mrkdwn)
    assert "<" not in rest
    for line in rest.split("\n"):
        assert ">" not in line[1:] and (not line.startswith(">") or line in (">",) or line.startswith("> "))
    assert not re.search(r"(?<!\w)@(channel|here|everyone)\b", rest, re.IGNORECASE)


@settings(max_examples=400, deadline=None)
@given(_text)
def test_property_converted_text_is_inert(text: str) -> None:
    out = to_mrkdwn(text)
    _assert_safe(out)
    if not re.search("[\ue000-\ue00f]", text):  # no internal marker leaks into the output
        assert not re.search("[\ue000-\ue00f]", out)
    for piece in split_mrkdwn(out, 200):
        assert len(piece) <= 200
        _assert_safe(piece)


@settings(max_examples=150, deadline=None)
@given(_text, _text, _text)
def test_property_rendered_answer_is_inert(text: str, title: str, url: str) -> None:
    answer = _answer(text, (_citation(1, title=title, url=url, heading_path=(title,)),),
                     restricted_to_audience=True, note=title, fell_back=True)
    blocks = render.answer_blocks(answer, question=title, feedback_ref="r", private_ref="r")
    _check_limits(blocks)
    for t in [*_texts(blocks), render.answer_text(answer)]:
        _assert_safe(t)


def test_a_link_with_an_enormous_label_stays_splittable() -> None:
    out = to_mrkdwn(f"[{'word ' * 1000}](https://x.example/doc)")
    assert out.endswith(" (<https://x.example/doc|link>)")
    assert all(len(p) <= 3000 for p in split_mrkdwn(out))


def test_a_cut_inside_a_word_never_leaves_a_bare_broadcast() -> None:
    pieces = split_mrkdwn(to_mrkdwn("x" * 2900 + "@channel"), 2905)
    assert len(pieces) == 2
    assert pieces[1].startswith("@" + WJ)
