// The advisor's workspace: state, live offers, and the work in hand, each in its tab.
//
// What is on screen is always read back from the daemon: a WebSocket message (an offer, an
// event of the work held) triggers a reload of the advisor and its work, so a reload of the
// page or a restart of the daemon shows the same state. Forms keep what the advisor is typing
// across those reloads: a tab is drawn once, and only its thread, customer and history parts
// are drawn again.

import {
  announcer,
  api,
  currentSession,
  duration,
  fill,
  h,
  label,
  live,
  secondsSince,
  secondsUntil,
  select,
  setTimeZone,
  signInForm,
  signOut,
  t,
  when,
} from "./common.js";

const root = document.getElementById("root");
let session = null;
let directory = null;
let advisor = null;
const offers = new Map(); // offer id -> {offer_id, interaction_id, expires_at, interaction}
const notices = []; // missed or withdrawn offers, said plainly
const tabs = new Map(); // interaction id -> {view, tab, panel, parts}
let active = null;
let say = () => {};
let refreshing = null;
const parts = {};

async function start() {
  session = await currentSession();
  if (!session) session = await signInForm(root, t("app.workspace"));
  if (session.role !== "advisor") {
    // Staff to the wall; any other role to the audits, which a reviewer works on and which
    // tell a role with no screen (an integrator) so, rather than send it back here.
    const staff = session.role === "supervisor" || session.role === "admin";
    location.assign(staff ? "/app/wallboard" : "/app/quality");
    return;
  }
  directory = await api("GET", "/app/directory");
  setTimeZone(directory.time_zone);
  say = announcer();
  layout();
  await refresh();
  live("/v1/offers", onMessage, onConnection);
  setInterval(tick, 1000);
  document.addEventListener("keydown", shortcut);
}

function layout() {
  parts.connection = h("span", { id: "connection", class: "connection" }, "…");
  parts.state = h("div", { id: "state-now" });
  parts.stateChoice = select(
    "state-choice",
    ["available", "not_ready", "offline"],
    "state",
    null,
  );
  parts.reason = select(
    "state-reason",
    directory.reasons.not_ready,
    "reason",
    t("state.choose_reason"),
  );
  parts.stateError = h("p", { class: "error", role: "alert", id: "state-error" });
  parts.offers = h("ul", { id: "offer-list", class: "offers" });
  parts.notices = h("ul", { id: "offer-notices", class: "notices", "aria-live": "polite" });
  parts.tablist = h("div", { role: "tablist", id: "tabs", "aria-label": t("work.title") });
  parts.panels = h("div", { id: "panels" });
  parts.noWork = h("p", { id: "no-work" }, t("work.none"));
  const stateForm = h(
    "form",
    { id: "state-form", onsubmit: setState },
    h("label", { for: "state-choice" }, t("state.title")),
    parts.stateChoice,
    h("label", { for: "state-reason" }, t("state.reason")),
    parts.reason,
    h("button", { type: "submit" }, t("state.set")),
  );
  fill(
    root,
    h(
      "header",
      { class: "bar" },
      h("h1", {}, t("app.workspace"), " — ", session.advisor_id),
      parts.connection,
      h("button", { type: "button", id: "sign-out", onclick: leave }, t("signout")),
    ),
    h(
      "div",
      { class: "columns" },
      h(
        "aside",
        { class: "side" },
        h(
          "section",
          { "aria-labelledby": "state-title" },
          h("h2", { id: "state-title" }, t("state.title")),
          parts.state,
          stateForm,
          parts.stateError,
        ),
        h(
          "section",
          { "aria-labelledby": "offers-title" },
          h("h2", { id: "offers-title" }, t("offers.title")),
          parts.offers,
          parts.notices,
        ),
        h(
          "details",
          { class: "keys" },
          h("summary", {}, t("keys.title")),
          h(
            "ul",
            {},
            ["keys.accept", "keys.decline", "keys.answer", "keys.close", "keys.tabs"].map((k) =>
              h("li", {}, t(k)),
            ),
          ),
        ),
      ),
      h(
        "main",
        { id: "main", class: "work", "aria-labelledby": "work-title" },
        h("h2", { id: "work-title", class: "visually-hidden" }, t("work.title")),
        parts.noWork,
        parts.tablist,
        parts.panels,
      ),
    ),
  );
}

async function leave() {
  await signOut();
  location.reload();
}

