// The quality reviewer's audits: draw a sample, see it per channel and advisor, score each
// drawn interaction on the configured grid.
//
// Everything shown is read back from the API after each action (`GET /v1/audits`, and the grid
// from `GET /v1/audits/grid`). The weighted score is the daemon's: the page sends the score of
// each criterion and shows what the daemon computed and journaled, never a total of its own.
// Of a drawn interaction the page shows what the audit list holds, because that is all the API
// lets this role read of it. The role decides what the API answers: a refusal (403) is said
// plainly, and a role that may not read the audits sees nothing of them.

import {
  api,
  currentSession,
  fill,
  h,
  label,
  setTimeZone,
  signInForm,
  signOut,
  t,
  when,
} from "./common.js";

const root = document.getElementById("root");
const CHANNEL_ORDER = ["voice", "written", "social"];
const SCREEN_OF = { advisor: "/app/", supervisor: "/app/wallboard", admin: "/app/wallboard" };
let session = null;
let grid = null;
let audits = [];
let opened = null; // the interaction id whose audit is open
const parts = {};

async function start() {
  session = await currentSession();
  if (!session) session = await signInForm(root, t("app.quality"));
  try {
    grid = await api("GET", "/v1/audits/grid");
    audits = (await api("GET", "/v1/audits")).audits;
  } catch (failure) {
    if (failure.status === 403) {
      refused(failure);
      return;
    }
    const problem = t("error", { detail: failure.message });
    const alert = h("p", { class: "error", role: "alert" }, problem);
    fill(root, bar(), h("main", { id: "main" }, alert));
    return;
  }
  setTimeZone(grid.time_zone);
  layout();
  draw();
}

function bar() {
  return h(
    "header",
    { class: "bar" },
    h("h1", {}, t("app.quality")),
    h("span", { id: "role" }, t("quality.role", { role: session.role })),
    h("button", { type: "button", id: "sign-out", onclick: leave }, t("signout")),
  );
}

async function leave() {
  await signOut();
  location.reload();
}

// A role the API refuses the audits to: what it said, and where this role's screen is.
function refused(failure) {
  const screen = SCREEN_OF[session.role];
  fill(
    root,
    bar(),
    h(
      "main",
      { id: "main" },
      h(
        "div",
        { id: "refusal", class: "refusal", role: "alert" },
        h("p", { class: "error" }, t("quality.refused", { role: session.role })),
        h("p", {}, t("quality.refused_detail", { detail: failure.message })),
      ),
      screen ? h("p", {}, h("a", { href: screen }, t("quality.own_screen"))) : null,
    ),
  );
}

function layout() {
  parts.message = h("p", { class: "error", role: "alert", id: "quality-error" });
  parts.summary = h("tbody", { id: "summary-rows" });
  parts.rows = h("tbody", { id: "audit-rows" });
  parts.none = h("p", { id: "audit-none" }, t("quality.none"));
  parts.panel = h("section", {
    id: "audit-panel",
    class: "audit-panel",
    "aria-labelledby": "audit-title",
    hidden: true,
  });
  fill(
    root,
    bar(),
    h(
      "main",
      { id: "main" },
      session.role === "quality" ? null : h("p", { class: "note" }, t("quality.not_reviewer")),
      parts.message,
      h(
        "div",
        { class: "quality-columns" },
        h(
          "div",
          {},
          drawForm(),
          h(
            "section",
            { "aria-labelledby": "grid-title" },
            h("h2", { id: "grid-title" }, t("quality.grid")),
            h(
              "ul",
              { id: "grid-criteria" },
              grid.criteria.map((c) => h("li", {}, label("criterion", c.name), " — ", weight(c))),
            ),
            h("p", {}, t("quality.scale", { scale: grid.scale })),
          ),
        ),
        h(
          "div",
          {},
          h(
            "section",
            { "aria-labelledby": "summary-title" },
            h("h2", { id: "summary-title" }, t("quality.summary")),
            h(
              "table",
              { class: "grid", id: "summary-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["wall.channel", "wall.advisor", "quality.drawn", "quality.scored_count",
                    "quality.left"].map((k) => h("th", { scope: "col" }, t(k))),
                ),
              ),
              parts.summary,
            ),
          ),
          h(
            "section",
            { "aria-labelledby": "audits-title" },
            h("h2", { id: "audits-title" }, t("quality.audits")),
            parts.none,
            h(
              "table",
              { class: "grid", id: "audit-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["wall.interaction", "wall.channel", "wall.advisor", "quality.drawn_at",
                    "quality.status", "quality.weighted", "quality.scored_at"].map((k) =>
                    h("th", { scope: "col" }, t(k)),
                  ),
                  h("th", { scope: "col" }, t("wall.actions")),
                ),
              ),
              parts.rows,
            ),
          ),
          parts.panel,
        ),
      ),
    ),
  );
}

