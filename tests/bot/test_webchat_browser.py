"""The local web chat page in headless Chromium, against the real `lore serve`.

The server runs as a subprocess on a free loopback port over a temporary data directory holding
the sample handbook (hash embeddings, extractive answers: no model, no network). Scenarios that the
handbook cannot produce on demand (a failing LLM, rate limits, hostile markup, dropped streams)
replace `fetch` for the ask endpoint inside the page with scripted responses that follow the same
HTTP contract, so the page's own rendering is what is tested.

Screenshots of the permission scenario are written to tests/bot/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.bot.browser import start_chromium
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(600)  # includes a first-time apt-get install of chromium

ARTIFACTS = REPO / "tests" / "bot" / "artifacts"
HANDBOOK = REPO / "examples" / "handbook"
CAROL = "carol@northwind.example"
ERIN = "erin@northwind.example"
GINA = "gina@northwind.example"
WEBCHAT_USERS = f"{CAROL},{ERIN},{GINA} guest"
SALARY_QUESTION = "What is the salary band for L5?"
ANSWER_TIMEOUT = 60.0
STALE_NOTE = "Every page this answer cites was last updated more than 365 days ago (the newest on 2024-05-01)."

# A document whose title and text carry markup: it must reach the screen as characters.
HOSTILE_TITLE = "Cafeteria <img src=x onerror=window.loreXss=1> menu"
HOSTILE_DOC = f"""---
title: {HOSTILE_TITLE}
---

# Cafeteria lunch code

