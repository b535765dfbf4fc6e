"""A verified inbound Bot Framework activity -> what Lore needs of it (a :class:`~bot.turn.Turn`).

Parsed with the Agents SDK's ``Activity`` model (microsoft-agents-activity). Decisions:

* Conversation type -> :class:`~bot.turn.Kind`: ``personal`` is DIRECT, ``groupChat`` GROUP,
  ``channel`` CHANNEL; anything else is not answered.
* Outside a 1:1 chat Lore answers only when it is @mentioned, and a mention counts only as a
  ``mention`` entity whose ``mentioned.id`` is the activity's recipient (the bot). The text alone
  is not trusted: ``<at>Lore</at>`` is what any user can type or paste, and the display name is
  the app's, not unique; Teams adds the entity only for a real mention. The mention's text is
  then removed (the SDK's ``remove_recipient_mention``); other people's ``<at>`` tags keep their
  names as plain words.
* The thread: a channel message's ``conversation.id`` ends in ``;messageid=<root>``, the thread
  it is in; replies go to that conversation id with ``replyToId`` (the channel thread). That id
  is also the :attr:`Turn.thread_id`, so follow-ups in the thread share the thread's memory. In
  chats (1:1, group) the conversation is the thread.
* The tenant is ``channelData.tenant.id`` (Teams' documented field), else ``conversation.tenantId``.
* The asker is ``from.aadObjectId`` (the Microsoft Entra object id the directory resolves);
  without one nobody is asking (fail closed).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity
from pydantic import ValidationError

from bot.turn import Kind, Turn

KINDS = {"personal": Kind.DIRECT, "groupChat": Kind.GROUP, "channel": Kind.CHANNEL}
_AT_TAG = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class Inbound:
    """The parts of one activity Lore acts on; ``raw`` is the activity as received."""

    type: str
    id: str
    name: str  # an invoke's name
    service_url: str
    channel_id: str
    tenant_id: str
    conversation_id: str
    conversation_type: str
    user_id: str  # from.id (the Teams user id, 29:...)
    aad_object_id: str
    bot: dict[str, Any]  # the recipient account (the bot), for replies' "from"
    user: dict[str, Any]  # the sender account, for replies' "recipient"
    text: str
    mentioned: bool
    value: Any
    raw: dict[str, Any]

    @property
    def kind(self) -> Kind | None:
        return KINDS.get(self.conversation_type)

    @property
    def base_conversation_id(self) -> str:
        """The chat or channel, without a channel thread's ``;messageid=``."""
        return self.conversation_id.split(";messageid=", 1)[0]

    def turn(self, *, private: bool = False, text: str | None = None) -> Turn | None:
        kind = self.kind
        if kind is None or not self.aad_object_id:
            return None
        return Turn("teams", self.tenant_id, self.aad_object_id, kind, self.base_conversation_id,
                    self.conversation_id, self.text if text is None else text, private=private)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tenant_of(body: dict[str, Any]) -> str:
    tenant = _object(_object(body.get("channelData")).get("tenant"))
    # Tenant ids are GUIDs, compared without case (Entra writes them either way).
    return str(tenant.get("id") or _object(body.get("conversation")).get("tenantId") or "").strip().lower()


def question_text(activity: Activity) -> str:
    text = activity.remove_recipient_mention() if activity.recipient else (activity.text or "")
    text = _AT_TAG.sub(lambda m: m.group(1), text)
    text = _TAG.sub(" ", text)  # Teams sends simple HTML (<p>, <br>) around a channel message
    return " ".join(html.unescape(text).split())


def parse(body: dict[str, Any]) -> Inbound | None:
    """The activity, or None when it is not one (the SDK's model refuses it)."""
    try:
        activity = Activity.model_validate(body)
    except ValidationError:
        return None
    conversation = activity.conversation
    sender = _object(body.get("from"))
    recipient = _object(body.get("recipient"))
    mentioned = activity.is_recipient_mentioned()
    return Inbound(
        type=str(activity.type or ""), id=str(activity.id or ""), name=str(activity.name or ""),
        service_url=str(activity.service_url or ""), channel_id=str(body.get("channelId") or ""),
        tenant_id=tenant_of(body),
        conversation_id=str(conversation.id if conversation and conversation.id else ""),
        conversation_type=str(conversation.conversation_type if conversation and conversation.conversation_type else ""),
        user_id=str(sender.get("id") or ""), aad_object_id=str(sender.get("aadObjectId") or ""),
        bot=dict(recipient), user=dict(sender),
        text=question_text(activity) if activity.text else "", mentioned=mentioned,
        value=body.get("value"), raw=body,
    )
