// Lore local web chat: a development surface for asking questions as a chosen user.
//
// Plain ES2020, no framework, no build step. Everything that comes from the server (document
// titles, answer text, errors) is untrusted and reaches the page only through textContent and
// text nodes, never through innerHTML.
"use strict";

(() => {
  const API_USERS = "api/webchat/users";
  const API_ASK = "api/webchat/ask";

  const STATUS_TEXT = {
    retrieving: "Searching documents you can access…",
    answering: "Writing the answer…",
    reset: "The language model failed; extracting the answer from the documents instead…",
  };
  const FELL_BACK_NOTE =
    "The language model was unavailable; this answer was extracted directly from the documents.";
  const RESTRICTED_NOTE =
    "This answer only uses documents that everyone in this conversation may read.";
  const SAFE_PROTOCOLS = new Set(["http:", "https:", "file:", "mailto:"]);

  const HINT = "Enter sends, Shift+Enter adds a new line.";
  const $ = (id) => document.getElementById(id);
  const ui = {
    user: $("user"),
    newThread: $("new-thread"),
    setupError: $("setup-error"),
    log: $("log"),
    empty: $("empty"),
    form: $("ask"),
    question: $("question"),
    send: $("send"),
    hint: $("hint"),
    announcer: $("announcer"),
  };

  const state = {
    users: new Map(), // id -> {id, label, guest}
    threadId: null, // set from each `final`, sent back with follow-ups
    conversation: 0, // bumped on every new conversation; stale streams check it
    controller: null, // AbortController of the request in flight
    answers: 0, // for unique element ids
  };

  // -- small DOM helpers (text only) ------------------------------------------------------------

  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function announce(text) {
    // Clearing first makes screen readers repeat an identical message.
    ui.announcer.textContent = "";
    window.setTimeout(() => {
      ui.announcer.textContent = text;
    }, 50);
  }

  // Streaming text keeps the page scrolled down only if the reader has not scrolled away.
  function atBottom() {
    const doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 80;
  }

  function safeUrl(url) {
    if (typeof url !== "string" || url === "") return null;
    try {
      const parsed = new URL(url, document.baseURI);
      return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
    } catch {
      return null;
    }
  }

  // -- server-sent events over fetch (EventSource cannot POST) ----------------------------------

  class SseParser {
    constructor() {
      this.buffer = "";
      this.clear();
    }

    clear() {
      this.event = "";
      this.data = [];
    }

    // Feeds decoded text; returns the events completed by it.
    push(chunk, atEnd = false) {
      this.buffer += chunk;
      let held = "";
      // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk.
      if (!atEnd && this.buffer.endsWith("\r")) {
        held = "\r";
        this.buffer = this.buffer.slice(0, -1);
      }
      const lines = this.buffer.split(/\r\n|\r|\n/);
      this.buffer = lines.pop() + held;
      const events = [];
      for (const line of lines) this.line(line, events);
      if (atEnd) {
        if (this.buffer) this.line(this.buffer, events);
        this.buffer = "";
        this.line("", events); // be lenient with a last event missing its blank line
      }
      return events;
    }

    line(line, events) {
      if (line === "") {
        if (this.data.length) events.push({ event: this.event || "message", data: this.data.join("\n") });
        this.clear();
        return;
      }
      if (line.startsWith(":")) return; // comment / keep-alive
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
  }

  async function* sseEvents(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          yield* parser.push(decoder.decode(), true);
          return;
        }
        yield* parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }

  // -- one answer on the page --------------------------------------------------------------------

  class AnswerView {
    constructor(question) {
      this.id = `a${++state.answers}`;
      this.status = h("p", { className: "status" }, h("span", { className: "spinner", "aria-hidden": "true" }), h("span", { className: "status-text" }));
      this.text = h("div", { className: "text" });
      this.streamed = document.createTextNode("");
      this.text.append(this.streamed);
      this.extras = h("div", { className: "extras" });
      this.root = h(
        "section",
        { className: "answer", id: this.id, "data-state": "streaming", "aria-busy": "true", "aria-label": "Answer" },
        this.status,
        this.text,
        this.extras,
      );
      this.item = h(
        "li",
        { className: "exchange" },
        h("div", { className: "question" }, h("span", { className: "visually-hidden" }, "You asked: "), question),
        this.root,
      );
      this.setStatus("retrieving");
    }

    setStatus(stage) {
      const text = STATUS_TEXT[stage] || "Working…";
      this.status.querySelector(".status-text").textContent = text;
      this.status.hidden = false;
      announce(text);
    }

    appendDelta(text) {
      if (typeof text !== "string") return;
      const follow = atBottom();
      this.streamed.appendData(text);
      if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
    }

    reset() {
      this.streamed.data = "";
      this.setStatus("reset");
    }

    finish(answer) {
      const citations = Array.isArray(answer.citations) ? answer.citations.slice() : [];
      citations.sort((a, b) => a.number - b.number);
      this.status.hidden = true;
      this.text.replaceChildren();
      renderCitedText(this.text, String(answer.text ?? ""), citations, this.id);

      const root = this.root;
      root.dataset.foundSources = String(answer.found_sources !== false);
      root.dataset.fellBack = String(answer.fell_back === true);
      if (answer.provider) root.dataset.provider = answer.provider;
      if (answer.thread_id) root.dataset.threadId = answer.thread_id;
      if (answer.found_sources === false) root.classList.add("no-sources");

      if (answer.fell_back) this.extras.append(h("p", { className: "note fell-back" }, FELL_BACK_NOTE));
      if (answer.restricted_to_audience) this.extras.append(h("p", { className: "note restricted" }, RESTRICTED_NOTE));
      if (typeof answer.stale_note === "string" && answer.stale_note.trim()) {
        this.extras.append(h("p", { className: "note stale-note" }, answer.stale_note));
      }
      if (typeof answer.note === "string" && answer.note.trim()) {
        this.extras.append(h("p", { className: "note server-note" }, answer.note));
      }
      if (citations.length) this.extras.append(renderSources(citations, this.id));
      const closest = Array.isArray(answer.closest) ? answer.closest : [];
      if (answer.found_sources === false && closest.length) this.extras.append(renderClosest(answer, closest, this.id));
      const meta = describeMeta(answer, citations.length);
      if (meta) this.extras.append(h("p", { className: "meta" }, meta));

      this.done("done");
      const count = citations.length;
      announce(`Answer: ${this.text.textContent}${count ? ` (${count} source${count === 1 ? "" : "s"})` : ""}`);
    }

    // An admin command's output: shown as the plain text it is (never parsed as HTML).
    notice(text) {
      this.status.hidden = true;
      this.text.replaceChildren(h("pre", { className: "notice" }, String(text ?? "")));
      this.done("done");
      announce(`Admin: ${String(text ?? "")}`);
    }

    fail(message) {
      this.status.hidden = true;
      // Keep any streamed text visible but mark it as incomplete.
      if (this.streamed.data) this.text.classList.add("incomplete");
      this.extras.append(h("p", { className: "error", role: "alert" }, message));
      this.done("error");
    }

    done(stateName) {
      this.root.dataset.state = stateName;
      this.root.removeAttribute("aria-busy");
    }
  }

  // Markdown links in an answer, [label](url), for the schemes the Slack rendering links too;
  // anything else stays as the characters the answer holds.
  const MARKDOWN_LINK =
    /\[([^\[\]\n]{1,1000})\]\(\s*<?((?:https?|mailto):(?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+"[^"\n]*")?\s*\)/gi;
  const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

  function renderCitedText(container, text, citations, answerId) {
    const cited = new Set(citations.map((c) => c.url));
    let last = 0;
    for (const match of text.matchAll(MARKDOWN_LINK)) {
      let url;
      try {
        url = new URL(match[2]);
      } catch {
        continue;
      }
      if (!LINK_PROTOCOLS.has(url.protocol)) continue;
      renderMarkers(container, text.slice(last, match.index), citations, answerId);
      container.append(answerLink(match[1], match[2], url, cited));
      last = match.index + match[0].length;
    }
    renderMarkers(container, text.slice(last), citations, answerId);
  }

  // A label can say anything ("Reset your password", or another URL): a link that is not one of
  // the answer's sources shows its real host, or a mailto link its address, unless the label
  // already shows exactly that. With userinfo (https://intranet.example@evil.example/) the URL
  // itself is the disguise, so the host is always shown. The URL parser gives the host as the
  // browser will use it: xn-- for internationalised names, the part after the last "@".
  function answerLink(label, written, url, cited) {
    let shown = null;
    if (!cited.has(written)) {
      shown = url.hostname;
      if (url.protocol === "mailto:") {
        try {
          shown = decodeURIComponent(url.pathname);
        } catch {
          shown = url.pathname;
        }
      }
      const userinfo = url.username !== "" || url.password !== "";
      if (!shown || (!userinfo && (label === written || labelShows(label, shown)))) shown = null;
    }
    return h(
      "a",
      { className: "answer-link", href: url.href, target: "_blank", rel: "noopener noreferrer nofollow" },
      label,
      shown ? h("span", { className: "link-host" }, ` (${shown})`) : null,
    );
  }

  // The host as a whole name in the label: "evil.example" does not show "evil.example.intranet.example".
  function labelShows(label, shown) {
    const name = shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`(?<![\\w.-])${name}(?!\\.?[\\w-])`, "i").test(label);
  }

  function renderMarkers(container, text, citations, answerId) {
    const byNumber = new Map(citations.map((c) => [Number(c.number), c]));
    // "[1]" and "[1, 2]"; a marker naming an unknown source stays plain text.
    const marker = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
    let last = 0;
    for (const match of text.matchAll(marker)) {
      const numbers = match[1].split(",").map((n) => Number.parseInt(n.trim(), 10));
      if (!numbers.every((n) => byNumber.has(n))) continue;
      // "bands [1]." reads as "bands¹.": the marker hugs the word it supports.
      container.append(text.slice(last, match.index).replace(/[ \t]+$/, ""));
      for (const n of numbers) {
        const c = byNumber.get(n);
        const link = h(
          "a",
          { className: "cite", href: `#${answerId}-source-${n}`, "aria-label": `Source ${n}: ${c.title || c.source_id || ""}` },
          `[${n}]`,
        );
        container.append(h("sup", {}, link));
      }
      last = match.index + match[0].length;
    }
    container.append(text.slice(last));
  }

  function renderSources(citations, answerId) {
    const headingId = `${answerId}-sources`;
    const list = h("ol", { className: "sources", "aria-labelledby": headingId });
    for (const c of citations) {
      const titleNode = pageTitle(c, { "data-source-id": c.source_id });
      const path = headingPath(c);
      list.append(
        h(
          "li",
          { id: `${answerId}-source-${c.number}`, value: c.number, tabindex: "-1", "data-source-id": c.source_id },
          titleNode,
          c.source_id ? h("span", { className: "source-id" }, c.source_id) : null,
          path ? h("span", { className: "heading-path" }, path) : null,
        ),
      );
    }
    return h("div", { className: "sources-block" }, h("h2", { id: headingId, className: "sources-heading" }, "Sources"), list);
  }

  // Nothing answered: the closest pages the asker may read, clearly not as sources, and who
  // owns them. The labels come from the server, so every surface says the same.
  function renderClosest(answer, pages, answerId) {
    const headingId = `${answerId}-closest`;
    const list = h("ul", { className: "closest", "aria-labelledby": headingId });
    for (const p of pages) {
      const titleNode = pageTitle(p, {});
      const path = headingPath(p);
      list.append(
        h(
          "li",
          { "data-source-id": p.source_id },
          titleNode,
          p.source_id ? h("span", { className: "source-id" }, p.source_id) : null,
          path ? h("span", { className: "heading-path" }, path) : null,
        ),
      );
    }
    const block = h(
      "div",
      { className: "closest-block" },
      h("p", { id: headingId, className: "closest-heading" }, String(answer.closest_label || "")),
      list,
    );
    const owners = Array.isArray(answer.who_to_ask) ? answer.who_to_ask : [];
    if (owners.length) {
      const people = owners
        .map((o) => `${String(o.owner)} (${(Array.isArray(o.pages) ? o.pages : []).map(String).join(", ")})`)
        .join("; ");
      block.append(h("p", { className: "who-to-ask" }, `${String(answer.who_to_ask_label || "")} ${people}`));
    }
    return block;
  }

  // A page's title as a link to it (a span when its URL is not safe to open).
  function pageTitle(page, attrs) {
    const title = String(page.title || page.source_id || "Untitled");
    const href = safeUrl(page.url);
    // Browsers refuse to open file: links from a web page; say where the file is instead.
    const tip = href && href.startsWith("file:") ? fileTip(href) : page.url;
    return href
      ? h("a", { href, target: "_blank", rel: "noopener noreferrer", title: tip, ...attrs }, title)
      : h("span", { className: "title" }, title);
  }

  function headingPath(page) {
    return Array.isArray(page.heading_path) ? page.heading_path.filter(Boolean).join(" › ") : "";
  }

  function fileTip(href) {
    let path = new URL(href).pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep the encoded path
    }
    return `${path} (a file link: browsers open it only when pasted into the address bar)`;
  }

  function describeMeta(answer, sourceCount) {
    const parts = [];
    if (answer.provider) parts.push(answer.provider);
    parts.push(sourceCount === 1 ? "1 source" : `${sourceCount} sources`);
    const t = answer.timing_ms || {};
    const ms = (v) => `${Math.round(Number(v))} ms`;
    if (Number.isFinite(Number(t.retrieval))) parts.push(`retrieval ${ms(t.retrieval)}`);
    if (Number.isFinite(Number(t.first_token))) parts.push(`first token ${ms(t.first_token)}`);
    if (Number.isFinite(Number(t.total))) parts.push(`total ${ms(t.total)}`);
    return parts.join(" · ");
  }

  // -- asking ------------------------------------------------------------------------------------

  function sentence(text) {
    const t = text.trim();
    return /[.!?…]$/.test(t) ? t : `${t}.`;
  }

  async function describeHttpError(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: describe by status alone
    }
    const message = body && typeof body.error === "string" ? body.error : "";
    if (response.status === 429) {
      const fromBody = body && Number(body.retry_after);
      const fromHeader = Number.parseInt(response.headers.get("Retry-After") || "", 10);
      const wait = Number.isFinite(fromBody) && fromBody > 0 ? fromBody : fromHeader;
      const when = Number.isFinite(wait) && wait > 0 ? ` Try again in ${Math.ceil(wait)} s.` : " Try again shortly.";
      return `Too many questions: ${sentence(message || "the per-user rate limit was reached")}${when}`;
    }
    if (response.status === 400) return `The question was not accepted: ${sentence(message || "bad request")}`;
    if (response.status === 503) {
      return `Lore is not ready yet${message ? ` (${message})` : ""}. Try again in a moment.`;
    }
    const reason = message || response.statusText || "unexpected response";
    return `The server answered ${response.status}: ${reason}`;
  }

  async function ask(text) {
    const user = ui.user.value;
    const conversation = state.conversation;
    const view = new AnswerView(text);
    ui.empty.hidden = true;
    ui.log.append(view.item);
    view.item.scrollIntoView({ block: "end" });

    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    let finished = false;
    try {
      let response;
      try {
        response = await window.fetch(API_ASK, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ user, text, thread_id: state.threadId }),
          signal: controller.signal,
        });
      } catch (err) {
        if (controller.signal.aborted) return;
        view.fail(`Could not reach the Lore server (${err.message || err}). Is it still running?`);
        return;
      }
      if (!response.ok) {
        // A refused question (too long, say) goes back into the box, so nothing typed or
        // pasted is lost; the server's reason says what to change.
        if (response.status === 400 && !ui.question.value) ui.question.value = text;
        view.fail(await describeHttpError(response));
        return;
      }
      if (!(response.headers.get("Content-Type") || "").includes("text/event-stream") || !response.body) {
        view.fail("The server's reply was not an answer stream.");
        return;
      }
      for await (const ev of sseEvents(response.body)) {
        if (conversation !== state.conversation) return;
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          continue; // a malformed event is dropped, the stream goes on
        }
        if (ev.event === "status") view.setStatus(data.stage);
        else if (ev.event === "delta") view.appendDelta(data.text);
        else if (ev.event === "reset") view.reset();
        else if (ev.event === "final") {
          view.finish(data);
          if (typeof data.thread_id === "string" && data.thread_id) {
            state.threadId = data.thread_id;
            ui.log.dataset.threadId = data.thread_id;
          }
          finished = true;
        } else if (ev.event === "notice") {
          view.notice(data.text);
          finished = true;
        } else if (ev.event === "error") {
          view.fail(String(data.message || "The server could not answer."));
          finished = true;
        }
        if (finished) break;
      }
      if (!finished) view.fail("The answer stopped before it was complete (the connection closed). Try again.");
    } catch (err) {
      if (controller.signal.aborted) return;
      view.fail(`The connection to the server was lost (${err.message || err}). Try again.`);
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        setBusy(false);
      }
      if (finished) view.item.scrollIntoView({ block: "nearest" });
    }
  }

  function setBusy(busy) {
    ui.send.disabled = busy || !ui.user.value;
    ui.form.setAttribute("aria-busy", String(busy));
  }

  function showHint(message) {
    ui.hint.textContent = message;
    ui.hint.classList.toggle("hint-alert", message !== HINT);
    if (message !== HINT) announce(message);
  }

  function submit() {
    const text = ui.question.value.trim();
    if (state.controller) return;
    if (!ui.user.value) {
      showHint("Choose who you are asking as first.");
      return;
    }
    if (!text) {
      showHint("Type a question first.");
      ui.question.focus();
      return;
    }
    showHint(HINT);
    ui.question.value = "";
    ui.question.focus();
    ask(text);
  }

  function newConversation(reason) {
    if (state.controller) state.controller.abort();
    state.controller = null;
    state.conversation += 1;
    state.threadId = null;
    ui.log.dataset.threadId = "";
    ui.log.replaceChildren();
    ui.empty.hidden = false;
    setBusy(false);
    const who = state.users.get(ui.user.value);
    if (who) {
      ui.log.append(h("li", { className: "system" }, `${reason} as ${who.label}${who.guest ? " (guest)" : ""}.`));
      announce(`${reason} as ${who.label}${who.guest ? ", a guest" : ""}.`);
    }
  }

  // -- start-up ----------------------------------------------------------------------------------

  function showSetupError(message) {
    ui.setupError.textContent = message;
    ui.setupError.hidden = false;
  }

  async function loadUsers() {
    let body;
    try {
      const response = await window.fetch(API_USERS, { headers: { Accept: "application/json" } });
      if (response.status === 404) {
        showSetupError("This server has no web chat. Start it with LORE_SERVER_MODE=development and LORE_WEBCHAT_ENABLED=true.");
        return;
      }
      if (!response.ok) {
        showSetupError(await describeHttpError(response));
        return;
      }
      body = await response.json();
    } catch (err) {
      showSetupError(`Could not load the users (${err.message || err}). Reload the page to try again.`);
      return;
    }
    const users = Array.isArray(body && body.users) ? body.users : [];
    ui.user.replaceChildren();
    for (const u of users) {
      if (!u || typeof u.id !== "string") continue;
      const label = String(u.label || u.id);
      state.users.set(u.id, { id: u.id, label, guest: u.guest === true });
      ui.user.append(h("option", { value: u.id }, u.guest ? `${label} (guest)` : label));
    }
    if (!state.users.size) {
      ui.user.append(h("option", { value: "" }, "No users configured"));
      showSetupError("No web chat users are configured: set LORE_WEBCHAT_USERS, e.g. \"erin@northwind.example,gina@northwind.example guest\".");
      return;
    }
    ui.user.disabled = false;
    newConversation("Conversation");
    ui.question.focus();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  ui.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  ui.user.addEventListener("change", () => newConversation("New conversation"));
  ui.newThread.addEventListener("click", () => {
    newConversation("New conversation");
    ui.question.focus();
  });
  // Citation markers move focus to their source, so keyboard users land where they jumped.
  ui.log.addEventListener("click", (event) => {
    const link = event.target.closest("a.cite");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
    target.focus({ preventScroll: true });
    target.classList.remove("flash");
    void target.offsetWidth; // restart the highlight animation
    target.classList.add("flash");
  });

  setBusy(false);
  loadUsers();
})();
