"""The `lore` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from core.config import Config
from core.errors import LoreError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no progress bars in JSON logs
# torch's OpenMP threads otherwise spin between calls and stall query embedding by ~0.5 s when
# other work shares the cores (docs/PERFORMANCE.md); must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The commands import what they need when they run (torch only where a model is used).
from bot.cli import admin as admin_cli
from bot.cli.ask import cmd_ask
from bot.cli.audit import add_audit_parser
from bot.cli.ingest import cmd_ingest
from bot.cli.search import cmd_eval, cmd_search
from bot.cli.status import cmd_status
from bot.cli.sync import cmd_sync
from bot.cli.teams_package import cmd_teams_package
from bot.errors import CliError

__all__ = ["CliError", "build_parser", "main"]


def cmd_serve(cfg: Config, args: argparse.Namespace) -> int:
    from bot.server import serve

    if args.host:
        cfg.server.host = args.host
    if args.port:
        cfg.server.port = args.port
    serve(cfg)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lore", description=__doc__)
    p.add_argument("--config", help="TOML config file (default: $LORE_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="index a folder of documents (files connector)")
    s.add_argument("path")
    s.add_argument("--if-empty", action="store_true", help="do nothing when the index has chunks")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="search as a user, with that user's permissions")
    s.add_argument("question", nargs="?")
    s.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    s.add_argument("--guest", action="store_true", help="not a full member: no org:members")
    s.add_argument("--json", action="store_true")
    s.add_argument("--queries", metavar="FILE", help="one question per line; JSON line per question")
    s.add_argument("--top", type=int, default=5)
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="ask a question as a user, answered as in the chat surfaces")
    s.add_argument("question")
    s.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    s.add_argument("--guest", action="store_true", help="not a full member: no org:members")
    s.add_argument("--json", action="store_true", help="print the final answer as one JSON object")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="retrieval quality on a BEIR folder")
    s.add_argument("dir")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25", "all"], default="all")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("status", help="index, database and last ingest runs")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser(
        "sync",
        help="sync configured connectors now (`lore sync status`: last and next runs)",
        description="Run a connector's sync jobs now: incremental content by default, --full "
        "for full reconciliation (deletion detection and everything re-read), --permissions for "
        "group memberships and ACLs. `lore sync status` shows the last and next run per job.",
    )
    s.add_argument("connector", nargs="?", help="a [connectors.<name>] name, or `status`; default: all")
    s.add_argument("--full", action="store_true", help="full reconciliation")
    s.add_argument("--permissions", action="store_true", help="group memberships and ACLs")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser(
        "teams-package",
        help="build the Microsoft Teams app package (zip) from manifest/teams and teams.app_id",
        description="Fill manifest/teams/manifest.json with teams.app_id, check the manifest and "
        "both icons against Teams' rules, and write manifest.json, color.png and outline.png as "
        "one zip to upload in Teams (nothing is written when a check fails).",
    )
    s.add_argument("--output", required=True, metavar="PATH", help="the zip to write, e.g. lore-teams.zip")
    s.add_argument("--template", metavar="DIR", help="a folder with manifest.json, color.png, outline.png "
                   "(default: manifest/teams)")
    s.add_argument("--domain", action="append", default=[], metavar="HOST",
                   help="add a host to validDomains (repeatable; Lore itself needs none)")
    s.add_argument("--app-version", metavar="X.Y.Z", help="the package version (raise it for every upload "
                   "of a changed package; default: the template's)")
    s.set_defaults(func=cmd_teams_package)

    add_audit_parser(sub)
    admin_cli.add_parser(sub)

    s = sub.add_parser("serve", help="start the server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        from bot.plugins import (
            load_config,  # the registries: imported after parsing, --help stays fast
        )

        cfg = load_config(args.config)
        if getattr(args, "top", 1) < 1:
            raise CliError("--top must be at least 1")
        return int(args.func(cfg, args))
    except LoreError as exc:  # Lore's own failures: one line; anything else keeps its traceback
        message = " ".join(str(exc).splitlines()) or type(exc).__name__
        print(f"lore: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lore: interrupted", file=sys.stderr)
        return 130

