"""The admin commands through the conversation service, on the handbook index (hash embedder):
each command's output, the refusals, and the audit row of every attempt."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.admin.messages import AUDIT_FAILED, NO_DOCUMENT
from bot.turn import Finished, Kind, Notice, Refused
from core.db import DocumentRow
from retrieval.runtime import Runtime
from tests.bot.admin_helpers import BOB, CAROL, ERIN, GINA, ListSink, commands, reply, service, turn
from tests.bot.conftest import dev_config

SALARY = "hr/confidential/salary-bands.md"


@pytest.fixture
def runtime(handbook_data: Path, tmp_path: Path) -> Iterator[Runtime]:
    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.server.port = 9  # `!status` asks the configured server's /readyz: nothing listens there
    rt = Runtime(cfg)
    yield rt
    rt.close()


def document_id(rt: Runtime, source_id: str) -> str:
    from bot.admin.access import find_documents

    (doc,) = find_documents(rt.db, source_id)
    return doc.id


async def test_who_can_read_shows_the_clauses_with_group_sizes(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    out = await reply(svc, turn(CAROL.email, f"!who can read {SALARY}"))
    assert isinstance(out, Notice) and out.command == "who-can-read"
    assert out.text.splitlines() == [
        f"**Salary bands 2026** (`{document_id(runtime, SALARY)}`)",
        out.text.splitlines()[1],  # where it is: checked below
        "Readable only by someone who satisfies all 2 of:",
        "1. any of: `group:files:handbook:people-leads` (1 member), `user:cfo@northwind.example`",
        "2. any of: `org:members` (every full member of the organisation)",
    ]
    assert out.text.splitlines()[1].endswith(f": {SALARY}")
    (row,) = audit.events
    assert (row.kind, row.actor, row.platform) == ("admin", "user:carol@northwind.example", "test")
    assert row.details == {"command": "who-can-read", "allowed": True, "reason": "", "target": SALARY}


async def test_who_can_read_by_document_id_one_clause_and_group_counts(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    doc = document_id(runtime, "engineering/on-call.md")
    out = await reply(svc, turn(CAROL.email, f"!who can read {doc}"))
    assert isinstance(out, Notice)
    assert out.text.splitlines()[2:] == ["Readable by anyone who holds any of:",
                                         "- `group:files:handbook:engineering` (2 members)"]


async def test_who_can_read_nothing_found_and_several_matches(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    out = await reply(svc, turn(CAROL.email, "!who can read https://nowhere.example/page"))
    assert isinstance(out, Notice) and out.text == NO_DOCUMENT
    with runtime.db.session() as s:  # two documents at one URL (a page moved, say)
        s.execute(update(DocumentRow).where(DocumentRow.source_id.in_(["hr/benefits.md", "general/travel.md"]))
                  .values(url="https://wiki.example/shared"))
    out = await reply(svc, turn(CAROL.email, "!who can read <https://wiki.example/shared|the shared page>"))
    assert isinstance(out, Notice)
    assert out.text.startswith("2 documents match:")
    assert out.text.count("**") == 4
    assert document_id(runtime, "hr/benefits.md") in out.text and document_id(runtime, "general/travel.md") in out.text
    assert "`group:files:handbook:full-time` (6 members)" in out.text
    with runtime.db.session() as s:
        s.execute(update(DocumentRow).where(DocumentRow.source_id == "general/travel.md")
                  .values(url="https://wiki.example/page?id=7&v=2"))
    out = await reply(svc, turn(CAROL.email, "!who can read <https://wiki.example/page?id=7&amp;v=2>"))
    assert isinstance(out, Notice) and document_id(runtime, "general/travel.md") in out.text
    out = await reply(svc, turn(CAROL.email, "!who can read https://wiki.example/page?id=7&v=2"))
    assert isinstance(out, Notice) and document_id(runtime, "general/travel.md") in out.text


async def test_why_shows_what_the_admins_search_retrieves_and_what_a_channel_withholds(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    out = await reply(svc, turn(CAROL.email, "!why What is the salary band for L5?"))
    assert isinstance(out, Notice) and out.command == "why"
    lines = out.text.splitlines()
    salary = next(line for line in lines if "Salary bands 2026" in line)
    assert document_id(runtime, SALARY) in salary and "withheld in a shared conversation" in salary
    org_wide = [line for line in lines if line.startswith("- ") and "withheld" not in line]
    assert org_wide, out.text  # documents every full member reads are not withheld
    assert lines[0].startswith("A search with your access retrieves ")
    assert lines[-2].startswith("Relevance gate, privately: score ") and lines[-2].endswith(": would answer.")
    assert lines[-1].startswith("Relevance gate, in a channel of full members: ")
    assert audit.events[0].details["target"] == ""  # the question text is the question audit's business


async def test_why_uses_the_admins_own_access(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    out = await reply(svc, turn(BOB.email, "!why What is the salary band for L5?"))
    assert isinstance(out, Notice)
    assert "Salary bands" not in out.text  # bob is an admin, not a people lead


async def test_status_shows_the_index_and_the_sources(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    out = await reply(svc, turn(BOB.email, "!status"))
    assert isinstance(out, Notice) and out.command == "status"
    chunks = runtime.index.count_chunks()
    assert out.text.splitlines()[0] == f"**Index**: {chunks} chunks (lance), 27 documents, 5 groups with members"
    assert "**Index and database**: in step" in out.text
    assert "27 documents; last succeeded" in out.text


async def test_help_and_unknown_commands_for_admins(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    out = await reply(svc, turn(CAROL.email, "!help"))
    assert isinstance(out, Notice) and "`!who can read <url or source id>`" in out.text
    out = await reply(svc, turn(CAROL.email, "!frobnicate"))
    assert isinstance(out, Notice) and out.text == "Unknown command `!frobnicate`; try `!help`."


async def test_sync_now_without_a_scheduler_says_so(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink()))
    out = await reply(svc, turn(CAROL.email, "!sync now"))
    assert isinstance(out, Notice) and "No sync scheduler runs here" in out.text


@pytest.mark.parametrize("text", [f"!who can read {SALARY}", "!why What is the salary band for L5?", "!status",
                                  "!help", "!frobnicate", "!sync now"])
async def test_a_non_admin_never_sees_acls_or_titles(runtime: Runtime, text: str) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    for who in (ERIN, GINA):
        out = await reply(svc, turn(who.email, text))
        assert isinstance(out, Refused) and out.code == "admin"
        assert "admin command" in out.reason and "[admins]" in out.reason
        for secret in ("Salary", "salary-bands", "group:", "org:members", "documents", "carol"):
            assert secret not in out.reason
    assert [(e.actor, e.details["allowed"], e.details["reason"]) for e in audit.events] == [
        ("user:erin@northwind.example", False, "not_admin"), ("user:gina@northwind.example", False, "guest")]


async def test_unknown_identity_and_channels_are_refused_and_audited(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    nobody = await reply(svc, turn("mallory@elsewhere.example", "!status"))
    assert isinstance(nobody, Refused) and "verify who you are" in nobody.reason
    channel = await reply(svc, turn(CAROL.email, f"!who can read {SALARY}", Kind.CHANNEL))
    assert isinstance(channel, Refused) and "direct message" in channel.reason and "Salary" not in channel.reason
    group = await reply(svc, turn(CAROL.email, "!status", Kind.GROUP))
    assert isinstance(group, Refused)
    private = await reply(svc, turn(CAROL.email, "!status", Kind.CHANNEL, private=True))
    assert isinstance(private, Notice)
    assert [(e.actor, e.details) for e in audit.events] == [
        ("test:w1:mallory@elsewhere.example",
         {"command": "status", "allowed": False, "reason": "identity", "target": ""}),
        ("user:carol@northwind.example",
         {"command": "who-can-read", "allowed": False, "reason": "shared_conversation", "target": SALARY}),
        ("user:carol@northwind.example",
         {"command": "status", "allowed": False, "reason": "shared_conversation", "target": ""}),
        ("user:carol@northwind.example", {"command": "status", "allowed": True, "reason": "", "target": ""}),
    ]


async def test_an_audit_log_that_cannot_be_written_refuses_the_command(runtime: Runtime) -> None:
    svc = service(runtime, commands(runtime, ListSink(fail=True)))
    out = await reply(svc, turn(CAROL.email, f"!who can read {SALARY}"))
    assert isinstance(out, Refused) and out.reason == AUDIT_FAILED and "Salary" not in out.reason


async def test_commands_are_rate_limited_like_questions_and_the_limit_audited(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit), limit=1)
    assert isinstance(await reply(svc, turn(CAROL.email, "!help")), Notice)
    limited = await reply(svc, turn(CAROL.email, "!help"))
    assert isinstance(limited, Refused) and limited.code == "rate_limited"
    assert [(e.actor, e.details["reason"]) for e in audit.events] == [
        ("user:carol@northwind.example", ""), ("test:w1:carol@northwind.example", "rate_limited")]


async def test_questions_stay_questions(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    events = [e async for e in svc.ask(turn(CAROL.email, "why is the VPN slow"))]
    assert isinstance(events[-1], Finished) and audit.events == []
    # Without the admin hook a "!" message is an ordinary question, never a command.
    events = [e async for e in service(runtime, None).ask(turn(CAROL.email, f"!who can read {SALARY}"))]
    assert isinstance(events[-1], Finished)


async def test_a_credential_in_the_target_is_not_audited(runtime: Runtime) -> None:
    audit = ListSink()
    svc = service(runtime, commands(runtime, audit))
    token = "xoxb-1234567890-abcdefghijklmn"
    out = await reply(svc, turn(CAROL.email, f"!who can read https://wiki.example/page?t={token}"))
    assert isinstance(out, Notice) and out.text == NO_DOCUMENT
    (row,) = audit.events
    target = str(row.details["target"])
    assert token not in target and target.startswith("https://wiki.example/page?t=")
