// Block Kit and mrkdwn rendered as DOM, the way Slack's client shows them (enough of it).
// No library, no network. Everything a message or view carries is text: escaped, never
// inserted as HTML except through mrkdwn() below, which escapes first.
(() => {
"use strict";

const EMOJI = {
  pushpin: "📌", eyes: "👀", white_check_mark: "✅", ballot_box_with_check: "☑️",
  "+1": "👍", thumbsup: "👍", rotating_light: "🚨", fire: "🔥", warning: "⚠️",
  red_circle: "🔴", large_orange_circle: "🟠", large_yellow_circle: "🟡",
  large_green_circle: "🟢", large_blue_circle: "🔵", white_circle: "⚪",
  memo: "📝", mag: "🔍", hourglass_flowing_sand: "⏳", bell: "🔔", no_bell: "🔕",
  calendar: "📅", clock1: "🕐", busts_in_silhouette: "👥", bust_in_silhouette: "👤",
  lock: "🔒", link: "🔗", speech_balloon: "💬", tada: "🎉", x: "❌", heavy_check_mark: "✔️",
  arrow_right: "➡️", chart_with_upwards_trend: "📈", page_facing_up: "📄", wrench: "🔧",
  sos: "🆘", information_source: "ℹ️", broadcast: "📣", loudspeaker: "📢", mega: "📣",
  stopwatch: "⏱️", point_right: "👉", traffic_light: "🚥", hammer_and_wrench: "🛠️",
  pager: "📟", satellite_antenna: "📡", clipboard: "📋", books: "📚", sparkles: "✨",
};

function emoji(name) {
  return EMOJI[name] || `:${name}:`;
}

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function unslack(text) {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeHref(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : "#";
}

// Slack mrkdwn -> HTML (escaped). names: {id: display name}.
function mrkdwn(text, names) {
  const parts = String(text ?? "").split(/(<[^<>]+>)/);
  let html = "";
  for (const part of parts) {
    if (part.startsWith("<") && part.endsWith(">")) {
      const inner = part.slice(1, -1);
      const [target, label] = inner.split("|", 2);
      if (target.startsWith("@")) {
        const id = target.slice(1);
        html += `<span class="mention">@${esc(label || names[id] || id)}</span>`;
      } else if (target.startsWith("#")) {
        const id = target.slice(1);
        html += `<span class="mention">#${esc(label || names[id] || id)}</span>`;
      } else if (target.startsWith("!subteam^")) {
        html += `<span class="mention">${esc(label || "@group")}</span>`;
      } else if (target.startsWith("!date^")) {
        html += esc(unslack(label || target));
      } else if (target.startsWith("!")) {
        html += `<span class="mention">@${esc(target.slice(1))}</span>`;
      } else {
        const url = unslack(target);
        html += `<a href="${esc(safeHref(url))}" target="_blank" rel="noopener">${esc(unslack(label || url))}</a>`;
      }
      continue;
    }
    let seg = esc(unslack(part));
    seg = seg.replace(/```([\s\S]*?)```/g, (_, code) => `<pre>${code}</pre>`);
    seg = seg.replace(/`([^`\n]+)`/g, "<code>$1</code>");
    seg = seg.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s.,:;!?)])/g, "$1<b>$2</b>");
    seg = seg.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s.,:;!?)])/g, "$1<i>$2</i>");
    seg = seg.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s.,:;!?)])/g, "$1<s>$2</s>");
    seg = seg.replace(/:([a-z0-9_+-]+):/g, (m, name) => (EMOJI[name] ? EMOJI[name] : m));
    seg = seg.replace(/(^|\n)&gt; ?([^\n]*)/g, "$1<blockquote>$2</blockquote>");
    html += seg;
  }
  return html.replace(/\n/g, "<br>");
}

// A file's Markdown (the post-mortem) as HTML: escaped first, then headings, lists, tables,
// paragraphs, **bold**, *italic* and `code`. Links stay text.
function markdown(source) {
  const inline = (text) => esc(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
    .replace(/(^|[\s(])[*_]([^*_\n]+)[*_](?=$|[\s.,:;!?)])/g, "$1<i>$2</i>");
  const out = [];
  let list = null;
  let table = null;
  const flush = () => {
    if (list) out.push(`<ul>${list.join("")}</ul>`);
    if (table) out.push(`<table>${table.join("")}</table>`);
    list = null;
    table = null;
  };
  for (const line of String(source ?? "").split("\n")) {
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    const item = line.match(/^\s*(?:[-*]|\d+\.)\s+(.*)$/);
    if (/^\s*\|/.test(line)) {
      if (list) flush();
      table = table || [];
      if (/^\s*\|[\s:|-]+\|\s*$/.test(line)) continue; // the separator row
      const cells = line.trim().replace(/^\||\|$/g, "").split("|");
      table.push(`<tr>${cells.map((c) => `<td>${inline(c.trim())}</td>`).join("")}</tr>`);
    } else if (item) {
      if (table) flush();
      list = list || [];
      list.push(`<li>${inline(item[1])}</li>`);
    } else {
      flush();
      if (heading) out.push(`<h${heading[1].length + 2}>${inline(heading[2])}</h${heading[1].length + 2}>`);
      else if (line.trim()) out.push(`<p>${inline(line)}</p>`);
    }
  }
  flush();
  return out.join("");
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  if (tag === "button" && !attrs.type) node.type = "button"; // never a form's submit by default
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function textObj(obj, names) {
  if (!obj) return el("span");
  if (obj.type === "mrkdwn") return el("span", { class: "mrkdwn", html: mrkdwn(obj.text, names) });
  return el("span", {}, plain(obj));
}

function plain(obj) {
  const text = obj ? String(obj.text ?? "") : "";
  return text.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
}

function options(element) {
  const all = [...(element.options || [])];
  for (const group of element.option_groups || []) all.push(...(group.options || []));
  return all;
}

// --- interactive elements ------------------------------------------------------------------

// ctx: {names, people, channels, onAction(element, blockId, value), inModal}
function element(element, blockId, ctx) {
  const fire = (value) => ctx.onAction(element, blockId, value);
  const dataset = {
    "data-action-id": element.action_id, "data-block-id": blockId, "data-type": element.type,
  };
  const confirmThen = (go) => () => {
    const c = element.confirm;
    if (c && !window.confirm(`${plain(c.title)}\n\n${plain(c.text)}`)) return;
    go();
  };
  switch (element.type) {
    case "button":
      return el("button", {
        ...dataset, class: `bk-button ${element.style || ""}`,
        onclick: element.url
          ? () => window.open(element.url, "_blank", "noopener")
          : confirmThen(() => fire(element.value)),
      }, plain(element.text));
    case "static_select": case "external_select":
    case "users_select": case "conversations_select": case "channels_select":
    case "multi_static_select": case "multi_users_select":
    case "multi_conversations_select": case "multi_channels_select": {
      const multi = element.type.startsWith("multi_");
      const select = el("select", { ...dataset, class: "bk-select", multiple: multi });
      if (!multi) select.append(el("option", { value: "" }, plain(element.placeholder) || "Choose…"));
      let choices;
      if (element.type.includes("users")) {
        choices = ctx.people.map((p) => ({ value: p.id, label: p.name }));
      } else if (element.type.includes("conversations") || element.type.includes("channels")) {
        choices = ctx.channels.filter((c) => c.kind !== "im").map((c) => ({ value: c.id, label: `#${c.name}` }));
      } else {
        choices = options(element).map((o) => ({ value: o.value, label: plain(o.text) }));
      }
      const initial = new Set([
        element.initial_user, element.initial_conversation, element.initial_channel,
        element.initial_option && element.initial_option.value,
        ...(element.initial_users || []), ...(element.initial_conversations || []),
        ...(element.initial_channels || []),
        ...(element.initial_options || []).map((o) => o.value),
      ].filter(Boolean));
      for (const choice of choices) {
        select.append(el("option", { value: choice.value, selected: initial.has(choice.value) }, choice.label));
      }
      select.readValue = () => (multi
        ? [...select.selectedOptions].map((o) => o.value)
        : select.value || null);
      if (!ctx.inputBlock) select.addEventListener("change", () => fire(select.readValue()));
      return select;
    }
    case "overflow": {
      const wrap = el("span", { class: "bk-overflow" });
      const menu = el("div", { class: "bk-menu hidden" });
      for (const o of options(element)) {
        menu.append(el("button", {
          class: "bk-menu-item", "data-value": o.value,
          onclick: confirmThen(() => { menu.classList.add("hidden"); fire(o.value); }),
        }, plain(o.text)));
      }
      wrap.append(el("button", {
        ...dataset, class: "bk-button overflow-button", title: "More actions",
        onclick: () => menu.classList.toggle("hidden"),
      }, "⋯"), menu);
      return wrap;
    }
    case "datepicker": case "timepicker": case "datetimepicker": {
      const kind = { datepicker: "date", timepicker: "time", datetimepicker: "datetime-local" }[element.type];
      let initial = element.initial_date || element.initial_time || "";
      if (element.type === "datetimepicker" && element.initial_date_time) {
        initial = new Date(element.initial_date_time * 1000).toISOString().slice(0, 16);
      }
      const input = el("input", { ...dataset, type: kind, class: "bk-input", value: initial });
      input.readValue = () => {
        if (!input.value) return null;
        if (element.type === "datetimepicker") return Math.floor(new Date(input.value).getTime() / 1000);
        return input.value;
      };
      if (!ctx.inputBlock) input.addEventListener("change", () => fire(input.readValue()));
      return input;
    }
    case "checkboxes": case "radio_buttons": {
      const box = el("div", { ...dataset, class: "bk-choices" });
      const name = `${blockId}-${element.action_id}`;
      const initial = new Set([
        ...(element.initial_options || []).map((o) => o.value),
        element.initial_option && element.initial_option.value,
      ].filter(Boolean));
      for (const o of options(element)) {
        const input = el("input", {
          type: element.type === "checkboxes" ? "checkbox" : "radio", name, value: o.value,
          checked: initial.has(o.value),
        });
        box.append(el("label", { class: "bk-choice" }, input, " ", textObj(o.text, ctx.names),
          o.description ? el("div", { class: "bk-hint" }, plain(o.description)) : null));
      }
      box.readValue = () => {
        const checked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        return element.type === "checkboxes" ? checked : (checked[0] || null);
      };
      if (!ctx.inputBlock) box.addEventListener("change", () => fire(box.readValue()));
      return box;
    }
    case "plain_text_input": case "email_text_input": case "url_text_input":
    case "number_input": case "rich_text_input": {
      const multiline = element.multiline || element.type === "rich_text_input";
      const attrs = {
        ...dataset, class: "bk-input", placeholder: plain(element.placeholder),
        maxlength: element.max_length,
      };
      let input;
      if (multiline) {
        input = el("textarea", { ...attrs, rows: 3 });
        input.value = element.initial_value || "";
      } else {
        const type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[element.type] || "text";
        input = el("input", { ...attrs, type, value: element.initial_value || "" });
      }
      input.readValue = () => (input.value === "" ? null : input.value);
      return input;
    }
    case "image":
      return el("img", { class: "bk-thumb", src: element.image_url, alt: element.alt_text, title: element.alt_text });
    default:
      return el("span", { class: "bk-unknown" }, `[${element.type}]`);
  }
}

