"""Confluence sync: throughput of a full sync, API calls of an incremental sync, permission sync.

Run: ``make bench``, or
``python -m pytest -q -m bench -p no:cacheprovider -s bench/test_bench_confluence_sync.py``

The Confluence stand-in (``tests/fakes/confluence_stand_in.py``) serves a synthetic wiki from a
background thread of this process, through the real atlassian-python-api transport. The wiki
(seeded, so every run builds the same one): 5 spaces of equal size, each readable by 4-8 of 20
groups (20 users each); page trees 4 levels deep (1% roots, 6% second level, 30% third, the rest
fourth); bodies of 150-400 words of storage-format XHTML (h2 sections of paragraphs, a bullet
list on 20% of pages, a table on 15%, a code macro on 12%); a view restriction (1-3 users and/or
0-2 groups) on 10% of pages, which stacks onto their subtrees; modification times spread over the
past year, all at least a day old (outside the incremental job's 10-minute overlap window).

Measured, each job through ``SyncEngine.run`` with a fresh connector (as the scheduler does),
SQLite and a LanceIndex in a temporary folder:

1. ``full`` on an empty index with the real model (all-MiniLM-L6-v2, chunking as configured by
   default) and with the hash embedder (the connector + engine + index overhead without the
   model). The real model runs on ``REAL_PAGES`` pages (a wiki of its own when that is not the
   5,000 of the hash run).
2. A no-change ``content`` job after the full sync, on a 500-page and a 5,000-page wiki: its
   API calls must not grow with the wiki.
3. ``permissions`` after the full sync with no change, then after a view restriction is added
   to a top-level page (its whole subtree's ACLs change): nothing may be re-embedded.

The stand-in is local and shares this process's CPU (and GIL) with the sync: the times include
serving the JSON, but no network latency and no rate limits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench._workload import CpuMonitor, machine, write_result
from connectors.confluence.connector import ConfluenceConnector
from connectors.confluence.settings import ConfluenceConnectorConfig
from connectors.sync import SyncEngine
from connectors.sync.report import SyncReport
from core.config import Config, EmbeddingConfig
from retrieval.runtime import Runtime
from tests.fakes.confluence_stand_in import ConfluenceStandIn
from tests.fakes.memory_secrets import MemorySecretStore

PAGES = 5000
SMALL_PAGES = 500
# The real model embeds about 3 chunks per page at 20-30 chunks/s on the 2-core machine: all
# 5,000 pages would take 13-15 minutes, so it runs on a 1,000-page wiki of the same shape
# (LORE_TEST_BENCH_CONFLUENCE_REAL_PAGES=5000 for the whole wiki).
REAL_PAGES = int(os.environ.get("LORE_TEST_BENCH_CONFLUENCE_REAL_PAGES", "1000"))
SPACES = 5
GROUPS = 20
USERS_PER_GROUP = 20
RESTRICTED_SHARE = 0.10
EMAIL, TOKEN = "lore-bot@example.com", "bench-token"

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

_WORDS = ["the", "of", "and", "to", "in", "for", "is", "on", "that", "by", "with", "this", "be", "are", "as", "at", "from", "it", "or", "an", "we", "our", "will", "can", "you", "team", "service", "customer", "release", "deploy", "deployment", "pipeline", "build", "review", "incident", "alert", "on-call", "runbook", "database", "query", "index", "cluster", "node", "latency", "throughput", "request", "response", "error", "retry", "timeout", "config", "configuration", "setting", "policy", "access", "permission", "group", "user", "account", "owner", "escalation", "ticket", "backlog", "sprint", "roadmap", "milestone", "quarter", "budget", "forecast", "invoice", "payment", "contract", "vendor", "onboarding", "offboarding", "laptop", "vpn", "password", "token", "certificate", "key", "secret", "rotation", "backup", "restore", "snapshot", "region", "zone", "replica", "failover", "monitoring", "dashboard", "metric", "log", "trace", "span", "storage", "bucket", "queue", "worker", "job", "schedule", "cron", "migration", "schema", "table", "column", "api", "endpoint", "client", "server", "gateway", "proxy", "cache", "ttl", "version", "branch", "merge", "commit", "test", "coverage", "staging", "production", "environment", "feature", "flag", "rollout", "rollback", "approval", "change", "freeze", "window", "holiday", "leave", "expense", "travel", "benefit", "salary", "review", "goal", "feedback", "hiring", "interview", "candidate", "office", "desk", "meeting", "agenda", "notes", "decision", "action", "item", "owner", "due", "date", "status", "blocked", "done", "security", "audit", "compliance", "gdpr", "retention", "data", "privacy", "encryption", "backup", "disaster", "recovery", "plan", "support", "sla", "priority", "severity", "customer", "impact", "root", "cause", "timeline", "follow-up", "postmortem", "lesson"]
_HEADINGS = ["Overview", "Background", "How it works", "Steps", "Owners", "Troubleshooting",
             "Escalation", "FAQ", "Related pages", "Decisions", "Open questions", "Checklist"]
_CODE = [
    ("bash", "kubectl -n {w} rollout restart deployment/{w}-worker\nkubectl -n {w} rollout status deployment/{w}-worker"),
    ("yaml", "{w}:\n  replicas: 3\n  timeout_seconds: 30\n  retry: {{attempts: 5, backoff: exponential}}"),
    ("sql", "SELECT id, status, updated_at FROM {w}\nWHERE status = 'blocked'\nORDER BY updated_at DESC LIMIT 50;"),
    ("python", "def rotate_{w}(client):\n    key = client.create_key()\n    client.revoke_old_keys(keep=key.id)\n    return key"),
]


@dataclass
class Wiki:
    """What was generated: enough to check the sync's answers against."""

    pages: list[str] = field(default_factory=list)  # page ids
    children: dict[str, list[str]] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    restricted: set[str] = field(default_factory=set)
    depth_counts: dict[int, int] = field(default_factory=dict)
    words: list[int] = field(default_factory=list)
    tables: int = 0
    code_macros: int = 0
    body_bytes: int = 0

    def subtree(self, page_id: str) -> list[str]:
        out, todo = [], [page_id]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(self.children.get(p, []))
        return out


