// The supervisor's wall: channels, advisors, the work at risk and the health, live.
//
// The daemon pushes the whole wall (`/v1/wallboard/live`) after each journal batch; this page
// draws it and counts the seconds in between. Steering (pause or sign out an advisor, raise a
// priority, move work) goes through the same API routes as any client with the supervisor's
// role. `?wall=1` (or the button) is the large-screen mode: bigger type, no controls.

import {
  announcer,
  api,
  currentSession,
  duration,
  fill,
  h,
  label,
  live,
  percent,
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
let directory = null;
let board = null;
let say = () => {};
const parts = {};
let large = new URLSearchParams(location.search).get("wall") === "1";
let busy = false; // a form is being used: hold redraws of the tables until it is done

async function start() {
  let session = await currentSession();
  if (!session) session = await signInForm(root, t("app.wallboard"));
  if (session.role !== "supervisor" && session.role !== "admin") {
    location.assign(session.role === "advisor" ? "/app/" : "/app/quality");
    return;
  }
  directory = await api("GET", "/app/directory");
  setTimeZone(directory.time_zone);
  say = announcer();
  layout();
  board = await api("GET", "/v1/wallboard");
  draw();
  live("/v1/wallboard/live", (message) => {
    if (typeof message.seq !== "number") return;
    board = message;
    draw();
  }, connection);
  setInterval(tick, 1000);
}

function layout() {
  parts.connection = h("span", { id: "connection", class: "connection" }, "…");
  parts.updated = h("span", { id: "updated", class: "updated" });
  parts.health = h("p", { id: "health", class: "health" });
  parts.channels = h("div", { id: "channel-cards", class: "cards" });
  parts.nowcast = h("div", { id: "nowcast" });
  parts.advisors = h("tbody", { id: "advisor-rows" });
  parts.risk = h("tbody", { id: "risk-rows" });
  parts.riskNone = h("p", { id: "risk-none" }, t("wall.risk_none"));
  parts.message = h("p", { class: "error", role: "alert", id: "wall-error" });
  parts.toggle = h("button", { type: "button", id: "large-mode", onclick: toggleLarge });
  fill(
    root,
    h(
      "header",
      { class: "bar" },
      h("h1", {}, t("app.wallboard")),
      parts.connection,
      parts.updated,
      parts.toggle,
      h("button", { type: "button", id: "sign-out", class: "control", onclick: leave }, t("signout")),
    ),
    h(
      "main",
      { id: "main" },
      h(
        "section",
        { "aria-labelledby": "health-title", class: "health-part" },
        h("h2", { id: "health-title" }, t("wall.health")),
        parts.health,
      ),
      parts.message,
      h(
        "section",
        { "aria-labelledby": "channels-title" },
        h("h2", { id: "channels-title" }, t("wall.channels")),
        parts.channels,
      ),
      h(
        "section",
        { "aria-labelledby": "nowcast-title" },
        h("h2", { id: "nowcast-title" }, t("wall.nowcast")),
        parts.nowcast,
      ),
      h(
        "section",
        { "aria-labelledby": "risk-title" },
        h("h2", { id: "risk-title" }, t("wall.risk_list")),
        parts.riskNone,
        h(
          "table",
          { class: "grid", id: "risk-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["wall.interaction", "wall.channel", "work.motive", "wall.status", "wall.deadline",
                "wall.holder", "wall.priority"].map((k) => h("th", { scope: "col" }, t(k))),
              h("th", { scope: "col", class: "control" }, t("wall.actions")),
            ),
          ),
          parts.risk,
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "advisors-title" },
        h("h2", { id: "advisors-title" }, t("wall.advisors")),
        h(
          "table",
          { class: "grid", id: "advisor-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["wall.advisor", "wall.state", "wall.in_state", "wall.load", "wall.occupancy",
                "wall.adherence"].map((k) =>
                h("th", { scope: "col" }, t(k)),
              ),
              h("th", { scope: "col", class: "control" }, t("wall.actions")),
            ),
          ),
          parts.advisors,
        ),
      ),
    ),
  );
  applyLarge();
}

async function leave() {
  await signOut();
  location.reload();
}

function toggleLarge() {
  large = !large;
  applyLarge();
}

function applyLarge() {
  document.body.classList.toggle("large", large);
  fill(parts.toggle, large ? t("wall.normal") : t("wall.large"));
}

function connection(up) {
  fill(parts.connection, up ? t("connection.live") : t("connection.lost"));
  parts.connection.classList.toggle("down", !up);
}