The cafeteria lunch code is <img src=x onerror="window.loreXss=2"> zebra-4471, valid all week.
Show the cafeteria lunch code at the till <script>window.loreXss=3</script> to pay with your badge.
"""


# -- the real server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    env.update(
        {
            "LORE_DATA_DIR": str(data_dir),
            "LORE_EMBEDDING_PROVIDER": "hash",
            "LORE_SERVER_MODE": "development",
            "LORE_WEBCHAT_ENABLED": "true",
            "LORE_WEBCHAT_USERS": WEBCHAT_USERS,
            "LORE_LLM_PROVIDER": "extractive",
            "LORE_SERVER_SHUTDOWN_TIMEOUT_SECONDS": "5",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    return env


def _ingest(folder: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ingest", str(folder)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"lore ingest {folder} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _hostile_folder(root: Path) -> Path:
    """A second files source, readable by every member, holding HOSTILE_DOC."""
    (root / "kitchen").mkdir(parents=True)
    (root / "kitchen" / "_acl.yaml").write_text("allow: [org:members]\n", encoding="utf-8")
    (root / "kitchen" / "cafeteria.md").write_text(HOSTILE_DOC, encoding="utf-8")
    return root


@contextmanager
def run_lore_server(workdir: Path) -> Iterator[str]:
    """Ingest the handbook (and the hostile document), start `lore serve`, yield its base URL."""
    env = _server_env(workdir / "data")
    _ingest(HANDBOOK, env)
    _ingest(_hostile_folder(workdir / "untrusted"), env)
    port = _free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"lore serve exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}"
                )
            try:
                if _http_status(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"lore serve did not answer /healthz in 60 s:\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_lore_server(tmp_path_factory.mktemp("lore-webchat")) as base:
        if _http_status(f"{base}/api/webchat/users") == 404:
            pytest.skip("web chat routes not available yet")
        yield base


# -- the browser --------------------------------------------------------------------------------

# Installed after each page load: records what the page asks, scripts answers on request, and
# turns alert() into a recorded failure (errors must be shown inline).
SPY = r"""
const lore = (window.__lore = { asks: [], stubs: [], alerts: [] });
window.alert = (message) => lore.alerts.push(String(message));
const realFetch = window.fetch.bind(window);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function scripted(stub) {
  if (stub.network) return Promise.reject(new TypeError("Failed to fetch"));
  if (stub.sse) {
    const encoder = new TextEncoder();
    const parts = stub.sse.slice();
    const body = new ReadableStream({
      async pull(controller) {
        for (;;) {
          if (!parts.length) { controller.close(); return; }
          const part = parts.shift();
          if (typeof part === "number") { await sleep(part); continue; }
          controller.enqueue(encoder.encode(part));
          return;
        }
      },
    });
    return Promise.resolve(new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }));
  }
  const headers = Object.assign({ "Content-Type": "application/json" }, stub.headers || {});
  return Promise.resolve(new Response(JSON.stringify(stub.json), { status: stub.status, headers }));
}
window.fetch = (input, init) => {
  const url = String((input && input.url) || input);
  if (url.endsWith("api/webchat/ask")) {
    lore.asks.push(JSON.parse(init.body));
    const stub = lore.stubs.shift();
    if (stub) return scripted(stub);
  }
  return realFetch(input, init);
};
"""


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def split_crlf(event: str) -> list[str | int]:
    """One event with CRLF line ends, cut mid-field and between CR and LF, sent with pauses."""
    crlf = event.replace("\n", "\r\n")
    cut = crlf.index("\r") + 1
    return [crlf[:9], 30, crlf[9:cut], 30, crlf[cut:]]


def final(text: str, citations: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    cits = citations or []
    body: dict[str, Any] = {
        "text": text,
        "citations": cits,
        "found_sources": bool(cits),
        "fell_back": False,
        "provider": "extractive",
        "restricted_to_audience": False,
        "thread_id": "t-scripted",
        "timing_ms": {"retrieval": 3.0, "first_token": 4.0, "total": 9.0},
    }
    body.update(extra)
    return body


class ChatPage:
    """The web chat as a person uses it, through the stable ids and data attributes."""

    def __init__(self, driver: Any, base: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        driver.get(f"{base}/")
        WebDriverWait(driver, 20).until(
            lambda d: d.execute_script(
                "const s = document.getElementById('user'); return !s.disabled && s.options.length > 0"
            ),
            "the identity picker was never filled from /api/webchat/users",
        )
        driver.get_log("browser")  # start each test with an empty console log
        driver.execute_script(SPY)

    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.d.find_elements(By.CSS_SELECTOR, selector))

    def pick(self, user: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        Select(self.d.find_element(By.ID, "user")).select_by_value(user)

    def ask(self, question: str, *, press_enter: bool = True) -> Any:
        """Ask and wait until the answer is finished (done or error); returns the .answer."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        before = len(self.css(".answer"))
        box = self.d.find_element(By.ID, "question")
        box.click()
        box.send_keys(question)
        if press_enter:
            box.send_keys(Keys.ENTER)
        else:
            self.d.find_element(By.ID, "send").click()
        self.wait(lambda: len(self.css(".answer")) > before, "no answer appeared")
        answer = self.css(".answer")[before]
        self.wait(
            lambda: answer.get_attribute("data-state") != "streaming", "the answer never finished"
        )
        return answer

    def wait(
        self, condition: Callable[[], Any], message: str, timeout: float = ANSWER_TIMEOUT
    ) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(
            lambda _d: condition(), message
        )

    def script(self, *stubs: dict[str, Any]) -> None:
        self.d.execute_script("window.__lore.stubs.push(...arguments[0])", list(stubs))

    def asks(self) -> list[dict[str, Any]]:
        return list(self.d.execute_script("return window.__lore.asks"))

    def sources(self, answer: Any) -> list[dict[str, str]]:
        from selenium.webdriver.common.by import By

        out = []
        for item in answer.find_elements(By.CSS_SELECTOR, ".sources li"):
            links = item.find_elements(By.CSS_SELECTOR, "a")
            a = links[0] if links else None
            out.append({
                "source_id": item.get_attribute("data-source-id") or "",
                "href": (a.get_attribute("href") or "") if a else "",
                "title": a.text if a else item.find_element(By.CSS_SELECTOR, ".title").text,
                "target": (a.get_attribute("target") or "") if a else "",
                "rel": (a.get_attribute("rel") or "") if a else "",
                "text": item.text,
            })
        return out

    def text(self, answer: Any) -> str:
        from selenium.webdriver.common.by import By

        return str(answer.find_element(By.CSS_SELECTOR, ".text").get_attribute("textContent"))

    def assert_clean(self) -> None:
        """No script errors, no alert(), no element injected from document text."""
        errors = [e for e in self.d.get_log("browser") if e.get("source") == "javascript"]
        assert not errors, f"script errors on the page: {errors}"
        assert self.d.execute_script("return window.__lore.alerts") == []
        assert self.css("#log img, #log script, #log b") == []
        assert self.d.execute_script("return window.loreXss") is None

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        assert self.d.save_screenshot(str(path)), f"could not write {path}"
        return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def page(driver: Any, server_url: str) -> ChatPage:
    return ChatPage(driver, server_url)


