// What both screens share: building the page as text, the session, the API, live sockets.
//
// Nothing here parses markup: `h` makes elements with `createElement`, sets attributes with
// `setAttribute` and puts every string in as a text node, so what a customer wrote is shown
// as they wrote it, never run. The CSRF token lives in this module's memory only; a reloaded
// page asks the daemon for it again (`GET /app/session`), the cookie proving who it is.

import { STRINGS } from "./strings.js";

const lang = document.documentElement.lang === "en" ? "en" : "fr";
const words = STRINGS[lang];

/** The sentence `key` in the page's language, `{name}` filled from `values`. */
export function t(key, values = {}) {
  const text = words[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** A label for a code (a reason, an outcome, a state) when the strings have one. */
export function label(kind, code) {
  return words[`${kind}.${code}`] ?? code;
}

/** Make an element: `h("button", {type: "button", onclick: f}, "Accept")`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** Replace what `element` holds. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let csrf = "";

/** The signed-in session ({role, advisor_id, csrf, ...}), or null when there is none. */
export async function currentSession() {
  const response = await fetch("/app/session", { credentials: "same-origin" });
  if (!response.ok) return null;
  const session = await response.json();
  csrf = session.csrf;
  return session;
}

export async function signIn(token) {
  const response = await fetch("/app/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body);
  csrf = body.csrf;
  return body;
}

export async function signOut() {
  await fetch("/app/session", {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf },
  });
  csrf = "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Call the API with the session; a 401 means the session ended: `onSignedOut` is called. */
export async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (response.status === 401) signedOut();
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

let signedOutHandler = () => location.reload();

export function onSignedOut(handler) {
  signedOutHandler = handler;
}

function signedOut() {
  signedOutHandler();
}

/**
 * Keep a WebSocket to `path` open: a ticket each time (`POST /v1/tickets`), then `onMessage`
 * with each JSON message; on a close, `onState(false)` and a new try after a pause that grows
 * to 5 s. `onState(true)` once connected: the caller reloads what it shows then, since what
 * happened while it was away is not replayed.
 */
export function live(path, onMessage, onState) {
  let pause = 250;
  let stopped = false;
  let socket = null;
  async function connect() {
    if (stopped) return;
    try {
      const ticket = await api("POST", "/v1/tickets");
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const separator = path.includes("?") ? "&" : "?";
      socket = new WebSocket(`${scheme}//${location.host}${path}${separator}ticket=${ticket.ticket}`);
    } catch (error) {
      onState(false);
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 5000);
      return;
    }
    socket.addEventListener("open", () => {
      pause = 250;
      onState(true);
    });
    socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      onState(false);
      if (!stopped) setTimeout(connect, pause);
      pause = Math.min(pause * 2, 5000);
    });
  }
  connect();
  return () => {
    stopped = true;
    socket?.close();
  };
}

/** Seconds as "1 h 02 min", "3 min 05 s" or "42 s"; negative as "−…". */
export function duration(seconds) {
  const sign = seconds < 0 ? "−" : "";
  let rest = Math.floor(Math.abs(seconds));
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  const two = (n) => String(n).padStart(2, "0");
  if (hours >= 24) return `${sign}${Math.floor(hours / 24)} ${t("unit.days")} ${hours % 24} h`;
  if (hours) return `${sign}${hours} h ${two(minutes)} min`;
  if (minutes) return `${sign}${minutes} min ${two(secs)} s`;
  return `${sign}${secs} s`;
}

/** Seconds from now to an ISO instant (negative once past). */
export function secondsUntil(iso) {
  return (Date.parse(iso) - Date.now()) / 1000;
}

/** Seconds since an ISO instant. */
export function secondsSince(iso) {
  return (Date.now() - Date.parse(iso)) / 1000;
}

let zone = undefined;

/** Show times in the deployment's zone (the calendar's), not the browser's. */
export function setTimeZone(name) {
  zone = name || undefined;
}

/** A date and time in the deployment's zone, in the page's language. */
export function when(iso) {
  return new Date(iso).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", {
    dateStyle: "short",
    timeStyle: "short",
    timeZone: zone,
  });
}

export function percent(share) {
  return share === null || share === undefined ? "—" : `${Math.round(share * 1000) / 10} %`;
}

/** A <select> of codes, with an empty first choice `prompt`. */
export function select(id, codes, kind, prompt, attributes = {}) {
  return h(
    "select",
    { id, name: id, ...attributes },
    prompt ? h("option", { value: "" }, prompt) : null,
    codes.map((code) =>
      typeof code === "string"
        ? h("option", { value: code }, label(kind, code))
        : h("option", { value: code.id }, code.label),
    ),
  );
}

/** A polite live region: what it is told is read out by screen readers. */
export function announcer() {
  const region = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  document.body.append(region);
  return (text) => fill(region, text);
}

/** The sign-in form; resolves once a token was exchanged for a session. */
export function signInForm(root, title) {
  return new Promise((resolve) => {
    const error = h("p", { id: "signin-error", class: "error", role: "alert" });
    const input = h("input", {
      id: "token",
      name: "token",
      type: "password",
      autocomplete: "off",
      required: true,
      "aria-describedby": "signin-help signin-error",
    });
    const form = h(
      "form",
      { class: "signin", novalidate: true },
      h("h1", {}, title),
      h("p", { id: "signin-help" }, t("signin.help")),
      h("label", { for: "token" }, t("signin.token")),
      input,
      error,
      h("button", { type: "submit" }, t("signin.submit")),
      document.body.dataset.oidc === "1"
        ? h("p", {}, h("a", { href: "/app/oidc/login" }, t("signin.oidc")))
        : null,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      fill(error);
      try {
        const session = await signIn(input.value.trim());
        input.value = "";
        resolve(session);
      } catch (failure) {
        fill(error, failure.message);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
    fill(root, h("main", { id: "main" }, form));
    input.focus();
  });
}