// A criterion's weight, and its share of the whole (what the configuration says, shown).
function weight(criterion) {
  const total = grid.criteria.reduce((sum, c) => sum + c.weight, 0);
  const share = Math.round((criterion.weight / total) * 100);
  return t("quality.weight", { weight: criterion.weight, share });
}

function ordered(list) {
  const rank = (channel) => {
    const found = CHANNEL_ORDER.indexOf(channel);
    return found < 0 ? CHANNEL_ORDER.length : found;
  };
  return [...list].sort(
    (a, b) =>
      rank(a.channel) - rank(b.channel) ||
      a.advisor_id.localeCompare(b.advisor_id) ||
      a.interaction_id - b.interaction_id,
  );
}

function draw() {
  const list = ordered(audits);
  parts.none.hidden = list.length > 0;
  document.getElementById("audit-table").hidden = list.length === 0;
  document.getElementById("summary-table").hidden = list.length === 0;
  const groups = new Map();
  for (const audit of list) {
    const key = `${audit.channel}\u0000${audit.advisor_id}`;
    const group = groups.get(key) ?? {
      channel: audit.channel,
      advisor: audit.advisor_id,
      drawn: 0,
      scored: 0,
    };
    group.drawn += 1;
    if (audit.scores) group.scored += 1;
    groups.set(key, group);
  }
  fill(
    parts.summary,
    [...groups.values()].map((g) =>
      h(
        "tr",
        { "data-channel": g.channel, "data-advisor": g.advisor },
        h("td", {}, label("channel", g.channel)),
        h("td", {}, g.advisor),
        h("td", { "data-figure": "drawn" }, String(g.drawn)),
        h("td", { "data-figure": "scored" }, String(g.scored)),
        h("td", { "data-figure": "left" }, String(g.drawn - g.scored)),
      ),
    ),
  );
  fill(parts.rows, list.map(auditRow));
  if (opened !== null) drawPanel(false);
}

function auditRow(audit) {
  const id = audit.interaction_id;
  const scored = Boolean(audit.scores);
  return h(
    "tr",
    { "data-interaction": id, class: opened === id ? "opened" : "" },
    h("th", { scope: "row" }, `AIG-${id}`),
    h("td", {}, label("channel", audit.channel)),
    h("td", {}, audit.advisor_id),
    h("td", {}, when(audit.drawn_at)),
    h(
      "td",
      { "data-status": scored ? "scored" : "to_score" },
      scored ? t("quality.is_scored") : t("quality.to_score"),
    ),
    h(
      "td",
      { "data-figure": "weighted" },
      scored ? t("quality.out_of", { value: audit.weighted }) : "—",
    ),
    h("td", {}, audit.scored_at ? when(audit.scored_at) : "—"),
    h(
      "td",
      {},
      h(
        "button",
        { type: "button", class: "open", onclick: () => open(id) },
        scored ? t("quality.open_again") : t("quality.open"),
        // Heard, not seen: which row's audit the button opens.
        h("span", { class: "visually-hidden" }, ` AIG-${id}`),
      ),
    ),
  );
}

// -- drawing a sample ----------------------------------------------------------------------