# -- against the real server --------------------------------------------------------------------


def test_picker_lists_configured_users_and_marks_guests(page: ChatPage) -> None:
    labels = {o.get_attribute("value"): o.text for o in page.css("#user option")}
    assert labels == {CAROL: CAROL, ERIN: ERIN, GINA: f"{GINA} (guest)"}
    banner = page.css(".dev-banner")[0].text
    assert "Development surface" in banner and "never exists in production" in banner
    assert page.d.switch_to.active_element.get_attribute("id") == "question"


def test_carol_reads_the_salary_band_with_a_citation(page: ChatPage) -> None:
    page.pick(CAROL)
    answer = page.ask(SALARY_QUESTION)  # Enter sends
    assert answer.get_attribute("data-state") == "done", answer.text
    sources = page.sources(answer)
    cited = [s for s in sources if s["source_id"] == "hr/confidential/salary-bands.md"]
    assert cited, f"no Sources entry for the salary bands: {sources}"
    # The handbook has no url_base: the source shows its path in the handbook, and no link to
    # the server's own file system.
    assert cited[0]["href"] == "" and "hr/confidential/salary-bands.md" in cited[0]["text"]
    # Markers in the text are links to the numbered source of this answer.
    markers = answer.find_elements("css selector", ".text sup a.cite")
    assert markers, f"no [n] markers rendered as links in: {page.text(answer)!r}"
    for marker in markers:
        target = marker.get_attribute("href").rsplit("#", 1)[1]
        assert page.css(f"#{target}"), f"citation marker points at nothing: #{target}"
    assert page.d.switch_to.active_element.get_attribute("id") == "question"
    page.assert_clean()
    page.screenshot("webchat-carol.png")


def test_follow_up_questions_stay_in_the_thread(page: ChatPage) -> None:
    page.pick(CAROL)
    first = page.ask(SALARY_QUESTION)
    assert first.get_attribute("data-state") == "done", first.text
    thread = first.get_attribute("data-thread-id")
    assert thread, "the final event carried no thread_id"
    follow_up = page.ask("And for L6?", press_enter=False)  # the Send button works too
    assert follow_up.get_attribute("data-state") == "done", follow_up.text
    asks = page.asks()
    assert [a["thread_id"] for a in asks] == [None, thread]
    assert asks[1]["text"] == "And for L6?" and asks[1]["user"] == CAROL
    assert follow_up.get_attribute("data-thread-id") == thread
    # The follow-up alone names no topic; within the thread it is about salary bands.
    assert any(
        s["source_id"] == "hr/confidential/salary-bands.md" for s in page.sources(follow_up)
    ), page.sources(follow_up)
    page.assert_clean()