class _Text:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        weights = 1.0 / np.arange(1, len(_WORDS) + 1) ** 0.8
        self.p = weights / weights.sum()
        self.vocab = np.asarray(_WORDS, dtype=object)

    def words(self, n: int) -> list[str]:
        return list(self.vocab[self.rng.choice(len(_WORDS), size=n, p=self.p)])

    def sentence(self, n: int) -> str:
        w = self.words(n)
        return " ".join(w).capitalize() + "."


def _body(rng: np.random.Generator, text: _Text, wiki: Wiki) -> str:
    target = int(rng.integers(150, 401))
    parts: list[str] = []
    written = 0
    table = rng.random() < 0.15
    code = rng.random() < 0.12
    bullets = rng.random() < 0.20
    headings = list(rng.choice(_HEADINGS, size=4, replace=False))
    while written < target:
        if headings and (written == 0 or rng.random() < 0.35):
            parts.append(f"<h2>{headings.pop()}</h2>")
        sentences = []
        for _ in range(int(rng.integers(2, 5))):
            n = int(rng.integers(8, 20))
            sentences.append(text.sentence(n))
            written += n
        parts.append("<p>" + " ".join(sentences) + "</p>")
        if bullets and written > target // 3:
            items = "".join(f"<li>{text.sentence(int(rng.integers(4, 9)))}</li>" for _ in range(int(rng.integers(3, 6))))
            parts.append(f"<ul>{items}</ul>")
            bullets = False
        if table and written > target // 2:
            rows = "".join(
                "<tr>" + "".join(f"<td>{' '.join(text.words(int(rng.integers(1, 4))))}</td>" for _ in range(3)) + "</tr>"
                for _ in range(int(rng.integers(3, 7)))
            )
            parts.append(f"<table><tbody><tr><th>Item</th><th>Owner</th><th>Status</th></tr>{rows}</tbody></table>")
            wiki.tables += 1
            table = False
        if code and written > 2 * target // 3:
            lang, snippet = _CODE[int(rng.integers(0, len(_CODE)))]
            parts.append(
                '<ac:structured-macro ac:name="code" ac:schema-version="1">'
                f'<ac:parameter ac:name="language">{lang}</ac:parameter>'
                f"<ac:plain-text-body><![CDATA[{snippet.format(w=text.words(1)[0].replace('-', '_'))}]]>"
                "</ac:plain-text-body></ac:structured-macro>"
            )
            wiki.code_macros += 1
            code = False
    wiki.words.append(written)
    body = "".join(parts)
    wiki.body_bytes += len(body.encode())
    return body


