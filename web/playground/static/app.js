// The playground page: a small Slack client of the built-in emulator. It polls
// /playground/api/state and sends what a person does to /playground/api/<action>, which the
// server turns into signed Slack requests to the bot.
"use strict";

const { renderBlocks, readState, mrkdwn, el, emoji } = window.BlockKit;
const QUICK_REACTIONS = ["pushpin", "eyes", "white_check_mark", "ballot_box_with_check", "+1"];

const ui = {
  user: localStorage.getItem("playground.user") || "",
  channel: localStorage.getItem("playground.channel") || "",
  view: "channel", // or "home"
  thread: null,
  tab: "thread",
  state: null,
  config: null,
  drawn: {},       // last JSON drawn per region: skip redrawing what did not change
  errors: {},      // view_id -> {block_id: message} from response_action=errors
  log: { call: 0, request: 0, response: 0 },
};

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(`/playground/api/${path}`, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function toast(text) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.add("hidden"), 4000);
}

async function act(path, body) {
  try {
    const answer = await api(path, { user: ui.user, ...body });
    if (answer.status && answer.status >= 400) toast(`The bot answered HTTP ${answer.status}`);
    await refresh();
    return answer;
  } catch (error) {
    toast(error.message);
    return null;
  }
}

function ctx(extra = {}) {
  const state = ui.state;
  return {
    names: state.names, people: state.people, channels: state.channels,
    onAction: () => {}, ...extra,
  };
}

