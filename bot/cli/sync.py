"""`lore sync [NAME] [--full] [--permissions]` and `lore sync status`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.output import print_json, print_repairs, terminal_text, ticker
from bot.errors import CliError
from core.config import Config


def cmd_sync(cfg: Config, args: argparse.Namespace) -> int:
    if args.connector == "status":
        if args.full or args.permissions:
            raise CliError("`lore sync status` takes no --full / --permissions")
        return _sync_status(cfg, args)
    import asyncio

    from tqdm import tqdm

    from connectors.registry import build_connector
    from connectors.sync import SyncEngine
    from connectors.sync.scheduler import LeaseHeld, close_connector, default_holder, run_leased
    from core.audit import DatabaseAuditLog
    from core.leases import LeaseManager
    from core.secrets import open_configured_store
    from core.secrets.redaction import Redactor
    from retrieval.runtime import Runtime

    names = _connector_names(cfg, args.connector)
    kinds = (["full"] if args.full else []) + (["permissions"] if args.permissions else []) or ["content"]
    secrets = open_configured_store(cfg, redactor=Redactor())
    rt = Runtime(cfg)
    worst = 0
    try:
        engine = SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker, audit=DatabaseAuditLog(rt.db, cfg.audit, secrets))
        leases = LeaseManager(rt.db)
        for name in names:
            try:
                connector = build_connector(name, cfg.connectors[name], cfg, secrets)
            except Exception as exc:  # noqa: BLE001 - config/secret problems: one clear line
                raise CliError(f"connector {name}: {exc}") from None
            bar = tqdm(desc=f"sync {name} ({'+'.join(kinds)})", unit="item", disable=args.json or None,
                       file=sys.stderr)
            try:
                reports = asyncio.run(
                    run_leased(engine, leases, name, connector, kinds, holder=default_holder("cli"),
                               lease_seconds=cfg.sync.lease_seconds, progress=ticker(bar))
                )
            except LeaseHeld as exc:
                raise CliError(f"{exc}; try again when it has finished") from None
            finally:
                bar.close()
                close_connector(connector)
            for report in reports:
                worst = max(worst, 1 if report.status == "failed" else 0)
                _print_sync_report(name, report, args.json)
    finally:
        rt.close()
    return worst




def _connector_names(cfg: Config, wanted: str | None) -> list[str]:
    if not cfg.connectors:
        raise CliError("no connectors configured: add a [connectors.<name>] table to the config (README)")
    if wanted is None:
        return sorted(cfg.connectors)
    if wanted not in cfg.connectors:
        raise CliError(f"no connector {wanted!r} in the config (configured: {', '.join(sorted(cfg.connectors))})")
    return [wanted]


def _print_sync_report(name: str, report: Any, as_json: bool) -> None:
    if as_json:
        print_json({"connector": name} | report.as_json())
        return
    print(f"{name} {report.kind}: {report.summary()}")
    for sid, why in report.failed:
        print(terminal_text(f"  failed  {sid}: {why}"))
    for error in report.errors:
        print(terminal_text(f"  error   {error}"))
    print_repairs(report)


def _sync_status(cfg: Config, args: argparse.Namespace) -> int:
    from bot.status import collect_sync_status

    _connector_names(cfg, None)  # none configured: say so
    out = collect_sync_status(cfg)
    if args.json:
        print_json({"connectors": out})
        return 0
    for entry in out:
        running = f", running on {entry['running_on']}" if entry["running_on"] else ""
        enabled = "" if entry["enabled"] else " (not scheduled: enabled = false)"
        print(f"{entry['connector']} ({entry['source']}){enabled}{running}")
        for kind, job in entry["jobs"].items():
            last = job["last_run"]
            if last is None:
                summary = "never ran"
            else:
                counts = ", ".join(f"{k} {v}" for k, v in last["counts"].items() if v)
                summary = f"last {last['status']} at {last['finished_at'] or last['started_at']}"
                summary += f" ({counts or 'no changes'})"
                if last["error_count"]:
                    summary += f", {last['error_count']} errors; first: {last['errors'][0]}"
            print(f"  {kind:12} {summary}; next: {job['next_run'] or '-'}")
    return 0