function onConnection(up) {
  fill(parts.connection, up ? t("connection.live") : t("connection.lost"));
  parts.connection.classList.toggle("down", !up);
  if (up) {
    // The offers pending now arrive first on a new connection: start from them.
    offers.clear();
    renderOffers();
    refreshSoon();
  }
}

function onMessage(message) {
  const event = message.event;
  if (!event) return;
  switch (event.type) {
    case "offer.pending":
    case "offer.made":
      offers.set(event.offer_id, { ...event, interaction: message.interaction });
      if (event.type === "offer.made") {
        const view = message.interaction;
        say(
          t("offers.new", {
            channel: label("channel", view?.channel ?? ""),
            motive: motiveLabel(view?.motive),
          }),
        );
      }
      renderOffers();
      break;
    case "offer.expired":
    case "offer.revoked":
      if (offers.delete(event.offer_id)) {
        const key = event.type === "offer.expired" ? "offers.missed" : "offers.revoked";
        notices.unshift(t(key, { id: event.offer_id }));
        notices.splice(5);
        say(notices[0]);
      }
      renderOffers();
      break;
    case "offer.accepted":
    case "offer.declined":
      offers.delete(event.offer_id);
      renderOffers();
      if (event.type === "offer.accepted") active = event.interaction_id;
      break;
    default:
      break;
  }
  refreshSoon();
}

function refreshSoon() {
  if (refreshing) return;
  refreshing = setTimeout(async () => {
    refreshing = null;
    await refresh().catch(() => {});
  }, 50);
}

async function refresh() {
  advisor = await api("GET", `/v1/advisors/${encodeURIComponent(session.advisor_id)}`);
  renderState();
  const page = await api(
    "GET",
    `/v1/interactions?advisor=${encodeURIComponent(session.advisor_id)}&status=assigned&limit=100`,
  );
  await renderWork(page.interactions);
}

// -- state ---------------------------------------------------------------------------------

function renderState() {
  const since = advisor.since;
  fill(
    parts.state,
    h("strong", { id: "state-label", "data-state": advisor.state }, label("state", advisor.state)),
    advisor.reason ? [" (", label("reason", advisor.reason), ")"] : null,
    since ? [" ", h("span", { "data-since": since, "data-format": "state.since" })] : null,
    advisor.wrap_until
      ? [" — ", h("span", { "data-until": advisor.wrap_until, "data-format": "state.wrap_left" })]
      : null,
  );
  tick();
}

async function setState(event) {
  event.preventDefault();
  fill(parts.stateError);
  const state = parts.stateChoice.value;
  const reason = state === "not_ready" ? parts.reason.value : "";
  try {
    await api("PUT", `/v1/advisors/${encodeURIComponent(session.advisor_id)}/state`, {
      state,
      reason,
    });
    await refresh();
  } catch (failure) {
    fill(parts.stateError, t("error", { detail: failure.message }));
  }
}

// -- offers --------------------------------------------------------------------------------

function motiveLabel(motive) {
  if (!motive) return "—";
  return directory.motives.find((m) => m.id === motive)?.label ?? motive;
}

function ordered() {
  return [...offers.values()].sort((a, b) => a.offer_id - b.offer_id);
}

function renderOffers() {
  const list = ordered();
  fill(
    parts.offers,
    list.length === 0 ? h("li", { class: "empty" }, t("offers.none")) : null,
    list.map((offer) => offerCard(offer)),
  );
  fill(
    parts.notices,
    notices.map((text) => h("li", { class: "notice" }, text)),
  );
  tick();
}

function offerCard(offer) {
  const view = offer.interaction ?? {};
  const reasonId = `decline-reason-${offer.offer_id}`;
  const error = h("p", { class: "error", role: "alert" });
  const reason = select(reasonId, directory.reasons.decline, "reason", "—");
  const act = async (verb) => {
    fill(error);
    try {
      const body = verb === "decline" ? { reason: reason.value } : undefined;
      await api(
        "POST",
        `/v1/advisors/${encodeURIComponent(session.advisor_id)}/offers/${offer.offer_id}/${verb}`,
        body,
      );
      offers.delete(offer.offer_id);
      if (verb === "accept") active = offer.interaction_id;
      renderOffers();
      await refresh();
    } catch (failure) {
      fill(error, t("error", { detail: failure.message }));
    }
  };
  return h(
    "li",
    { class: `offer channel-${view.channel}`, "data-offer": offer.offer_id },
    h(
      "p",
      { class: "what" },
      h("strong", {}, label("channel", view.channel ?? "")),
      " — ",
      motiveLabel(view.motive),
      " — ",
      t("work.reference", { ref: `AIG-${offer.interaction_id}` }),
    ),
    view.received_at
      ? h("p", {}, h("span", { "data-since": view.received_at, "data-format": "offers.wait" }))
      : null,
    view.deadline
      ? h("p", {}, h("span", { "data-until": view.deadline, "data-format": "offers.sla_left" }))
      : null,
    h(
      "p",
      { class: "countdown" },
      h("span", { "data-until": offer.expires_at, "data-format": "offers.expires" }),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "button", class: "primary accept", onclick: () => act("accept") },
        t("offers.accept"),
      ),
      h("label", { for: reasonId }, t("offers.decline_reason")),
      reason,
      h("button", { type: "button", class: "decline", onclick: () => act("decline") }, t("offers.decline")),
    ),
    error,
  );
}

