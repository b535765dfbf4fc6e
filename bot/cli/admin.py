"""`lore admin status | sync [connector] | who-can-read <url|id> | why "question" --as EMAIL`:
the chat admin commands for operators, on the machine where Lore runs.

Whoever can run `lore` here can read its configuration and database anyway, so there is no
admin check; each use is audited as ``operator:<OS user>`` on platform ``cli`` when an audit
sink is given (an audit log that cannot be written stops the command).
"""

from __future__ import annotations

import argparse
import getpass

from bot.cli.output import terminal_text
from bot.errors import CliError
from core.audit.events import AuditEvent, AuditSink, JsonValue
from core.config import Config
from core.secrets.redaction import redact_patterns


def operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "operator:unknown"


def _audit(audit: AuditSink | None, command: str, target: str) -> None:
    if audit is None:
        return
    details: dict[str, JsonValue] = {"command": command, "allowed": True, "reason": "",
                                     "target": redact_patterns(target[:500])}
    try:
        audit.record(AuditEvent("admin", operator(), "cli", details))
    except Exception as exc:  # noqa: BLE001 - whatever the store raised: nothing runs unaudited
        raise CliError(f"the audit log cannot be written ({exc.__class__.__name__}); nothing was done") from None


def cmd_admin(cfg: Config, args: argparse.Namespace, audit: AuditSink | None = None) -> int:
    """``audit``: where the command is recorded (default: the audit log in the metadata database)."""
    if audit is not None:
        return _run(cfg, args, audit)
    from core.audit import DatabaseAuditLog
    from core.db import open_database
    from core.secrets import open_configured_store
    from core.secrets.redaction import Redactor

    db = open_database(cfg.database_url, cfg.database.schema)
    try:
        return _run(cfg, args, DatabaseAuditLog(db, cfg.audit, open_configured_store(cfg, redactor=Redactor())))
    finally:
        db.close()


def _run(cfg: Config, args: argparse.Namespace, audit: AuditSink) -> int:
    action = args.admin_command
    if action == "status":
        from bot.admin import status_text

        _audit(audit, "status", "")
        print(terminal_text(status_text(cfg)()))
        return 0
    if action == "sync":
        from bot.cli.sync import cmd_sync

        _audit(audit, "sync", args.connector or "")
        return cmd_sync(cfg, argparse.Namespace(connector=args.connector, full=False, permissions=False,
                                                json=False))
    if action == "who-can-read":
        from bot.admin.access import who_can_read
        from core.db import open_database

        _audit(audit, "who-can-read", args.target)
        db = open_database(cfg.database_url, cfg.database.schema)
        try:
            print(terminal_text(who_can_read(db, args.target)))
        finally:
            db.close()
        return 0
    return _why(cfg, args, audit)


def _why(cfg: Config, args: argparse.Namespace, audit: AuditSink | None) -> int:
    from bot.admin.why import explain
    from bot.identity import PrincipalsLookup
    from bot.turn import Identity
    from retrieval.relevance import RelevanceGate, RelevanceSettings
    from retrieval.runtime import Runtime
    from retrieval.search import Mode

    # The question itself is not audited here either (audit.question_text governs question text).
    _audit(audit, "why", "")
    identity = Identity(args.as_email.strip().lower(), org_member=not args.guest)
    rt = Runtime(cfg)
    try:
        principals = PrincipalsLookup(rt.db)(identity)
        if not principals:
            raise CliError(f"{args.as_email!r} is not an e-mail address Lore can name")
        gate = RelevanceGate(RelevanceSettings(min_score=cfg.answers.min_relevance))
        text = explain(rt.db, lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID), gate,
                       args.question, principals, whose=f"{identity.email}'s")
    finally:
        rt.close()
    print(terminal_text(text))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("admin", help="the chat admin commands, for operators (status, sync, who-can-read, why)",
                       description="What the chat admin commands (!status, !sync now, !who can read, "
                       "!why) show, from the command line.")
    actions = s.add_subparsers(dest="admin_command", required=True)
    actions.add_parser("status", help="sync state per connector, index size, last errors")
    a = actions.add_parser("sync", help="run a content sync now (as `lore sync`)")
    a.add_argument("connector", nargs="?", help="a [connectors.<name>] name; default: all")
    a = actions.add_parser("who-can-read", help="a document's access list, found by URL, source id or id")
    a.add_argument("target", metavar="URL|ID")
    a = actions.add_parser("why", help="what a search as EMAIL retrieves, and what a shared conversation withholds")
    a.add_argument("question")
    a.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    a.add_argument("--guest", action="store_true", help="not a full member: no org:members")
    s.set_defaults(func=cmd_admin)
