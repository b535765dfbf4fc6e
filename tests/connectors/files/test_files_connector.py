from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Connector, Failed, GroupSnapshot, ScanItem, Skipped
from connectors.files import FilesConnector, RuleError
from core.acl import Acl
from core.config import ConfigError, FilesConfig
from core.models import Document, Section
from tests.builders import write
from tests.connectors.parsers import office_files

GOOD = {"guide.md", "team/notes.txt", "team/page.html"}


def scan(root: Path, config: FilesConfig | None = None) -> dict[str, ScanItem]:
    items = list(FilesConnector(root, config or FilesConfig(), instance="t").scan())
    ids = [item.source_id for item in items]
    assert len(ids) == len(set(ids)), "one item per candidate file"
    return {item.source_id: item for item in items}


def documents(items: dict[str, ScanItem]) -> dict[str, Document]:
    return {k: v for k, v in items.items() if isinstance(v, Document)}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Three good documents; each bad-input test adds to it and checks they survive."""
    write(tmp_path, "_acl.yaml", "allow: [org:members]\n")
    write(tmp_path, "guide.md", "# Guide\n\nRead me.\n")
    write(tmp_path, "team/_acl.yaml", "allow:\n  - group:files:team\n")
    write(tmp_path, "team/notes.txt", "Standup at 9.\n")
    write(tmp_path, "team/page.html", "<h1>Team</h1><p>We ship.</p>")
    return tmp_path


def assert_good_documents_survive(items: dict[str, ScanItem]) -> None:
    assert set(documents(items)) == GOOD


def test_document_fields(tree: Path) -> None:
    connector = FilesConnector(tree, FilesConfig(), instance="t")
    root = tree.resolve()
    assert connector.source == f"files:{root}"
    items = scan(tree)
    assert_good_documents_survive(items)
    notes = items["team/notes.txt"]
    assert isinstance(notes, Document)
    expected_id = hashlib.sha256(f"files:{root}\nteam/notes.txt".encode()).hexdigest()[:32]
    assert notes.id == f"files:{expected_id}"
    assert notes.source == connector.source
    assert notes.title == "notes"  # a text file has no title of its own: the file stem
    assert notes.url == ""  # no url_base: the citation shows the path below the root, never the server's
    assert notes.sections == (Section((), "Standup at 9."),)
    assert notes.acl == Acl.of([["org:members"], ["group:files:t:team"]])
    mtime = (tree / "team/notes.txt").stat().st_mtime
    assert notes.updated_at == datetime.fromtimestamp(mtime, tz=UTC)
    assert notes.updated_at is not None and notes.updated_at.tzinfo is not None
    assert notes.author is None
    assert notes.require_acl() == notes.acl
    # Stable: a second scan (a new connector instance) gives the same ids and content.
    again = scan(tree)["team/notes.txt"]
    assert isinstance(again, Document)
    assert (again.id, again.content_hash()) == (notes.id, notes.content_hash())


def test_connector_satisfies_the_protocol(tree: Path) -> None:
    connector: Connector = FilesConnector(tree, FilesConfig(), instance="t")
    assert [item.source_id for item in connector.scan()] == [
        "guide.md",
        "team/notes.txt",
        "team/page.html",
    ]


def test_three_nested_rules_stack_into_three_clauses(tmp_path: Path) -> None:
    write(tmp_path, "_acl.yaml", "allow: [org:members]\n")
    write(
        tmp_path, "eng/_acl.yaml", "allow:\n  - group:files:engineering\n  - user:cto@example.com\n"
    )
    write(tmp_path, "eng/secret/_acl.yaml", "allow: [group:files:security]\n")
    write(tmp_path, "eng/secret/keys.md", "# Keys\nRotate monthly.\n")
    write(tmp_path, "eng/build.md", "# Build\nmake\n")
    items = scan(tmp_path)
    keys, build = items["eng/secret/keys.md"], items["eng/build.md"]
    assert isinstance(keys, Document) and isinstance(build, Document)
    assert keys.acl == Acl(
        (
            frozenset({"group:files:t:engineering", "user:cto@example.com"}),
            frozenset({"group:files:t:security"}),
            frozenset({"org:members"}),
        )
    )
    assert keys.acl.allows({"org:members", "group:files:t:engineering", "group:files:t:security"})
    # The nearest rule alone is not enough: every level must be satisfied.
    assert not keys.acl.allows({"group:files:t:security"})
    assert not keys.acl.allows({"org:members", "group:files:t:security"})
    assert build.acl == Acl.of(
        [["org:members"], ["group:files:t:engineering", "user:cto@example.com"]]
    )


def test_rule_below_the_root_applies_without_a_root_rule(tmp_path: Path) -> None:
    write(tmp_path, "hr/_acl.yaml", "allow: [group:files:hr]\n")
    write(tmp_path, "hr/deep/er/pay.txt", "pay")
    item = scan(tmp_path)["hr/deep/er/pay.txt"]
    assert isinstance(item, Document)
    assert item.acl == Acl.of([["group:files:t:hr"]])


def test_front_matter_adds_a_clause_and_sets_the_title(tree: Path) -> None:
    write(
        tree,
        "team/bands.md",
        "---\ntitle: Salary bands\nowner: hr\nacl: [group:files:leads, user:cfo@example.com]\n---\n# Ignored\nB1\n",
    )
    items = scan(tree)
    bands = items["team/bands.md"]
    assert isinstance(bands, Document)
    assert bands.title == "Salary bands"
    assert bands.acl == Acl.of(
        [["org:members"], ["group:files:t:team"], ["group:files:t:leads", "user:cfo@example.com"]]
    )
    assert set(documents(items)) == GOOD | {"team/bands.md"}


def test_front_matter_alone_is_a_rule(tmp_path: Path) -> None:
    write(tmp_path, "memo.md", "---\nacl: [user:ceo@example.com]\n---\nHello.\n")
    memo = scan(tmp_path)["memo.md"]
    assert isinstance(memo, Document)
    assert memo.acl == Acl((frozenset({"user:ceo@example.com"}),))
    assert memo.title == "memo"


def test_file_with_no_rule_on_its_path_is_skipped_with_the_fix(tmp_path: Path) -> None:
    write(tmp_path, "open/readme.md", "# Readme\ntext\n")
    write(tmp_path, "open/data.txt", "text")
    write(tmp_path, "closed/_acl.yaml", "allow: [org:members]\n")
    write(tmp_path, "closed/ok.txt", "text")
    items = scan(tmp_path)
    readme, data = items["open/readme.md"], items["open/data.txt"]
    assert isinstance(readme, Skipped) and isinstance(data, Skipped)
    assert readme.reason.startswith("no access rule on its path (add an _acl.yaml")
    assert "front matter" in readme.reason
    assert data.reason.startswith("no access rule on its path (add an _acl.yaml")
    assert set(documents(items)) == {"closed/ok.txt"}


def test_what_is_not_a_candidate(tree: Path) -> None:
    write(tree, "groups.yaml", "team: [a@example.com]\n")
    write(tree, "image.png", b"\x89PNG")
    write(tree, "script.py", "print()")
    write(tree, ".hidden.md", "# Hidden\nx\n")
    write(tree, ".git/config.md", "# Git\nx\n")
    write(tree, "team/UPPER.TXT", "upper case extension")
    items = scan(tree)
    assert set(items) == GOOD | {"team/UPPER.TXT"}
    assert list(items) == sorted(items)


def test_configured_extensions_limit_the_scan(tree: Path) -> None:
    items = scan(tree, FilesConfig(extensions=["md", ".HTML"]))
    assert set(items) == {"guide.md", "team/page.html"}


def test_unsupported_extension_in_config_is_an_error(tree: Path) -> None:
    with pytest.raises(ConfigError, match=r"files.extensions: '.rtf' is not supported"):
        FilesConnector(tree, FilesConfig(extensions=[".md", ".rtf"]), instance="t")


def test_real_pdf_and_docx(
    tree: Path, make_pdf: Callable[..., bytes], make_docx: Callable[[], bytes]
) -> None:
    write(tree, "team/plan.pdf", make_pdf(["Quarterly plan text"], title="Q3 plan"))
    write(tree, "team/leave.docx", make_docx())
    items = scan(tree)
    pdf, docx_doc = items["team/plan.pdf"], items["team/leave.docx"]
    assert isinstance(pdf, Document) and isinstance(docx_doc, Document)
    assert pdf.title == "Q3 plan"
    assert pdf.sections == (Section(("Page 1",), "Quarterly plan text"),)
    assert docx_doc.title == "Leave handbook"
    assert ("Leave handbook", "Leave", "Carry-over") in [s.heading_path for s in docx_doc.sections]
    assert any("Portugal | 25" in s.text for s in docx_doc.sections)
    assert set(documents(items)) == GOOD | {"team/plan.pdf", "team/leave.docx"}


def test_slides_and_sheets_are_read_by_default(tree: Path) -> None:
    write(tree, "team/deck.pptx", office_files.deck())
    write(tree, "team/staff.xlsx", office_files.workbook())
    items = scan(tree)
    deck, sheet = items["team/deck.pptx"], items["team/staff.xlsx"]
    assert isinstance(deck, Document) and isinstance(sheet, Document)
    assert deck.title == "Leave handbook"
    assert [s.heading_path for s in deck.sections] == [("Annual leave",), ("Slide 2",)]
    assert sheet.sections[0] == Section(
        ("Staff",), "Name | Team | Days\nAna | HR | 28\nBo | Eng | 25.5"
    )


# --- bad inputs: each fails alone, and nothing else is lost ---------------------------------


def test_corrupt_pdf(tree: Path) -> None:
    write(tree, "team/broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    items = scan(tree)
    item = items["team/broken.pdf"]
    assert isinstance(item, Failed)
    assert item.reason.startswith("not a readable PDF: ")
    assert_good_documents_survive(items)


def test_corrupt_docx(tree: Path) -> None:
    write(tree, "team/broken.docx", b"PK\x03\x04" + os.urandom(64))
    items = scan(tree)
    item = items["team/broken.docx"]
    assert isinstance(item, Failed)
    assert item.reason.startswith("not a readable DOCX: ")
    assert_good_documents_survive(items)


def test_invalid_utf8(tree: Path) -> None:
    write(tree, "team/latin1.txt", "Caf\u00e9 opens at 8".encode("latin-1"))
    items = scan(tree)
    assert items["team/latin1.txt"] == Failed(
        "team/latin1.txt", "not valid UTF-8 (first bad byte at offset 3); save it as UTF-8"
    )
    assert_good_documents_survive(items)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.txt", b""),
        ("blank.md", b"  \n\n\t\n"),
        ("blank.html", b"<html><body> <p> </p></body></html>"),
    ],
)
def test_empty_file(tree: Path, name: str, content: bytes) -> None:
    write(tree, f"team/{name}", content)
    items = scan(tree)
    assert items[f"team/{name}"] == Skipped(f"team/{name}", "empty file")
    assert_good_documents_survive(items)


def test_too_large_file_is_skipped_without_being_read(tree: Path) -> None:
    big = tree / "team" / "huge.pdf"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: instant, and uses no disk
    tracemalloc.start()
    try:
        items = scan(tree)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert items["team/huge.pdf"] == Skipped(
        "team/huge.pdf", "too large: 50.0 MB, limit 20 MB (files.max_file_mb)"
    )
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes: the large file was read"
    assert_good_documents_survive(items)


def test_size_limit_follows_config(tree: Path) -> None:
    write(tree, "team/medium.txt", "x" * 3000)
    items = scan(tree, FilesConfig(max_file_mb=0.002))
    assert items["team/medium.txt"] == Skipped(
        "team/medium.txt", "too large: 0.0 MB, limit 0.002 MB (files.max_file_mb)"
    )
    assert_good_documents_survive(items)


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        pytest.param(
            "allow:\n  - org:members\n - user:a@example.com\n", 3, "not valid YAML", id="bad-syntax"
        ),
        pytest.param(
            "# who may read\nreaders: [org:members]\n",
            2,
            "unknown key 'readers'; the only key is `allow`",
            id="allow-missing",
        ),
        pytest.param("{}\n", 1, "`allow` is missing", id="empty-mapping"),
        pytest.param("allow: []\n", 1, "`allow` is an empty list", id="empty-allow"),
        pytest.param(
            "allow: [org:members]\ndeny: [user:a@example.com]\n",
            2,
            "unknown key 'deny'",
            id="unknown-key",
        ),
        pytest.param(
            "allow:\n  - org:members\n  - usr:bob@x.com\n",
            3,
            "did you mean `user:bob@x.com`?",
            id="bad-principal",
        ),
    ],
)
def test_invalid_acl_file_fails_everything_under_its_folder(
    tree: Path, content: str, line: int, fragment: str
) -> None:
    write(tree, "legal/_acl.yaml", content)
    write(tree, "legal/contract.md", "# Contract\nterms\n")
    write(tree, "legal/archive/2019/old.txt", "old terms")
    write(tree, "legal/archive/_acl.yaml", "allow: [group:files:legal]\n")
    items = scan(tree)
    for source_id in ("legal/contract.md", "legal/archive/2019/old.txt"):
        item = items[source_id]
        assert isinstance(item, Failed), item
        assert item.reason.startswith(f"legal/_acl.yaml line {line}: "), item.reason
        assert fragment in item.reason
    assert_good_documents_survive(items)


def test_invalid_root_acl_file_fails_every_file(tree: Path) -> None:
    write(tree, "_acl.yaml", "allow: [everyone]\n")
    items = scan(tree)
    assert set(items) == GOOD
    for item in items.values():
        assert isinstance(item, Failed)
        assert item.reason.startswith("_acl.yaml line 1: 'everyone' is not a principal")


def test_misnamed_acl_file_fails_closed(tree: Path) -> None:
    write(tree, "legal/_acl.yml", "allow: [group:files:legal]\n")
    write(tree, "legal/contract.md", "# Contract\nterms\n")
    items = scan(tree)
    assert items["legal/contract.md"] == Failed(
        "legal/contract.md",
        "legal/_acl.yml: access rules are only read from a file named exactly _acl.yaml; rename it",
    )
    assert_good_documents_survive(items)


def test_unknown_principal_in_front_matter(tree: Path) -> None:
    write(
        tree,
        "team/memo.md",
        "---\ntitle: Memo\nacl:\n  - user:ann@example.com\n  - team:ops\n---\n# Memo\nx\n",
    )
    items = scan(tree)
    item = items["team/memo.md"]
    assert isinstance(item, Failed)
    assert item.reason.startswith("team/memo.md line 5: 'team:ops': unknown principal kind 'team'")
    assert_good_documents_survive(items)


# --- symlinks -------------------------------------------------------------------------------


def test_symlink_outside_the_root_is_not_followed(
    tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    write(outside, "secret.md", "# Secret\nx\n")
    write(outside, "dir/other.md", "# Other\nx\n")
    (tree / "team" / "link.md").symlink_to(outside / "secret.md")
    (tree / "team" / "linkdir").symlink_to(outside / "dir", target_is_directory=True)
    items = scan(tree)
    link = items["team/link.md"]
    assert isinstance(link, Skipped) and "outside the root" in link.reason
    assert not any(k.startswith("team/linkdir") for k in items)
    assert_good_documents_survive(items)


def test_symlink_inside_the_root_keeps_the_targets_rules(tree: Path) -> None:
    write(tree, "vault/_acl.yaml", "allow: [group:files:vault]\n")
    write(tree, "vault/keys.txt", "keys")
    (tree / "team" / "keys.txt").symlink_to(tree / "vault" / "keys.txt")
    (tree / "team" / "loop").symlink_to(tree, target_is_directory=True)
    items = scan(tree)
    linked = items["team/keys.txt"]
    assert isinstance(linked, Document)
    # Placing a link in a wider folder must not widen who may read the target.
    assert linked.acl == Acl.of([["org:members"], ["group:files:t:vault"]])
    assert not any(k.startswith("team/loop") for k in items)


# --- groups ---------------------------------------------------------------------------------


def test_groups_missing_is_empty(tree: Path) -> None:
    assert FilesConnector(tree, FilesConfig(), instance="t").groups() == GroupSnapshot({})


def test_groups(tree: Path) -> None:
    write(
        tree,
        "groups.yaml",
        "# teams\nTeam:\n  - Ann@Example.com\n  - bob@example.com\nleads: [cfo@example.com]\n",
    )
    assert FilesConnector(tree, FilesConfig(), instance="t").groups() == GroupSnapshot(
        {
            "group:files:t:team": frozenset({"ann@example.com", "bob@example.com"}),
            "group:files:t:leads": frozenset({"cfo@example.com"}),
        }
    )
    assert_good_documents_survive(scan(tree))


def test_invalid_groups_file_raises_with_the_line(tree: Path) -> None:
    write(tree, "groups.yaml", "team:\n  - ann@example.com\n  - bob at example.com\n")
    with pytest.raises(RuleError) as info:
        FilesConnector(tree, FilesConfig(), instance="t").groups()
    assert str(info.value).startswith(
        "groups.yaml line 3: 'bob at example.com' is not an email address"
    )
    # groups.yaml is not an access rule: documents are unaffected by its errors.
    assert_good_documents_survive(scan(tree))


def test_reading_never_goes_past_the_limit(tmp_path: Path) -> None:
    from connectors.files.folder_rules import read_at_most as _read_at_most

    path = write(tmp_path, "a.txt", b"0123456789")
    assert _read_at_most(path, 10) == b"0123456789"
    # Covers a file that grew between the size check and the read.
    assert _read_at_most(path, 9) is None


def test_special_files_do_not_block_the_scan(tree: Path) -> None:
    os.mkfifo(tree / "team" / "pipe.txt")
    (tree / "team" / "to-pipe.txt").symlink_to(tree / "team" / "pipe.txt")
    (tree / "team" / "dangling.txt").symlink_to(tree / "team" / "missing.txt")
    items = scan(tree)
    assert items["team/to-pipe.txt"] == Skipped("team/to-pipe.txt", "not a regular file")
    assert "team/pipe.txt" not in items
    dangling = items["team/dangling.txt"]
    assert isinstance(dangling, Failed) and dangling.reason.startswith("cannot read: ")
    assert_good_documents_survive(items)
