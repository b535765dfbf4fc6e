"""Item 2: a rule that crashes the parser froze every later permission change; item 7: a file
name that is not UTF-8 stopped the folder scan.

Before the fix a 6 KB ``_acl.yaml`` of ``allow: [[[[...]]]]`` (3,000 levels) or a folder nested
1,000 levels deep raised RecursionError, which failed the content, permission and full jobs of
the whole source, so a narrowing elsewhere (``zzz/_acl.yaml`` reduced to one user) was never
applied. Now such input fails the files under it only, and every job goes on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.files import connector as files_connector
from connectors.files import walk as walk_module
from connectors.sync import SyncEngine
from core.config import Config
from tests.builders import sync_engine, write

EVERYONE = ["org:members", "user:ann@x.io", "user:bob@x.io"]


@pytest.fixture
def engine(tmp_path: Path) -> SyncEngine:
    return sync_engine(tmp_path / "store")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members]\n")
    write(root, "aaa/ok.md", "# Aaa\n\nalpha document\n")
    write(root, "zzz/_acl.yaml", "allow: [org:members]\n")
    write(root, "zzz/plan.md", "# Plan\n\nzebra roadmap\n")
    return root


def hits(engine: SyncEngine, word: str, principals: list[str]) -> list[str]:
    return [h.source_id for h in engine.index.lexical_search(word, principals, 10)]


def test_a_deeply_nested_rule_fails_its_files_only_and_narrowings_elsewhere_apply(
    engine: SyncEngine, tree: Path
) -> None:
    connector = FilesConnector(tree, Config().files, instance="docs")
    assert engine.run(connector, "full").status == "succeeded"
    assert hits(engine, "zebra", ["org:members"]) == ["zzz/plan.md"]
    write(tree, "aaa/_acl.yaml", "allow: " + "[" * 3000 + "]" * 3000 + "\n")  # 6 KB
    write(tree, "zzz/_acl.yaml", "allow: [user:ann@x.io]\n")  # the narrowing
    for kind in ("permissions", "content", "full"):
        report = engine.run(FilesConnector(tree, Config().files, instance="docs"), kind)
        assert not report.errors, (kind, report.errors)
        assert hits(engine, "zebra", ["org:members", "user:bob@x.io"]) == [], kind
        assert hits(engine, "zebra", ["org:members", "user:ann@x.io"]) == ["zzz/plan.md"], kind
    failed = dict(report.failed)
    assert "nested more than 32 levels" in failed["aaa/ok.md"]
    assert hits(engine, "alpha", EVERYONE) == []  # its rule is unreadable: nobody reads it


def _remove_bottom_up(top: Path) -> None:
    """shutil.rmtree and (before Python 3.12) os.walk recurse once per level."""
    stack, folders = [str(top)], []
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def test_a_folder_nested_a_thousand_levels_deep_does_not_stop_the_source(
    engine: SyncEngine, tree: Path, request: pytest.FixtureRequest
) -> None:
    path = tree / "deep"
    path.mkdir()
    for _ in range(1000):  # one level at a time: pathlib's mkdir(parents=True) recurses
        path = path / "d"
        path.mkdir()
    (path / "bottom.md").write_text("# Bottom\n\nburied text\n")
    # shutil.rmtree (pytest's tmp_path cleanup) recurses once per level: remove it bottom-up.
    request.addfinalizer(lambda: _remove_bottom_up(tree / "deep"))
    write(tree, "zzz/_acl.yaml", "allow: [user:ann@x.io]\n")
    for kind in ("full", "permissions", "content"):
        report = engine.run(FilesConnector(tree, Config().files, instance="docs"), kind)
        assert not report.errors, (kind, report.errors)
        assert hits(engine, "zebra", ["org:members", "user:bob@x.io"]) == [], kind
    reasons = [why for sid, why in report.failed if sid.startswith("deep/d/d")]
    assert reasons and "nested more than 64 levels" in reasons[0]
    assert hits(engine, "alpha", EVERYONE) == ["aaa/ok.md"]


def test_an_unexpected_error_in_one_file_stops_nothing_else(
    engine: SyncEngine, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.run(FilesConnector(tree, Config().files, instance="docs"), "full").status == "succeeded"
    real = files_connector.front_matter_of

    def explode_on_aaa(relpath: str, data: bytes) -> object:
        if relpath.startswith("aaa/"):
            raise RuntimeError("parser bug")
        return real(relpath, data)

    monkeypatch.setattr(files_connector, "front_matter_of", explode_on_aaa)
    write(tree, "zzz/_acl.yaml", "allow: [user:ann@x.io]\n")
    report = engine.run(FilesConnector(tree, Config().files, instance="docs"), "permissions")
    assert not report.errors
    assert "RuntimeError: parser bug" in dict(report.failed)["aaa/ok.md"]
    assert hits(engine, "zebra", ["org:members", "user:bob@x.io"]) == []
    assert hits(engine, "alpha", EVERYONE) == []  # we cannot vouch for its ACL: out


def test_an_unlistable_folder_keeps_its_documents_and_the_rest_is_updated(
    engine: SyncEngine, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tree, "mmm/_acl.yaml", "allow: [org:members]\n")
    write(tree, "mmm/kept.md", "# Kept\n\nmango text\n")
    assert engine.run(FilesConnector(tree, Config().files, instance="docs"), "full").status == "succeeded"
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # what chmod 000 does to anyone but root
        if str(path).endswith("/mmm"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    write(tree, "zzz/_acl.yaml", "allow: [user:ann@x.io]\n")
    report = engine.run(FilesConnector(tree, Config().files, instance="docs"), "permissions")
    assert hits(engine, "zebra", ["org:members", "user:bob@x.io"]) == []
    assert hits(engine, "mango", EVERYONE) == ["mmm/kept.md"]  # kept: nothing known changed
    assert any(sid == "mmm/" and "cannot list mmm" in why for sid, why in report.failed)
    content = engine.run(FilesConnector(tree, Config().files, instance="docs"), "content")
    assert content.deleted == [] and any("cannot list mmm" in e for e in content.errors)
    full = engine.run(FilesConnector(tree, Config().files, instance="docs"), "full")
    assert full.deleted == [] and hits(engine, "mango", EVERYONE) == ["mmm/kept.md"]


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_scan_goes_on(
    engine: SyncEngine, tree: Path
) -> None:
    os.makedirs(os.fsencode(tree / "aaa"), exist_ok=True)
    with open(os.path.join(os.fsencode(tree / "aaa"), b"\xff.md"), "wb") as handle:
        handle.write(b"# Bad name\n\nlatin text\n")
    os.makedirs(os.path.join(os.fsencode(tree), b"bad\xfefolder"))
    report = engine.run(FilesConnector(tree, Config().files, instance="docs"), "full")
    assert not report.errors, report.errors
    skipped = dict(report.skipped)
    assert "not valid UTF-8" in skipped["aaa/\\xff.md"]
    assert "not valid UTF-8" in skipped["bad\\xfefolder"]
    assert hits(engine, "zebra", ["org:members"]) == ["zzz/plan.md"]  # later folders indexed
    assert sorted(report.indexed) == ["aaa/ok.md", "zzz/plan.md"]


def test_stored_acls_are_rechecked_after_a_content_run_narrows_them(engine: SyncEngine, tree: Path) -> None:
    """A content run that finds a file unchanged still applies its new folder rule."""
    assert engine.run(FilesConnector(tree, Config().files, instance="docs"), "full").status == "succeeded"
    write(tree, "zzz/_acl.yaml", "allow: [user:ann@x.io]\n")
    report = engine.run(FilesConnector(tree, Config().files, instance="docs"), "content")
    assert report.acl_updated == ["zzz/plan.md"]
    assert hits(engine, "zebra", ["org:members", "user:bob@x.io"]) == []
