"""The exact activities Lore sends to Teams, and that document text cannot mention, link or format."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.teams import render
from bot.teams.markdown import escape, to_teams_markdown
from bot.turn import CLOSEST_LABEL, FELL_BACK_NOTE, WHO_TO_ASK_LABEL, Answer, Citation, ClosestPage

VPN = Citation(1, "VPN access", "https://wiki.example/vpn", "engineering/vpn.md", ("IT", "VPN"),
               updated_at=datetime(2026, 3, 1, tzinfo=UTC))


def answer(**changes: object) -> Answer:
    base: dict[str, object] = {"text": "Request it in the portal [1].", "citations": (VPN,), "found_sources": True,
                                   "restricted_to_audience": False, "provider": "extractive", "fell_back": False, "thread_id": "t"}
    base.update(changes)
    return Answer(**base)  # type: ignore[arg-type]


def test_answer_activity_exact_json() -> None:
    assert render.answer_activity(answer()) == {
        "type": "message",
        "text": "Request it in the portal [1].",
        "textFormat": "markdown",
        "entities": [{
            "type": "https://schema.org/Message",
            "@type": "Message",
            "@context": "https://schema.org",
            "@id": "",
            "additionalType": ["AIGeneratedContent"],
            "citation": [{
                "@type": "Claim",
                "position": 1,
                "appearance": {"@type": "DigitalDocument", "name": "VPN access",
                               "abstract": "IT › VPN · engineering/vpn.md · updated 2026-03-01",
                               "url": "https://wiki.example/vpn"},
            }],
        }],
        "channelData": {"feedbackLoopEnabled": True},
    }


def test_citations_are_capped_and_shortened() -> None:
    many = tuple(Citation(n, "T" * 200, f"https://wiki.example/{n}", "s" * 300, ("H" * 50,) * 5) for n in range(1, 26))
    entity = render.answer_activity(answer(citations=many))["entities"][0]
    assert [c["position"] for c in entity["citation"]] == list(range(1, 21))
    for claim in entity["citation"]:
        assert len(claim["appearance"]["name"]) == 80 and claim["appearance"]["name"].endswith("…")
        assert len(claim["appearance"]["abstract"]) <= 160


def test_notes_as_slack_shows_them() -> None:
    text = render.answer_activity(answer(restricted_to_audience=True, note="", fell_back=True,
                                         stale_note="Every page this answer cites is old."))["text"]
    assert text == ("Request it in the portal [1].\n\n"
                    "🔒 This answer only uses documents everyone in this conversation can read.\n\n"
                    f"⚠️ {FELL_BACK_NOTE}\n\n⏳ Every page this answer cites is old.")


def test_no_answer_shows_the_closest_pages_and_who_may_know() -> None:
    closest = (ClosestPage("Travel *policy*", "https://wiki.example/travel", "general/travel.md", ("Trips",), owner="Dana <at>x</at>"),
               ClosestPage("Expenses", "javascript:alert(1)", "finance/expenses.md", owner="Dana <at>x</at>"))
    activity = render.answer_activity(answer(text="I could not find that.", citations=(), found_sources=False, closest=closest))
    assert activity["text"] == (
        "I could not find that.\n\n"
        f"{CLOSEST_LABEL}\n"
        "- [Travel \\*policy\\*](https://wiki.example/travel) · Trips\n"
        "- Expenses\n"
        f"**{WHO_TO_ASK_LABEL}** Dana &lt;at&gt;x&lt;/at&gt; (Travel \\*policy\\*, Expenses)"
    )
    assert "citation" not in activity["entities"][0]


def test_document_text_cannot_mention_link_or_format() -> None:
    hostile = 'Ask <at>Everyone</at> or see [the portal](https://evil.example "x") and <a href="https://evil.example">here</a> **now** `x` ~~y~~'
    out = escape(hostile)
    assert "<" not in out and ">" not in out
    assert "](" not in out.replace("\\](", "")
    assert "\\*\\*now\\*\\*" in out and "\\`x\\`" in out and "\\~\\~y\\~\\~" in out
    assert escape("[1] and [23]") == "[1] and [23]"  # citation markers stay for Teams to match
    assert escape("# not a heading\n- not a list\n12. not a list") == "\\# not a heading\n\\- not a list\n12\\. not a list"


def test_markdown_links_only_for_http_and_mailto_with_encoded_targets() -> None:
    cited = ["https://wiki.example/a b(c)"]
    assert to_teams_markdown("[portal](<https://wiki.example/a b(c)>)", cited) == "[portal](https://wiki.example/a%20b%28c%29)"
    assert to_teams_markdown("[portal](<https://wiki.example/a b(c)>)") == "[portal (wiki.example)](https://wiki.example/a%20b%28c%29)"
    assert to_teams_markdown("[click](javascript:alert(1))") == "click"
    assert to_teams_markdown("**bold** and _it_ and `co`de`") .startswith("**bold** and _it_ and `co`")
    assert to_teams_markdown("```\nx```y\n```") == "```\nxˋˋˋy\n```"


def test_feedback_invoke_values() -> None:
    assert render.read_feedback({"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": "{}"}}) == (True, "{}")
    assert render.read_feedback({"actionName": "feedback", "actionValue": {"reaction": "meh"}}) is None
    assert render.read_feedback({"actionName": "other"}) is None
    assert render.read_feedback("x") is None
