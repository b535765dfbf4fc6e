"""`lore ingest FOLDER`: index a folder of documents as a files connector, under its lease."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.cli.output import print_json, print_repairs, terminal_text, ticker
from bot.errors import CliError
from core.config import Config


def cmd_ingest(cfg: Config, args: argparse.Namespace) -> int:
    import asyncio

    from tqdm import tqdm

    from connectors.files import FilesConnector
    from connectors.files.connector import derived_instance
    from connectors.registry import files_connector_for, overlapping_files_connector
    from connectors.sync import SyncEngine
    from connectors.sync.scheduler import LeaseHeld, default_holder, run_leased
    from core.audit import DatabaseAuditLog
    from core.leases import LeaseManager
    from core.secrets import open_configured_store
    from core.secrets.redaction import Redactor
    from retrieval.index.registry import index_location
    from retrieval.runtime import Runtime

    root = Path(args.path)
    if not root.is_dir():
        raise CliError(f"{root} is not a folder")
    # A folder that a configured connector indexes is ingested as that connector (its group
    # namespace, URLs and lease); any other folder gets a name of its own.
    configured = files_connector_for(cfg, root)
    if configured is None:
        overlap = overlapping_files_connector(cfg, root)
        if overlap is not None:
            # A second source over part of the same tree would read other rule files above it
            # (or another groups.yaml) and could give its documents wider access.
            raise CliError(f"{root} overlaps the folder of connector {overlap!r}: run `lore sync {overlap} --full`")
    name = configured[0] if configured else derived_instance(root)
    url_base = configured[1].url_base if configured else ""
    connector = FilesConnector(root, cfg.files, instance=name, url_base=url_base)
    rt = Runtime(cfg)
    try:
        if args.if_empty and rt.index.count_chunks() > 0:
            print(f"index at {index_location(cfg)} already has {rt.index.count_chunks()} chunks; not ingesting")
            return 0
        secrets = open_configured_store(cfg, redactor=Redactor())
        engine = SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker, audit=DatabaseAuditLog(rt.db, cfg.audit, secrets))
        bar = tqdm(desc=f"ingest {root}", unit="file", disable=args.json or None, file=sys.stderr)
        started = time.monotonic()
        try:
            report = asyncio.run(
                run_leased(engine, LeaseManager(rt.db), name, connector, ["full"], holder=default_holder("cli"),
                           lease_seconds=cfg.sync.lease_seconds, progress=ticker(bar))
            )[0]
        except LeaseHeld as exc:
            raise CliError(f"{exc}; try again when it has finished") from None
        finally:
            bar.close()
        elapsed = time.monotonic() - started
    finally:
        rt.close()
    if args.json:
        print_json(report.as_json() | {"seconds": round(elapsed, 2)})
    else:
        c = report.counts()
        print(f"{report.summary()} ({c['chunks_written']} chunks written in {elapsed:.1f}s)")
        for sid, why in report.skipped:
            print(terminal_text(f"  skipped {sid}: {why}"))
        for sid, why in report.failed:
            print(terminal_text(f"  FAILED  {sid}: {why}"))
        for sid in report.deleted:
            print(terminal_text(f"  deleted {sid}"))
        for err in report.errors:
            print(terminal_text(f"  ERROR   {err}"))
        print_repairs(report)
    # Any file that could not be indexed makes the exit status 1, so scripts notice; skipped
    # files (unsupported, too large, excluded by rules) do not.
    return 0 if report.status == "succeeded" and not report.failed and not report.errors else 1


