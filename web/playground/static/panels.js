// The playground page's side panels (inspector, mail, SMS, social, alerts and links), the
// message box and the start-up. Loaded after app.js, whose globals (ui, api, act...) it uses.
"use strict";

// --- side panels ----------------------------------------------------------------------------

function jsonBlock(value) {
  return el("pre", { class: "json" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function logEntry(kind, label, status, ok, detail) {
  const item = el("details", { class: `log ${kind}${ok ? "" : " failed"}` },
    el("summary", {}, el("span", { class: "log-kind" }, kind === "request" ? "→ bot" : "bot →"), ` ${label} `,
      el("span", { class: "muted" }, status)));
  item.addEventListener("toggle", () => {
    if (item.open && item.children.length === 1) item.append(...detail());
  }, { once: false });
  return item;
}

async function pollLog() {
  const found = await api(`log?after_call=${ui.log.call}&after_request=${ui.log.request}&after_response=${ui.log.response}`);
  const pane = document.getElementById("tab-inspector");
  if (!pane.dataset.ready) {
    pane.dataset.ready = "1";
    pane.append(el("div", { class: "pane-head" }, "Requests to the bot (→ bot) and its Web API calls (bot →)"));
  }
  const entries = [];
  for (const r of found.requests) {
    ui.log.request = Math.max(ui.log.request, r.id);
    entries.push([r.at, logEntry("request", r.kind, `HTTP ${r.status}${r.ms !== null ? `, ${r.ms} ms` : ""}`, r.status < 400,
      () => [el("div", {}, "Sent"), jsonBlock(r.body), el("div", {}, "Answer"), jsonBlock(r.answer)])]);
  }
  for (const c of found.calls) {
    entries.push([c.at, logEntry("call", c.method, c.response.ok ? "ok" : c.response.error, c.response.ok,
      () => [el("div", {}, "Arguments"), jsonBlock(c.params), el("div", {}, "Answer"), jsonBlock(c.response)])]);
  }
  for (const r of found.responses) {
    entries.push([r.at, logEntry("call", "response_url", r.outcome, true,
      () => [el("div", {}, "Posted"), jsonBlock(r.body)])]);
  }
  ui.log.call = found.next_call;
  ui.log.response = found.next_response;
  entries.sort((a, b) => a[0] - b[0]);
  for (const [, node] of entries) pane.insertBefore(node, pane.children[1] || null);
}

async function pollOutside() {
  const found = await api("outside");
  const draw = (id, items, render) => {
    const key = JSON.stringify(items);
    if (ui.drawn[id] === key) return;
    ui.drawn[id] = key;
    document.getElementById(`count-${id}`).textContent = items.length || "";
    document.getElementById(`tab-${id}`).replaceChildren(
      ...(items.length ? items.slice().reverse().map(render) : [el("div", { class: "empty" }, "Nothing yet.")]));
  };
  draw("mail", found.mail, (m) => el("details", { class: "mail" },
    el("summary", {}, el("b", {}, m.subject), el("div", { class: "muted" }, `to ${m.to.join(", ")}`)),
    el("pre", { class: "mail-body" }, m.body)));
  draw("sms", found.sms, (t) => el("div", { class: "sms" }, el("div", { class: "muted" }, `to ${t.to}`), t.body));
  draw("social", found.social, (p) => el("div", { class: "social", html: `<div class="muted">Mastodon, ${BlockKit.esc(p.visibility)}</div>${BlockKit.esc(p.content)}` }));
}

function drawTools() {
  const pane = document.getElementById("tab-tools");
  const links = ui.config.links;
  pane.replaceChildren(
    el("div", { class: "pane-head" }, "Fire a sample alert"),
    el("p", { class: "muted" }, "Real payloads, posted to the bot's own /hooks with the playground's token; triage messages appear in #incidents."),
    ...ui.config.alerts.map((source) => el("button", {
      class: "bk-button", "data-testid": `alert-${source}`,
      onclick: async () => {
        try {
          const answer = await api("alert", { source });
          toast(`${source}: HTTP ${answer.status}`);
        } catch (error) { toast(error.message); }
      },
    }, `🚨 ${source}`)),
    el("div", { class: "pane-head" }, "Pages of the bot"),
    el("p", {}, el("a", { href: links.status_page, target: "_blank" }, "Public status page")),
    el("p", {}, el("a", { href: links.console, target: "_blank" }, "Console"),
      el("span", { class: "muted" }, " (sign in with the emulator's Sign in with Slack)")));
}

function showTab(name) {
  ui.tab = name;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const body of document.querySelectorAll(".tab-body")) {
    body.classList.toggle("hidden", body.id !== `tab-${name}`);
  }
}

function setupComposer() {
  const form = document.getElementById("composer");
  const text = document.getElementById("composer-text");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    text.value = "";
    await act("send", { channel: ui.channel, text: value });
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const menu = document.getElementById("shortcut-menu");
  for (const s of ui.config.shortcuts.filter((x) => x.type === "global")) {
    menu.append(el("button", {
      type: "button", class: "bk-menu-item", "data-testid": `shortcut-${s.callback_id}`,
      onclick: () => { menu.classList.add("hidden"); act("shortcut", { callback_id: s.callback_id }); },
    }, s.name));
  }
  document.getElementById("shortcuts-button").addEventListener("click", () => menu.classList.toggle("hidden"));
}

async function main() {
  ui.config = await api("config");
  const first = await api("state");
  if (!first.people.some((p) => p.id === ui.user)) ui.user = first.me;
  document.getElementById("user-switch").addEventListener("change", (event) => {
    ui.user = event.target.value;
    localStorage.setItem("playground.user", ui.user);
    ui.drawn = {};
    ui.thread = null;
    if (ui.view === "home") openHome(); else refresh();
  });
  document.getElementById("nav-home").addEventListener("click", openHome);
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  setupComposer();
  drawTools();
  showTab("thread");
  await refresh();
  const loop = async (fn, ms) => {
    try { await fn(); } catch (error) { /* the bot restarting: try again */ }
    setTimeout(() => loop(fn, ms), ms);
  };
  setTimeout(() => loop(refresh, 700), 700);
  loop(pollLog, 1000);
  loop(pollOutside, 1500);
}

main();