def build_wiki(stand_in: ConfluenceStandIn, n_pages: int, *, seed: int = 17) -> Wiki:
    rng = np.random.default_rng(seed)
    text = _Text(rng)
    wiki = Wiki()
    now = datetime.now(UTC)
    stand_in.add_credentials(EMAIL, TOKEN)
    stand_in.add_user("lore-bot-account", EMAIL, display_name="Lore")
    users = [f"u{i:03d}" for i in range(GROUPS * USERS_PER_GROUP)]
    for u in users:
        stand_in.add_user(u, f"{u}@example.com", display_name=u.upper())
    groups = []
    for g in range(GROUPS):
        members = users[g * USERS_PER_GROUP : (g + 1) * USERS_PER_GROUP]
        groups.append(stand_in.add_group(f"team-{g:02d}", members, group_id=f"g{g:02d}").id)
    per_space = n_pages // SPACES
    # Share of each level in a space: 1% roots, 6% second level, 30% third, the rest fourth.
    shares = (0.01, 0.06, 0.30)
    for s in range(SPACES):
        key = f"S{s}"
        stand_in.add_space(key, f"Space {s}")
        for g in rng.choice(groups, size=int(rng.integers(4, 9)), replace=False):
            stand_in.set_space_permission(key, group=str(g))
        counts = [max(1, round(per_space * x)) for x in shares]
        counts.append(per_space - sum(counts))
        levels: list[list[str]] = []
        for depth, count in enumerate(counts, start=1):
            level: list[str] = []
            for i in range(count):
                parent = None if depth == 1 else str(levels[-1][int(rng.integers(0, len(levels[-1])))])
                restrictions = None
                if rng.random() < RESTRICTED_SHARE:
                    restrictions = {
                        "users": list(rng.choice(users, size=int(rng.integers(0, 4)), replace=False)),
                        "groups": list(rng.choice(groups, size=int(rng.integers(0, 3)), replace=False)),
                    }
                    if not restrictions["users"] and not restrictions["groups"]:
                        restrictions["groups"] = [str(rng.choice(groups))]
                modified = now - timedelta(days=1) - timedelta(seconds=int(rng.integers(0, 364 * 86400)))
                title = " ".join(text.words(int(rng.integers(2, 5)))).title() + f" ({key}-{depth}-{i})"
                page = stand_in.add_page(key, title, _body(rng, text, wiki), parent_id=parent,
                                         restrictions=restrictions, modified=modified,
                                         author=str(rng.choice(users)))
                level.append(page.id)
                wiki.pages.append(page.id)
                if restrictions:
                    wiki.restricted.add(page.id)
                if parent is None:
                    wiki.roots.append(page.id)
                else:
                    wiki.children.setdefault(parent, []).append(page.id)
            levels.append(level)
            wiki.depth_counts[depth] = wiki.depth_counts.get(depth, 0) + len(level)
    return wiki


def connector(stand_in: ConfluenceStandIn) -> ConfluenceConnector:
    conf = ConfluenceConnectorConfig(type="confluence", url=stand_in.wiki_url, email=EMAIL)
    secrets = MemorySecretStore()
    secrets.put("confluence-api-token", TOKEN)
    return ConfluenceConnector.from_config("wiki", conf, secrets)


