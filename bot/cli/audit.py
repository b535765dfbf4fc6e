"""`lore audit verify | export | prune`: the audit log for operators."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, TextIO

from bot.errors import CliError
from core.config import Config

if TYPE_CHECKING:
    from core.db import Database


def add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "audit", help="the audit log: verify its hash chain, export it as JSON Lines, prune old events",
        description="Check the audit log's hash chain (exit 1 at the first broken link), export events "
        "as JSON Lines for a SIEM, or remove events older than audit.retention_days behind a signed "
        "checkpoint.",
    )
    actions = s.add_subparsers(dest="audit_command", required=True)
    v = actions.add_parser("verify", help="check every hash and link; print the head to anchor elsewhere")
    v.add_argument("--anchor", metavar="HASH", help="a head hash recorded earlier: fail unless it is still "
                   "in the chain (catches the newest events deleted)")
    e = actions.add_parser("export", help="events as JSON Lines (one per line, hashes included)")
    e.add_argument("--since", metavar="WHEN", help="ISO 8601 date or datetime, UTC unless it says; inclusive")
    e.add_argument("--until", metavar="WHEN", help="ISO 8601 date or datetime, UTC unless it says; exclusive")
    e.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    p = actions.add_parser("prune", help="remove events older than audit.retention_days days")
    p.add_argument("--older-than-days", type=int, metavar="N", help="instead of audit.retention_days")
    s.set_defaults(func=cmd_audit)


def parse_when(value: str, flag: str) -> datetime:
    """``2026-12-01`` (midnight UTC) or ``2026-12-01T08:30[:00][Z|+01:00]`` (UTC when no zone)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag}: {value[:40]!r} is not an ISO 8601 date or datetime "
                       f"(e.g. 2026-12-01 or 2026-12-01T08:30:00Z)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def cmd_audit(cfg: Config, args: argparse.Namespace) -> int:
    from core.db import open_database

    action = {"verify": _verify, "export": _export, "prune": _prune}[args.audit_command]
    db = open_database(cfg.database_url, cfg.database.schema)
    try:
        return action(cfg, args, db)
    finally:
        db.close()


def _key(cfg: Config, *, required: bool, why: str) -> bytes | None:
    from core.audit import load_audit_key
    from core.secrets import open_configured_store
    from core.secrets.redaction import Redactor

    store = open_configured_store(cfg, redactor=Redactor())
    if not required and store.get(cfg.audit.key_secret) is None:
        return None  # verify says so itself if the chain was pruned and needs it
    return load_audit_key(store, cfg.audit.key_secret, why=why)


def _verify(cfg: Config, args: argparse.Namespace, db: Database) -> int:
    from core.audit import verify_chain

    key = _key(cfg, required=False, why="to check the pruning checkpoint")
    result = verify_chain(db, key, anchor=args.anchor)
    if result.broken is not None:
        print(f"broken: {result.broken} ({result.events} events verified before it)")
        return 1
    if result.anchor_found is False:
        print(f"broken: the anchored hash {args.anchor[:64]} is not in the chain: events were deleted "
              f"from its end, or the anchor is wrong ({result.summary()})")
        return 1
    print(result.summary())
    return 0


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as out:
            yield out
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def _export(cfg: Config, args: argparse.Namespace, db: Database) -> int:
    from core.audit import export_jsonl

    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    if since is not None and until is not None and until <= since:
        raise CliError("--until must be later than --since")
    with _output(args.output) as out:
        count = export_jsonl(db, out, since, until)
    if args.output:
        print(f"exported {count} events to {args.output}", file=sys.stderr)
    return 0


def _prune(cfg: Config, args: argparse.Namespace, db: Database) -> int:
    from core.audit import prune_events

    days = args.older_than_days if args.older_than_days is not None else cfg.audit.retention_days
    if days < 1:
        raise CliError("nothing to prune by: set audit.retention_days, or pass --older-than-days N (N >= 1)")
    key = _key(cfg, required=True, why="to sign the pruning checkpoint")
    if key is None:  # required=True never returns None; this keeps mypy's narrowing honest
        raise CliError("the audit key is needed to prune")
    result = prune_events(db, key, days, now=datetime.now(UTC))
    if not result.pruned:
        print(f"nothing to prune: no events older than {days} days")
        return 0
    print(f"pruned {result.pruned} events (seq up to {result.through_seq}, older than {days} days); "
          f"recorded as event {result.event_seq}")
    return 0