def test_erin_gets_no_confidential_sources(page: ChatPage) -> None:
    page.pick(CAROL)
    carol = page.ask(SALARY_QUESTION)
    assert carol.get_attribute("data-state") == "done", carol.text
    page.pick(ERIN)  # a new person: a new conversation, a new thread
    assert page.css(".answer") == [], "switching user must start a new conversation"
    answer = page.ask(SALARY_QUESTION, press_enter=False)
    assert answer.get_attribute("data-state") == "done", answer.text
    assert page.asks()[-1] == {"user": ERIN, "text": SALARY_QUESTION, "thread_id": None}
    leaked = [s for s in page.sources(answer) if s["source_id"].startswith("hr/confidential/")]
    assert not leaked, f"erin was shown confidential sources: {leaked}"
    shown = answer.text.lower()
    for canary in ("band l5", "helena brandt", "112,000", "salary-bands.md"):
        assert canary not in shown, f"{canary!r} leaked into erin's answer: {answer.text!r}"
    page.assert_clean()
    page.screenshot("webchat-erin.png")


def test_document_markup_is_shown_as_text(page: ChatPage) -> None:
    page.pick(ERIN)
    answer = page.ask("What is the cafeteria lunch code?")
    assert answer.get_attribute("data-state") == "done", answer.text
    sources = page.sources(answer)
    hostile = [s for s in sources if s["source_id"] == "kitchen/cafeteria.md"]
    assert hostile, f"the cafeteria document was not cited: {sources}"
    assert "<img src=x onerror=" in hostile[0]["title"], hostile[0]
    text = page.text(answer)
    if "zebra-4471" in text:
        # The Markdown parser drops inline HTML from the body (a renderer would not show the tag
        # as text either); whatever markup reaches the page is shown as characters, never run.
        assert "window.loreXss=2" not in text or '<img src=x onerror="window.loreXss=2">' in text, text
    page.assert_clean()


# -- the page's rendering of every part of the contract (scripted responses) --------------------

CITATION = {
    "number": 1,
    "title": "VPN access",
    "url": "file:///handbook/general/it-vpn-access.md",
    "source_id": "general/it-vpn-access.md",
    "heading_path": ["VPN access", "How to request"],
}