function drawForm() {
  // The month so far, as the month's report counts it.
  const today = dayInZone(new Date());
  const input = (name, attributes) =>
    h("input", {
      id: `draw-${name}`,
      name,
      "aria-describedby": `draw-${name}-error`,
      ...attributes,
    });
  const fields = {
    from: input("from", { type: "date", value: `${today.slice(0, 8)}01`, required: true }),
    until: input("until", { type: "date", value: today, required: true }),
    per_advisor: input("per_advisor", { type: "number", min: 1, step: 1, inputmode: "numeric" }),
    seed: input("seed", { type: "number", step: 1, inputmode: "numeric" }),
  };
  const error = h("p", { class: "error", role: "alert", id: "draw-error" });
  const result = h("p", { class: "status", role: "status", id: "draw-result" });
  const labels = {
    from: t("quality.from"),
    until: t("quality.until"),
    per_advisor: t("quality.per_advisor", { value: grid.per_advisor }),
    seed: t("quality.seed", { value: grid.seed }),
  };
  const form = h(
    "form",
    { id: "draw-form", class: "draw", novalidate: true },
    Object.entries(fields).map(([name, field]) => [
      h("label", { for: field.id }, labels[name]),
      field,
      h("p", { class: "error", id: `draw-${name}-error` }),
    ]),
    h("button", { type: "submit", class: "primary" }, t("quality.draw")),
    error,
    result,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    once(form, () => drawSample(form, fields, error, result));
  });
  return h(
    "section",
    { "aria-labelledby": "draw-title" },
    h("h2", { id: "draw-title" }, t("quality.draw_title")),
    h("p", {}, t("quality.draw_help")),
    form,
  );
}

async function drawSample(form, fields, error, result) {
  clearErrors(form, error);
  fill(result);
  const body = {
    from: midnight(fields.from.value),
    // The last day chosen is counted whole: the period ends at the next midnight.
    until: midnight(nextDay(fields.until.value)),
  };
  for (const name of ["per_advisor", "seed"]) {
    if (fields[name].value !== "") body[name] = Number(fields[name].value);
  }
  try {
    const sample = await api("POST", "/v1/audits/samples", body);
    const text = t("quality.drawn_result", {
      n: sample.picks.length,
      of: sample.candidates,
      seed: sample.seed,
    });
    fill(result, text);
    await reload();
  } catch (failure) {
    fieldError(failure, error, (field) => (field in fields ? fields[field] : null));
  }
}