function draw() {
  fill(parts.updated, t("wall.updated", { time: when(board.at) }));
  const health = board.health;
  fill(
    parts.health,
    h("span", { class: health.ready ? "ok" : "bad" }, t("wall.daemon", { role: health.role })),
    health.leader ? [" — ", t("wall.leader", { leader: health.leader })] : null,
    " — ",
    // The kind of journal (sqlite, redis), not where it lives: the wall is seen by many.
    t("wall.store", { store: health.store ? health.store.split(":")[0] : "—" }),
    Object.entries(health.adapters).map(([name, status]) => [
      " — ",
      h(
        "span",
        { class: status.health === "ok" || status.state === "running" ? "ok" : "bad", "data-adapter": name },
        `${name}: ${status.health ?? status.state ?? "?"}`,
      ),
    ]),
  );
  fill(
    parts.channels,
    Object.entries(board.channels).map(([channel, c]) => channelCard(channel, c)),
  );
  fill(parts.nowcast, nowcastTable(board.nowcast));
  if (busy) return;
  // Choices made in the rows' lists, not yet acted on, survive the redraw.
  const chosen = new Map(
    [...document.querySelectorAll("#risk-rows select, #advisor-rows select")]
      .filter((element) => element.value)
      .map((element) => [element.id, element.value]),
  );
  parts.riskNone.hidden = board.at_risk.length > 0;
  document.getElementById("risk-table").hidden = board.at_risk.length === 0;
  fill(parts.risk, board.at_risk.map(riskRow));
  fill(parts.advisors, board.advisors.filter((a) => a.state !== "offline" || a.holding.length)
    .concat(board.advisors.filter((a) => a.state === "offline" && !a.holding.length))
    .map(advisorRow));
  for (const [id, value] of chosen) {
    const element = document.getElementById(id);
    if (element && [...element.options].some((option) => option.value === value)) {
      element.value = value;
    }
  }
  tick();
}

// The rest of the day simulated from now: per what-if, each channel's breaches by closing with
// their 90 % interval, and the day's penalties.
function nowcastTable(nowcast) {
  if (!nowcast) return h("p", { id: "nowcast-none" }, t("wall.nowcast_none"));
  const channels = nowcast.variants[0].channels.map((c) => c.channel);
  const range = (f) => `${Math.round(f.mean)} [${Math.round(f.low)}–${Math.round(f.high)}]`;
  return [
    h("p", {}, t("wall.nowcast_at", { time: when(nowcast.at), n: nowcast.replications })),
    h(
      "table",
      { class: "grid", id: "nowcast-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t("wall.what_if")),
          channels.map((c) => h("th", { scope: "col" }, label("channel", c))),
          h("th", { scope: "col" }, t("wall.penalties")),
        ),
      ),
      h(
        "tbody",
        {},
        nowcast.variants.map((variant) =>
          h(
            "tr",
            { "data-what-if": variant.what_if },
            h("th", { scope: "row" }, variant.what_if === "as is" ? t("wall.as_is") : variant.what_if),
            variant.channels.map((c) => h("td", { "data-channel": c.channel }, range(c.breaches))),
            h("td", {}, `${range(variant.penalties_eur)} €`),
          ),
        ),
      ),
    ),
  ];
}

function channelCard(channel, c) {
  const below = c.service_level_today !== null && c.service_level_today < c.target_share;
  return h(
    "article",
    { class: `card channel-${channel}`, "data-channel": channel, "aria-labelledby": `card-${channel}` },
    h("h3", { id: `card-${channel}` }, label("channel", channel)),
    h(
      "dl",
      {},
      figure("wall.waiting", c.waiting, "waiting"),
      h("dt", {}, t("wall.oldest")),
      h(
        "dd",
        { "data-figure": "oldest" },
        c.oldest_since ? h("span", { "data-since": c.oldest_since }) : "—",
      ),
      figure("wall.held", c.held + c.offered, "held"),
      figure("wall.at_risk", c.at_risk, "at_risk", c.at_risk > 0 ? "warn" : ""),
      figure("wall.breached", c.breached, "breached", c.breached > 0 ? "bad" : ""),
      c.expected_by_now === null
        ? null
        : [
            h("dt", {}, t("wall.arrived")),
            h("dd", { "data-figure": "arrived" }, String(c.arrived_today)),
            h("dt", {}, t("wall.expected")),
            h(
              "dd",
              { "data-figure": "expected" },
              `${Math.round(c.expected_by_now)} / ${Math.round(c.expected_today)}`,
            ),
          ],
      figure("wall.answered", c.answered_today, "answered"),
      h("dt", {}, t("wall.abandoned")),
      h(
        "dd",
        { "data-figure": "abandoned" },
        String(c.abandoned_today),
        c.short_abandons_today
          ? [" ", h("small", {}, t("wall.short", { n: c.short_abandons_today }))]
          : null,
      ),
      c.refused_today ? figure("wall.refused", c.refused_today, "refused") : null,
      h("dt", {}, t("wall.asa")),
      h("dd", { "data-figure": "asa" }, c.asa_today_s === null ? "—" : duration(c.asa_today_s)),
      h("dt", {}, t("wall.sl")),
      h(
        "dd",
        { "data-figure": "service_level", class: below ? "bad" : "" },
        percent(c.service_level_today),
        " ",
        h("small", {}, t("wall.target", { target: percent(c.target_share) })),
      ),
    ),
  );
}

