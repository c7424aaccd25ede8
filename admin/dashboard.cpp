#include "admin/dashboard.hpp"

#include <httplib.h>

namespace orasi {

namespace {

/// Only same-origin requests (the page's fetches to /v1/...) and the page's
/// own inline script and style; no frames, forms or plugins.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page. Data from the registry is only ever put in the page as text
/// (textContent), never parsed as HTML: metadata come from the backend.
constexpr const char* dashboard_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orasi-discovery</title>
<style>
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --unk: #6e7781;
        --bg: #f6f8fa; --fg: #1f2328; --line: #d0d7de; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI",
       sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px;
         padding: 10px 16px; background: #24292f; color: #fff; }
header h1 { font-size: 16px; margin: 0 8px 0 0; }
.pill { padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff;
        display: inline-block; white-space: nowrap; }
#conn.live { background: var(--ok); }
#conn.down { background: var(--bad); }
#conn.connecting { background: var(--unk); }
.meta { font-size: 12px; opacity: .85; }
#stale { background: #fff8c5; border-bottom: 1px solid #d4a72c;
         padding: 6px 16px; }
main { padding: 12px 16px; max-width: 1200px; }
.controls { display: flex; gap: 8px; flex-wrap: wrap; align-items: center;
            margin-bottom: 12px; }
input, select { font: inherit; padding: 4px 6px; border: 1px solid var(--line);
                border-radius: 4px; background: #fff; }
#filter-name { min-width: 260px; }
.svc { background: #fff; border: 1px solid var(--line); border-radius: 6px;
       margin-bottom: 10px; overflow-x: auto; }
.svc-head { display: flex; flex-wrap: wrap; gap: 4px 12px;
            align-items: baseline; padding: 8px 12px; }
.svc-name { font-weight: 600; font-size: 15px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
        font-size: 12px; }
.muted { color: var(--unk); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 12px; border-top: 1px solid #eaeef2;
         vertical-align: top; }
th { font-size: 12px; color: var(--unk); font-weight: 600; }
td.url { word-break: break-all; }
.state.Healthy { background: var(--ok); }
.state.Unhealthy { background: var(--bad); }
.state.Degraded { background: var(--warn); }
.state.Unknown { background: var(--unk); }
.flag { color: var(--warn); font-weight: 600; }
tr.changed td { animation: flash 3s ease-out; }
@keyframes flash { from { background: #fff8c5; } to { background: #fff; } }
.note { font-size: 12px; color: var(--unk); }
</style>
</head>
<body>
<header>
  <h1>orasi-discovery</h1>
  <span id="conn" class="pill connecting" title="">connecting</span>
  <span class="meta">registry version <span id="version">-</span></span>
  <span class="meta" id="updated"></span>
  <span class="meta" id="probes"></span>
</header>
<div id="stale" role="alert" hidden>The discovery backend is unreachable:
  showing the last known registry (stale).</div>
<main>
  <div class="controls">
    <input id="filter-name" type="search" autocomplete="off"
           placeholder="Filter by service name or id" aria-label="name filter">
    <select id="filter-state" aria-label="state filter"
            title="Shows the services in this state">
      <option value="">All states</option>
      <option value="Healthy">Healthy</option>
      <option value="Degraded">Degraded</option>
      <option value="Unhealthy">Unhealthy</option>
      <option value="Unknown">Unknown</option>
    </select>
    <span id="count" class="note"></span>
  </div>
  <div id="services"></div>
  <p id="empty" class="note" hidden></p>
  <p class="note">Live through <span class="mono">GET /v1/watch</span>.
    Endpoint states come from the active health checks; each endpoint's last
    check (latency and reason) from <span class="mono">GET /v1/probes</span>,
    refreshed every 2 s; the header counts probe attempts by reason over all
    endpoints, from <span class="mono">/v1/metrics</span>.</p>
</main>
<script>
(function () {
  'use strict';
  const STATES = ['Healthy', 'Degraded', 'Unhealthy', 'Unknown'];
  let services = {};
  let known = false;          // a first answer arrived
  let previous = new Map();   // "service id\nurl" -> endpoint state
  let changed = new Set();    // endpoint keys whose state just changed
  let probes = {};            // id -> url -> last check (GET /v1/probes)

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function badge(state) {
    const known = STATES.includes(state) ? state : 'Unknown';
    const node = el('span', 'pill state ' + known, state || 'Unknown');
    node.dataset.state = String(state);
    return node;
  }

  function metadata(map) {
    const keys = Object.keys(map || {}).sort();
    if (keys.length === 0) return el('span', 'muted', '-');
    return el('span', 'mono',
              keys.map((key) => key + '=' + String(map[key])).join(', '));
  }

  function setConnection(state, detail) {
    const conn = $('conn');
    conn.className = 'pill ' + state;
    conn.textContent = state === 'live' ? 'live'
        : state === 'down' ? 'disconnected, retrying' : 'connecting';
    conn.title = detail || '';
  }

  function matches(id, service, name, state) {
    if (state && service.health_status !== state) return false;
    if (!name) return true;
    return String(service.name || '').toLowerCase().includes(name) ||
           id.toLowerCase().includes(name);
  }

  function renderService(id, service) {
    const section = el('section', 'svc');
    section.dataset.serviceId = id;
    section.dataset.name = String(service.name || '');
    section.dataset.state = String(service.health_status);
    const endpoints = Array.isArray(service.endpoints) ? service.endpoints : [];
    const healthy =
        endpoints.filter((e) => e.health_status === 'Healthy').length;

    const head = el('div', 'svc-head');
    head.append(el('span', 'svc-name', service.name || id),
                el('span', 'mono muted', id), badge(service.health_status),
                el('span', 'note', healthy + '/' + endpoints.length +
                                   ' endpoints healthy'));
    if (Object.keys(service.metadata || {}).length) {
      head.append(metadata(service.metadata));
    }
    section.append(head);

    const table = el('table');
    const header = el('tr');
    for (const title of ['Endpoint', 'State', 'Last check', 'Reason',
                         'Weight', 'Degraded', 'Metadata']) {
      header.append(el('th', '', title));
    }
    table.append(header);
    for (const endpoint of endpoints) {
      const row = el('tr', 'endpoint');
      row.dataset.url = String(endpoint.url);
      row.dataset.state = String(endpoint.health_status);
      if (changed.has(id + '\n' + endpoint.url)) row.classList.add('changed');
      const state = el('td', 'endpoint-state');
      state.append(badge(endpoint.health_status));
      const last = (probes[id] || {})[endpoint.url];
      row.append(el('td', 'url mono', endpoint.url), state,
                 el('td', 'latency mono',
                    last ? Number(last.latency_ms).toFixed(1) + ' ms' : '-'),
                 el('td', 'reason', last ? String(last.reason) : '-'),
                 el('td', '', endpoint.weight),
                 endpoint.degraded ? el('td', 'flag', 'degraded')
                                   : el('td', 'muted', 'no'));
      const meta = el('td');
      meta.append(metadata(endpoint.metadata));
      row.append(meta);
      table.append(row);
    }
    if (endpoints.length === 0) {
      const row = el('tr');
      const cell = el('td', 'muted', 'no endpoints');
      cell.colSpan = 7;
      row.append(cell);
      table.append(row);
    }
    section.append(table);
    return section;
  }

  function render() {
    const name = $('filter-name').value.trim().toLowerCase();
    const state = $('filter-state').value;
    const ids = Object.keys(services).sort();
    const fragment = document.createDocumentFragment();
    let shown = 0;
    for (const id of ids) {
      if (!matches(id, services[id], name, state)) continue;
      fragment.append(renderService(id, services[id]));
      ++shown;
    }
    $('services').replaceChildren(fragment);
    $('count').textContent = known
        ? shown + ' of ' + ids.length + ' services' : '';
    const empty = $('empty');
    empty.hidden = !known || shown > 0;
    empty.textContent = ids.length === 0 ? 'The registry has no services.'
                                         : 'No service matches the filter.';
  }

  function apply(body, index) {
    services = body.services && typeof body.services === 'object'
        ? body.services : {};
    const next = new Map();
    changed = new Set();
    for (const [id, service] of Object.entries(services)) {
      for (const endpoint of service.endpoints || []) {
        const key = id + '\n' + endpoint.url;
        next.set(key, endpoint.health_status);
        if (previous.has(key) && previous.get(key) !== endpoint.health_status) {
          changed.add(key);
        }
      }
    }
    previous = next;
    known = true;
    $('version').textContent = index;
    $('stale').hidden = !body.stale;
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    render();
    changed = new Set(); // flash once, not again on a filter change
  }

  async function refreshProbes() {
    try {
      const res = await fetch('/v1/probes', {cache: 'no-store'});
      if (!res.ok) return;
      probes = await res.json();
      if (known) render();
    } catch (err) {
      // The watch loop reports the connection state.
    }
  }

  async function refreshMetrics() {
    refreshProbes();
    try {
      const res = await fetch('/v1/metrics', {cache: 'no-store'});
      if (!res.ok) return;
      const probes = (await res.json()).probes || {};
      if (!probes.enabled) {
        $('probes').textContent = 'health checks off';
        return;
      }
      const failed = Object.entries(probes.attempts_failed || {})
          .filter(([, count]) => count > 0)
          .map(([reason, count]) => reason + ' ' + count).join(', ');
      $('probes').textContent = 'probe attempts: ' +
          (probes.attempts_passed || 0) + ' passed' +
          (failed ? '; failed: ' + failed : '');
    } catch (err) {
      // The watch loop reports the connection state.
    }
  }

  // Blocking watch: answers at once when the registry is past `index`,
  // else after the wait. The index is kept as the header's decimal string
  // (versions are 64-bit).
  async function watch() {
    let index = '0';
    let delay = 500;
    for (;;) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 45000);
      try {
        const res = await fetch('/v1/watch?index=' + index + '&wait=30s',
                                {cache: 'no-store', signal: abort.signal});
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const body = await res.json();
        index = res.headers.get('X-Orasi-Index') || String(body.version);
        setConnection('live');
        delay = 500;
        apply(body, index);
        refreshMetrics();
      } catch (err) {
        setConnection('down', String(err && err.message || err));
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  // Last checks change without a new registry version: poll them.
  setInterval(refreshMetrics, 2000);
  $('filter-name').addEventListener('input', render);
  $('filter-state').addEventListener('change', render);
  watch();
})();
</script>
</body>
</html>
)html";

} // namespace

void add_dashboard_route(httplib::Server& http) {
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", content_security_policy);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-store");
    res.set_content(dashboard_html, "text/html; charset=utf-8");
  });
}

} // namespace orasi
