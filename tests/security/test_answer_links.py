"""Item 11: a link in an answer shows where it really goes, and Slack does not unfurl answers.

A model's answer (or a document it quotes) may hold ``[Reset your password](https://evil.example/x)``:
Slack and the web chat used to show only the label. Now every link that is not one of the
answer's cited sources shows its real host (a mailto link: its address) after the label, unless
the label already shows it; citation links are unchanged. The message that becomes the answer
is posted with ``unfurl_links`` and ``unfurl_media`` off.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from bot.slack import render
from bot.slack.app import BOT_SCOPES
from bot.turn import Answer
from retrieval.answer.base import Citation
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.fakes import slack_signing as sig
from tests.fakes.llm_stand_in import LlmStandIn, Reply
from tests.fakes.slack_stand_in import SlackStandIn

WIKI = "https://wiki.example/it/vpn"
CITED = Citation(number=1, title="VPN access", url=WIKI, source_id="it/vpn")
LOOKALIKE = "xn--ntranet-qog.example"  # "іntranet.example" with a Cyrillic і

# Markdown in an answer -> the Slack link it must become.
SLACK_CASES = {
    "label hides the URL": ("[Reset your password](https://evil.example/x)",
                            "<https://evil.example/x|Reset your password (evil.example)>"),
    "label is another URL": ("[https://intranet.example](https://evil.example)",
                             "<https://evil.example|https://intranet.example (evil.example)>"),
    "userinfo": ("[Intranet](https://intranet.example@evil.example/)",
                 "<https://intranet.example@evil.example/|Intranet (evil.example)>"),
    "userinfo in a bare URL": ("see https://intranet.example@evil.example/ now",
                               "<https://intranet.example@evil.example/|https://intranet.example@evil.example/ (evil.example)>"),
    "punycode host": (f"[Intranet](https://{LOOKALIKE}/login)",
                      f"<https://{LOOKALIKE}/login|Intranet ({LOOKALIKE})>"),
    "Unicode host shown as punycode": ("[Intranet](https://\u0456ntranet.example/login)",
                                       f"|Intranet ({LOOKALIKE})>"),
    "uppercase scheme": ("[Reset](HTTPS://EVIL.example/x)", "<HTTPS://EVIL.example/x|Reset (evil.example)>"),
    "backslash before @": ("[x](https://evil.example\\@intranet.example/)", "|x (evil.example)>"),
    "label names a longer host": ("[evil.example.intranet.example](https://evil.example/)",
                                  "|evil.example.intranet.example (evil.example)>"),
    "mailto": ("[Contact IT](mailto:attacker@evil.example)",
               "<mailto:attacker@evil.example|Contact IT (attacker@evil.example)>"),
    "label shows the host": ("[evil.example docs](https://evil.example/docs)", "<https://evil.example/docs|evil.example docs>"),
    "label is the URL": ("[https://evil.example/x](https://evil.example/x)", "<https://evil.example/x|https://evil.example/x>"),
    "bare URL": ("go to https://evil.example/x now", "<https://evil.example/x|https://evil.example/x>"),
    "a cited source": (f"[the VPN page]({WIKI})", f"<{WIKI}|the VPN page>"),
}


def answer(text: str, citations: tuple[Citation, ...] = (CITED,)) -> Answer:
    return Answer(text=text, citations=citations, found_sources=bool(citations), restricted_to_audience=False,
                  provider="groq", fell_back=False, thread_id="t1")


@pytest.mark.parametrize(("markdown", "expected"), list(SLACK_CASES.values()), ids=list(SLACK_CASES))
def test_slack_answers_show_the_real_host(markdown: str, expected: str) -> None:
    a = answer(f"{markdown} [1]")
    blocks = json.dumps(render.answer_blocks(a), ensure_ascii=False)
    assert expected in blocks
    assert expected in render.answer_text(a)
    # The sources list is Lore's own: its links are never annotated.
    assert f"<{WIKI}|VPN access>" in blocks


def test_while_streaming_every_link_shows_its_host() -> None:
    """Citations are checked only once the answer is complete: until then none counts as cited."""
    streamed = json.dumps(render.streaming_blocks(f"See [the VPN page]({WIKI}) and [Reset](https://evil.example/x)"))
    assert f"<{WIKI}|the VPN page (wiki.example)>" in streamed
    assert "<https://evil.example/x|Reset (evil.example)>" in streamed


def test_an_answer_without_sources_cites_no_link() -> None:
    a = Answer(text=f"[the VPN page]({WIKI})", citations=(CITED,), found_sources=False,
               restricted_to_audience=False, provider="extractive", fell_back=False, thread_id="t1")
    assert f"<{WIKI}|the VPN page (wiki.example)>" in json.dumps(render.answer_blocks(a))


# -- end to end: the server, the Slack Web API stand-in and a scripted language model -------------

LLM_KEY = "gsk_answer_links_test_key_0123456789"
LLM_TEXT = ("Request VPN access in the Helpdesk portal [1]. If it fails, "
            "[Reset your password](https://evil.example/reset) or write to [IT](mailto:attacker@evil.example).")


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        stand_in.add_user("UCAROL", email="carol@northwind.example")
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL"])
        stand_in.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        yield stand_in


@pytest.fixture
async def client(handbook_data: Path, tmp_path: Path, slack: SlackStandIn,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    monkeypatch.setenv("LORE_SECRET_GROQ_API_KEY", LLM_KEY)
    async with LlmStandIn.running(api_keys=[LLM_KEY]) as llm:
        for _ in range(2):
            llm.script(Reply(LLM_TEXT, chunks=2))
        cfg.llm.provider = "groq"
        cfg.llm.base_url = llm.groq_base_url
        async with TestClient(TestServer(create_app(cfg))) as c:
            yield c


async def until(condition: Any, what: str, timeout: float = 20) -> Any:
    for _ in range(int(timeout * 20)):
        found = condition()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


async def test_slack_answer_is_posted_without_unfurling_and_shows_hosts(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
    event = sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts)
    r = await client.post("/slack/events", data=(req := sig.signed_event(event, SECRET)).body, headers=req.headers)
    assert r.status == 200
    reply = await until(lambda: [m for m in slack.messages("DCAROL")
                                 if m.user != "UCAROL" and "lore_feedback" in json.dumps(m.blocks)], "answer")
    blocks = json.dumps(reply[0].blocks, ensure_ascii=False)
    assert "<https://evil.example/reset|Reset your password (evil.example)>" in blocks
    assert "<mailto:attacker@evil.example|IT (attacker@evil.example)>" in blocks
    assert "(evil.example)" in reply[0].text  # the notification text too
    (post,) = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert post.args["unfurl_links"] is False and post.args["unfurl_media"] is False


async def test_slack_private_answer_shows_hosts(client: TestClient, slack: SlackStandIn) -> None:
    command = sig.signed_form(sig.slash_command(command="/lore", text="how do I get VPN access?",
                                                user_id="UCAROL", channel_id="CGENERAL"), SECRET)
    r = await client.post("/slack/events", data=command.body, headers=command.headers)
    assert r.status == 200
    (private,) = await until(lambda: slack.ephemerals("UCAROL"), "ephemeral answer")
    assert "<https://evil.example/reset|Reset your password (evil.example)>" in json.dumps(private.blocks)


# -- the web chat, in the browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.bot.test_webchat_browser import run_lore_server

    with run_lore_server(tmp_path_factory.mktemp("lore-links")) as base:
        yield base


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.bot.browser import start_chromium

    d = start_chromium(tmp_path_factory.mktemp("chromium-links"))
    try:
        yield d
    finally:
        d.quit()


WEBCHAT_TEXT = (
    f"Request VPN access on [the VPN page]({WIKI}) [1]. "
    "[Reset your password](https://evil.example/reset), "
    "[https://intranet.example](https://evil.example/login), "
    "[Intranet](https://intranet.example@evil.example/), "
    f"[Intranet](https://{LOOKALIKE}/), "
    "[Reset](HTTPS://EVIL.example/x), "
    "[Contact IT](mailto:attacker@evil.example), "
    "[evil.example docs](https://evil.example/docs), "
    "[run](javascript:window.loreXss=5)."
)
WEBCHAT_LINKS = [
    (WIKI, "the VPN page"),
    ("https://evil.example/reset", "Reset your password (evil.example)"),
    ("https://evil.example/login", "https://intranet.example (evil.example)"),
    ("https://intranet.example@evil.example/", "Intranet (evil.example)"),
    (f"https://{LOOKALIKE}/", f"Intranet ({LOOKALIKE})"),
    ("https://evil.example/x", "Reset (evil.example)"),
    ("mailto:attacker@evil.example", "Contact IT (attacker@evil.example)"),
    ("https://evil.example/docs", "evil.example docs"),
]


@pytest.mark.timeout(600)
def test_webchat_answer_links_show_the_real_host(driver: Any, server_url: str) -> None:
    from tests.bot.test_webchat_browser import ERIN, ChatPage, final, sse

    page = ChatPage(driver, server_url)
    citation = {"number": 1, "title": "VPN access", "url": WIKI, "source_id": "it/vpn", "heading_path": []}
    page.script({"sse": [sse("final", final(WEBCHAT_TEXT, [citation]))]})
    page.pick(ERIN)
    done = page.ask("how do I reset my password?")
    assert done.get_attribute("data-state") == "done"
    links = done.find_elements("css selector", ".text a.answer-link")
    assert [(a.get_attribute("href"), a.get_attribute("textContent")) for a in links] == WEBCHAT_LINKS
    assert all(a.get_attribute("target") == "_blank" and "noopener" in a.get_attribute("rel") for a in links)
    # A link the page cannot follow safely stays as the characters of the answer.
    assert "[run](javascript:window.loreXss=5)" in page.text(done)
    assert [a.text for a in done.find_elements("css selector", ".text sup a.cite")] == ["[1]"]
    page.assert_clean()
