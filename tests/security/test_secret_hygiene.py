"""The secret-hygiene sweep: a whole scenario with every secret in a real OpenBao under
distinctive values, then a search for any of them (raw, base64, URL- or JSON-encoded) in what
Lore let out: log records, HTTP responses, messages posted to Slack and Teams, audit rows,
/metrics and the bytes of the SQLite database files.

The scenario: `lore sync` over the handbook plus broken documents (a run with failures), Slack
questions in a DM and a channel, an admin command, Teams 1:1 through msal/Graph/Bot Connector as
production wires them, forged Slack and Teams requests, a Groq that refuses the key (quoting it,
as OpenAI and Groq do) and one that fails with 500, then the vault cut off (behind a TCP proxy)
past secrets.cache_seconds: Slack refused with 503, /readyz 503, questions answered extractively;
then the vault back and the same server ready again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import re
import secrets as random
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlparse

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.server import build_state, create_app
from bot.slack.app import BOT_SCOPES
from core.logging import JsonFormatter
from core.secrets.redaction import Redactor
from tests.bot.teams.conftest import APP_ID, BOT, TENANT, activity
from tests.bot.teams.test_teams_wired import EntraTokens, roster_entry
from tests.builders import load_config
from tests.conftest import REPO
from tests.fakes import slack_signing as sig
from tests.fakes.bot_connector import BotConnectorStandIn
from tests.fakes.bot_tokens import BotTokenIssuer
from tests.fakes.confluence_demo import EMAIL, seed_demo
from tests.fakes.confluence_stand_in import ConfluenceStandIn
from tests.fakes.entra import EntraStandIn
from tests.fakes.entra_fixture import entra_fixture, graph_fixture  # noqa: F401
from tests.fakes.graph import GraphStandIn, User
from tests.fakes.llm_stand_in import Fail, LlmStandIn
from tests.fakes.openbao import Bao
from tests.fakes.slack_stand_in import SlackStandIn
from tests.fakes.tcp_proxy import TcpProxy

CACHE_SECONDS = 1.5
CAROL = "00000000-0000-4000-8000-0000000ca401"
CAROL_EMAIL = "carol@northwind.example"
VPN = "How do I get VPN access?"


def _distinctive(kind: str) -> str:
    return f"hyg-{kind}-{random.token_hex(12)}"


@dataclass
class Secrets:
    """Every secret of the scenario by its name in the store, plus the vault's own token."""

    values: dict[str, str]
    vault_token: str

    def forms(self) -> dict[str, str]:
        """Each secret in every form it could leak as (its label says which secret, not its value)."""
        found: dict[str, str] = {}
        for name, value in [*self.values.items(), ("vault-token", self.vault_token)]:
            for form in {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
                         base64.b64encode(value.encode()).decode(),
                         base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")}:
                found[form] = name
        if "confluence-api-token" in self.values:  # HTTP Basic auth: base64 of email:token
            basic = f"{EMAIL}:{self.values['confluence-api-token']}".encode()
            found[base64.b64encode(basic).decode()] = "confluence-api-token (basic auth)"
        raw_key = base64.b64decode(self.values["audit-key"])
        found[raw_key.hex()] = "audit-key (hex of the key bytes)"
        return found

    def raw_bytes(self) -> dict[bytes, str]:
        out = {form.encode(): name for form, name in self.forms().items()}
        out[base64.b64decode(self.values["audit-key"])] = "audit-key (the key bytes)"
        return out


@dataclass
class Seen:
    """Everything Lore let out during the scenario, with where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    async def response(self, where: str, r: ClientResponse) -> str:
        body = await r.text()
        self.add(f"{where}: HTTP {r.status} headers", json.dumps(dict(r.headers)))
        self.add(f"{where}: HTTP {r.status} body", body)
        return body


def leaks(secrets: Secrets, seen: Seen) -> list[str]:
    forms = secrets.forms()
    return [f"{name} in {where}" for where, text in seen.texts for form, name in forms.items() if form in text]


class ServerLog(logging.Handler):
    """The server's log lines as `lore serve` writes them: JSON, redacted when emitted with the
    store's redactor (a value it only learns later does not clean a line already written)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter(redactor))
        self.lines: list[str] = []
        self.records: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.records.add(id(record))

    @contextlib.contextmanager
    def attached(self) -> Iterator[ServerLog]:
        logging.getLogger().addHandler(self)
        try:
            yield self
        finally:
            logging.getLogger().removeHandler(self)


def sweep(secrets: Secrets, seen: Seen, records: list[logging.LogRecord], server: ServerLog,
          data: Path) -> list[str]:
    """Where any form of a secret turned up: in ``seen``, a log line, or a database file."""
    # The server's lines as it wrote them; the commands' records as basicConfig prints them
    # (no redaction by value).
    assert server.lines, "the server logged nothing"
    for line in server.lines:
        seen.add("server log line", line)
    plain = logging.Formatter("%(levelname)s %(name)s %(message)s")
    for record in records:
        if id(record) not in server.records:
            line = plain.format(record) + (plain.formatException(record.exc_info) if record.exc_info else "")
            seen.add(f"command log record {record.name}:{record.lineno}", line)
    found = leaks(secrets, seen)
    database_files = [p for p in data.iterdir() if p.name.startswith("lore.db")]
    assert database_files, list(data.iterdir())
    for path in database_files:
        content = path.read_bytes()
        found += [f"{name} in {path.name}" for form, name in secrets.raw_bytes().items() if form in content]
    return found


@pytest.fixture
def vault(bao: Bao, tmp_path: Path) -> Iterator[tuple[Secrets, TcpProxy, str, str]]:
    """The scenario's secrets in OpenBao under a fresh prefix; the proxy Lore reaches it by."""
    prefix = f"lore/hyg{random.token_hex(4)}"
    values = {
        "slack-signing-secret": _distinctive("slack-signing"),
        "slack-bot-token": "xoxb-" + _distinctive("slack-bot"),
        "teams-app-password": _distinctive("teams-password"),
        "groq-api-key": _distinctive("groq"),
        "confluence-api-token": _distinctive("confluence"),
        "audit-key": base64.b64encode(random.token_bytes(32)).decode(),
    }
    for name, value in values.items():
        bao.root.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/{name}", secret={"value": value},
                                                       mount_point="secret")
    token_file = bao.token_file(["lore"])
    proxy = TcpProxy(bao.port)
    try:
        yield Secrets(values, Path(token_file).read_text().strip()), proxy, prefix, token_file
    finally:
        proxy.close()


