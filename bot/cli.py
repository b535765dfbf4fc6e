"""The `lore` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.errors import CliError
from core.config import Config, Plugins, load_config
from core.errors import LoreError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no progress bars in JSON logs
# torch's OpenMP threads otherwise spin between calls and stall query embedding by ~0.5 s when
# other work shares the cores (docs/PERFORMANCE.md); must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# -- ingest -------------------------------------------------------------------------------------


def cmd_ingest(cfg: Config, args: argparse.Namespace) -> int:
    import asyncio

    from tqdm import tqdm

    from connectors.files import FilesConnector
    from connectors.files.connector import derived_instance
    from connectors.registry import files_connector_for, overlapping_files_connector
    from connectors.sync import SyncEngine
    from connectors.sync.scheduler import LeaseHeld, default_holder, run_leased
    from core.leases import LeaseManager
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
        engine = SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker)
        bar = tqdm(desc=f"ingest {root}", unit="file", disable=args.json or None, file=sys.stderr)
        started = time.monotonic()
        try:
            report = asyncio.run(
                run_leased(engine, LeaseManager(rt.db), name, connector, ["full"], holder=default_holder("cli"),
                           lease_seconds=cfg.sync.lease_seconds, progress=_ticker(bar))
            )[0]
        except LeaseHeld as exc:
            raise CliError(f"{exc}; try again when it has finished") from None
        finally:
            bar.close()
        elapsed = time.monotonic() - started
    finally:
        rt.close()
    if args.json:
        _print_json(report.as_json() | {"seconds": round(elapsed, 2)})
    else:
        c = report.counts()
        print(f"{report.summary()} ({c['chunks_written']} chunks written in {elapsed:.1f}s)")
        for sid, why in report.skipped:
            print(f"  skipped {sid}: {why}")
        for sid, why in report.failed:
            print(f"  FAILED  {sid}: {why}")
        for sid in report.deleted:
            print(f"  deleted {sid}")
        for err in report.errors:
            print(f"  ERROR   {err}")
        _print_repairs(report)
    return 0 if report.status in ("succeeded", "partial") else 1


def _print_repairs(report: Any) -> None:
    if report.orphans_deleted:
        print(f"  repaired: {report.orphans_deleted} documents in the index that the database did not know, deleted")
    if report.missing_reindexed:
        print(f"  repaired: {report.missing_reindexed} documents missing from the index, written again")


# -- search -------------------------------------------------------------------------------------


def cmd_search(cfg: Config, args: argparse.Namespace) -> int:
    from core.acl import PrincipalError
    from core.memberships import principals_for
    from retrieval.runtime import Runtime
    from retrieval.search import Mode

    if bool(args.question) == bool(args.queries):
        raise CliError("give either a question or --queries FILE")
    if args.queries:
        qfile = Path(args.queries)
        if not qfile.is_file():
            raise CliError(f"--queries: {qfile} does not exist")
        questions = [q.strip() for q in qfile.read_text(encoding="utf-8").splitlines() if q.strip()]
    else:
        questions = [args.question]
    rt = Runtime(cfg)
    try:
        try:
            principals = principals_for(rt.db, args.as_email, org_member=not args.guest)
        except PrincipalError as exc:
            raise CliError(f"--as: {exc}") from None
        mode = Mode(args.mode)
        for question in questions:
            hits = rt.searcher.search(question, principals, mode=mode, top_k=args.top)
            results = [
                {"source_id": h.source_id, "title": h.title, "url": h.url, "score": round(h.score, 6), "text": h.text}
                for h in hits
            ]
            if args.json or args.queries:
                _print_json({"results": results})
                continue
            print(f"{len(hits)} results for {args.as_email} ({', '.join(principals)}):")
            for i, h in enumerate(hits, start=1):
                where = " > ".join(h.heading_path)
                snippet = " ".join(h.text.split())[:200]
                print(f"[{i}] {h.title} ({h.source_id}{' > ' + where if where else ''})  score {h.score:.3f}")
                print(f"    {snippet}")
    finally:
        rt.close()
    return 0


# -- eval ---------------------------------------------------------------------------------------


def cmd_eval(cfg: Config, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from retrieval.eval import EvalDataError, build_index, evaluate, load_beir, store_key
    from retrieval.runtime import Runtime
    from retrieval.search import Mode, Searcher

    try:
        data = load_beir(Path(args.dir))
    except EvalDataError as exc:
        raise CliError(str(exc)) from None
    rt = Runtime(cfg)
    try:
        store = cfg.data_dir / "eval" / store_key(data, rt.embedder, rt.chunker)
        bar = tqdm(desc=f"index {data.name}", unit="doc", file=sys.stderr, disable=args.json or None)
        index = build_index(data, store, rt.embedder, rt.chunker, progress=bar.update)
        bar.close()
        searcher = Searcher(rt.embedder, index, cfg.search)
        modes = [Mode.HYBRID, Mode.DENSE, Mode.BM25] if args.mode == "all" else [Mode(args.mode)]
        results = {m.value: evaluate(data, searcher, m) for m in modes}
    finally:
        rt.close()
    if args.json:
        _print_json({"dataset": data.name, "results": results})
    else:
        print(f"{data.name}: {len(data.queries)} judged queries")
        print(f"{'mode':8} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR@10':>8}")
        for mode, m in results.items():
            print(f"{mode:8} {m['ndcg@10']:8.4f} {m['recall@10']:8.4f} {m['recall@100']:8.4f} {m['mrr@10']:8.4f}")
    return 0


# -- status -------------------------------------------------------------------------------------


def cmd_status(cfg: Config, args: argparse.Namespace) -> int:
    from bot.status import collect_status

    status = collect_status(cfg)
    if args.json:
        _print_json(status)
        return 0
    print(f"data directory: {status['data_dir']}")
    print(f"database:       {status['database']}")
    print(f"index:          {status['index']['path']} ({status['index']['chunks']} chunks)")
    print(f"documents:      {status['documents']}  groups: {status['groups']}")
    if not status["consistency"]["ok"]:
        print(f"WARNING:        {status['consistency']['message']}")
    for src in status["sources"]:
        last = src["last_run"]
        line = f"  {src['source']}: {src['documents']} documents"
        if last:
            line += f"; last run {last['status']} at {last['finished_at'] or last['started_at']} {last['counts']}"
        print(line)
    return 0


# -- sync ---------------------------------------------------------------------------------------


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
    from core.leases import LeaseManager
    from core.secrets import open_secret_store
    from core.secrets.redaction import Redactor
    from retrieval.runtime import Runtime

    names = _connector_names(cfg, args.connector)
    kinds = (["full"] if args.full else []) + (["permissions"] if args.permissions else []) or ["content"]
    secrets = open_secret_store(cfg.secrets, mode=cfg.server.mode, redactor=Redactor())
    rt = Runtime(cfg)
    worst = 0
    try:
        engine = SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker)
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
                               lease_seconds=cfg.sync.lease_seconds, progress=_ticker(bar))
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


def _ticker(bar: Any) -> Any:
    return lambda _source_id: bar.update(1)


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
        _print_json({"connector": name} | report.as_json())
        return
    print(f"{name} {report.kind}: {report.summary()}")
    for sid, why in report.failed:
        print(f"  failed  {sid}: {why}")
    for error in report.errors:
        print(f"  error   {error}")
    _print_repairs(report)


def _sync_status(cfg: Config, args: argparse.Namespace) -> int:
    import asyncio

    from connectors.registry import connector_source, intervals
    from connectors.sync.scheduler import lease_job
    from connectors.sync.state import SyncState
    from connectors.sync.status import job_status
    from core.db import open_database
    from core.leases import LeaseManager

    names = _connector_names(cfg, None)
    db = open_database(cfg.database_url, cfg.database.schema)
    try:
        state, leases = SyncState(db), LeaseManager(db)
        state.close_dead_runs()  # a killed run must not look like it is still going
        out = []
        for name in names:
            conf = cfg.connectors[name]
            lease = asyncio.run(leases.current(lease_job(name)))
            out.append(job_status(state, name, connector_source(name, conf), intervals(conf),
                                  enabled=conf.enabled, lease=lease))
    finally:
        db.close()
    if args.json:
        _print_json({"connectors": out})
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


# -- serve --------------------------------------------------------------------------------------


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

    s = sub.add_parser("serve", help="start the server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    # The composition root: each plug-in kind's registration table, for the settings loader.
    from connectors.registry import source_settings
    from core.secrets import PROVIDERS
    from retrieval.index.registry import BACKENDS

    plugins = Plugins(sources=source_settings(), index_backends=BACKENDS, secret_providers=PROVIDERS)
    try:
        cfg = load_config(args.config, plugins=plugins)
        if getattr(args, "top", 1) < 1:
            raise CliError("--top must be at least 1")
        return int(args.func(cfg, args))
    except LoreError as exc:  # Lore's own failures: one line; anything else keeps its traceback
        message = " ".join(str(exc).splitlines()) or type(exc).__name__
        print(f"lore: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
