"""Admin commands as typed in a chat message: a message that starts with ``!``.

The ``!`` makes them unambiguous: no question starts with it, so "why is the VPN slow" stays a
question and ``!why is the VPN slow`` is the admin command. Command words are matched without
regard to case; the argument is kept as typed.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "!"

# The names commands are audited under.
STATUS, SYNC, WHO_CAN_READ, WHY, HELP, UNKNOWN = "status", "sync", "who-can-read", "why", "help", "unknown"


@dataclass(frozen=True)
class Command:
    name: str  # one of STATUS, SYNC, WHO_CAN_READ, WHY, HELP, UNKNOWN
    argument: str = ""  # the connector, the URL or id, the question; "" when none was given
    typed: str = ""  # the command word as typed (for "unknown command")


def is_command(text: str) -> bool:
    return text.lstrip().startswith(PREFIX)


def parse_command(text: str) -> Command | None:
    """The admin command in ``text``, or None when it is not one (an ordinary question)."""
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        return None
    words = stripped[len(PREFIX):].split()
    if not words:
        return Command(UNKNOWN)
    head, rest = words[0].lower(), words[1:]
    if head == STATUS and not rest:
        return Command(STATUS)
    if head == HELP:
        return Command(HELP)
    if head == SYNC:
        if rest and rest[0].lower() == "now":
            rest = rest[1:]
        if len(rest) <= 1:
            return Command(SYNC, rest[0] if rest else "")
    if head == "who" and [w.lower() for w in rest[:2]] == ["can", "read"]:
        return Command(WHO_CAN_READ, " ".join(rest[2:]))
    if head == WHY:
        return Command(WHY, " ".join(rest))
    return Command(UNKNOWN, typed=words[0][:40])