def write_config(tmp_path: Path, proxy: TcpProxy, prefix: str, token_file: str, question_text: str,
                 wiki_url: str = "") -> Path:
    handbook = tmp_path / "handbook"
    shutil.copytree(REPO / "examples" / "handbook", handbook)
    (handbook / "general" / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip archive")
    (handbook / "general" / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntruncated")
    path = tmp_path / "lore.toml"
    path.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[server]
mode = "development"
log_level = "DEBUG"
[embedding]
provider = "hash"
[secrets]
provider = "vault"
cache_seconds = {CACHE_SECONDS}
[secrets.vault]
url = "{proxy.url}"
auth = "token"
token_file = "{token_file}"
path_prefix = "{prefix}"
timeout_seconds = 1
[audit]
question_text = "{question_text}"
[admins]
users = ["{CAROL_EMAIL}"]
[sync]
scheduler = false
[connectors.handbook]
type = "files"
path = "{handbook}"
""" + (f'[connectors.wiki]\ntype = "confluence"\nurl = "{wiki_url}"\nemail = "{EMAIL}"\nmax_retries = 0\n'
       if wiki_url else ""))
    return path


def cli(seen: Seen, where: str, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    seen.add(f"lore {where} stdout", out.getvalue())
    seen.add(f"lore {where} stderr", err.getvalue())
    return code, out.getvalue()


@dataclass
class Scenario:
    client: TestClient[Any, Any]
    slack: SlackStandIn
    connector: BotConnectorStandIn
    issuer: BotTokenIssuer
    llm: LlmStandIn
    secrets: Secrets
    seen: Seen

    async def slack_event(self, event: dict[str, Any], secret: str | None = None) -> int:
        req = sig.signed_event(event, secret or self.secrets.values["slack-signing-secret"])
        r = await self.client.post("/slack/events", data=req.body, headers=req.headers)
        await self.seen.response("slack event", r)
        return r.status

    async def slack_dm(self, text: str) -> int:
        question = self.slack.add_message("DCAROL", text, user="UCAROL")
        return await self.slack_event(sig.message_im(user="UCAROL", channel="DCAROL", text=text, ts=question.ts))

    async def feedback(self) -> int:
        """Presses "not helpful" under Lore's first answer in the DM, as Slack sends the press."""
        answer = next(m for m in self.slack.messages("DCAROL") if "feedback_buttons" in json.dumps(m.blocks))
        block, element = next((b, e) for b in answer.blocks or [] if b.get("type") == "context_actions"
                              for e in b["elements"] if e["type"] == "feedback_buttons")
        pressed = element["negative_button"]
        action = {"type": "feedback_buttons", "action_id": element["action_id"],
                  "block_id": block.get("block_id", "b"), "value": pressed["value"], "text": pressed["text"]}
        payload = sig.block_actions(user_id="UCAROL", channel_id="DCAROL", message_ts=answer.ts, actions=[action])
        req = sig.signed_block_actions(payload, self.secrets.values["slack-signing-secret"])
        r = await self.client.post("/slack/events", data=req.body, headers=req.headers)
        await self.seen.response("slack feedback", r)
        return r.status

    async def webchat(self, text: str) -> dict[str, Any]:
        r = await self.client.post("/api/webchat/ask", json={"user": CAROL_EMAIL, "text": text})
        body = await self.seen.response("webchat", r)
        assert r.status == 200, body
        [final] = [json.loads(block.split("\n")[1].removeprefix("data: "))
                   for block in body.split("\n\n") if block.startswith("event: final")]
        return dict(final)

    async def teams(self, text: str, token: str | None = None) -> int:
        body = activity(self.connector.base_url, "personal", text, user=CAROL, conversation="a:hyg-carol")
        body["from"] = {"id": f"29:{CAROL}", "name": "carol", "aadObjectId": CAROL}
        body["recipient"] = dict(BOT)
        token = token if token is not None else self.issuer.token(body["serviceUrl"])
        r = await self.client.post("/api/messages", json=body, headers={"Authorization": f"Bearer {token}"})
        await self.seen.response("teams", r)
        return r.status

    async def get(self, path: str) -> tuple[int, str]:
        r = await self.client.get(path)
        return r.status, await self.seen.response(path, r)


async def until(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)


@pytest.fixture
async def slack_stand_in(vault: tuple[Secrets, TcpProxy, str, str]) -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=vault[0].values["slack-bot-token"], scopes=BOT_SCOPES) as slack:
        slack.add_user("UCAROL", email=CAROL_EMAIL)
        slack.add_user("UERIN", email="erin@northwind.example")
        slack.add_channel("CGENERAL", name="general", members=["UCAROL", "UERIN"])
        slack.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        yield slack


@pytest.mark.parametrize("question_text", ["text", "hash"])
async def test_no_secret_leaves_lore_in_a_whole_scenario(
        question_text: str, vault: tuple[Secrets, TcpProxy, str, str], slack_stand_in: SlackStandIn,
        entra: EntraStandIn, graph: GraphStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    secrets, proxy, prefix, token_file = vault
    slack, seen = slack_stand_in, Seen()
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    async with ConfluenceStandIn.running() as wiki:
        seed_demo(wiki)
        config = write_config(tmp_path, proxy, prefix, token_file, question_text, wiki.wiki_url)
        # Confluence refuses the token first (a failed run), then takes it; the handbook's
        # broken documents fail (a run with errors). Both audited, their errors in the database.
        wiki.credentials[EMAIL] = _distinctive("confluence-expected")
        code, out = await asyncio.to_thread(cli, seen, "sync", "--config", str(config), "sync", "wiki", "--json")
        assert code == 1 and "401" in json.loads(out)["errors"][0], out
        wiki.credentials[EMAIL] = secrets.values["confluence-api-token"]
        code, out = await asyncio.to_thread(cli, seen, "sync", "--config", str(config), "sync", "--json")
    reports = {r["connector"]: r for r in map(json.loads, out.splitlines())}
    assert reports["wiki"]["status"] == "succeeded" and reports["wiki"]["counts"]["indexed"], reports
    handbook = reports["handbook"]
    assert handbook["counts"]["indexed"] == 27 and handbook["counts"].get("failed"), handbook
    cli_records = len(caplog.records)

    entra.register_app(TENANT, APP_ID, secret=secrets.values["teams-app-password"])
    graph.add_user(TENANT, User(CAROL, CAROL_EMAIL, mail=CAROL_EMAIL))
    tokens: Any = EntraTokens(entra)  # set-like: what the Bot Connector stand-in accepts
    async with BotTokenIssuer.running(APP_ID) as issuer, BotConnectorStandIn.running(tokens) as connector, \
            LlmStandIn.running(api_keys=[]) as llm:
        connector.add_conversation("a:hyg-carol", "personal", [roster_entry(CAROL, CAROL_EMAIL)])
        cfg = load_config(config)
        cfg.webchat.enabled, cfg.webchat.users = True, [CAROL_EMAIL]
        cfg.slack.enabled, cfg.slack.api_url = True, slack.api_url
        cfg.teams.enabled, cfg.teams.app_id, cfg.teams.tenant_ids = True, APP_ID, [TENANT]
        cfg.teams.openid_metadata_url, cfg.teams.authority_url = issuer.metadata_url, entra.base_url
        cfg.teams.graph_url = graph.url
        cfg.llm.provider, cfg.llm.base_url = "groq", llm.groq_base_url
        cfg.llm.max_retries, cfg.llm.timeout_seconds = 0, 5
        redactor = Redactor()  # as `lore serve` shares it between the store and the logs
        with ServerLog(redactor).attached() as server_log:
            state = build_state(cfg, redactor)
            async with TestClient(TestServer(create_app(cfg, state))) as client:
                s = Scenario(client, slack, connector, issuer, llm, secrets, seen)
                await s.get("/readyz")
                # Groq refuses the key, quoting it (a question someone pasted a secret Lore holds
                # into: the model is not sent the secret); then Groq fails with a 500 echoing the key.
                pasted = secrets.values["teams-app-password"]
                await s.webchat(f"How do I get VPN access from my first day? (VPN password {pasted})")
                sent = [json.dumps(r.body) for r in llm.requests]
                assert len(sent) == 1 and "[REDACTED]" in sent[0], "the model was not sent the redacted question"
                # The key went out, where it belongs, and came back quoted in the 401's message.
                assert llm.requests[-1].headers["Authorization"] == "Bearer " + secrets.values["groq-api-key"], \
                    "the configured key was not used"
                llm.api_keys = frozenset({secrets.values["groq-api-key"]})
                llm.script(Fail(500, message=f"internal error for key {secrets.values['groq-api-key']}"))
                assert await s.slack_dm(VPN) == 200
                mention = slack.add_message("CGENERAL", f"<@U0LOREBOT> {VPN}", user="UCAROL")
                assert await s.slack_event(sig.app_mention(user="UCAROL", channel="CGENERAL", text=mention.text,
                                                           ts=mention.ts)) == 200
                assert await s.slack_dm("!status") == 200
                forged = sig.message_im(user="UCAROL", channel="DCAROL", text=VPN, ts="1700000000.000100")
                assert await s.slack_event(forged, secret="not-the-signing-secret") == 401
                assert await s.teams(VPN) == 200
                assert await s.teams(VPN, token="not.a.jwt") == 401

                async def answered() -> bool:
                    return (len([m for m in slack.messages("DCAROL") if m.user == "U0LOREBOT"]) >= 2
                            and bool(slack.messages("CGENERAL", thread_ts=mention.ts))
                            and bool(connector.messages("a:hyg-carol")))
                await until(answered, "the Slack and Teams answers")
                assert await s.feedback() == 200
                assert (await s.get("/readyz"))[0] == 200

                # The vault goes away; once the cache is past its age, reads fail closed.
                proxy.cut()
                await asyncio.sleep(CACHE_SECONDS + 0.3)
                question = slack.add_message("DCAROL", VPN, user="UCAROL")
                assert await s.slack_event(sig.message_im(user="UCAROL", channel="DCAROL", text=VPN, ts=question.ts)) == 503
                status, body = await s.get("/readyz")
                assert status == 503 and json.loads(body)["checks"]["secrets"].startswith("error"), body
                assert (await s.webchat(VPN))["fell_back"] is True

                # Back again: the same server recovers, nothing rebuilt.
                proxy.cut(False)

                async def ready() -> bool:
                    await s.slack_dm(VPN)
                    return (await s.get("/readyz"))[0] == 200
                await until(ready, "ready again after the vault came back")
                seen.add("/metrics", (await s.get("/metrics"))[1])
                await state.audit.drain()  # type: ignore[union-attr]
                for call in slack.calls():
                    seen.add(f"posted to Slack {call.method}", json.dumps({k: v for k, v in call.args.items()
                                                                           if k != "token"}))
                for message in connector.messages("a:hyg-carol"):
                    seen.add("posted to Teams", json.dumps(message))
                for request in llm.requests:  # its Authorization header is where the key belongs
                    seen.add("sent to Groq (body)", json.dumps(request.body))

    code, exported = await asyncio.to_thread(cli, seen, "audit export", "--config", str(config), "audit", "export")
    assert code == 0
    events = [json.loads(line) for line in exported.splitlines()]
    seen.add("audit rows", exported)

    # The scenario happened: each kind of row is there.
    kinds = {(e["kind"], e.get("platform")) for e in events}
    assert {("question", "webchat"), ("question", "slack"), ("question", "teams"), ("admin", "slack"),
            ("auth_failure", "slack"), ("auth_failure", "teams"), ("feedback", "slack")} <= kinds, kinds
    assert any(e["kind"] == "sync" and e["details"]["failed"] for e in events)
    assert any(e["kind"] == "sync" and e["actor"] == "connector:confluence:wiki" and e["details"]["status"] == "failed"
               for e in events)
    assert any(e["kind"] == "secret_failure" and e["details"]["error"] == "SecretStoreUnavailable" for e in events)
    questions = [e["details"] for e in events if e["kind"] == "question"]
    field_kept = "question_hmac" if question_text == "hash" else "question"
    assert all(set(d) & {"question", "question_hmac"} == {field_kept} for d in questions), questions
    pasted_row = [d for d in questions if "VPN password" in d.get("question", "")]
    assert question_text == "hash" or "[REDACTED]" in pasted_row[0]["question"]

    assert cli_records
    found = sweep(secrets, seen, caplog.records, server_log, tmp_path / "data")
    assert found == [], found


OAUTH_TEAM = "T0NEWTEAM1"
CLIENT_ID = "1234.5678"


async def test_tokens_lore_writes_to_the_vault_never_leave_it(
        vault: tuple[Secrets, TcpProxy, str, str], bao: Bao, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The multi-workspace install: the client secret from the vault, the bot token Slack issues
    written to the vault (never to the database), used for an answer, deleted on uninstall; none
    of them anywhere else."""
    secrets, proxy, prefix, token_file = vault
    secrets.values["slack-client-secret"] = _distinctive("slack-client")
    bao.root.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/slack-client-secret", mount_point="secret",
                                                   secret={"value": secrets.values["slack-client-secret"]})
    seen = Seen()
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    config = write_config(tmp_path, proxy, prefix, token_file, "text")
    code, _ = await asyncio.to_thread(cli, seen, "sync", "--config", str(config), "sync")
    assert code == 0
    async with SlackStandIn.running(team_id=OAUTH_TEAM, scopes=BOT_SCOPES) as slack:
        slack.register_oauth_app(CLIENT_ID, secrets.values["slack-client-secret"])
        slack.add_user("UERIN", email="erin@northwind.example")
        cfg = load_config(config)
        cfg.slack.enabled, cfg.slack.api_url, cfg.slack.client_id = True, slack.api_url, CLIENT_ID
        redactor = Redactor()
        with ServerLog(redactor).attached() as server_log:
            state = build_state(cfg, redactor)
            async with TestClient(TestServer(create_app(cfg, state))) as client:
                await install_answer_uninstall(client, slack, bao, prefix, secrets, seen)
    code, exported = await asyncio.to_thread(cli, seen, "audit export", "--config", str(config), "audit", "export")
    assert code == 0 and exported
    seen.add("audit rows", exported)
    found = sweep(secrets, seen, caplog.records, server_log, tmp_path / "data")
    assert found == [], found


async def install_and_answer(client: TestClient[Any, Any], slack: SlackStandIn, bao: Bao, prefix: str,
                             secrets: Secrets, seen: Seen) -> str:
    """/slack/install, Slack's consent, /slack/oauth_redirect; then a question from the new
    workspace. Returns the vault name the issued bot token was written under."""
    start = await client.get("/slack/install", allow_redirects=False)
    body = await seen.response("install", start)
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', body)
    location = start.headers.get("Location") or (link.group(1).replace("&amp;", "&") if link else "")
    oauth_state = parse_qs(urlparse(location).query)["state"][0]
    slack.grant_code("code-1", team_id=OAUTH_TEAM, installer="UERIN", scopes=BOT_SCOPES)
    done = await client.get(f"/slack/oauth_redirect?code=code-1&state={oauth_state}", allow_redirects=False,
                            cookies={k: v.value for k, v in start.cookies.items()})
    assert done.status == 200, await seen.response("oauth redirect", done)
    await seen.response("oauth redirect", done)
    (exchange,) = slack.calls("oauth.v2.access")
    issued = str(exchange.response["access_token"])
    secrets.values["installed bot token"] = issued
    stored = bao.root.secrets.kv.v2.list_secrets(path=prefix, mount_point="secret")["data"]["keys"]
    [name] = [k for k in stored if k.startswith("slack-bot-token-")]  # written to the vault
    kept = bao.root.secrets.kv.v2.read_secret_version(path=f"{prefix}/{name}", mount_point="secret",
                                                      raise_on_deleted_version=True)["data"]["data"]
    assert kept == {"value": issued}, "the vault does not hold the issued token"

    slack.add_channel("DERIN", is_im=True, members=["UERIN"], team_id=OAUTH_TEAM)
    question = slack.add_message("DERIN", VPN, user="UERIN")
    event = sig.message_im(user="UERIN", channel="DERIN", text=VPN, ts=question.ts, team=OAUTH_TEAM)
    signed = sig.signed_event(event, secrets.values["slack-signing-secret"], team_id=OAUTH_TEAM)
    await seen.response("slack event", await client.post("/slack/events", data=signed.body, headers=signed.headers))

    async def answered() -> bool:
        return any(c.ok for c in slack.calls("chat.update"))
    await until(answered, "the answer in the installed workspace")  # the stand-in took the token
    return str(name)


async def install_answer_uninstall(client: TestClient[Any, Any], slack: SlackStandIn, bao: Bao, prefix: str,
                                   secrets: Secrets, seen: Seen) -> None:
    name = await install_and_answer(client, slack, bao, prefix, secrets, seen)
    uninstall = sig.signed_event({"type": "app_uninstalled"}, secrets.values["slack-signing-secret"],
                                 team_id=OAUTH_TEAM)
    await seen.response("uninstall", await client.post("/slack/events", data=uninstall.body,
                                                       headers=uninstall.headers))

    async def deleted() -> bool:
        keys = bao.root.secrets.kv.v2.list_secrets(path=prefix, mount_point="secret")["data"]["keys"]
        return name not in keys
    await until(deleted, "the installed token deleted from the vault")
    seen.add("/metrics", await seen.response("/metrics", await client.get("/metrics")))
    for call in slack.calls():
        seen.add(f"posted to Slack {call.method}", json.dumps({k: v for k, v in call.args.items()
                                                               if k not in ("token", "client_secret")}))


def test_the_sweep_finds_a_planted_value(tmp_path: Path) -> None:
    """The search itself works: each form of a value is found in text, a log record (even where
    the store's redactor would miss it) and a database file's bytes."""
    key = b"k" * 32
    secrets = Secrets({"audit-key": base64.b64encode(key).decode(), "x": "hyg-x-0123abcd"}, "hyg-tok-99")
    for text in ["hyg-x-0123abcd", base64.b64encode(b"hyg-x-0123abcd").decode(), quote("hyg-tok-99"), key.hex()]:
        seen = Seen()
        seen.add("here", f"prefix {text} suffix")
        assert leaks(secrets, seen) != [], text
    encoded = base64.b64encode(b"hyg-x-0123abcd").decode()
    server = ServerLog(Redactor(["hyg-x-0123abcd"]))
    served = logging.LogRecord("lore.x", logging.INFO, __file__, 1, "token %s", (encoded,), None)
    server.handle(served)
    command = logging.LogRecord("lore.y", logging.INFO, __file__, 2, "token %s", ("hyg-tok-99",), None)
    (tmp_path / "lore.db-wal").write_bytes(b"\x00page" + key + b"\x00")
    found = sweep(secrets, Seen(), [served, command], server, tmp_path)
    assert set(found) == {"x in server log line", "vault-token in command log record lore.y:2",
                          "audit-key (the key bytes) in lore.db-wal"}