// The instant a day begins in the deployment's zone, as the API wants it: with its offset.
// A day that does not parse is sent as typed, so that the daemon names the field.
function midnight(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return day;
  const [year, month, date] = day.split("-").map(Number);
  const guess = Date.UTC(year, month - 1, date);
  let offset = offsetMinutes(new Date(guess));
  offset = offsetMinutes(new Date(guess - offset * 60000)); // across a change of offset
  const sign = offset < 0 ? "-" : "+";
  const two = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${day}T00:00:00${sign}${two(offset / 60)}:${two(Math.abs(offset) % 60)}`;
}

function offsetMinutes(instant) {
  const name = new Intl.DateTimeFormat("en-US", {
    timeZone: grid.time_zone,
    timeZoneName: "longOffset",
  })
    .formatToParts(instant)
    .find((part) => part.type === "timeZoneName").value;
  const found = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!found) return 0;
  const minutes = Number(found[2]) * 60 + Number(found[3] ?? 0);
  return found[1] === "-" ? -minutes : minutes;
}

function nextDay(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return day;
  const [year, month, date] = day.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, date + 1)).toISOString().slice(0, 10);
}

function dayInZone(instant) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: grid.time_zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(instant);
}

// -- one audit -----------------------------------------------------------------------------

function open(id) {
  opened = id;
  for (const row of parts.rows.querySelectorAll("tr")) {
    row.classList.toggle("opened", Number(row.dataset.interaction) === id);
  }
  drawPanel(true);
  document.getElementById("audit-title").focus();
}

function drawPanel(fresh) {
  const audit = audits.find((a) => a.interaction_id === opened);
  if (!audit) return;
  const panel = parts.panel;
  panel.hidden = false;
  const details = h(
    "dl",
    { id: "audit-details", class: "details" },
    h("dt", {}, t("wall.channel")),
    h("dd", {}, label("channel", audit.channel)),
    h("dt", {}, t("wall.advisor")),
    h("dd", {}, audit.advisor_id),
    h("dt", {}, t("quality.drawn_at")),
    h("dd", {}, when(audit.drawn_at)),
    h("dt", {}, t("quality.status")),
    h(
      "dd",
      { "data-status": audit.scores ? "scored" : "to_score" },
      audit.scores ? t("quality.is_scored") : t("quality.to_score"),
    ),
    audit.scores
      ? [
          h("dt", {}, t("quality.weighted")),
          h("dd", { id: "audit-weighted" }, t("quality.out_of", { value: audit.weighted })),
          h("dt", {}, t("quality.scored_at")),
          h("dd", {}, when(audit.scored_at)),
          h("dt", {}, t("quality.scored_by")),
          h("dd", {}, audit.scored_by || "—"),
        ]
      : null,
  );
  if (!fresh && panel.dataset.interaction === String(audit.interaction_id)) {
    document.getElementById("audit-details").replaceWith(details);
    return;
  }
  panel.dataset.interaction = String(audit.interaction_id);
  fill(
    panel,
    h(
      "h2",
      { id: "audit-title", tabindex: "-1" },
      t("quality.audit_title", { ref: `AIG-${audit.interaction_id}` }),
    ),
    details,
    h("p", { class: "note" }, t("quality.what_is_read")),
    scoreForm(audit),
  );
}

function scoreForm(audit) {
  const id = audit.interaction_id;
  const inputs = {};
  const error = h("p", { class: "error", role: "alert", id: "score-error" });
  const result = h("p", { class: "status", role: "status", id: "score-result" });
  const form = h(
    "form",
    { id: "score-form", class: "score", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, t("quality.grid_legend", { scale: grid.scale })),
      grid.criteria.map((criterion) => {
        const name = criterion.name;
        inputs[name] = h("input", {
          id: `score-${name}`,
          name,
          type: "number",
          min: 0,
          max: grid.scale,
          step: 1,
          inputmode: "numeric",
          value: audit.scores?.[name] ?? "",
          "aria-describedby": `score-${name}-weight score-${name}-error`,
        });
        return h(
          "div",
          { class: "criterion" },
          h("label", { for: `score-${name}` }, label("criterion", name)),
          h("span", { id: `score-${name}-weight`, class: "weight" }, weight(criterion)),
          inputs[name],
          h("p", { class: "error", id: `score-${name}-error` }),
        );
      }),
    ),
    h("p", {}, t("quality.no_comment")),
    h("button", { type: "submit", class: "primary" }, t("quality.submit")),
    error,
    result,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    once(form, () => score(form, id, inputs, error, result));
  });
  return form;
}

async function score(form, id, inputs, error, result) {
  clearErrors(form, error);
  fill(result);
  const scores = {};
  for (const [name, input] of Object.entries(inputs)) {
    // Left empty, a criterion is not sent: the daemon names it as not scored.
    if (input.value !== "") scores[name] = Number(input.value);
  }
  try {
    const scored = await api("POST", `/v1/audits/${id}/score`, { scores });
    const text = t("quality.scored_result", { ref: `AIG-${id}`, value: scored.weighted });
    fill(result, text);
    await reload();
  } catch (failure) {
    fieldError(failure, error, (field) =>
      field.startsWith("scores.") ? inputs[field.slice("scores.".length)] ?? null : null,
    );
  }
}

// -- errors and reloads --------------------------------------------------------------------

// One request at a time from a form: a second submit while the first is answered does nothing.
// (Not by disabling the button: that would take the keyboard's focus away from it.)
async function once(form, action) {
  if (form.dataset.busy) return;
  form.dataset.busy = "1";
  try {
    await action();
  } finally {
    delete form.dataset.busy;
  }
}

function clearErrors(form, error) {
  fill(error);
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
  }
  for (const element of form.querySelectorAll("p.error")) fill(element);
}

// The API's 4xx names the field at fault: say it beside that field too, and go there.
function fieldError(failure, error, inputOf) {
  const detail = failure.message;
  const text =
    failure.status === 403 ? t("quality.refused_action", { detail }) : t("error", { detail });
  fill(error, text);
  const field = failure.body?.field;
  const input = field ? inputOf(field) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    fill(document.getElementById(`${input.id}-error`), detail);
    input.focus();
  }
}

async function reload() {
  fill(parts.message);
  try {
    audits = (await api("GET", "/v1/audits")).audits;
    draw();
  } catch (failure) {
    fill(parts.message, t("error", { detail: failure.message }));
  }
}

start();