// -- work ----------------------------------------------------------------------------------

async function renderWork(views) {
  const held = new Map(views.map((view) => [view.id, view]));
  for (const [id, entry] of tabs) {
    if (!held.has(id)) {
      entry.tab.remove();
      entry.panel.remove();
      tabs.delete(id);
    }
  }
  for (const view of views) {
    if (!tabs.has(view.id)) tabs.set(view.id, drawTab(view));
    tabs.get(view.id).view = view;
  }
  if (!tabs.has(active)) active = views.length ? views[0].id : null;
  parts.noWork.hidden = views.length > 0;
  const call = views.find((view) => view.channel === "voice");
  document.body.classList.toggle("in-call", Boolean(call));
  for (const [id, entry] of tabs) {
    const selected = id === active;
    entry.tab.setAttribute("aria-selected", String(selected));
    entry.tab.tabIndex = selected ? 0 : -1;
    entry.panel.hidden = !selected;
  }
  if (active !== null) await loadDetails(tabs.get(active));
  tick();
}

function select_tab(id) {
  active = id;
  for (const [other, entry] of tabs) {
    const selected = other === id;
    entry.tab.setAttribute("aria-selected", String(selected));
    entry.tab.tabIndex = selected ? 0 : -1;
    entry.panel.hidden = !selected;
  }
  const entry = tabs.get(id);
  if (entry) {
    entry.tab.focus();
    loadDetails(entry).catch(() => {});
  }
}

function drawTab(view) {
  const id = view.id;
  const tab = h(
    "button",
    {
      type: "button",
      role: "tab",
      id: `tab-${id}`,
      "aria-controls": `panel-${id}`,
      class: `channel-${view.channel}`,
      onclick: () => select_tab(id),
      onkeydown: (event) => {
        const ids = [...tabs.keys()];
        const at = ids.indexOf(id);
        if (event.key === "ArrowRight") select_tab(ids[(at + 1) % ids.length]);
        if (event.key === "ArrowLeft") select_tab(ids[(at - 1 + ids.length) % ids.length]);
      },
    },
    label("channel", view.channel),
    " ",
    `AIG-${id}`,
  );
  const entry = { view, tab };
  entry.header = h("div", { class: "work-header" });
  entry.thread = h("ol", { class: "thread", "aria-live": "polite" });
  entry.customer = h("div", { class: "customer" });
  entry.history = h("div", { class: "history" });
  entry.error = h("p", { class: "error", role: "alert" });
  const forms = [];
  if (view.channel !== "voice") forms.push(answerForm(entry));
  forms.push(transferForm(entry), closeForm(entry));
  entry.panel = h(
    "section",
    {
      role: "tabpanel",
      id: `panel-${id}`,
      "aria-labelledby": `tab-${id}`,
      class: `panel channel-${view.channel}`,
    },
    entry.header,
    entry.error,
    h(
      "div",
      { class: "panel-grid" },
      h(
        "section",
        { class: "thread-part", "aria-labelledby": `thread-title-${id}` },
        h("h3", { id: `thread-title-${id}` }, view.channel === "voice" ? t("work.call") : t("work.thread")),
        entry.thread,
      ),
      h(
        "section",
        { class: "customer-part", "aria-labelledby": `customer-title-${id}` },
        h("h3", { id: `customer-title-${id}` }, t("work.customer")),
        entry.customer,
        h("h3", {}, t("work.history")),
        entry.history,
      ),
      h("div", { class: "forms" }, forms),
    ),
  );
  parts.tablist.append(tab);
  parts.panels.append(entry.panel);
  return entry;
}

