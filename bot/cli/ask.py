"""`lore ask "question" --as EMAIL`: the chat surfaces' answer, in the terminal.

The same conversation service as Slack and the web chat (identity -> principals, audience,
retrieval, the configured answer provider with its extractive fallback, citations), asked as a
direct conversation by one person. The answer streams to stdout as it is written, statuses go to
stderr; ``--json`` prints only the final answer object. Exit status 0 for an answer (including
the honest "couldn't find"), 1 when the question was refused (too long, rate limited, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import TYPE_CHECKING, TextIO

from bot.cli.output import print_json, terminal_text
from bot.errors import CliError
from bot.streaming import AnswerSink, stream_answer
from bot.turn import (
    CLOSEST_LABEL,
    FELL_BACK_NOTE,
    STAGE_TEXT,
    WHO_TO_ASK_LABEL,
    Answer,
    Finished,
    Kind,
    Notice,
    Refused,
    Turn,
    who_to_ask_text,
)
from core.config import Config

if TYPE_CHECKING:
    from bot.conversation import ConversationService
    from retrieval.answer.answerer import Answerer


def cmd_ask(cfg: Config, args: argparse.Namespace) -> int:
    from bot.audit import database_auditor
    from bot.identity import StaticIdentityResolver
    from bot.metrics import Metrics
    from bot.service import conversation_service
    from bot.threads import InProcessThreadMemory
    from bot.turn import Identity
    from core.acl import PrincipalError, user_principal
    from core.memberships import known_to_sources
    from core.ratelimit import InProcessRateLimiter
    from core.secrets import open_configured_store
    from core.secrets.redaction import Redactor
    from retrieval.answer.answerer import make_answerer
    from retrieval.runtime import Runtime

    email = args.as_email.strip().lower()
    try:
        user_principal(email)
    except PrincipalError as exc:
        raise CliError(f"--as: {exc}") from None
    secrets = open_configured_store(cfg, redactor=Redactor())
    answerer = make_answerer(cfg.llm, secrets.get, secrets.where, secrets.redactor.redact)  # before the index opens: a bad llm setting leaks nothing
    rt = Runtime(cfg)
    metrics = Metrics()
    try:
        auditor = database_auditor(cfg, rt.db, secrets, metrics)
    except BaseException:
        rt.close()
        raise
    service = conversation_service(
        rt, answerer,
        identities=StaticIdentityResolver({email: Identity(email, org_member=not args.guest)}),
        rate_limiter=InProcessRateLimiter(max(1, cfg.ratelimit.questions_per_minute)),
        threads=InProcessThreadMemory(),
        metrics=metrics,
        search_workers=1,
        audit=auditor,
    )
    try:
        if not known_to_sources(rt.db, email):
            sys.stderr.write(unknown_person_note(email, guest=args.guest) + "\n")
        return asyncio.run(_ask(service, answerer, email, args.question, as_json=args.json))
    finally:
        service.close()
        rt.close()


def unknown_person_note(email: str, *, guest: bool) -> str:
    scope = "nothing" if guest else "only documents every member of the organisation may read"
    return (f"note: no source knows {email} (no group membership, no document shared with them): "
            f"answering from {scope}")


class TerminalSink(AnswerSink):
    """The answer on a terminal: text to stdout as it is written, statuses to stderr."""

    def __init__(self, *, as_json: bool, out: TextIO | None = None) -> None:
        self.as_json = as_json
        self.streamed = ""
        self.out = out or sys.stdout

    async def status(self, stage: str) -> None:
        if not self.as_json:
            sys.stderr.write(STAGE_TEXT.get(stage, stage) + "\n")

    async def partial(self, appended: str, text: str) -> None:
        if not self.as_json:
            self.streamed = text
            self.out.write(terminal_text(appended))
            self.out.flush()

    async def reset(self) -> None:
        if not self.as_json and self.streamed:
            self.out.write("\n")
            sys.stderr.write("(that answer could not be used; here is another)\n")
        self.streamed = ""

    async def refuse(self, refusal: Refused) -> None:
        sys.stderr.write(f"lore: {terminal_text(refusal.reason)}\n")

    async def notice(self, notice: Notice) -> None:
        if self.as_json:
            print_json({"notice": notice.text, "command": notice.command})
            return
        self.out.write(terminal_text(notice.text) + "\n")
        self.out.flush()

    async def finish(self, answer: Answer) -> None:
        if self.as_json:
            print_json(answer.as_json())
            return
        out = self.out
        if " ".join(self.streamed.split()) != " ".join(answer.text.split()):
            # The final text differs from what streamed (citations renumbered, say).
            out.write(("\n\n" if self.streamed else "") + terminal_text(answer.text))
        out.write("\n")
        if answer.note:
            out.write(f"\n{terminal_text(answer.note)}\n")
        if answer.fell_back:
            out.write(f"\n({FELL_BACK_NOTE})\n")
        if answer.stale_note:
            out.write(f"\n{answer.stale_note}\n")
        if answer.closest:
            out.write(f"\n{CLOSEST_LABEL}\n")
            for page in answer.closest:
                where = " > ".join(page.heading_path)
                line = f"- {page.title}{' > ' + where if where else ''}: {page.url or page.source_id}"
                out.write(f"  {terminal_text(line)}\n")
            people = who_to_ask_text(answer.closest)
            if people:
                out.write(f"{WHO_TO_ASK_LABEL} {terminal_text(people)}\n")
        if answer.citations:
            out.write("\nSources:\n")
            for c in answer.citations:
                where = " > ".join(c.heading_path)
                line = f"[{c.number}] {c.title}{' > ' + where if where else ''}: {c.url or c.source_id}"
                out.write(f"  {terminal_text(line)}\n")
        out.flush()


async def _ask(service: ConversationService, answerer: Answerer, email: str, question: str, *,
               as_json: bool) -> int:
    turn = Turn("cli", "local", email, Kind.DIRECT, f"cli:{email}", uuid.uuid4().hex, question)
    try:
        final = await stream_answer(service.ask(turn), TerminalSink(as_json=as_json), interval=0)
        if service.audit is not None:
            await service.audit.drain()  # recorded before the loop (and the process) ends
    finally:
        # In the loop that opened them: the provider's HTTP connections belong to it.
        await answerer.aclose()
    return 0 if isinstance(final, (Finished, Notice)) else 1
