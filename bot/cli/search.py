"""`lore search` (what a person may find) and `lore eval` (retrieval quality on a BEIR folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.output import print_json, terminal_text
from bot.errors import CliError
from core.config import Config


def cmd_search(cfg: Config, args: argparse.Namespace) -> int:
    from bot.cli.ask import unknown_person_note
    from core.acl import PrincipalError
    from core.memberships import known_to_sources, principals_for
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
        if not known_to_sources(rt.db, args.as_email):
            sys.stderr.write(unknown_person_note(args.as_email.strip().lower(), guest=args.guest) + "\n")
        mode = Mode(args.mode)
        for question in questions:
            hits = rt.searcher.search(question, principals, mode=mode, top_k=args.top)
            results = [
                {"source_id": h.source_id, "title": h.title, "url": h.url, "score": round(h.score, 6), "text": h.text}
                for h in hits
            ]
            if args.json or args.queries:
                print_json({"results": results})
                continue
            print(f"{len(hits)} results for {args.as_email} ({', '.join(principals)}):")
            for i, h in enumerate(hits, start=1):
                where = " > ".join(h.heading_path)
                snippet = " ".join(h.text.split())[:200]
                print(terminal_text(f"[{i}] {h.title} ({h.source_id}{' > ' + where if where else ''})  score {h.score:.3f}"))
                print(f"    {terminal_text(snippet)}")
    finally:
        rt.close()
    return 0




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
        print_json({"dataset": data.name, "results": results})
    else:
        print(f"{data.name}: {len(data.queries)} judged queries")
        print(f"{'mode':8} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR@10':>8}")
        for mode, m in results.items():
            print(f"{mode:8} {m['ndcg@10']:8.4f} {m['recall@10']:8.4f} {m['recall@100']:8.4f} {m['mrr@10']:8.4f}")
    return 0


