"""Property: no search mode ever returns a chunk its searcher may not read, and the ACL filter
never hides a readable document that contains the query terms.

Hypothesis builds random folder trees with stacked ``_acl.yaml`` rules and front-matter clauses
(up to five clauses, so the surplus-clause expansion runs too), random group memberships and
random users (members or guests). Readability is decided by an oracle written here from the tree
itself, independently of the connector's and the index's ACL code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.acl import ORG_MEMBERS
from core.config import Config, SearchConfig
from core.db import open_database
from core.memberships import principals_for
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from retrieval.search import Mode, Searcher

EMAILS = [f"u{i}@x.io" for i in range(5)]
GROUPS = [f"g{i}" for i in range(4)]
WORDS = ["vpn", "leave", "salary", "laptop", "badge", "expense", "deploy", "oncall", "wifi", "travel"]
FOLDERS = ["a", "b", "a/c", "a/c/d", "a/c/d/e", "b/f"]
EMB = HashEmbedder(32)

principal = st.sampled_from([f"user:{e}" for e in EMAILS] + [f"group:files:{g}" for g in GROUPS] + [ORG_MEMBERS])
allow_list = st.lists(principal, min_size=1, max_size=3, unique=True)


@dataclass
class Tree:
    rules: dict[str, list[str]]  # folder -> allow list ("" is the root)
    files: dict[str, tuple[list[str], list[str] | None]]  # path -> (words, front-matter clause)
    groups: dict[str, list[str]]


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    rules = {f: draw(allow_list) for f in [""] + FOLDERS if draw(st.booleans())}
    files = {}
    for i in range(draw(st.integers(1, 8))):
        folder = draw(st.sampled_from([""] + FOLDERS))
        path = f"{folder}/f{i}.md" if folder else f"f{i}.md"
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
        front = draw(st.none() | allow_list)
        files[path] = (words, front)
    groups = {g: draw(st.lists(st.sampled_from(EMAILS), max_size=4, unique=True)) for g in GROUPS}
    return Tree(rules, files, groups)


def clauses_of(tree: Tree, path: str) -> list[list[str]]:
    parts = path.split("/")[:-1]
    folders = [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
    out = [tree.rules[f] for f in folders if f in tree.rules]
    front = tree.files[path][1]
    return out + ([front] if front else [])


def oracle_readable(tree: Tree, path: str, email: str, member: bool) -> bool:
    clauses = clauses_of(tree, path)
    if not clauses:
        return False  # deny by default
    held = {f"user:{email}"} | {f"group:files:t:{g}" for g, m in tree.groups.items() if email in m}
    if member:
        held.add(ORG_MEMBERS)
    # Rules name this tree's groups as group:files:<name>; they are stored in its namespace.
    return all(held & {p.replace("group:files:", "group:files:t:") for p in c} for c in clauses)


def materialise(tree: Tree, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for folder, allow in tree.rules.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "_acl.yaml").write_text("allow:\n" + "".join(f"  - {p}\n" for p in allow))
    for path, (words, front) in tree.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        head = f"---\nacl: [{', '.join(front)}]\n---\n" if front else ""
        (root / path).write_text(f"{head}# {path}\n\n{' '.join(words)}\n")
    (root / "groups.yaml").write_text(
        "".join(f"{g}: [{', '.join(m)}]\n" for g, m in tree.groups.items() if m)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    tree=trees(),
    email=st.sampled_from(EMAILS),
    member=st.booleans(),
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True),
)
def test_no_leak_and_no_lost_recall(tree: Tree, email: str, member: bool, query: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "docs"
        materialise(tree, root)
        db = open_database(f"sqlite:///{tmp}/lore.db")
        index = LanceIndex(Path(tmp) / "index", EMB.dimension)
        engine = IngestEngine(db, index, EMB, Chunker(EMB.token_counts, 50, 5))
        report = engine.ingest(FilesConnector(root, Config().files, instance="t"))
        assert not report.failed and not report.errors, (report.failed, report.errors)

        principals = principals_for(db, email, org_member=member)
        searcher = Searcher(EMB, index, SearchConfig())
        total = max(1, index.count_chunks())
        text = " ".join(query)
        readable = {p for p in tree.files if oracle_readable(tree, p, email, member)}
        matching = {p for p in readable if set(query) & set(tree.files[p][0])}
        for mode in Mode:
            hits = searcher.search(text, principals, mode=mode, top_k=total, candidates=total)
            returned = {h.source_id for h in hits}
            leaked = returned - readable
            assert not leaked, f"{mode.value} returned {leaked} to {email} (member={member})"
            if mode is Mode.DENSE:
                assert returned == readable, f"dense lost {readable - returned}"
            else:
                assert matching <= returned, f"{mode.value} lost {matching - returned}"
        db.close()