def runtime(folder: Path, *, real: bool) -> Runtime:
    embedding = EmbeddingConfig() if real else EmbeddingConfig(provider="hash")
    return Runtime(Config(data_dir=folder, embedding=embedding))


def timed_run(rt: Runtime, stand_in: ConfluenceStandIn, kind: str) -> tuple[SyncReport, dict[str, Any]]:
    engine = SyncEngine(rt.db, rt.index, rt.embedder, rt.chunker)
    conn = connector(stand_in)
    before = len(stand_in.calls(""))
    monitor = CpuMonitor()
    t = time.perf_counter()
    try:
        report = engine.run(conn, kind)
    finally:
        conn.close()
    seconds = time.perf_counter() - t
    cpu = monitor.stop()
    calls = stand_in.calls("")[before:]
    by_path: dict[str, int] = {}
    for c in calls:
        rest = c.path.removeprefix("/wiki/rest/api/")
        shape = "content/{id}/restriction/byOperation/read" if rest.endswith("/restriction/byOperation/read") else (
            "content/{id}" if rest.startswith("content/") and rest[8:].isdigit() else (
                "group/{id}/membersByGroupId" if rest.endswith("/membersByGroupId") else (
                    "space/{key}" if rest.startswith("space/") else rest)))
        by_path[shape] = by_path.get(shape, 0) + 1
    counts = report.counts()
    result = {
        "status": report.status,
        "seconds": round(seconds, 2),
        "api_calls": len(calls),
        "api_calls_by_path": dict(sorted(by_path.items())),
        "non_200": sum(1 for c in calls if c.status != 200),
        # the same request sent again within the run (concurrent cache misses)
        "repeated_calls": len(calls) - len({(c.path, tuple(sorted(c.query.items()))) for c in calls}),
        **counts,
        "errors": report.errors[:5],
        "cpu": cpu,
    }
    return report, result


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[ConfluenceStandIn, Wiki]]:
    with ConfluenceStandIn.serving() as stand_in:
        yield stand_in, build_wiki(stand_in, PAGES)


def wiki_stats(wiki: Wiki) -> dict[str, Any]:
    return {
        "pages": len(wiki.pages),
        "depth_counts": wiki.depth_counts,
        "restricted_pages": len(wiki.restricted),
        "words_per_page": {"mean": round(float(np.mean(wiki.words)), 1), "min": min(wiki.words),
                           "max": max(wiki.words)},
        "pages_with_table": wiki.tables,
        "pages_with_code_macro": wiki.code_macros,
        "storage_kib_per_page": round(wiki.body_bytes / len(wiki.pages) / 1024, 2),
    }


