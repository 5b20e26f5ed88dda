"""The supervisors' page: markup and script, no data (``supervisor.py`` serves it).

The token is asked once and kept in the tab's ``sessionStorage`` (or given in the URL
fragment, ``/supervisor#token=...``, which never reaches a server or its logs, and is
removed from the address bar at once). Data comes with ``fetch`` and the bearer token:
the live tail is read as server-sent events from the fetch's body stream (an
``EventSource`` cannot send the token). Text is set with ``textContent``, never as markup;
the report is shown in a sandboxed frame without scripts.
"""

from __future__ import annotations

__all__ = ["PAGE_HTML"]

PAGE_HTML = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>callguard: supervisors</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;margin:0;background:#fafafa;color:#222}
header{background:#263238;color:#fff;padding:.6em 1em;display:flex;gap:1.5em;align-items:center}
header h1{font-size:1.2em;margin:0}
#status{font-size:.9em;padding:.2em .6em;border-radius:3px;background:#546e7a}
#status.live{background:#2e7d32}#status.error{background:#c62828}
main{padding:1em}
form#filters{display:flex;gap:1em;align-items:end;margin-bottom:.8em}
label{font-size:.8em;display:flex;flex-direction:column}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;white-space:nowrap}
td.reason{white-space:normal}
tr.ALLOW td.verdict{color:#2e7d32;font-weight:bold}
tr.BLOCK td.verdict{color:#c62828;font-weight:bold}
tr.fresh{animation:fresh 2s}
tr.skipped td{background:#ffe0b2;font-style:italic}
@keyframes fresh{from{background:#fff59d}to{background:#fff}}
#tail{max-height:45vh;overflow:auto;border:1px solid #ccc}
#login{max-width:30em;margin:3em auto}
iframe#report{width:100%;height:60vh;border:1px solid #ccc;background:#fff}
.hidden{display:none}
</style></head>
<body>
<header><h1>callguard: supervisors</h1><span id="status">not connected</span>
<span id="source"></span><span id="count"></span></header>
<main>
<section id="login" class="hidden">
<p>This page shows compliance records of every node. Give the node's HTTP token
(<code>CALLGUARD_HTTP_TOKEN</code>); it is kept in this tab only.</p>
<form id="login-form"><input id="token" type="password" size="40" autocomplete="off">
<button type="submit">Open</button></form><p id="login-error"></p>
</section>
<section id="app" class="hidden">
<h2>Live tail</h2>
<form id="filters">
<label>verdict<select id="verdict"><option value="">any</option>
<option value="ALLOW">ALLOW</option><option value="BLOCK">BLOCK</option></select></label>
<label>campaign<select id="campaign"><option value="">any</option></select></label>
<label>deciding rule<input id="rule" size="32" placeholder="e.g. us-federal:64.1200(c)(2)"></label>
<button type="submit" id="apply">apply</button>
</form>
<div id="tail"><table><thead><tr><th>logged (UTC)</th>
<th>call, on the called party's clock</th><th>node</th><th>event</th>
<th>verdict</th><th>campaign</th><th>call centre</th><th>number</th><th>mode</th>
<th>front</th><th>rule</th><th>reason</th></tr></thead><tbody id="rows"></tbody></table></div>
<h2>Today <button id="refresh-report" type="button">refresh</button>
<select id="tz"><option>UTC</option><option>America/New_York</option>
<option>America/Chicago</option><option>America/Denver</option>
<option>America/Los_Angeles</option><option>America/Phoenix</option>
<option>America/Anchorage</option><option>Pacific/Honolulu</option>
<option>America/Puerto_Rico</option></select></h2>
<iframe id="report" title="today's report" sandbox></iframe>
</section>
</main>
<script>
"use strict";
const KEY = "callguard-token";
const MAX_ROWS = 500;
let controller = null;
let shown = 0;
let skipped = 0;
const counts = new Map();  // records received since the tail (re)started, by verdict

function token() { return sessionStorage.getItem(KEY) || ""; }
function $(id) { return document.getElementById(id); }
function status(text, kind) {
  const s = $("status"); s.textContent = text; s.className = kind || "";
}
function headers() { return {"Authorization": "Bearer " + token()}; }

function askToken(message) {
  $("app").classList.add("hidden"); $("login").classList.remove("hidden");
  $("login-error").textContent = message || "";
  status("not connected");
}

async function api(path) {
  const response = await fetch(path, {headers: headers(), cache: "no-store"});
  if (response.status === 401) { askToken("That token was refused."); throw new Error("401"); }
  if (!response.ok) { throw new Error(path + ": " + response.status); }
  return response;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function addRecord(record, fresh) {
  const row = document.createElement("tr");
  row.className = (record.verdict || record.event || "") + (fresh ? " fresh" : "");
  row.dataset.verdict = record.verdict || "";
  row.dataset.campaign = record.campaign || "";
  row.dataset.telemarketer = record.telemarketer || "";
  row.dataset.rule = record.rule || "";
  if (record.decision_id) row.title = "decision " + record.decision_id;
  cell(row, (record.logged_at || "").replace("T", " ").slice(0, 19));
  cell(row, record.called_local, "local");
  cell(row, record.node);
  cell(row, record.event);
  // a `check --at` question (schema 2: places_call false) placed no call: said so
  // (when the node sends places_call: supervisor.py's _SHOWN must name it)
  cell(row, (record.verdict || "") + (record.places_call === false
    ? " (a question: no call placed)" : ""), "verdict");
  cell(row, record.campaign);
  // the call centre that placed the call for the seller (none: the seller's own call)
  cell(row, record.telemarketer, "centre");
  cell(row, record.number_last4 ? "\u2026" + record.number_last4 : "", "number");
  cell(row, record.mode);
  cell(row, record.front);
  cell(row, record.rule);
  let reason = record.reason || "";
  if (!reason && record.event !== "decision") {
    reason = ["action", "kind", "release_ms"].filter(k => record[k] !== undefined)
      .map(k => k + "=" + record[k]).join(" ");
  }
  cell(row, reason, "reason");
  const rows = $("rows");
  rows.insertBefore(row, rows.firstChild);
  while (rows.children.length > MAX_ROWS) rows.removeChild(rows.lastChild);
  shown += 1;
  const verdict = record.verdict || record.event || "other";
  counts.set(verdict, (counts.get(verdict) || 0) + 1);
  const each = [...counts].map(([name, n]) => name + " " + n).join(", ");
  const kept = rows.querySelectorAll("tr:not(.skipped)").length;
  $("count").textContent = shown + " records in this tail (" + each + ")" +
    (shown > kept ? "; newest " + kept + " shown" : "") +
    (skipped ? "; " + skipped + " not shown: this page fell behind" : "");
}

function addSkipped(count) {
  // the node dropped records this page was too slow to take: a hole, shown where it is
  const row = document.createElement("tr");
  row.className = "skipped";
  const td = document.createElement("td");
  td.colSpan = 12;
  td.textContent = count + " records not shown here: this page fell behind " +
    "(callguard tail or the report has them)";
  row.appendChild(td);
  const rows = $("rows");
  rows.insertBefore(row, rows.firstChild);
  skipped += count;
}

function filters() {
  const params = new URLSearchParams({n: "100"});
  for (const name of ["verdict", "campaign", "rule"]) {
    const value = $(name).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function clearRows() {
  $("rows").replaceChildren(); shown = 0; skipped = 0; counts.clear(); $("count").textContent = "";
}

async function follow(again) {
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  // A new filter empties the table at once; a reconnection keeps the rows until the node
  // answers (its backlog replaces them: no row twice), not an empty table while it is down.
  if (!again) clearRows();
  if (!again) status("connecting");
  let response;
  try {
    response = await fetch("/supervisor/events?" + filters(), {headers: headers(),
                                                              signal: signal});
  } catch (error) { if (!signal.aborted) retry(signal); return; }
  if (response.status === 401) { askToken("That token was refused."); return; }
  if (!response.ok) {
    // a 503 (every place taken) or a proxy's 502/504 while the node restarts: try again,
    // as for a dropped connection; the page stayed "error" for good until reloaded
    status("error " + response.status, "error");
    if (response.status >= 500 && !signal.aborted) retry(signal, "error " + response.status);
    return;
  }
  if (again) clearRows();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let liveAt = Infinity;  // the backlog follows the live event at once: not highlighted
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (event === "live") { status("live", "live"); liveAt = Date.now(); }
        else if (event === "record") { addRecord(JSON.parse(data), Date.now() - liveAt > 1000); }
        else if (event === "skipped") { addSkipped(JSON.parse(data).skipped); }
        else if (event === "source") {
          // nothing to follow on this node ([log] file = "-", no stream): said once,
          // not asked again every 2 s with the status flipping to "reconnecting"
          status("no live source", "error"); controller.abort(); return;
        }
      }
    }
  } catch (error) { if (signal.aborted) return; }
  if (!signal.aborted) retry(signal);
}

function retry(signal, why) {
  status((why ? why + ": " : "") + "reconnecting", "error");
  setTimeout(() => { if (!signal.aborted) follow(true); }, 2000);
}

async function loadReport() {
  const tz = $("tz").value;
  try {
    const response = await api("/supervisor/report?tz=" + encodeURIComponent(tz));
    $("report").srcdoc = await response.text();
  } catch (error) {
    // a zone this browser knows and the node's tzdata does not: the day in UTC
    if (tz !== "UTC" && String(error.message).endsWith(": 400")) {
      $("tz").value = "UTC"; loadReport();
    }
    /* otherwise shown by status or the login form */
  }
}

function ownZone() {
  // "today" starts at the supervisor's midnight, not UTC's (7 p.m. the day before in
  // Denver); a zone not in the list is added to it
  let here = "";
  try { here = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) {}
  if (!here) return;
  const select = $("tz");
  if (![...select.options].some(option => option.value === here)) {
    const option = document.createElement("option");
    option.value = here; option.textContent = here;
    select.appendChild(option);
  }
  select.value = here;
}

async function start() {
  $("login").classList.add("hidden");
  let meta;
  try { meta = await (await api("/supervisor/meta")).json(); } catch (error) { return; }
  $("app").classList.remove("hidden");
  $("source").textContent = "source: " + meta.source;
  const select = $("campaign");
  select.replaceChildren(select.firstElementChild);
  for (const name of meta.campaigns) {
    const option = document.createElement("option");
    option.value = name; option.textContent = name;
    select.appendChild(option);
  }
  follow();
  loadReport();
}

$("login-form").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("filters").addEventListener("submit", event => { event.preventDefault(); follow(); });
$("verdict").addEventListener("change", () => follow());
$("campaign").addEventListener("change", () => follow());
$("refresh-report").addEventListener("click", loadReport);
$("tz").addEventListener("change", loadReport);
setInterval(() => { if (token() && !$("app").classList.contains("hidden")) loadReport(); },
            60000);

if (location.hash.startsWith("#token=")) {
  // out of the address bar first, whatever follows: a stray "%" made decodeURIComponent
  // throw, the script stopped there and the token stayed in the address bar and history
  const given = location.hash.slice(7);
  history.replaceState(null, "", location.pathname);
  let value = given;
  try { value = decodeURIComponent(given); } catch (error) { /* taken as written */ }
  sessionStorage.setItem(KEY, value);
}
ownZone();
if (token()) start(); else askToken();
</script>
</body></html>
"""
