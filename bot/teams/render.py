"""Platform-neutral answers -> Bot Framework activities for Teams (plain dicts, sent as they are).

Pure functions, no network. Everything from a document or a model goes through
:mod:`bot.teams.markdown`. What an answer message carries ("Bot messages with AI-generated
content", learn.microsoft.com/microsoftteams/platform/bots/how-to/bot-messages-ai-generated-content;
the Agents SDK's ``ClientCitation``):

* ``text`` in Markdown with the ``[n]`` markers, then the notes (audience, language-model
  fallback, stale sources) and, when nothing answered, the closest pages and who may know;
* one ``https://schema.org/Message`` entity: ``additionalType: ["AIGeneratedContent"]`` (the AI
  label) and ``citation``: a ``Claim`` per source whose ``position`` is its ``[n]``, at most
  :data:`MAX_CITATIONS`, ``appearance.name`` at most 80 characters, ``abstract`` at most 160,
  ``url`` the page;
* ``channelData.feedbackLoopEnabled: true``: Teams shows like / dislike and sends a
  ``message/submitAction`` invoke, read by :func:`read_feedback`;
* a restricted answer in a channel or group chat: a ``messageBack`` button asking for the private
  answer (``value.action`` :data:`PRIVATE_ANSWER`).
"""

from __future__ import annotations

from typing import Any

from bot.teams import messages
from bot.teams.markdown import escape, link, to_teams_markdown
from bot.turn import (
    CLOSEST_LABEL,
    FELL_BACK_NOTE,
    NO_SOURCES_ANSWER,
    WHO_TO_ASK_LABEL,
    Answer,
    Citation,
    who_to_ask_text,
)

Activity = dict[str, Any]

MAX_CITATIONS = 20
NAME_MAX = 80
ABSTRACT_MAX = 160
PRIVATE_ANSWER = "lore_private_answer"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _page_line(title: str, url: str, heading_path: tuple[str, ...]) -> str:
    label = escape(_shorten(title, 200)) or escape(url)
    line = link(url, label)
    if heading_path:
        line += " · " + escape(" › ".join(heading_path))
    return line


def answer_text(answer: Answer) -> str:
    cited = [c.url for c in answer.citations] if answer.found_sources else []
    parts = [to_teams_markdown(answer.text, cited) or escape(NO_SOURCES_ANSWER)]
    if answer.restricted_to_audience:
        parts.append("🔒 " + escape(" ".join((answer.note or messages.RESTRICTED_NOTE).split())))
    if answer.fell_back:
        parts.append("⚠️ " + escape(FELL_BACK_NOTE))
    if answer.stale_note:
        parts.append("⏳ " + escape(answer.stale_note))
    if not answer.found_sources and answer.closest:
        lines = [escape(CLOSEST_LABEL)] + ["- " + _page_line(p.title, p.url, p.heading_path) for p in answer.closest]
        people = who_to_ask_text(answer.closest, lambda text: _shorten(text, 100))
        if people:
            lines.append(f"**{escape(WHO_TO_ASK_LABEL)}** {escape(people)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def claim(citation: Citation) -> dict[str, Any]:
    """The citation as Teams shows it under ``[n]``: the title, and as its abstract where in the
    page it is, which source holds it and when that changed (what Slack shows on its line)."""
    where = [" › ".join(h.strip() for h in citation.heading_path if h.strip()), citation.source_id.strip()]
    if citation.updated_at is not None:
        where.append(f"updated {citation.updated_at.date().isoformat()}")
    appearance: dict[str, Any] = {
        "@type": "DigitalDocument",
        "name": _shorten(citation.title or citation.source_id or citation.url, NAME_MAX),
        "abstract": _shorten(" · ".join(w for w in where if w) or citation.title, ABSTRACT_MAX),
    }
    if citation.url:
        appearance["url"] = citation.url
    return {"@type": "Claim", "position": citation.number, "appearance": appearance}


def ai_entity(citations: tuple[Citation, ...]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
    }
    if citations:
        entity["citation"] = [claim(c) for c in citations[:MAX_CITATIONS]]
    return entity


def answer_activity(answer: Answer, *, offer_private: bool = False, question: str = "") -> Activity:
    """The final answer message (also the ``final`` of a stream, which adds its stream entity)."""
    activity: Activity = {
        "type": "message",
        "text": answer_text(answer),
        "textFormat": "markdown",
        "entities": [ai_entity(answer.citations if answer.found_sources else ())],
        "channelData": {"feedbackLoopEnabled": True},
    }
    if offer_private and answer.restricted_to_audience:
        activity["attachments"] = [private_answer_card(question)]
    return activity


def private_answer_card(question: str) -> dict[str, Any]:
    """A hero card with one button: pressing it sends Lore a message activity whose ``value``
    says what to do (a ``messageBack``); the question travels in it, not from Teams' text."""
    button = {"type": "messageBack", "title": messages.PRIVATE_ANSWER_BUTTON, "displayText": "",
              "text": "", "value": {"action": PRIVATE_ANSWER, "question": question[:2000]}}
    return {"contentType": "application/vnd.microsoft.card.hero", "content": {"buttons": [button]}}


def text_activity(text: str) -> Activity:
    return {"type": "message", "text": escape(text), "textFormat": "markdown"}


def notice_activity(text: str) -> Activity:
    """An admin command's output (bot.turn.Notice): its Markdown as Teams Markdown."""
    return {"type": "message", "text": to_teams_markdown(text) or escape("(no output)"), "textFormat": "markdown"}


def typing_activity() -> Activity:
    return {"type": "typing"}


def read_feedback(value: Any) -> tuple[bool, str] | None:
    """A ``message/submitAction`` invoke's ``value`` -> (helpful, the user's comment), or None
    when it is not Teams' feedback (``actionName: feedback``, ``reaction`` like / dislike)."""
    if not isinstance(value, dict) or value.get("actionName") != "feedback":
        return None
    action = value.get("actionValue")
    if not isinstance(action, dict) or action.get("reaction") not in ("like", "dislike"):
        return None
    return action["reaction"] == "like", str(action.get("feedback") or "")[:1000]