// --- rich text -----------------------------------------------------------------------------

function richInline(node, names) {
  switch (node.type) {
    case "text": {
      const s = node.style || {};
      let out = el(s.code ? "code" : "span", {}, node.text);
      if (s.bold) out = el("b", {}, out);
      if (s.italic) out = el("i", {}, out);
      if (s.strike) out = el("s", {}, out);
      return out;
    }
    case "link": return el("a", { href: safeHref(node.url), target: "_blank", rel: "noopener" }, node.text || node.url);
    case "user": return el("span", { class: "mention" }, `@${names[node.user_id] || node.user_id}`);
    case "channel": return el("span", { class: "mention" }, `#${names[node.channel_id] || node.channel_id}`);
    case "usergroup": return el("span", { class: "mention" }, "@group");
    case "broadcast": return el("span", { class: "mention" }, `@${node.range}`);
    case "emoji": return el("span", {}, emoji(node.name));
    default: return el("span", {}, node.text || "");
  }
}

function richText(block, names) {
  const root = el("div", { class: "bk-rich" });
  for (const part of block.elements || []) {
    const inline = (p) => (p.elements || []).map((n) => richInline(n, names));
    if (part.type === "rich_text_section") root.append(el("div", {}, inline(part)));
    else if (part.type === "rich_text_preformatted") root.append(el("pre", {}, inline(part)));
    else if (part.type === "rich_text_quote") root.append(el("blockquote", {}, inline(part)));
    else if (part.type === "rich_text_list") {
      const list = el(part.style === "ordered" ? "ol" : "ul");
      for (const item of part.elements || []) list.append(el("li", {}, inline(item)));
      root.append(list);
    }
  }
  return root;
}

