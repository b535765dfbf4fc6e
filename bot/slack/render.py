"""Platform-neutral answers and statuses -> Slack messages (Block Kit as plain dicts).

Pure functions: no network, no slack_sdk. Everything that came from a document or a model
(answer text, titles, URLs, heading paths, notes) goes through :mod:`bot.slack.mrkdwn`, and every
mrkdwn text object is sent with ``verbatim: true`` so Slack does not parse names in it either.

Block Kit limits respected here (docs.slack.dev, Block Kit reference): 50 blocks per message;
3,000 characters per section or context text object; 10 elements per context block; a button's
text 75 characters, ``value`` 2,000, ``action_id`` 255. Feedback is Slack's ``feedback_buttons``
element in a ``context_actions`` block: one ``action_id`` (:data:`FEEDBACK`), and the pressed
button's ``value`` (``up:<ref>`` / ``down:<ref>``) arrives as the action's ``value``.

Layout of an answer::

    [context]  Question: …                       (when the caller passes ``question``)
    [section]+ the answer, split at 3,000 characters
    [context]  audience note / language-model fallback note / stale-sources note
    [divider]
    [context]  1. <url|Title> · Heading › Sub · source-id     (one block per source)
    [context]  …and N more sources
    [divider]  when nothing answered: the closest pages instead of sources
    [context]  These pages you can read come closest, but they may not answer it:
    [context]  <url|Title> · Heading › Sub · source-id    (at most three)
    [context]  Who may know: Name (Title, Title)
    [actions]  Answer privately with my access          (restricted answers only)
    [context_actions]  Helpful · Not helpful           (feedback_buttons)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.slack.escaping import SECTION_TEXT_MAX, escape, link, link_label, slack_len, unescape
from bot.slack.link_hosts import disclose_link_hosts
from bot.slack.mrkdwn import to_mrkdwn
from bot.slack.sections import split_mrkdwn
from bot.turn import (
    CLOSEST_LABEL,
    FELL_BACK_NOTE,
    NO_SOURCES_ANSWER,
    STAGE_TEXT,
    WHO_TO_ASK_LABEL,
    Answer,
    Citation,
    ClosestPage,
    who_to_ask_text,
)

Block = dict[str, Any]

MAX_BLOCKS = 50
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
MAX_SOURCES = 20  # shown; the rest are counted in "…and N more sources"
MAX_ANSWER_SECTIONS = 10  # 30,000 characters: far beyond any useful chat answer
QUESTION_MAX = 2900  # fits one context element with its label

FEEDBACK = "lore_feedback"  # the feedback_buttons element
# Buttons of answers posted before feedback_buttons: still read, no longer written.
FEEDBACK_UP = "lore_feedback_up"
FEEDBACK_DOWN = "lore_feedback_down"
POSITIVE, NEGATIVE = "up", "down"
PRIVATE_ANSWER = "lore_private_answer"
QUESTION_BLOCK_ID = "lore_question"

RESTRICTED_NOTE = "This answer only uses documents everyone in this conversation can read."
TRUNCATED_NOTE = "\n\n_…the answer was cut short here; the sources below have the rest._"
_QUESTION_LABEL = "*Question:* "

def answer_blocks(
    answer: Answer,
    *,
    question: str | None = None,
    allow_private: bool = True,
    feedback_ref: str | None = None,
    private_ref: str | None = None,
    max_sources: int = MAX_SOURCES,
) -> list[Block]:
    """The answer message. ``feedback_ref`` / ``private_ref`` are short opaque references the
    caller resolves when a button is pressed (they travel as the buttons' ``value``); without
    one, that button is left out. The private-answer button also needs an answer restricted to
    its audience and ``allow_private``."""
    head = [_question_block(question)] if question and question.strip() else []
    notes: list[Block] = []
    if answer.restricted_to_audience:
        notes.append(_context(":lock: " + escape(" ".join((answer.note or RESTRICTED_NOTE).split()))))
    if answer.fell_back:
        notes.append(_context(":warning: " + escape(FELL_BACK_NOTE)))
    if answer.stale_note:
        notes.append(_context(":hourglass: " + escape(answer.stale_note)))
    actions = _actions(answer, allow_private, feedback_ref, private_ref)
    citations = answer.citations if answer.found_sources else ()
    closest = [] if answer.found_sources else _closest_blocks(answer.closest)

    # Sources are kept to at least a few lines; the answer text gets the rest of the 50.
    fixed = len(head) + len(notes) + len(actions) + len(closest)
    reserve = (1 + min(len(citations), 3) + (1 if len(citations) > 3 else 0)) if citations else 0
    sections = _answer_sections(answer, min(MAX_ANSWER_SECTIONS, MAX_BLOCKS - fixed - reserve))

    blocks = head + [_section(text) for text in sections] + notes + closest
    if citations:
        room = MAX_BLOCKS - len(blocks) - len(actions) - 1  # 1: the divider
        shown = min(len(citations), max(max_sources, 0), room)
        if shown < len(citations):
            shown = min(shown, room - 1)  # room for the "…and N more" line
        blocks.append({"type": "divider"})
        blocks.extend(_source_block(c) for c in citations[:shown])
        if shown < len(citations):
            more = len(citations) - shown
            blocks.append(_context(f"…and {more} more source{'s' if more != 1 else ''}"))
    return blocks + actions


def answer_text(answer: Answer) -> str:
    """The message's top-level ``text``: the notification and the fallback where blocks do not
    render. Escaped like the blocks (this field is parsed for mentions too), at most one
    section long."""
    pieces = split_mrkdwn(_answer_mrkdwn(answer) or escape(NO_SOURCES_ANSWER), SECTION_TEXT_MAX - 2)
    text = pieces[0] if pieces else escape(NO_SOURCES_ANSWER)
    if len(pieces) > 1:
        text = text.rstrip() + " …"
    return text


def question_from_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """The question that :func:`answer_blocks` put in the message, read back from the blocks of
    an interaction payload (the private-answer button). None when the message has none."""
    for block in blocks:
        if block.get("block_id") != QUESTION_BLOCK_ID:
            continue
        for element in block.get("elements") or []:
            text = element.get("text") if isinstance(element, dict) else None
            if isinstance(text, str) and text.startswith(_QUESTION_LABEL):
                return unescape(text[len(_QUESTION_LABEL) :]) or None
    return None


def status_text(stage: str) -> str:
    return STAGE_TEXT.get(stage, "Working on it…")


def status_blocks(stage: str) -> list[Block]:
    return [_context(":mag: " + escape(status_text(stage)))]


def streaming_blocks(partial: str, max_sections: int = 10) -> list[Block]:
    """The answer so far, while it streams: the same conversion and limits as the final answer,
    without sources or buttons (citations are checked only once the answer is complete)."""
    # Citations are not known yet: every link shows its host until the final answer.
    sections = split_mrkdwn(disclose_link_hosts(to_mrkdwn(partial), ()))[: max(max_sections, 1)]
    return [_section(t) for t in sections if t.strip()] + status_blocks("answering")


def streaming_text(partial: str) -> str:
    """The top-level ``text`` while the answer streams by edits: converted and escaped like the
    blocks, at most one section long."""
    pieces = split_mrkdwn(disclose_link_hosts(to_mrkdwn(partial), ()), SECTION_TEXT_MAX - 2)
    return pieces[0] if pieces else escape(status_text("answering"))


def refused_text(reason: str) -> str:
    """A refusal (rate limit, unverifiable identity, …) as message text, escaped."""
    return escape(reason.strip() or "I can't answer that right now.")


def notice_blocks(text: str) -> list[Block]:
    """An admin command's output (bot.turn.Notice): its Markdown as sections, within the
    message's block limit; links show their host, as nothing here was checked as a citation."""
    sections = split_mrkdwn(disclose_link_hosts(to_mrkdwn(text), ()))
    if len(sections) > MAX_BLOCKS:
        sections = sections[: MAX_BLOCKS - 1] + [escape("…(cut: the rest did not fit in one message)")]
    return [_section(t) for t in sections if t.strip()]


def notice_text(text: str) -> str:
    """The notification / fallback ``text`` of :func:`notice_blocks`: at most one section."""
    pieces = split_mrkdwn(disclose_link_hosts(to_mrkdwn(text), ()), SECTION_TEXT_MAX - 2)
    return pieces[0] + (" …" if len(pieces) > 1 else "") if pieces else escape("(no output)")


def help_text() -> str:
    return HELP_TEXT


HELP_TEXT = (
    "*Lore answers questions from the company's documents, with numbered sources.*\n"
    "\n"
    "*How to ask*\n"
    "• `/lore how do I get VPN access?` (only you see the answer)\n"
    "• Mention me in a channel: `@Lore how do I get VPN access?` (I reply in the thread)\n"
    "• Send me a direct message. Follow-up questions in the same thread keep the context.\n"
    "\n"
    "*What I can use*\n"
    "• In a direct message or with `/lore`, I search only documents _you_ can open.\n"
    "• In a channel everyone there reads my reply, so I use only documents everyone in the "
    "organisation may read (with guests or people from other organisations present, only what "
    "all of them may read). *Answer privately with my access* gives you the rest, "
    "visible only to you.\n"
    "• If the documents you can access do not answer it, I say so instead of guessing.\n"
    "\n"
    "*Privacy*: questions, and which documents answered them, are kept in an audit log for "
    "administrators. Check the sources before acting on an answer."
)


# ---- blocks ------------------------------------------------------------------------------


def _answer_mrkdwn(answer: Answer) -> str:
    cited = [c.url for c in answer.citations] if answer.found_sources else []
    return disclose_link_hosts(to_mrkdwn(answer.text), cited)


def _answer_sections(answer: Answer, max_sections: int) -> list[str]:
    text = _answer_mrkdwn(answer)
    if not text.strip():
        text = escape(NO_SOURCES_ANSWER if not answer.found_sources else "(The answer was empty.)")
    sections = split_mrkdwn(text)
    max_sections = max(max_sections, 1)
    if len(sections) > max_sections:
        sections = split_mrkdwn(text, SECTION_TEXT_MAX - slack_len(TRUNCATED_NOTE))[:max_sections]
        sections[-1] += TRUNCATED_NOTE
    return sections


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(_clip(t)) for t in texts[:CONTEXT_ELEMENTS_MAX]]}


