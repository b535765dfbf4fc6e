"""Block Kit validation for the Slack stand-in, as strict as Slack's Block Kit reference.

Limits checked (docs.slack.dev/reference/block-kit): at most 50 blocks in a message; ``block_id``
at most 255 characters and unique in the message; ``section`` needs ``text`` (1..3,000 chars) or
``fields`` (at most 10, each at most 2,000); ``header`` text is ``plain_text`` of at most 150;
``context`` has 1..10 elements, each an image or a text object; ``actions`` has 1..25 elements;
a ``button`` has ``plain_text`` text of at most 75 characters, ``action_id`` at most 255 (unique
within its block), ``value`` at most 2,000 and ``url`` at most 3,000; a ``markdown`` block's text
is at most 12,000; a ``context_actions`` block has 1..5 elements, each ``feedback_buttons`` (a
``positive_button`` and a ``negative_button``, each ``plain_text`` text of at most 75
characters, a ``value`` of at most 2,000, an optional ``accessibility_label`` of at most 75) or
``icon_button`` (``icon``, ``plain_text`` text), per docs.slack.dev/reference/block-kit/blocks/
context-actions-block and /block-elements/feedback-buttons-element. Unknown block types are
rejected.

Slack answers ``invalid_blocks`` with the reasons in ``errors`` and, prefixed with ``[ERROR]``,
in ``response_metadata.messages``, each naming the offending field as a JSON pointer, e.g.
``must be less than 3001 characters [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
KNOWN_BLOCKS = frozenset(
    {
        "section",
        "header",
        "context",
        "actions",
        "divider",
        "markdown",
        "rich_text",
        "image",
        "file",
        "video",
        "input",
        "table",
        "context_actions",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def _too_long(limit: int, pointer: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _text_object(
    obj: Any, pointer: str, limit: int, *, plain_only: bool = False, problems: list[str]
) -> None:
    if not isinstance(obj, dict):
        problems.append(f"must provide an object [json-pointer:{pointer}]")
        return
    kind = obj.get("type")
    allowed = {"plain_text"} if plain_only else TEXT_TYPES
    if kind not in allowed:
        problems.append(
            f"must be one of {', '.join(sorted(allowed))} [json-pointer:{pointer}/type]"
        )
    text = obj.get("text")
    if not isinstance(text, str):
        problems.append(f"must provide a string [json-pointer:{pointer}/text]")
    elif not text:
        problems.append(f"must be more than 0 characters [json-pointer:{pointer}/text]")
    elif len(text) > limit:
        problems.append(_too_long(limit, f"{pointer}/text"))


def _element(el: Any, pointer: str, action_ids: set[str], problems: list[str]) -> None:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        problems.append(f"must provide an object with a type [json-pointer:{pointer}]")
        return
    action_id = el.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or len(action_id) > 255:
            problems.append(_too_long(255, f"{pointer}/action_id"))
        elif action_id in action_ids:
            problems.append(
                f"action_id must be unique within a block [json-pointer:{pointer}/action_id]"
            )
        else:
            action_ids.add(action_id)
    if el["type"] == "button":
        _text_object(el.get("text"), f"{pointer}/text", 75, plain_only=True, problems=problems)
        value = el.get("value")
        if isinstance(value, str) and len(value) > 2000:
            problems.append(_too_long(2000, f"{pointer}/value"))
        url = el.get("url")
        if isinstance(url, str) and len(url) > 3000:
            problems.append(_too_long(3000, f"{pointer}/url"))
        style = el.get("style")
        if style is not None and style not in ("primary", "danger"):
            problems.append(f"must be one of primary, danger [json-pointer:{pointer}/style]")


def _context_action(el: Any, pointer: str, action_ids: set[str], problems: list[str]) -> None:
    kind = el.get("type") if isinstance(el, dict) else None
    if kind not in ("feedback_buttons", "icon_button"):
        problems.append(f"must be one of feedback_buttons, icon_button [json-pointer:{pointer}/type]")
        return
    _element({**el, "type": "context_action"}, pointer, action_ids, problems)  # action_id rules
    if kind == "icon_button":
        if not isinstance(el.get("icon"), str):
            problems.append(f"must provide a string [json-pointer:{pointer}/icon]")
        _text_object(el.get("text"), f"{pointer}/text", 75, plain_only=True, problems=problems)
        return
    for side in ("positive_button", "negative_button"):
        button = el.get(side)
        if not isinstance(button, dict):
            problems.append(f"must provide an object [json-pointer:{pointer}/{side}]")
            continue
        _text_object(button.get("text"), f"{pointer}/{side}/text", 75, plain_only=True, problems=problems)
        value = button.get("value")
        if not isinstance(value, str) or not value:
            problems.append(f"must provide a string [json-pointer:{pointer}/{side}/value]")
        elif len(value) > 2000:
            problems.append(_too_long(2000, f"{pointer}/{side}/value"))
        label = button.get("accessibility_label")
        if isinstance(label, str) and len(label) > 75:
            problems.append(_too_long(75, f"{pointer}/{side}/accessibility_label"))


def validate_blocks(blocks: Any) -> list[str]:
    """The reasons ``blocks`` is invalid (empty when it is valid), Slack-style."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        p = f"/blocks/{i}"
        if not isinstance(block, dict):
            problems.append(f"must provide an object [json-pointer:{p}]")
            continue
        kind = block.get("type")
        if kind not in KNOWN_BLOCKS:
            problems.append(f"unsupported type: {kind} [json-pointer:{p}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255:
                problems.append(_too_long(255, f"{p}/block_id"))
            elif block_id in block_ids:
                problems.append(f"block_id must be unique [json-pointer:{p}/block_id]")
            else:
                block_ids.add(block_id)
        action_ids: set[str] = set()
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                problems.append(f"must provide text or fields [json-pointer:{p}]")
            if text is not None:
                _text_object(text, f"{p}/text", 3000, problems=problems)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    problems.append(f"no more than 10 items allowed [json-pointer:{p}/fields]")
                else:
                    for j, field in enumerate(fields):
                        _text_object(field, f"{p}/fields/{j}", 2000, problems=problems)
            if block.get("accessory") is not None:
                _element(block["accessory"], f"{p}/accessory", action_ids, problems)
        elif kind == "header":
            _text_object(block.get("text"), f"{p}/text", 150, plain_only=True, problems=problems)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                problems.append(f"must provide at least 1 item [json-pointer:{p}/elements]")
            elif len(elements) > 10:
                problems.append(f"no more than 10 items allowed [json-pointer:{p}/elements]")
            else:
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") == "image":
                        continue
                    _text_object(el, f"{p}/elements/{j}", 3000, problems=problems)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                problems.append(f"must provide at least 1 item [json-pointer:{p}/elements]")
            elif len(elements) > 25:
                problems.append(f"no more than 25 items allowed [json-pointer:{p}/elements]")
            else:
                for j, el in enumerate(elements):
                    _element(el, f"{p}/elements/{j}", action_ids, problems)
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                problems.append(f"must provide at least 1 item [json-pointer:{p}/elements]")
            elif len(elements) > 5:
                problems.append(f"no more than 5 items allowed [json-pointer:{p}/elements]")
            else:
                for j, el in enumerate(elements):
                    _context_action(el, f"{p}/elements/{j}", action_ids, problems)
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text:
                problems.append(f"must provide a non-empty string [json-pointer:{p}/text]")
            elif len(text) > 12000:
                problems.append(_too_long(12000, f"{p}/text"))
    return problems
