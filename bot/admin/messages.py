"""Every fixed sentence the admin commands say, in one place (the reports' line formats live
with the reports: status.py, access.py, why.py)."""

from __future__ import annotations

HELP = """**Admin commands** (in a direct message with me):
- `!status`: sync state per connector, index size, last errors
- `!sync now [connector]`: run a content sync now (of one connector, or all)
- `!who can read <url or source id>`: a document's access list, with group sizes
- `!why <question>`: what a search with your access retrieves, and what a shared conversation would withhold
- `!help`: this list"""

UNVERIFIED = "I couldn't verify who you are, so I can't run admin commands for you."
AUDIT_FAILED = "Admin commands are unavailable: the audit log cannot be written."
NO_SCHEDULER = ("No sync scheduler runs here (sync.scheduler is off, no connector is configured, "
                "or this is not the server): use `lore sync` on the server.")
NO_DOCUMENT = "No document with that URL or id."
WHO_CAN_READ_USAGE = "Usage: `!who can read <url or source id>`"
WHY_USAGE = "Usage: `!why <question>`"
TRY_HELP = "Try `!help`."


def not_an_admin(word: str) -> str:
    """To anyone who is not an admin: never who the admins are."""
    return f"{word} is an admin command; admins are configured in [admins]."


def ask_privately(word: str) -> str:
    return f"{word} shows access lists and document titles, so I only answer it privately: ask me in a direct message."


def unknown_command(typed: str) -> str:
    return f"Unknown command `!{typed}`; try `!help`."


def unknown_connector(name: str, scheduled: list[str]) -> str:
    listed = ", ".join(f"`{n}`" for n in scheduled) or "none"
    return f"No connector `{name}` is scheduled here; the scheduled ones: {listed}."


def sync_requested(names: list[str]) -> str:
    return f"Content sync requested for {', '.join(f'`{n}`' for n in names)}; `!status` shows when it has run."


def command_failed(command: str, error: str) -> str:
    return f"`!{command}` failed ({error}); the server log has the details."