def test_confluence_sync(big: tuple[ConfluenceStandIn, Wiki], tmp_path: Path) -> None:
    stand_in, wiki = big
    result: dict[str, Any] = {"wiki": wiki_stats(wiki), "real_model_pages": REAL_PAGES}
    print(f"\n== Confluence sync, wiki: {result['wiki']}")

    # 1. full sync on an empty index: the hash embedder, then the real model
    hash_rt = runtime(tmp_path / "hash", real=False)
    report, full_hash = timed_run(hash_rt, stand_in, "full")
    assert report.status == "succeeded", report.errors
    assert full_hash["indexed"] == PAGES and full_hash["failed"] == 0
    full_hash["docs_per_s"] = round(PAGES / full_hash["seconds"], 1)
    result["full_hash"] = full_hash
    print(f"   full, hash embedder, {PAGES} pages: {full_hash['seconds']} s, {full_hash['docs_per_s']} docs/s, "
          f"{full_hash['api_calls']} API calls {full_hash['api_calls_by_path']}, "
          f"{full_hash['chunks_written']} chunks, other processes {full_hash['cpu']['other_processes_busy_fraction']:.0%}")

    real_rt = runtime(tmp_path / "real", real=True)
    t = time.perf_counter()
    real_rt.embedder.embed_documents(["warm-up"])  # load the model outside the measured time
    model_load = time.perf_counter() - t
    if REAL_PAGES == PAGES:
        report, full_real = timed_run(real_rt, stand_in, "full")
    else:
        with ConfluenceStandIn.serving() as small_wiki:
            build_wiki(small_wiki, REAL_PAGES)
            report, full_real = timed_run(real_rt, small_wiki, "full")
    assert report.status == "succeeded", report.errors
    assert full_real["indexed"] == REAL_PAGES
    full_real["docs_per_s"] = round(REAL_PAGES / full_real["seconds"], 1)
    full_real["chunks_per_s"] = round(full_real["chunks_written"] / full_real["seconds"], 1)
    full_real["model_load_s"] = round(model_load, 1)
    result["full_real"] = full_real
    real_rt.close()
    print(f"   full, real model, {REAL_PAGES} pages: {full_real['seconds']} s, {full_real['docs_per_s']} docs/s, "
          f"{full_real['api_calls']} API calls, {full_real['chunks_written']} chunks "
          f"({full_real['chunks_per_s']} chunks/s), other processes "
          f"{full_real['cpu']['other_processes_busy_fraction']:.0%}")

    # 2. no-change incremental content sync, 5,000 pages (after the full sync) and 500 pages
    report, inc_big = timed_run(hash_rt, stand_in, "content")
    assert report.status == "succeeded" and report.chunks_written == 0 and not report.indexed
    with ConfluenceStandIn.serving() as small_wiki:
        build_wiki(small_wiki, SMALL_PAGES)
        small_rt = runtime(tmp_path / "small", real=False)
        report, full_small = timed_run(small_rt, small_wiki, "full")
        assert report.status == "succeeded" and full_small["indexed"] == SMALL_PAGES
        report, inc_small = timed_run(small_rt, small_wiki, "content")
        assert report.status == "succeeded" and report.chunks_written == 0 and not report.indexed
        small_rt.close()
    result["incremental_no_change"] = {str(SMALL_PAGES): inc_small, str(PAGES): inc_big,
                                       "full_sync_500_pages": full_small}
    print(f"   no-change content sync: {SMALL_PAGES} pages {inc_small['api_calls']} calls "
          f"{inc_small['api_calls_by_path']} in {inc_small['seconds']} s; {PAGES} pages "
          f"{inc_big['api_calls']} calls {inc_big['api_calls_by_path']} in {inc_big['seconds']} s")
    assert inc_big["api_calls"] <= inc_small["api_calls"] + 1, "incremental API calls grow with the wiki"

    # 3. permission sync: no change, then a new view restriction on a top-level page
    report, perm_same = timed_run(hash_rt, stand_in, "permissions")
    assert report.status == "succeeded", report.errors
    assert perm_same["acl_updated"] == 0 and perm_same["chunks_written"] == 0
    assert perm_same["unchanged"] == PAGES
    # the largest unrestricted tree: the restriction reaches every page below it
    root = max((r for r in wiki.roots if r not in wiki.restricted), key=lambda r: len(wiki.subtree(r)))
    subtree = wiki.subtree(root)
    stand_in.set_read_restrictions(root, users=["u000", "u001"], groups=["g00"])
    report, perm_changed = timed_run(hash_rt, stand_in, "permissions")
    assert report.status == "succeeded", report.errors
    assert report.chunks_written == 0, "a permission change re-embedded content"
    assert sorted(report.acl_updated) == sorted(subtree)
    perm_changed["subtree_pages"] = len(subtree)
    result["permissions"] = {"no_change": perm_same, "top_level_restriction_added": perm_changed}
    hash_rt.close()
    print(f"   permissions, no change: {perm_same['seconds']} s, {perm_same['api_calls']} calls "
          f"{perm_same['api_calls_by_path']}; restriction on a top-level page ({len(subtree)} pages): "
          f"{perm_changed['seconds']} s, {perm_changed['api_calls']} calls, "
          f"{perm_changed['acl_updated']} ACLs updated, {perm_changed['chunks_written']} chunks written")

    result["machine"] = machine()
    write_result("confluence_sync", result)