function initials(name) {
  return (name || "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
}

function time(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- sidebar -------------------------------------------------------------------------------

function drawSidebar() {
  const state = ui.state;
  document.getElementById("workspace").textContent = state.team;
  const switcher = document.getElementById("user-switch");
  if (!switcher.options.length) {
    for (const p of state.people) switcher.append(el("option", { value: p.id }, `${p.name} (${p.role})`));
  }
  switcher.value = ui.user;
  const key = JSON.stringify([state.channels, ui.view, ui.channel]);
  if (ui.drawn.sidebar === key) return; // rebuilt only when it changed: clicks are not lost
  ui.drawn.sidebar = key;
  const list = document.getElementById("channel-list");
  const dms = document.getElementById("dm-list");
  list.replaceChildren();
  dms.replaceChildren();
  for (const c of state.channels) {
    const active = ui.view === "channel" && c.id === ui.channel;
    const label = c.kind === "im" ? `💬 ${c.name}` : `${c.private ? "🔒" : "#"} ${c.name}`;
    const item = el("button", {
      class: `nav-item${active ? " active" : ""}${c.archived ? " archived" : ""}${c.member ? "" : " not-member"}`,
      "data-channel": c.name, "data-testid": `channel-${c.name}`,
      title: c.private ? "Private channel" : "",
      onclick: () => openChannel(c.id),
    }, label, c.private && c.kind !== "im" ? el("span", { class: "tag" }, "private") : null);
    (c.kind === "im" ? dms : list).append(item);
  }
  document.getElementById("nav-home").classList.toggle("active", ui.view === "home");
}

// --- messages ------------------------------------------------------------------------------

function reactionChips(message) {
  const wrap = el("div", { class: "reactions" });
  for (const r of message.reactions || []) {
    const mine = (r.users || []).includes(ui.user);
    wrap.append(el("button", {
      class: `reaction${mine ? " mine" : ""}`, "data-reaction": r.name,
      title: (r.users || []).map((u) => ui.state.names[u] || u).join(", "),
      onclick: () => act("react", { channel: ui.channel, ts: message.ts, emoji: r.name, remove: mine }),
    }, `${emoji(r.name)} ${r.count}`));
  }
  return wrap;
}

function messageTools(message, inThread) {
  const tools = el("div", { class: "msg-tools" });
  for (const name of QUICK_REACTIONS) {
    tools.append(el("button", {
      class: "tool", title: `React with :${name}:`, "data-add-reaction": name,
      onclick: () => act("react", { channel: ui.channel, ts: message.ts, emoji: name }),
    }, emoji(name)));
  }
  if (!inThread) {
    tools.append(el("button", {
      class: "tool", title: "Reply in thread", "data-testid": "reply",
      onclick: () => openThread(message.thread_ts || message.ts),
    }, "💬"));
  }
  const menu = el("div", { class: "bk-menu hidden" });
  for (const s of ui.config.shortcuts.filter((x) => x.type === "message")) {
    menu.append(el("button", {
      class: "bk-menu-item",
      onclick: () => { menu.classList.add("hidden"); act("shortcut", { callback_id: s.callback_id, channel: ui.channel, ts: message.ts }); },
    }, s.name));
  }
  tools.append(el("span", { class: "bk-overflow" },
    el("button", { class: "tool", title: "Message shortcuts", "data-testid": "message-shortcuts", onclick: () => menu.classList.toggle("hidden") }, "⋯"),
    menu));
  return tools;
}

function messageNode(message, inThread) {
  const state = ui.state;
  const author = message.user ? (state.names[message.user] || message.user) : (message.username || "app");
  const isBot = Boolean(message.bot_id);
  const blockCtx = ctx({
    onAction: (element, blockId, value) => act("action", {
      channel: ui.channel, ts: message.ts, action_id: element.action_id, block_id: blockId, value,
    }),
  });
  const body = el("div", { class: "msg-body" });
  if (message.blocks && message.blocks.length) body.append(renderBlocks(message.blocks, blockCtx));
  else body.append(el("div", { class: "mrkdwn", html: mrkdwn(message.text, state.names) }));
  for (const file of message.files || []) {
    const content = el("div", { class: "file-content" }, "Loading…");
    const card = el("details", { class: "file", "data-testid": "file" },
      el("summary", {}, `📄 ${file.title || file.name}`, el("span", { class: "muted" }, ` ${file.filetype || ""}`)),
      content);
    card.addEventListener("toggle", async () => {
      if (!card.open) return;
      try {
        const found = await api(`file?id=${encodeURIComponent(file.id)}`);
        if (/\.(md|markdown)$/i.test(file.name || "") || file.filetype === "markdown") {
          content.innerHTML = BlockKit.markdown(found.content); // escaped inside
        } else {
          content.replaceChildren(el("pre", {}, found.content));
        }
      } catch (error) { content.textContent = error.message; }
    });
    body.append(card);
  }
  for (const attachment of message.attachments || []) {
    const att = el("div", { class: "attachment", style: `border-color:${attachment.color && /^#?[0-9a-f]{3,6}$/i.test(attachment.color) ? (attachment.color.startsWith("#") ? attachment.color : `#${attachment.color}`) : "#ddd"}` });
    if (attachment.blocks) att.append(renderBlocks(attachment.blocks, blockCtx));
    else att.append(el("div", { class: "mrkdwn", html: mrkdwn(attachment.text || attachment.fallback || "", state.names) }));
    body.append(att);
  }
  const head = el("div", { class: "msg-head" },
    el("b", {}, author), isBot ? el("span", { class: "tag" }, "APP") : null,
    el("span", { class: "msg-time" }, time(message.ts)),
    message.pinned ? el("span", { class: "pinned", "data-testid": "pinned-flag" }, "📌 Pinned") : null,
    message.ephemeral ? el("span", { class: "ephemeral" }, "Only visible to you") : null,
    message.edited ? el("span", { class: "msg-time" }, "(edited)") : null);
  const node = el("div", {
    class: `msg${message.ephemeral ? " is-ephemeral" : ""}${message.pinned ? " is-pinned" : ""}`,
    "data-ts": message.ts, "data-testid": "message",
  }, el("div", { class: `avatar${isBot ? " bot" : ""}` }, isBot ? "🤖" : initials(author)),
  el("div", { class: "msg-main" }, head, body, reactionChips(message),
    !inThread && message.reply_count
      ? el("button", { class: "replies", "data-testid": "open-thread", onclick: () => openThread(message.ts) },
        `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`)
      : null));
  if (!message.ephemeral) node.append(messageTools(message, inThread));
  return node;
}

function drawChannel() {
  const channel = ui.state.channel;
  const title = document.getElementById("channel-title");
  const topic = document.getElementById("channel-topic");
  const tools = document.getElementById("channel-tools");
  const box = document.getElementById("messages");
  if (!channel) {
    title.textContent = "Choose a channel";
    topic.textContent = "";
    box.replaceChildren();
    return;
  }
  title.replaceChildren(el("span", {},
    el("span", { "data-testid": "channel-name" }, `${channel.kind === "im" ? "💬" : channel.private ? "🔒" : "#"} ${channel.name}`),
    channel.archived ? el("span", { class: "tag" }, "archived") : null,
    channel.private && channel.kind !== "im" ? el("span", { class: "tag" }, "private") : null));
  topic.innerHTML = channel.topic ? mrkdwn(channel.topic, ui.state.names) : "<i>No topic</i>";
  tools.replaceChildren(el("span", { class: "tools-row" },
    el("span", { class: "muted" }, `${channel.members.length} members`),
    el("button", { class: "link", "data-testid": "pins-button", onclick: () => showTab("pins") }, `📌 ${channel.pins.length} pinned`),
    !channel.member && channel.kind === "public"
      ? el("button", { class: "bk-button primary", onclick: () => act("join", { channel: channel.id }) }, "Join channel")
      : null));
  const key = JSON.stringify(channel.messages);
  if (ui.drawn.messages === key + ui.channel) return;
  ui.drawn.messages = key + ui.channel;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  box.replaceChildren(...channel.messages.map((m) => messageNode(m, false)));
  if (!channel.messages.length) box.append(el("div", { class: "empty" }, "No messages yet. Try /incident help or /incident declare."));
  if (atBottom || ui.drawn.scrolledFor !== ui.channel) box.scrollTop = box.scrollHeight;
  ui.drawn.scrolledFor = ui.channel;
}

function drawThread() {
  const pane = document.getElementById("tab-thread");
  const thread = ui.state.thread;
  const key = JSON.stringify(thread);
  if (ui.drawn.thread === key) return;
  ui.drawn.thread = key;
  if (!thread) {
    pane.replaceChildren(el("div", { class: "empty" }, "Open a thread with 💬 on a message."));
    return;
  }
  const form = el("form", { class: "thread-composer" },
    el("textarea", { rows: 2, placeholder: "Reply…", "data-testid": "thread-composer" }),
    el("button", { type: "submit" }, "Reply"));
  form.querySelector("textarea").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.querySelector("textarea").value.trim();
    if (!text) return;
    form.querySelector("textarea").value = "";
    await act("send", { channel: ui.channel, text, thread_ts: thread.ts });
  });
  pane.replaceChildren(
    el("div", { class: "pane-head" }, "Thread", el("button", { class: "link", onclick: () => { ui.thread = null; refresh(); } }, "close")),
    ...thread.messages.map((m) => messageNode(m, true)), form);
}

function drawPins() {
  const pane = document.getElementById("tab-pins");
  const channel = ui.state.channel;
  const pinned = channel ? channel.messages.filter((m) => m.pinned) : [];
  const key = JSON.stringify(pinned);
  if (ui.drawn.pins === key) return;
  ui.drawn.pins = key;
  pane.replaceChildren(el("div", { class: "pane-head" }, "Pinned in this channel"),
    ...(pinned.length ? pinned.map((m) => messageNode(m, true)) : [el("div", { class: "empty" }, "Nothing pinned.")]));
}

// --- home and modals ------------------------------------------------------------------------

function drawHome() {
  const pane = document.getElementById("home");
  const home = ui.state.home;
  const key = JSON.stringify(home);
  if (ui.drawn.home === key) return;
  ui.drawn.home = key;
  if (!home) {
    pane.replaceChildren(el("div", { class: "empty" }, "Opening the App Home…"));
    return;
  }
  pane.replaceChildren(renderBlocks(home.blocks, ctx({
    onAction: (element, blockId, value) => act("action", {
      view_id: home.id, action_id: element.action_id, block_id: blockId, value, state: readState(pane),
    }),
  })));
}

function drawModal() {
  const layer = document.getElementById("modal-layer");
  const views = ui.state.views || [];
  const view = views[views.length - 1];
  const errors = view ? ui.errors[view.id] || {} : {};
  const key = view ? JSON.stringify({ ...view, state: null, hash: null }) + JSON.stringify(errors) + views.length : "";
  if (ui.drawn.modal === key) return;
  ui.drawn.modal = key;
  if (!view) {
    layer.classList.add("hidden");
    layer.replaceChildren();
    return;
  }
  const body = el("div", { class: "modal-body" });
  const modal = el("form", { class: "modal", "data-view-id": view.id, "data-callback-id": view.callback_id || "" });
  body.append(renderBlocks(view.blocks, ctx({
    inModal: true,
    onAction: (element, blockId, value) => act("action", {
      view_id: view.id, action_id: element.action_id, block_id: blockId, value, state: readState(body),
    }),
  }), errors));
  modal.append(
    el("div", { class: "modal-head" },
      el("span", { "data-testid": "modal-title" }, BlockKit.plain(view.title)),
      views.length > 1 ? el("span", { class: "muted" }, ` (${views.length} of ${views.length})`) : null,
      el("button", { type: "button", class: "link", title: "Close", onclick: () => closeModal(view) }, "✕")),
    body,
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "bk-button", onclick: () => closeModal(view) }, BlockKit.plain(view.close) || "Cancel"),
      view.submit ? el("button", { type: "submit", class: "bk-button primary", "data-testid": "modal-submit" }, BlockKit.plain(view.submit)) : null));
  modal.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await act("submit", { view_id: view.id, values: readState(body) });
    const reply = answer && answer.answer;
    if (reply && reply.response_action === "errors") {
      ui.errors[view.id] = reply.errors || {};
      ui.drawn.modal = null;
      drawModal();
    }
  });
  layer.replaceChildren(modal);
  layer.classList.remove("hidden");
}