function figure(key, value, name, tone = "") {
  return [h("dt", {}, t(key)), h("dd", { "data-figure": name, class: tone }, String(value))];
}

function advisorRow(advisor) {
  const id = advisor.id;
  const load = Object.entries(advisor.capacity)
    .filter(([, capacity]) => capacity > 0)
    .map(([channel, capacity]) => `${label("channel", channel)} ${advisor.load[channel] ?? 0}/${capacity}`)
    .join(", ");
  const reason = select(`pause-${id}`, directory.reasons.not_ready, "reason", "—", {
    class: "control",
  });
  return h(
    "tr",
    { "data-advisor": id },
    h("th", { scope: "row" }, advisor.name || id),
    h(
      "td",
      { "data-state": advisor.state },
      label("state", advisor.state),
      advisor.reason ? [" (", label("reason", advisor.reason), ")"] : null,
    ),
    h("td", {}, advisor.since ? h("span", { "data-since": advisor.since }) : "—"),
    h("td", {}, load),
    h("td", { "data-figure": "occupancy" }, percent(advisor.occupancy_today)),
    h("td", { "data-figure": "adherence" }, percent(advisor.adherence_today)),
    h(
      "td",
      { class: "control" },
      advisor.state === "offline"
        ? null
        : [
            h("label", { for: `pause-${id}`, class: "visually-hidden" }, t("state.reason")),
            reason,
            h(
              "button",
              { type: "button", onclick: () => steer(id, "not_ready", reason.value) },
              t("wall.pause"),
            ),
            h(
              "button",
              { type: "button", onclick: () => steer(id, "offline", reason.value) },
              t("wall.sign_out"),
            ),
          ],
    ),
  );
}

async function steer(advisorId, state, reason) {
  await run(() => api("PUT", `/v1/advisors/${encodeURIComponent(advisorId)}/state`, { state, reason }));
}

function riskRow(item) {
  const id = item.interaction_id;
  const steerCodes = directory.reasons.steer ?? [];
  const reason = select(`steer-reason-${id}`, steerCodes, "reason", "—", { class: "control" });
  const target = select(`move-to-${id}`, directory.advisors, "advisor", "—", { class: "control" });
  return h(
    "tr",
    { "data-interaction": id, class: item.breached ? "bad" : "warn" },
    h("th", { scope: "row" }, `AIG-${id}`),
    h("td", {}, label("channel", item.channel)),
    h("td", {}, directory.motives.find((m) => m.id === item.motive)?.label ?? item.motive ?? "—"),
    h("td", {}, label("status", item.status)),
    h("td", {}, h("span", { "data-until": item.deadline })),
    h("td", {}, item.advisor_id ?? t("wall.nobody")),
    h("td", {}, String(item.priority)),
    h(
      "td",
      { class: "control" },
      h("label", { for: `steer-reason-${id}`, class: "visually-hidden" }, t("wall.steer_reason")),
      reason,
      h(
        "button",
        {
          type: "button",
          onclick: () =>
            run(() =>
              api("POST", `/v1/interactions/${id}/priority`, {
                priority: item.priority + 1,
                reason: reason.value,
              }),
            ),
        },
        t("wall.raise"),
      ),
      h("label", { for: `move-to-${id}`, class: "visually-hidden" }, t("wall.move_to")),
      target,
      h(
        "button",
        {
          type: "button",
          onclick: () =>
            run(() =>
              api("POST", `/v1/interactions/${id}/move`, {
                to_advisor: target.value || undefined,
                reason: reason.value,
              }),
            ),
        },
        t("wall.move"),
      ),
    ),
  );
}

async function run(action) {
  fill(parts.message);
  try {
    await action();
    say(t("wall.done"));
  } catch (failure) {
    fill(parts.message, t("error", { detail: failure.message }));
  }
}

function tick() {
  for (const element of document.querySelectorAll("[data-since]")) {
    fill(element, duration(secondsSince(element.dataset.since)));
  }
  for (const element of document.querySelectorAll("[data-until]")) {
    fill(element, duration(secondsUntil(element.dataset.until)));
  }
}

document.addEventListener("focusin", (event) => {
  busy = event.target instanceof HTMLSelectElement;
});
document.addEventListener("focusout", () => {
  busy = false;
});

start();