async function loadDetails(entry) {
  const view = entry.view;
  const id = view.id;
  fill(
    entry.header,
    h("h3", {}, t("work.reference", { ref: `AIG-${id}` })),
    h("p", {}, label("channel", view.channel), " — ", motiveLabel(view.motive), " — ", view.source),
    h(
      "p",
      {},
      h("span", {
        "data-until": view.deadline,
        "data-format": "work.deadline",
        "data-when": when(view.deadline),
      }),
    ),
  );
  fill(
    entry.history,
    h(
      "ul",
      {},
      h("li", {}, t("work.received", { when: when(view.received_at) })),
      h("li", {}, t("work.transfers", { n: view.transfers ?? 0 })),
      view.follows ? h("li", {}, t("work.follows", { id: `AIG-${view.follows}` })) : null,
    ),
  );
  const [thread, personal] = await Promise.all([
    api("GET", `/v1/interactions/${id}/messages`).catch(() => ({ messages: [] })),
    api("GET", `/v1/interactions/${id}/personal-data`).catch(() => null),
  ]);
  fill(
    entry.thread,
    thread.messages.length === 0 ? h("li", { class: "empty" }, t("work.thread_empty")) : null,
    thread.messages.map((message) =>
      h(
        "li",
        { class: `message kind-${message.kind}` },
        h(
          "p",
          { class: "meta" },
          h("strong", {}, t(`message.${message.kind}`)),
          message.author ? [" — ", message.author] : null,
          " — ",
          when(message.at),
          message.kind === "answer" ? [" — ", t("message.state", { state: message.state })] : null,
        ),
        h("p", { class: "text" }, message.text ?? t("message.erased")),
      ),
    ),
  );
  fill(entry.customer, personal ? personalList(personal) : h("p", {}, t("work.customer_none")));
  tick();
}

function personalList(data) {
  const rows = [];
  const add = (key, value) => {
    if (value === null || value === undefined || value === "") return;
    const named = label("field", key);
    if (named !== key && (typeof value !== "object" || value === null)) {
      rows.push(h("dt", {}, named), h("dd", {}, String(value)));
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, n) => add(`${named} ${n + 1}`, item));
    } else if (typeof value === "object") {
      for (const [inner, v] of Object.entries(value)) add(`${key}.${inner}`, v);
    } else {
      rows.push(h("dt", {}, key), h("dd", {}, String(value)));
    }
  };
  // The texts (the submission's, the messages') are in the thread already.
  const shown = new Set(["interaction_id", "text", "messages", "message_id", "raw"]);
  for (const [key, value] of Object.entries(data)) {
    if (!shown.has(key)) add(key, value);
  }
  return h("dl", {}, rows);
}

function answerForm(entry) {
  const id = entry.view.id;
  const template = h("select", { id: `template-${id}`, name: "template" });
  const text = h("textarea", { id: `answer-${id}`, name: "text", rows: 6, class: "answer-text" });
  const internal = h("input", { type: "checkbox", id: `internal-${id}`, name: "internal" });
  const status = h("p", { class: "status", role: "status" });
  api(
    "GET",
    `/v1/templates?motive=${encodeURIComponent(entry.view.motive ?? "")}&language=${encodeURIComponent(entry.view.language || "fr")}`,
  )
    .then((found) => {
      fill(
        template,
        h("option", { value: "" }, t("work.no_template")),
        found.map((item) => h("option", { value: item.name }, item.title || item.name)),
      );
    })
    .catch(() => fill(template, h("option", { value: "" }, t("work.no_template"))));
  const form = h(
    "form",
    { class: "answer", "data-form": "answer" },
    h("h3", {}, t("work.answer")),
    h("label", { for: `template-${id}` }, t("work.template")),
    template,
    h("label", { for: `answer-${id}` }, t("work.text")),
    text,
    h("p", { class: "check" }, internal, h("label", { for: `internal-${id}` }, t("work.note"))),
    h("button", { type: "submit", class: "primary" }, t("work.send")),
    status,
  );
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.ctrlKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(entry.error);
    try {
      await api("POST", `/v1/interactions/${id}/messages`, {
        text: text.value,
        template: template.value,
        internal: internal.checked,
      });
      text.value = "";
      internal.checked = false;
      fill(status, t("work.sent"));
      await loadDetails(entry);
    } catch (failure) {
      fill(entry.error, t("error", { detail: failure.message }));
    }
  });
  return form;
}

