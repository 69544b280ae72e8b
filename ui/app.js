// Settings → Integrations → QuickBooks: the reference component.
//
// Plain ES module, no dependencies, no build step. It talks only to the bundle's public API
// (openapi.json): GET/DELETE /integrations/quickbooks, POST .../connect[/complete], PATCH .../settings,
// POST/GET/DELETE .../imports[/{id}], GET .../sync-log, POST .../dead-letters/redrive.
//
//   import { mountQuickBooksSettings } from "./app.js";
//   mountQuickBooksSettings(document.getElementById("qbo-settings"), {
//     apiBase: "",                        // API origin; "" = same origin as the page
//     getToken: () => kyriosSession.jwt,  // the Kyrios UI's JWT (the account comes from its claims)
//     returnOutcome: { quickbooks: "approved", ref: "…" },  // what the OAuth callback put in the URL, if any
//   });
//
// Every text the page shows comes from the API's plain-language messages or from the strings below;
// data from the API is only ever set as textContent.

const API = "/integrations/quickbooks";
const IMPORT_JOB_KEY = "kyrios.quickbooks.importJob";

// One sentence for every refusal code of the callback and of POST .../connect/complete (openapi.json).
const CONNECT_ERRORS = {
  access_denied: "QuickBooks was not connected: access was not granted at Intuit.",
  invalid_state: "This sign-in was already used or is unknown. Press Connect to start again.",
  state_expired: "The sign-in took too long and expired. Press Connect to start again.",
  invalid_request: "Intuit's answer was incomplete. Press Connect to start again.",
  intuit_error: "Intuit could not complete the sign-in. Press Connect to try again.",
  wrong_account:
    "This QuickBooks sign-in was started from another Kyrios account, so nothing was connected. " +
    "To connect your company, press Connect here and approve at Intuit.",
  wrong_user:
    "This QuickBooks sign-in was started by another Kyrios user, so nothing was connected. " +
    "Whoever connects QuickBooks presses Connect and approves at Intuit themselves.",
  code_rejected: "Intuit did not accept the sign-in (it may have expired). Press Connect to start again.",
  company_unavailable:
    "QuickBooks did not let Kyrios read the company, so nothing was connected. Press Connect to try again.",
  internal_error: "Kyrios could not finish connecting. Press Connect to try again.",
  realm_owned_by_another_account:
    "This QuickBooks company is already connected to another Kyrios account. Disconnect it there " +
    "first, or choose another company.",
  already_connected_to_another_company:
    "This Kyrios account is connected to a different QuickBooks company. Disconnect it first to " +
    "switch companies.",
  intuit_unavailable: "Intuit did not answer. Try connecting again in a moment.",
};
const CONNECT_ERROR_FALLBACK = "Intuit could not complete the sign-in. Please try connecting again.";

// The API names fields by their JSON names; people read the form's labels.
const FIELD_WORDS = { start_date: "the start date", end_date: "the end date" };

const DIRECTION_WORDS = { push: "Kyrios → QuickBooks", pull: "QuickBooks → Kyrios" };
const OUTCOME_WORDS = { ok: "Synced", failed: "Failed", skipped: "Skipped" };
const IMPORT_STATE_WORDS = {
  running: "Importing",
  succeeded: "Import finished",
  failed: "Import failed",
  cancelled: "Import cancelled",
};

/** Mount the component on `root` (the <main> of index.html, or the same markup inside Kyrios). */
export function mountQuickBooksSettings(root, options = {}) {
  const settings = new QuickBooksSettings(root, options);
  settings.start();
  return settings;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.error) || null;
    this.field = (body && body.field) || null;
  }
}

