"""The parse sandbox: same results as its target (parse_document, the files connector's
parse_file), and budgets that a document cannot beat."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from connectors.files.parse import parse_file
from connectors.files.rules import RuleError
from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox, Target
from core.config import ConfigError, FilesConfig
from tests.connectors.parsers import sandbox_targets

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

_MARKDOWN = b"---\ntitle: Leave\nacl: [org:members]\n---\n# Days\n\nEveryone gets **28**.\n"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    with ParserSandbox(FilesConfig()) as shared:
        yield shared


@pytest.fixture(scope="module")
def files_sandbox() -> Iterator[ParserSandbox]:
    with ParserSandbox(FilesConfig(), target=parse_file) as shared:
        yield shared


def _sandbox(target: Target, **settings: float) -> ParserSandbox:
    return ParserSandbox(FilesConfig(**settings), target=target)  # type: ignore[arg-type]


def _pid(sandbox: ParserSandbox) -> int | None:
    worker = sandbox._worker
    return worker._process.pid if worker is not None else None


def test_results_equal_parse_document(
    sandbox: ParserSandbox,
    files_sandbox: ParserSandbox,
    make_docx: Callable[[], bytes],
    make_pdf: Callable[..., bytes],
) -> None:
    for name, data in [
        ("hr/leave.md", _MARKDOWN),
        ("hr/leave.docx", make_docx()),
        ("budget.pdf", make_pdf(["Budget rules"], title="Budget")),
        ("notes.txt", b"plain\n"),
    ]:
        assert sandbox.parse(name, data) == parse_document(name, data)
        assert files_sandbox.parse(name, data) == parse_file(name, data)
    assert files_sandbox.parse("hr/leave.md", _MARKDOWN).acl_clause == frozenset({"org:members"})


def test_parse_and_rule_errors_cross_the_process_boundary_intact(
    files_sandbox: ParserSandbox,
) -> None:
    with pytest.raises(ParseError) as parse_error:
        files_sandbox.parse("a.md", b"caf\xe9")
    assert str(parse_error.value) == (
        "not valid UTF-8 (first bad byte at offset 3); save it as UTF-8"
    )
    with pytest.raises(RuleError) as rule_error:
        files_sandbox.parse("notes/x.md", b"---\nacl:\n  - usr:bob@example.com\n---\nbody\n")
    with pytest.raises(RuleError) as direct:
        parse_file("notes/x.md", b"---\nacl:\n  - usr:bob@example.com\n---\nbody\n")
    assert (rule_error.value.where, rule_error.value.problem, rule_error.value.line) == (
        direct.value.where,
        direct.value.problem,
        direct.value.line,
    )
    assert str(rule_error.value) == str(direct.value)


def test_the_worker_is_kept_between_documents(sandbox: ParserSandbox) -> None:
    sandbox.parse("a.txt", b"one")
    first = _pid(sandbox)
    sandbox.parse("b.txt", b"two")
    assert _pid(sandbox) == first is not None


def test_a_document_that_never_ends_times_out_and_the_next_one_parses() -> None:
    with _sandbox(sandbox_targets.spin, parse_timeout_seconds=0.5) as spinning:
        ticks: list[float] = []
        stop = threading.Event()

        def heartbeat() -> None:  # stands for /healthz: it needs the interpreter lock
            while not stop.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.01)

        beating = threading.Thread(target=heartbeat)
        beating.start()
        start = time.monotonic()
        try:
            with pytest.raises(ParseError) as info:
                spinning.parse("hostile.md", b"")
        finally:
            stop.set()
            beating.join()
        assert str(info.value) == (
            "parsing took longer than 0.5 s (files.parse_timeout_seconds); the file is not indexed"
        )
        assert time.monotonic() - start < 3.0
        gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
        assert max(gaps) < 0.2  # the parent never waited for the spinning worker's lock
        assert spinning._worker is None  # killed, replaced on the next document
    with ParserSandbox(FilesConfig(parse_timeout_seconds=0.5)) as real:
        with pytest.raises(ParseError, match="took longer than 0.5 s"):
            real.parse("brackets.md", b"[" * 3_000_000)  # linear, but ~10 us per character
        assert real.parse("next.md", b"# Next\n\nok\n").title == "Next"


def test_the_next_document_gets_a_fresh_worker_after_a_timeout() -> None:
    with _sandbox(sandbox_targets.sleep, parse_timeout_seconds=0.5) as sleeping:
        with pytest.raises(ParseError, match="took longer than 0.5 s"):
            sleeping.parse("slow.txt", b"30")
        assert sleeping.parse("quick.txt", b"0").title == "quick.txt"


@pytest.mark.skipif(
    resource is None or not hasattr(resource, "RLIMIT_AS"), reason="no RLIMIT_AS here"
)
def test_a_memory_hog_gets_a_clear_error_and_the_next_document_parses() -> None:
    with _sandbox(sandbox_targets.hog_memory, parse_memory_mb=512) as hog:
        with pytest.raises(ParseError) as info:
            hog.parse("huge.md", b"")
        assert str(info.value) == (
            "parsing needed more than 512 MB of memory (files.parse_memory_mb); "
            "the file is not indexed"
        )
        with pytest.raises(ParseError, match="more than 512 MB"):
            hog.parse("huge-again.md", b"")


def test_a_crashing_worker_is_a_parse_error_and_is_replaced() -> None:
    with _sandbox(sandbox_targets.crash) as crashing:
        with pytest.raises(ParseError) as info:
            crashing.parse("a.md", b"")
        assert str(info.value) == "the parser process died (exit code 3); the file is not indexed"
        with pytest.raises(ParseError, match="exit code 3"):
            crashing.parse("b.md", b"")


def test_a_worker_killed_between_documents_is_replaced(sandbox: ParserSandbox) -> None:
    sandbox.parse("a.txt", b"one")
    pid = _pid(sandbox)
    assert pid is not None
    os.kill(pid, 9)
    time.sleep(0.2)
    assert sandbox.parse("b.txt", b"two").sections[0].text == "two"
    assert _pid(sandbox) != pid


def test_unexpected_exceptions_and_rule_errors_of_a_target() -> None:
    with (
        _sandbox(sandbox_targets.unexpected) as buggy,
        pytest.raises(ParseError, match=r"^could not parse: KeyError: 'bug'$"),
    ):
        buggy.parse("a.md", b"")
    with _sandbox(sandbox_targets.rule_error) as rules:
        with pytest.raises(RuleError) as info:
            rules.parse("x.md", b"")
        assert str(info.value) == "x.md line 4: front matter `acl` must be a list"


def test_a_source_error_that_cannot_cross_keeps_its_message() -> None:
    with _sandbox(sandbox_targets.unrebuildable) as target:
        with pytest.raises(ParseError) as info:
            target.parse("x.md", b"")
        assert str(info.value) == "x.md: cannot be rebuilt"
        assert type(info.value) is ParseError


def test_too_much_text_is_refused() -> None:
    with _sandbox(sandbox_targets.echo, max_text_chars=10) as echo:
        assert echo.parse("a.txt", b"0123456789").sections[0].text == "0123456789"
        with pytest.raises(ParseError) as info:
            echo.parse("b.txt", b"0123456789!")
        assert str(info.value) == (
            "too much text: 11 characters, more than files.max_text_chars (10); "
            "the file is not indexed"
        )


def test_close_leaves_no_child_process_behind() -> None:
    before = set(multiprocessing.active_children())
    sandbox = ParserSandbox(FilesConfig())
    sandbox.parse("a.txt", b"x")
    pid = _pid(sandbox)
    assert pid is not None
    sandbox.close()
    sandbox.close()
    assert set(multiprocessing.active_children()) == before
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.parse("b.txt", b"y")


def test_concurrent_callers_take_turns(sandbox: ParserSandbox) -> None:
    results: dict[str, str] = {}

    def parse(name: str) -> None:
        results[name] = sandbox.parse(f"{name}.txt", name.encode()).sections[0].text

    threads = [threading.Thread(target=parse, args=(f"doc{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {f"doc{i}": f"doc{i}" for i in range(8)}


@pytest.mark.parametrize("setting", ["parse_timeout_seconds", "parse_memory_mb", "max_text_chars"])
def test_budgets_must_be_positive(setting: str) -> None:
    with pytest.raises(ConfigError, match=f"files.{setting} must be positive, got 0"):
        ParserSandbox(FilesConfig(**{setting: 0}))  # type: ignore[arg-type]