function transferForm(entry) {
  const id = entry.view.id;
  const target = h("select", { id: `transfer-target-${id}`, name: "target" },
    h("option", { value: "advisor" }, t("work.to_advisor")),
    h("option", { value: "group" }, t("work.to_group")),
    h("option", { value: "external" }, t("work.to_external")),
  );
  const others = directory.advisors.filter((a) => a.id !== session.advisor_id);
  const advisorChoice = select(`transfer-advisor-${id}`, others, "advisor", "—");
  const motive = select(`transfer-motive-${id}`, directory.motives, "motive", "—");
  const party = h("input", { id: `transfer-party-${id}`, name: "party", autocomplete: "off" });
  const note = h("textarea", { id: `transfer-note-${id}`, name: "note", rows: 2 });
  const form = h(
    "form",
    { class: "transfer", "data-form": "transfer" },
    h("h3", {}, t("work.transfer")),
    h("label", { for: `transfer-target-${id}` }, t("work.transfer_to")),
    target,
    h("label", { for: `transfer-advisor-${id}` }, t("work.advisor")),
    advisorChoice,
    h("label", { for: `transfer-motive-${id}` }, t("work.motive")),
    motive,
    h("label", { for: `transfer-party-${id}` }, t("work.party")),
    party,
    h("label", { for: `transfer-note-${id}` }, t("work.transfer_note")),
    note,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, t("work.do_transfer")),
      h(
        "button",
        {
          type: "button",
          onclick: () => act(entry, "await-principal", undefined),
        },
        t("work.await"),
      ),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (target.value === "external") {
      await act(entry, "transfer-out", { party: party.value });
      return;
    }
    const body = { note: note.value || undefined };
    if (target.value === "advisor") body.to_advisor = advisorChoice.value || undefined;
    if (motive.value) body.motive = motive.value;
    await act(entry, "transfer", body);
  });
  return form;
}

function closeForm(entry) {
  const id = entry.view.id;
  const outcome = select(`close-outcome-${id}`, directory.reasons.close, "outcome", "—", {
    class: "close-outcome",
  });
  const motive = select(`close-motive-${id}`, directory.motives, "motive", "—");
  if (entry.view.motive) motive.value = entry.view.motive;
  const form = h(
    "form",
    { class: "close", "data-form": "close" },
    h("h3", {}, t("work.close")),
    h("label", { for: `close-outcome-${id}` }, t("work.outcome")),
    outcome,
    h("label", { for: `close-motive-${id}` }, t("work.final_motive")),
    motive,
    h("button", { type: "submit", class: "primary" }, t("work.do_close")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: outcome.value };
    if (motive.value) body.motive = motive.value;
    if (await act(entry, "close", body)) say(t("work.closed", { id: `AIG-${id}` }));
  });
  return form;
}

async function act(entry, verb, body) {
  fill(entry.error);
  try {
    await api("POST", `/v1/interactions/${entry.view.id}/${verb}`, body);
    await refresh();
    return true;
  } catch (failure) {
    fill(entry.error, t("error", { detail: failure.message }));
    return false;
  }
}

// -- time and keys -------------------------------------------------------------------------

function tick() {
  for (const element of document.querySelectorAll("[data-since]")) {
    const format = element.dataset.format;
    fill(element, t(format, { time: duration(secondsSince(element.dataset.since)) }));
  }
  for (const element of document.querySelectorAll("[data-until]")) {
    const format = element.dataset.format;
    const left = duration(secondsUntil(element.dataset.until));
    fill(element, t(format, { time: left, left, when: element.dataset.when ?? "" }));
  }
}

function shortcut(event) {
  if (!event.altKey) return;
  const key = event.key.toLowerCase();
  const first = ordered()[0];
  const card = first && document.querySelector(`[data-offer="${first.offer_id}"]`);
  const panel = active !== null ? tabs.get(active)?.panel : null;
  if (key === "a" && card) card.querySelector(".accept").click();
  else if (key === "d" && card) card.querySelector("select").focus();
  else if (key === "r" && panel) panel.querySelector("textarea.answer-text")?.focus();
  else if (key === "c" && panel) panel.querySelector("select.close-outcome")?.focus();
  else if (/^[1-9]$/.test(key)) {
    const id = [...tabs.keys()][Number(key) - 1];
    if (id !== undefined) select_tab(id);
  } else return;
  event.preventDefault();
}

start();