class QuickBooksSettings {
  constructor(root, options) {
    this.root = root;
    this.apiBase = options.apiBase ?? root.dataset.apiBase ?? "";
    this.getToken = options.getToken || (() => null);
    this.returnOutcome = options.returnOutcome || null;
    this.pollMs = options.pollMs ?? 1000;
    this.logRefreshMs = options.logRefreshMs ?? 15000;
    this.logPageSize = options.logPageSize ?? 20;
    this.unauthorizedHint = options.unauthorizedHint || "Sign in to Kyrios again.";
    this.dialog = options.dialog || document.getElementById("qbo-disconnect-dialog");
    this.storage = options.storage || window.localStorage;
    this.status = null;
    this.logCursor = null;
    this.importJobId = null;
    this.importState = null;
    this.importTimer = null;
    this.refreshTimer = null;
  }

  // ------------------------------------------------------------------ plumbing
  $(selector) {
    return this.root.querySelector(selector);
  }

  $$(selector) {
    return Array.from(this.root.querySelectorAll(selector));
  }

  async api(method, path, body) {
    const headers = { Accept: "application/json" };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, {
        error: "network",
        message: "Kyrios could not reach the server. Check your connection and try again.",
      });
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (response.status === 401) {
      throw new ApiError(401, { error: "unauthorized", message: `Your session has ended. ${this.unauthorizedHint}` });
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  announce(message, { tone = "ok" } = {}) {
    const region = this.$("#qbo-announcer");
    region.classList.toggle("notice--error", tone === "error");
    region.classList.toggle("notice--warn", tone === "warn");
    region.hidden = false;
    region.textContent = message;
  }

  announceError(message) {
    this.announce(message, { tone: "error" });
  }

  busy(button, isBusy, busyText) {
    if (!button) return;
    if (isBusy) {
      button.dataset.idleText = button.textContent;
      if (busyText) button.textContent = busyText;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    } else {
      if (button.dataset.idleText) button.textContent = button.dataset.idleText;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------------ start
  async start() {
    this.root.addEventListener("click", (event) => this.onClick(event));
    this.$('[data-setting="send_review_requests"]').addEventListener("change", (event) =>
      this.saveSetting(event.target),
    );
    this.$('[data-form="import"]').addEventListener("submit", (event) => {
      event.preventDefault();
      this.startImport(event.target);
    });
    this.setDefaultImportDates();
    await this.completeConnect();
    await this.loadStatus({ first: true });
    if (this.status) {
      this.showReturnOutcome();
      await this.loadLog();
      await this.resumeImport();
    }
    this.refreshTimer = window.setInterval(() => {
      if (document.visibilityState === "visible") this.refresh();
    }, this.logRefreshMs);
  }

  onClick(event) {
    const button = event.target.closest("[data-action]");
    if (!button || !this.root.contains(button)) return;
    const actions = {
      connect: () => this.connect(button),
      disconnect: () => this.confirmDisconnect(button),
      reload: () => this.loadStatus({ first: true }),
      "cancel-import": () => this.cancelImport(button),
      "refresh-log": () => this.refresh(button),
      "more-log": () => this.loadLog({ more: true }),
      redrive: () => this.redrive(button),
    };
    const action = actions[button.dataset.action];
    if (action) action();
  }

  async refresh(button) {
    this.busy(button, true, "Refreshing…");
    try {
      await this.loadStatus();
      await this.loadLog();
    } finally {
      this.busy(button, false);
    }
  }

  // ------------------------------------------------------------------ connection
  async loadStatus({ first = false } = {}) {
    const previous = this.status && this.status.status;
    try {
      this.renderStatus(await this.api("GET", API));
    } catch (error) {
      if (!first && error.status === 0) return; // a blip during a background refresh: keep the page as is
      this.status = null;
      this.showView("connection", "error");
      this.$('[data-field="load_error"]').textContent = error.message;
      this.$$("[data-section]:not([data-section=connection])").forEach((s) => (s.hidden = true));
      return;
    }
    const now = this.status.status;
    if (!first && previous && previous !== now) {
      const words = {
        connected: `QuickBooks is connected to ${this.status.company_name}.`,
        needs_reconnect: "QuickBooks needs to be reconnected. Changes made in Kyrios are kept until then.",
        not_connected: "QuickBooks is not connected.",
      };
      this.announce(words[now], { tone: now === "connected" ? "ok" : "warn" });
    }
  }

  renderStatus(status) {
    this.status = status;
    this.showView("connection", status.status);
    const connectedView = status.status === "connected" || status.status === "needs_reconnect";
    for (const el of document.querySelectorAll('[data-field="company_name"]')) {
      el.textContent = status.company_name || "your company";
    }
    setTime(this.$('[data-field="connected_at"]'), status.connected_at, { dateStyle: "long" });
    setTime(this.$('[data-field="last_sync_at"]'), status.last_sync_at, {
      dateStyle: "medium",
      timeStyle: "short",
    }, "Not yet");
    // Intuit's refresh token ends (100 days unused, five years at most): ask for a reconnect in time.
    const soon = status.status === "connected" && Boolean(status.needs_reconnect_soon);
    this.$('[data-field="reconnect_soon"]').hidden = !soon;
    setTime(this.$('[data-field="reconnect_by"]'), soon ? status.reconnect_by : null, { dateStyle: "long" });
    this.$('[data-field="country_currency"]').textContent = [status.country, status.currency]
      .filter(Boolean)
      .join(" · ") || "—";
    const importReviews = this.$("#qbo-import-reviews");
    if (status.settings && !this.importReviewsDefaulted) {
      // The import's own review choice starts from the account's setting; the person may change it.
      importReviews.checked = Boolean(status.settings.send_review_requests);
      this.importReviewsDefaulted = true;
    }
    const checkbox = this.$('[data-setting="send_review_requests"]');
    if (status.settings && !checkbox.disabled) checkbox.checked = Boolean(status.settings.send_review_requests);
    this.section("settings").hidden = !connectedView;
    // While a reconnect is needed an import already shown stays visible (its result still matters).
    this.section("import").hidden = status.status === "not_connected" || (status.status !== "connected" && !this.importJobId);
    this.$('[data-action="start-import"]').disabled = status.status !== "connected" || this.importRunning();
    this.section("activity").hidden = false;
    this.renderRedrive();
  }

  section(name) {
    return this.$(`[data-section="${name}"]`);
  }

  showView(sectionName, view) {
    for (const el of this.section(sectionName).querySelectorAll(":scope > [data-view]")) {
      el.hidden = el.dataset.view !== view;
    }
  }

  showReturnOutcome() {
    const outcome = this.returnOutcome;
    this.returnOutcome = null;
    if (!outcome || !outcome.quickbooks) return;
    if (outcome.quickbooks === "connected" && this.status.status === "connected") {
      this.announce(`QuickBooks is connected to ${this.status.company_name}.`);
    } else if (outcome.quickbooks === "error") {
      this.announceError(CONNECT_ERRORS[outcome.reason] || outcome.message || CONNECT_ERROR_FALLBACK);
    } else {
      return;
    }
    // Back from Intuit: put the keyboard where the outcome is.
    document.getElementById("qbo-connection-title").focus();
  }

  // Back from Intuit with ?quickbooks=approved&ref=…: this user completes the connection. Only the
  // account and user who pressed Connect can; the server refuses anyone else with a reason code.
  async completeConnect() {
    const outcome = this.returnOutcome;
    if (!outcome || outcome.quickbooks !== "approved") return;
    try {
      await this.api("POST", `${API}/connect/complete`, { ref: outcome.ref || "" });
      this.returnOutcome = { quickbooks: "connected" };
    } catch (error) {
      const reason = error.code;
      this.returnOutcome = CONNECT_ERRORS[reason]
        ? { quickbooks: "error", reason }
        : { quickbooks: "error", reason: "", message: error.message };
    }
  }

  async connect(button) {
    this.busy(button, true, "Opening Intuit…");
    try {
      const answer = await this.api("POST", `${API}/connect`);
      window.location.assign(answer.authorize_url);
    } catch (error) {
      this.busy(button, false);
      this.announceError(`Could not start connecting: ${error.message}`);
    }
  }

  confirmDisconnect(button) {
    const dialog = this.dialog;
    const onClose = async () => {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "confirm") {
        button.focus();
        return;
      }
      await this.disconnect(button);
    };
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  }

  async disconnect(button) {
    this.busy(button, true, "Disconnecting…");
    try {
      const answer = await this.api("DELETE", API);
      let message = "QuickBooks is disconnected. Nothing was deleted in QuickBooks or Kyrios.";
      if (answer && answer.revoked === false) {
        message +=
          " Intuit could not be told, so Kyrios may still appear in your QuickBooks apps list: remove it there.";
      }
      this.stopImportPolling();
      await this.loadStatus({ first: true });
      this.announce(message);
      const connectButton = this.$('[data-view="not_connected"] [data-action="connect"]');
      if (connectButton && !connectButton.closest("[hidden]")) connectButton.focus();
    } catch (error) {
      this.announceError(`Could not disconnect: ${error.message}`);
      button.focus();
    } finally {
      this.busy(button, false);
    }
  }

  // ------------------------------------------------------------------ settings
  async saveSetting(checkbox) {
    const name = checkbox.dataset.setting;
    const wanted = checkbox.checked;
    const feedback = this.$(`[data-feedback="${name}"]`);
    feedback.classList.remove("feedback--error");
    feedback.textContent = "Saving…";
    checkbox.disabled = true;
    try {
      const status = await this.api("PATCH", `${API}/settings`, { [name]: wanted });
      checkbox.disabled = false;
      this.renderStatus(status);
      feedback.textContent = wanted ? "Saved: review requests are on." : "Saved: review requests are off.";
    } catch (error) {
      checkbox.checked = !wanted; // what the server still has
      checkbox.disabled = false;
      feedback.classList.add("feedback--error");
      feedback.textContent = `Not saved: ${error.message}`;
      if (error.status === 409) await this.loadStatus();
    }
  }

  // ------------------------------------------------------------------ import
  setDefaultImportDates() {
    const start = this.$("#qbo-import-start");
    const end = this.$("#qbo-import-end");
    const today = new Date();
    if (!start.value) start.value = `${today.getFullYear() - 1}-01-01`;
    if (!end.value) end.value = isoDate(today);
  }

  clearImportErrors() {
    for (const el of this.$$('[data-section="import"] [data-error-for]')) el.textContent = "";
    for (const el of this.$$('[data-form="import"] [aria-invalid]')) el.removeAttribute("aria-invalid");
  }

  async startImport(form) {
    this.clearImportErrors();
    const button = form.querySelector('[data-action="start-import"]');
    const body = {
      start_date: form.elements.start_date.value,
      end_date: form.elements.end_date.value,
      send_review_requests: form.elements.send_review_requests.checked,
    };
    this.busy(button, true, "Starting…");
    let job;
    try {
      job = await this.api("POST", `${API}/imports`, body);
    } catch (error) {
      this.busy(button, false);
      const input = error.field && form.elements[error.field];
      const slot = error.field && this.$(`[data-section="import"] [data-error-for="${error.field}"]`);
      if (input && slot && input.type !== "checkbox") {
        slot.textContent = inPlainWords(error.message);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } else {
        this.$('[data-section="import"] [data-error-for="import"]').textContent = error.message;
      }
      return;
    }
    this.busy(button, false);
    this.trackImport(job);
    document.getElementById("qbo-import-job-title").focus();
  }

  async resumeImport() {
    const jobId = this.storage.getItem(IMPORT_JOB_KEY);
    if (!jobId) return;
    try {
      this.trackImport(await this.api("GET", `${API}/imports/${encodeURIComponent(jobId)}`), { quiet: true });
    } catch {
      this.storage.removeItem(IMPORT_JOB_KEY); // gone, or another account's: forget it
    }
  }

  importRunning() {
    return Boolean(this.importTimer) || this.importState === "running";
  }

  trackImport(job, { quiet = false } = {}) {
    this.importJobId = job.id;
    this.storage.setItem(IMPORT_JOB_KEY, job.id);
    this.section("import").hidden = false;
    this.renderImport(job, quiet);
    if (job.state === "running") this.scheduleImportPoll();
  }

  scheduleImportPoll() {
    this.stopImportPolling();
    this.importTimer = window.setTimeout(() => this.pollImport(), this.pollMs);
  }

  stopImportPolling() {
    if (this.importTimer) window.clearTimeout(this.importTimer);
    this.importTimer = null;
  }

  async pollImport() {
    this.importTimer = null;
    try {
      const job = await this.api("GET", `${API}/imports/${encodeURIComponent(this.importJobId)}`);
      this.renderImport(job);
      if (job.state === "running") this.scheduleImportPoll();
    } catch (error) {
      this.$('[data-field="import_failure"]').textContent = `Could not read the import's progress: ${error.message}`;
      if (error.status === 0 || error.status >= 500) this.scheduleImportPoll();
    }
  }

  renderImport(job, quiet = false) {
    const wasRunning = this.importState === "running";
    this.importState = job.state;
    const view = this.$('[data-view="import-job"]');
    view.hidden = false;
    const range = job.start_date && job.end_date ? ` (${formatDay(job.start_date)} – ${formatDay(job.end_date)})` : "";
    this.$('[data-field="import_heading"]').textContent = `${IMPORT_STATE_WORDS[job.state] || job.state}${range}`;
    const bar = this.$("#qbo-import-progress");
    bar.value = job.percent;
    bar.setAttribute("aria-valuetext", `${job.percent} %`);
    let text;
    if (job.state === "running" && job.total == null) {
      text = "Counting the invoices in QuickBooks…";
    } else if (job.total === 0) {
      text = "No QuickBooks invoices in these dates.";
    } else {
      text = `${job.processed} of ${job.total ?? "?"} invoices processed (${job.percent} %)`;
    }
    this.$('[data-field="import_progress"]').textContent = text;
    const finished = job.state !== "running";
    this.$('[data-action="cancel-import"]').hidden = finished;
    this.$('[data-view="import-summary"]').hidden = !finished || job.state === "failed";
    for (const el of this.$$("[data-summary]")) el.textContent = String(job.summary[el.dataset.summary] ?? 0);
    this.$('[data-field="import_failure"]').textContent =
      job.state === "failed" ? job.failure_reason || "The import stopped." : "";
    this.$('[data-action="start-import"]').disabled = !finished || (this.status && this.status.status !== "connected");
    if (finished && wasRunning && !quiet) {
      const words = {
        succeeded: `Import finished: ${job.summary.published} invoices imported.`,
        cancelled: "Import cancelled. Invoices already imported stay in Kyrios.",
        failed: `Import failed: ${job.failure_reason || "see the details in the Import section."}`,
      };
      this.announce(words[job.state]);
      this.loadLog();
    }
  }

  async cancelImport(button) {
    this.busy(button, true, "Cancelling…");
    try {
      this.stopImportPolling();
      this.renderImport(await this.api("DELETE", `${API}/imports/${encodeURIComponent(this.importJobId)}`));
    } catch (error) {
      if (error.code === "import_not_running") {
        await this.pollImport();
      } else {
        this.$('[data-field="import_failure"]').textContent = `Could not cancel: ${error.message}`;
        this.scheduleImportPoll();
      }
    } finally {
      this.busy(button, false);
      this.$('[data-action="start-import"]').focus();
    }
  }

  // ------------------------------------------------------------------ sync activity
  async loadLog({ more = false } = {}) {
    const list = this.$('[data-list="log"]');
    const errorSlot = this.$('[data-field="log_error"]');
    const query = new URLSearchParams({ limit: String(this.logPageSize) });
    if (more && this.logCursor) query.set("cursor", this.logCursor);
    let page;
    try {
      page = await this.api("GET", `${API}/sync-log?${query}`);
    } catch (error) {
      errorSlot.textContent = `Could not load sync activity: ${error.message}`;
      return;
    }
    errorSlot.textContent = "";
    if (!more) list.replaceChildren();
    const firstNew = page.entries.length ? list.children.length : -1;
    for (const entry of page.entries) list.append(renderLogEntry(entry));
    this.logCursor = page.next_cursor;
    this.$('[data-action="more-log"]').hidden = !page.next_cursor;
    this.$('[data-view="log-empty"]').hidden = list.children.length > 0;
    if (more && firstNew >= 0) list.children[firstNew].focus();
    this.renderRedrive();
  }

  /** The retry panel shows while some change's newest log entry is a failure. */
  renderRedrive() {
    const newest = new Map();
    for (const item of this.$$('[data-list="log"] > li')) {
      if (!newest.has(item.dataset.subject)) newest.set(item.dataset.subject, item.dataset.outcome);
    }
    const unresolved = [...newest.values()].includes("failed");
    const view = this.$('[data-view="redrive"]');
    const button = view.querySelector('[data-action="redrive"]');
    const feedback = view.querySelector('[data-feedback="redrive"]');
    if (view.hidden && unresolved) feedback.textContent = "";
    view.hidden = !unresolved && !feedback.textContent;
    const connected = Boolean(this.status && this.status.status === "connected");
    if (button.getAttribute("aria-busy") !== "true") button.disabled = !connected;
    view.querySelector('[data-field="redrive_hint"]').hidden = connected;
  }

  async redrive(button) {
    const feedback = this.$('[data-feedback="redrive"]');
    feedback.classList.remove("feedback--error");
    this.busy(button, true, "Sending again…");
    try {
      const answer = await this.api("POST", `${API}/dead-letters/redrive`);
      feedback.textContent = answer.redriven
        ? `${answer.redriven} ${answer.redriven === 1 ? "change was" : "changes were"} sent to QuickBooks again. ` +
          "Their results appear below in a moment."
        : "No changes were waiting to be sent again.";
      if (answer.redriven) {
        window.setTimeout(() => this.loadLog(), 1500);
        window.setTimeout(() => this.loadLog(), 5000);
      }
    } catch (error) {
      feedback.classList.add("feedback--error");
      feedback.textContent = `Could not send them again: ${error.message}`;
    } finally {
      this.busy(button, false);
      this.renderRedrive();
    }
  }
}

// ------------------------------------------------------------------ helpers
function renderLogEntry(entry) {
  const item = el("li", `entry entry--${entry.outcome}`);
  item.tabIndex = -1;
  item.dataset.outcome = entry.outcome;
  // What the entry is about: a later entry for the same document supersedes this one.
  item.dataset.subject = `${entry.kind}|${entry.kyrios_id || entry.qbo_id || entry.entity}`;
  const head = el("div", "entry-head");
  const badgeKind = { ok: "on", failed: "fail", skipped: "off" }[entry.outcome] || "off";
  head.append(
    el("span", `badge badge--${badgeKind}`, OUTCOME_WORDS[entry.outcome] || entry.outcome),
    el("span", "entry-what", entry.entity),
    el("span", "entry-direction", DIRECTION_WORDS[entry.direction] || entry.direction),
  );
  const when = el("time", "entry-time");
  setTime(when, entry.at, { dateStyle: "medium", timeStyle: "short" });
  head.append(when);
  item.append(head, el("p", "entry-message", entry.message));
  if (entry.qbo_detail) item.append(el("p", "entry-qbo", `QuickBooks said: “${entry.qbo_detail}”`));
  if (entry.outcome === "failed" && entry.intuit_tid) {
    item.append(el("p", "entry-ref", `Reference for Intuit support: ${entry.intuit_tid}`));
  }
  return item;
}

function inPlainWords(message) {
  const text = message.replace(/\b(start_date|end_date)\b/g, (name) => FIELD_WORDS[name]);
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setTime(node, iso, format, empty = "—") {
  if (!node) return;
  if (!iso) {
    node.removeAttribute("datetime");
    node.textContent = empty;
    return;
  }
  node.dateTime = iso;
  const moment = new Date(iso);
  node.textContent = Number.isNaN(moment.getTime()) ? iso : new Intl.DateTimeFormat(undefined, format).format(moment);
}

function isoDate(day) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

function formatDay(iso) {
  const [year, month, day] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(year, month - 1, day));
}
