"""Admin commands in chat (``!status``, ``!sync now``, ``!who can read``, ``!why``, ``!help``)
and their policy: who is an admin, where the commands answer, and the audit of every attempt."""

from bot.admin.commands import AdminCommands, admin_commands, status_text
from bot.admin.parse import Command, is_command, parse_command
from bot.admin.policy import AdminPolicy, Decision
from bot.admin.trigger import SyncTrigger

__all__ = ["AdminCommands", "AdminPolicy", "Command", "Decision", "SyncTrigger", "admin_commands",
           "is_command", "parse_command", "status_text"]