def _question_block(question: str) -> Block:
    q = " ".join(question.split())
    if len(q) > QUESTION_MAX:
        q = q[: QUESTION_MAX - 1] + "…"
    block = _context(_QUESTION_LABEL + escape(q))
    block["block_id"] = QUESTION_BLOCK_ID
    return block


def _source_block(citation: Citation) -> Block:
    return _page_block(f"*{citation.number}.* ", citation)


def _page_block(prefix: str, page: Citation | ClosestPage) -> Block:
    """One page: ``prefix`` <url|Title> · Heading › Sub · source-id, and when it was updated."""
    title = page.title.strip() or page.source_id or page.url
    line = prefix + link(page.url, link_label(_shorten(title, 200)))
    if page.heading_path:
        path = " › ".join(h.strip() for h in page.heading_path if h.strip())
        if path:
            line += " · " + escape(_shorten(" ".join(path.split()), 300))
    if page.source_id:
        line += " · " + escape(_shorten(" ".join(page.source_id.split()), 200))
    updated = _updated(page)
    return _context(line, f"Updated {updated.isoformat()}") if updated else _context(line)


def _updated(page: Citation | ClosestPage) -> dt.date | None:
    """When the page last changed, when the source told us (never invented)."""
    return page.updated_at.date() if page.updated_at is not None else None


