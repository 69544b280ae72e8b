// Local glue for the reference page: where the token and the OAuth outcome come from.
//
// Kyrios replaces this file: it has its own session (getToken) and router. Locally the development
// token arrives once as ?token=… (`python -m local.devtoken --account acct-demo`), is kept in
// localStorage, and is removed from the address bar so that it is not bookmarked or shared.
// The OAuth callback sends the browser back with ?quickbooks=approved&ref=… (the component completes
// the connection with this user's token) or ?quickbooks=error&reason=…; those are handed to the
// component once and removed from the address bar too (the ref is single-use: never bookmarked).

import { mountQuickBooksSettings } from "./app.js";

const TOKEN_KEY = "kyrios.devToken";

function takeFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  const outcome = url.searchParams.has("quickbooks")
    ? {
        quickbooks: url.searchParams.get("quickbooks"),
        reason: url.searchParams.get("reason"),
        ref: url.searchParams.get("ref"),
      }
    : null;
  for (const name of ["token", "quickbooks", "reason", "ref"]) url.searchParams.delete(name);
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  return { token, outcome };
}

const { token, outcome } = takeFromUrl();
if (token) window.localStorage.setItem(TOKEN_KEY, token);
const pollMs = Number(new URLSearchParams(window.location.search).get("poll_ms")) || undefined;

mountQuickBooksSettings(document.getElementById("qbo-settings"), {
  getToken: () => window.localStorage.getItem(TOKEN_KEY),
  returnOutcome: outcome,
  pollMs,
  unauthorizedHint:
    "Locally, open this page with ?token= and a development token (python -m local.devtoken --account …).",
});