function closeModal(view) {
  delete ui.errors[view.id];
  act("close", { view_id: view.id });
}

// --- navigation and the loop -----------------------------------------------------------------

function openChannel(id) {
  ui.view = "channel";
  ui.channel = id;
  ui.thread = null;
  localStorage.setItem("playground.channel", id);
  refresh();
}

function openThread(ts) {
  ui.thread = ts;
  showTab("thread");
  refresh();
}

async function openHome() {
  ui.view = "home";
  ui.drawn.home = null;
  await act("home", {});
}

async function refresh() {
  const query = new URLSearchParams({ user: ui.user });
  if (ui.view === "channel" && ui.channel) query.set("channel", ui.channel);
  if (ui.thread) query.set("thread", ui.thread);
  const state = await api(`state?${query}`);
  ui.state = state;
  if (!ui.user) ui.user = state.me;
  if (!state.channels.some((c) => c.id === ui.channel)) {
    const general = state.channels.find((c) => c.name === "general") || state.channels[0];
    if (general) { ui.channel = general.id; return refresh(); }
  }
  drawSidebar();
  document.getElementById("messages").classList.toggle("hidden", ui.view !== "channel");
  document.getElementById("composer").classList.toggle("hidden", ui.view !== "channel");
  document.getElementById("channel-header").classList.toggle("hidden", ui.view !== "channel");
  document.getElementById("home").classList.toggle("hidden", ui.view !== "home");
  if (ui.view === "channel") drawChannel();
  else drawHome();
  drawThread();
  drawPins();
  drawModal();
}