// --- blocks --------------------------------------------------------------------------------

function block(b, ctx, errors) {
  const names = ctx.names;
  switch (b.type) {
    case "section": {
      const node = el("div", { class: "bk-section", "data-block-id": b.block_id });
      const body = el("div", { class: "bk-section-body" });
      if (b.text) body.append(el("div", {}, textObj(b.text, names)));
      if (b.fields) {
        body.append(el("div", { class: "bk-fields" }, b.fields.map((f) => el("div", {}, textObj(f, names)))));
      }
      node.append(body);
      if (b.accessory) {
        node.append(el("div", { class: "bk-accessory" },
          b.accessory.type === "image"
            ? el("img", { class: "bk-thumb", src: b.accessory.image_url, alt: b.accessory.alt_text })
            : element(b.accessory, b.block_id, { ...ctx, inputBlock: false })));
      }
      return node;
    }
    case "header": return el("h3", { class: "bk-header" }, plain(b.text));
    case "divider": return el("hr", { class: "bk-divider" });
    case "context":
      return el("div", { class: "bk-context" }, (b.elements || []).map((e) => (e.type === "image"
        ? el("img", { class: "bk-context-img", src: e.image_url, alt: e.alt_text, title: e.alt_text })
        : textObj(e, names))));
    case "actions":
      return el("div", { class: "bk-actions", "data-block-id": b.block_id },
        (b.elements || []).map((e) => element(e, b.block_id, { ...ctx, inputBlock: false })));
    case "image":
      return el("figure", { class: "bk-image" },
        b.title ? el("figcaption", {}, plain(b.title)) : null,
        el("img", { src: b.image_url, alt: b.alt_text, title: b.alt_text }));
    case "rich_text": return richText(b, names);
    case "input": {
      const error = errors && errors[b.block_id];
      const node = el("div", { class: `bk-input-block${error ? " has-error" : ""}`, "data-block-id": b.block_id });
      node.append(el("label", { class: "bk-label" }, plain(b.label),
        b.optional ? el("span", { class: "bk-optional" }, " (optional)") : null));
      node.append(element(b.element, b.block_id, { ...ctx, inputBlock: !b.dispatch_action }));
      if (b.hint) node.append(el("div", { class: "bk-hint" }, plain(b.hint)));
      if (error) node.append(el("div", { class: "bk-error", role: "alert" }, error));
      return node;
    }
    case "file": return el("div", { class: "bk-context" }, `📄 file ${b.file_id || ""}`);
    case "video": return el("div", { class: "bk-context" }, `🎬 ${plain(b.title)}`);
    default: return el("div", { class: "bk-unknown" }, `[${b.type} block]`);
  }
}

function renderBlocks(blocks, ctx, errors) {
  return el("div", { class: "bk-blocks" }, (blocks || []).map((b) => block(b, ctx, errors)));
}

// The state Slack would send for a view: {block_id: {action_id: value}} of every element.
function readState(root) {
  const values = {};
  for (const node of root.querySelectorAll("[data-action-id]")) {
    if (typeof node.readValue !== "function") continue;
    const blockId = node.dataset.blockId;
    values[blockId] = values[blockId] || {};
    values[blockId][node.dataset.actionId] = node.readValue();
  }
  return values;
}

window.BlockKit = { renderBlocks, readState, mrkdwn, markdown, esc, el, emoji, plain, EMOJI };
})();
