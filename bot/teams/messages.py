"""Every sentence the Teams surface shows or logs about a person's request, in one place."""

from __future__ import annotations

RESTRICTED_NOTE = "This answer only uses documents everyone in this conversation can read."
PRIVATE_ANSWER_BUTTON = "Answer privately with my access"
PRIVATE_ANSWER_FAILED = "I could not open a private chat with you; please ask me directly in a 1:1 chat."