def test_streaming_status_reset_and_notes(page: ChatPage) -> None:
    text = "Request VPN access in the IT portal [1]."
    page.script(
        {
            "sse": [
                sse("status", {"stage": "retrieving"}),
                sse("status", {"stage": "answering"}),
                sse("delta", {"text": "Garbled "}),
                sse("delta", {"text": "half answer"}),
                1500,
                sse("reset", {}),
                1500,
                *split_crlf(
                    sse(
                        "final",
                        final(text, [CITATION], fell_back=True, restricted_to_audience=True,
                              stale_note=STALE_NOTE),
                    )
                ),
            ]
        }
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page.pick(GINA)
    page.d.find_element(By.ID, "question").send_keys("How do I get VPN access?", Keys.ENTER)
    answer = page.wait(lambda: (page.css(".answer") or [None])[0], "no answer appeared")
    page.wait(
        lambda: page.text(answer) == "Garbled half answer", "deltas were not shown as they arrived"
    )
    assert answer.get_attribute("data-state") == "streaming"
    assert answer.get_attribute("aria-busy") == "true"
    assert "Writing the answer" in answer.find_element(By.CSS_SELECTOR, ".status").text
    page.wait(lambda: page.text(answer) == "", "reset did not discard the streamed text")
    assert answer.get_attribute("data-state") == "streaming"
    page.wait(lambda: answer.get_attribute("data-state") == "done", "final was not rendered")
    assert page.text(answer) == "Request VPN access in the IT portal[1]."
    assert [a.text for a in answer.find_elements(By.CSS_SELECTOR, ".text sup a")] == ["[1]"]
    notes = [n.text for n in answer.find_elements(By.CSS_SELECTOR, ".note")]
    assert (
        "The language model was unavailable; this answer was extracted directly from the documents."
        in notes
    )
    assert any("everyone in this conversation" in n for n in notes), notes
    assert STALE_NOTE in notes, notes
    items = answer.find_elements(By.CSS_SELECTOR, ".sources li")
    assert len(items) == 1 and "general/it-vpn-access.md" in items[0].text
    assert "VPN access › How to request" in items[0].text
    assert not answer.find_elements(By.CSS_SELECTOR, ".status:not([hidden])")
    assert answer.get_attribute("aria-busy") is None
    # A marker moves focus to its source.
    answer.find_element(By.CSS_SELECTOR, ".text sup a").click()
    assert (
        page.d.switch_to.active_element.get_attribute("data-source-id")
        == "general/it-vpn-access.md"
    )
    announced = page.wait(
        lambda: page.css("#announcer")[0].get_attribute("textContent"), "nothing announced"
    )
    assert "Request VPN access" in announced
    page.assert_clean()


def test_no_sources_answer_is_muted(page: ChatPage) -> None:
    page.script(
        {"sse": [sse("final", final("I could not find that in documents you can access."))]}
    )
    page.pick(GINA)
    answer = page.ask("What is the lunch menu?")
    assert answer.get_attribute("data-state") == "done"
    assert "no-sources" in answer.get_attribute("class").split()
    assert answer.get_attribute("data-found-sources") == "false"
    assert page.sources(answer) == [] and not answer.find_elements(
        "css selector", ".note.fell-back"
    )
    page.assert_clean()


def test_closest_pages_and_who_to_ask_are_shown_as_not_answering(page: ChatPage) -> None:
    from bot.turn import CLOSEST_LABEL, NO_SOURCES_ANSWER, WHO_TO_ASK_LABEL, Answer, ClosestPage

    pages = (
        ClosestPage("VPN access", "file:///handbook/general/it-vpn-access.md", "general/it-vpn-access.md",
                    ("VPN access", "How to request"), owner="Rui Almeida (IT)"),
        ClosestPage("<img src=x onerror=alert(1)>", "javascript:alert(1)", "general/x.md"),
    )
    answer = Answer(NO_SOURCES_ANSWER, (), found_sources=False, restricted_to_audience=False,
                    provider="none", fell_back=False, thread_id="t-scripted", closest=pages,
                    not_found_reason="gate")
    page.script({"sse": [sse("final", answer.as_json())]})
    page.pick(GINA)
    shown = page.ask("Can I bring my dog to the office?")
    assert shown.get_attribute("data-found-sources") == "false"
    assert page.text(shown) == NO_SOURCES_ANSWER
    block = shown.find_element("css selector", ".closest-block")
    assert block.find_element("css selector", ".closest-heading").text == CLOSEST_LABEL
    items = block.find_elements("css selector", ".closest li")
    assert [i.get_attribute("data-source-id") for i in items] == ["general/it-vpn-access.md", "general/x.md"]
    assert items[0].find_element("css selector", "a").text == "VPN access"
    assert not items[1].find_elements("css selector", "a")  # a javascript: link is not a link
    assert "<img src=x onerror=alert(1)>" in items[1].text  # shown as text
    assert block.find_element("css selector", ".who-to-ask").text == f"{WHO_TO_ASK_LABEL} Rui Almeida (IT) (VPN access)"
    assert page.sources(shown) == []  # closest pages are not sources
    page.assert_clean()


def test_untrusted_markup_in_answers_stays_text(page: ChatPage) -> None:
    payload = '<img src=x onerror="window.loreXss=1">'
    hostile = {
        "number": 1,
        "title": "<img src=x onerror=window.loreXss=2>",
        "url": "javascript:window.loreXss=3",
        "source_id": "<b>bold</b>.md",
        "heading_path": ["<script>window.loreXss=4</script>"],
    }
    page.script(
        {
            "sse": [
                sse("delta", {"text": payload}),
                sse("final", final(f"Look: {payload} [1] and [7] <b>x</b>", [hostile])),
            ]
        }
    )
    page.pick(ERIN)
    answer = page.ask("show me markup")
    assert answer.get_attribute("data-state") == "done"
    assert (
        page.text(answer) == f"Look: {payload}[1] and [7] <b>x</b>"
    )  # [7] cites nothing: plain text
    item = answer.find_element("css selector", ".sources li")
    assert item.find_elements("css selector", "a") == [], "a javascript: URL must not become a link"
    assert "<img src=x onerror=window.loreXss=2>" in item.text and "<b>bold</b>.md" in item.text
    assert "<script>window.loreXss=4</script>" in item.text
    page.assert_clean()


@pytest.mark.parametrize(
    ("stub", "expected"),
    [
        (
            {
                "status": 429,
                "json": {"error": "Too many questions; wait a moment.", "retry_after": 12},
                "headers": {"Retry-After": "12"},
            },
            ["Too many questions", "12 s"],
        ),
        (
            {"status": 429, "json": {"error": "slow down"}, "headers": {"Retry-After": "7"}},
            ["slow down", "7 s"],
        ),
        (
            {"status": 400, "json": {"error": "unknown user: pick one from /api/webchat/users"}},
            ["not accepted", "unknown user"],
        ),
        ({"status": 503, "json": {"error": "index is loading"}}, ["not ready", "index is loading"]),
        ({"network": True}, ["Could not reach the Lore server"]),
        (
            {
                "sse": [
                    sse("status", {"stage": "retrieving"}),
                    sse("error", {"message": "The search index is unavailable."}),
                ]
            },
            ["The search index is unavailable."],
        ),
        (
            {"sse": [sse("status", {"stage": "answering"}), sse("delta", {"text": "Half an ans"})]},
            ["stopped before it was complete"],
        ),
    ],
    ids=["429-body", "429-header", "400", "503", "network", "error-event", "truncated"],
)
def test_errors_are_shown_inline(page: ChatPage, stub: dict[str, Any], expected: list[str]) -> None:
    page.script(stub)
    page.pick(ERIN)
    answer = page.ask("anything")
    assert answer.get_attribute("data-state") == "error"
    message = answer.find_element("css selector", ".error").text
    for part in expected:
        assert part in message, message
    # The page recovers: the next question is sent normally.
    assert page.d.find_element("id", "send").is_enabled()
    page.script({"sse": [sse("final", final("Fine now."))]})
    assert page.ask("again").get_attribute("data-state") == "done"
    assert page.d.execute_script("return window.__lore.alerts") == []


def test_an_over_long_pasted_question_is_kept_with_the_servers_reason(page: ChatPage) -> None:
    from selenium.webdriver.common.by import By

    page.pick(ERIN)
    long = "How do I get VPN access? " * 200  # 5,000 characters, 4,999 once trimmed
    box = page.d.find_element(By.ID, "question")
    # Pasted, not typed: set the value as a paste does (send_keys of 5,000 keys is slow).
    page.d.execute_script("arguments[0].value = arguments[1]", box, long)
    page.d.find_element(By.ID, "send").click()
    page.wait(lambda: page.css(".answer .error"), "no error shown for the over-long question")
    message = page.css(".answer .error")[0].text
    assert "too long (4999 characters; the limit is 4000)" in message, message  # trimmed
    assert box.get_attribute("value") == long.strip()  # nothing pasted is lost


def test_an_empty_question_says_what_to_do(page: ChatPage) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page.pick(ERIN)
    before = len(page.css(".answer"))
    page.d.find_element(By.ID, "question").send_keys("   ", Keys.ENTER)
    page.wait(lambda: "Type a question first" in page.d.find_element(By.ID, "hint").text,
              "an empty question did nothing visible")
    assert len(page.css(".answer")) == before and page.asks() == []


def test_an_admin_notice_is_shown_as_plain_text(page: ChatPage) -> None:
    text = "**Index**: 99 chunks\n- `hr/benefits.md` <img src=x onerror=window.loreXss=5>"
    page.script({"sse": [sse("notice", {"text": text, "command": "status"})]})
    page.pick(CAROL)
    answer = page.ask("!status")
    assert answer.get_attribute("data-state") == "done"
    shown = answer.find_element("css selector", "pre.notice")
    assert shown.text == text  # line breaks kept, markup shown as typed
    assert shown.find_elements("css selector", "img") == []
    page.assert_clean()