def _closest_blocks(pages: tuple[ClosestPage, ...]) -> list[Block]:
    """The closest pages under an honest "couldn't find" reply, and who owns them."""
    if not pages:
        return []
    blocks: list[Block] = [{"type": "divider"}, _context(escape(CLOSEST_LABEL))]
    blocks.extend(_page_block("• ", page) for page in pages)
    people = who_to_ask_text(pages, lambda text: _shorten(text, 100))
    if people:
        blocks.append(_context(f"*{escape(WHO_TO_ASK_LABEL)}* " + escape(people)))
    return blocks


def _actions(
    answer: Answer, allow_private: bool, feedback_ref: str | None, private_ref: str | None
) -> list[Block]:
    blocks: list[Block] = []
    if answer.restricted_to_audience and allow_private and private_ref:
        button = _button("Answer privately with my access", PRIVATE_ANSWER, private_ref, style="primary")
        blocks.append({"type": "actions", "elements": [button]})
    if feedback_ref:
        blocks.append({"type": "context_actions", "elements": [_feedback_buttons(feedback_ref)]})
    return blocks


def _feedback_buttons(ref: str) -> Block:
    def side(text: str, direction: str, label: str) -> Block:
        value = f"{direction}:{ref}"
        if len(value) > BUTTON_VALUE_MAX:
            raise ValueError(f"a button value is limited to {BUTTON_VALUE_MAX} characters; pass a short reference")
        return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value,
                "accessibility_label": label}

    return {
        "type": "feedback_buttons",
        "action_id": FEEDBACK,
        "positive_button": side("Helpful", POSITIVE, "This answer was helpful"),
        "negative_button": side("Not helpful", NEGATIVE, "This answer was not helpful"),
    }


def read_feedback(action: dict[str, Any]) -> tuple[str, bool] | None:
    """(answer reference, helpful) from a block_actions action that :func:`answer_blocks` wrote
    (or the buttons of an older answer); None for anything else."""
    action_id, value = action.get("action_id"), str(action.get("value") or "")
    if action_id in (FEEDBACK_UP, FEEDBACK_DOWN):
        return value, action_id == FEEDBACK_UP
    direction, _, ref = value.partition(":")
    if action_id != FEEDBACK or direction not in (POSITIVE, NEGATIVE) or not ref:
        return None
    return ref, direction == POSITIVE


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    if len(value) > BUTTON_VALUE_MAX:
        raise ValueError(f"a button value is limited to {BUTTON_VALUE_MAX} characters; pass a short reference")
    assert len(action_id) <= ACTION_ID_MAX
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": _shorten(text, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _clip(mrkdwn: str) -> str:
    """A context element's text within 3,000 characters, cut at a safe point."""
    if slack_len(mrkdwn) <= SECTION_TEXT_MAX:
        return mrkdwn
    return split_mrkdwn(mrkdwn, SECTION_TEXT_MAX - 2)[0] + " …"
