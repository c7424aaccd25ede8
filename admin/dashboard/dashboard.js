// The admin API's dashboard (GET /). Served with a strict CSP: no inline
// script or style, so everything here builds the page with DOM APIs, and
// data from the registry (names, URLs, metadata come from the backend) only
// ever enters the page as text (textContent, SVG text nodes), never as HTML.
//
// Scale: the registry may hold tens of thousands of services. The first
// watch answer brings all of them, later ones (?changes=1) only those that
// changed; each version is indexed once (sorted, summary counts; search
// texts built in the background and kept for unchanged services), then only
// the current page of services is rendered, cards below the fold are left
// to the browser to lay out when scrolled to (content-visibility), and
// probe histories are fetched for that page only.
(function () {
  'use strict';

  const SERVICE_STATES = ['Unhealthy', 'Degraded', 'Unknown', 'Healthy'];
  const ENDPOINT_STATES = ['Unhealthy', 'Unknown', 'Healthy'];
  const RANK = {Unhealthy: 0, Degraded: 1, Unknown: 2, Healthy: 3};
  const RING = 32;            // checks kept per endpoint (recent_checks_kept)
  const REFRESH_MS = 2000;    // probes, transitions, metrics
  const WATCH_GAP_MS = 250;   // least time between two watch answers applied
  const URL_BUDGET = 6000;    // request-target bytes per probes request
  // The timeline spans the smallest of these that holds the oldest kept
  // transition: a fresh flap fills the width instead of a sliver of it.
  const TIMELINE_SPANS = [1, 5, 15, 60].map((minutes) => minutes * 60000);
  const LANES = 6;            // endpoints with the most transitions
  const SVG = 'http://www.w3.org/2000/svg';

  const view = {
    services: {},           // id -> ServiceInfo, as the last watch answer
    byId: new Map(),        // id -> entry
    entries: [],            // every service, in display order
    matching: [],           // the entries the search and filter keep
    known: false,           // a first answer arrived
    version: '0',
    page: 0,
    pageSize: 50,
    query: [],              // lower-case search terms, all must match
    stateFilter: '',
    changed: new Set(),     // keys whose state changed in the last version
    probing: null,          // health checks on (null: not known yet)
    probes: {},             // id -> url -> probe history (this page)
    probeGeneration: 0,     // drops answers for a page no longer shown
    rows: new Map(),        // "id\nurl" -> the row's cells (this page)
    shownIds: '',           // the ids on this page, as last rendered
    transitions: [],        // oldest first, at most the server's capacity
    lastSequence: 0,
    capacity: 512,
  };

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const key = (id, url) => id + '\n' + url;
  const number = (n) => Number(n).toLocaleString('en-US');

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes, className) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    if (className) node.setAttribute('class', className);
    return node;
  }

  function knownState(state, states) {
    return states.includes(state) ? state : 'Unknown';
  }

  function badge(state, states) {
    const shown = knownState(state, states || SERVICE_STATES);
    const node = el('span', 'pill state ' + shown, state || 'Unknown');
    node.dataset.state = String(state);
    return node;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString('en-GB', {hour12: false});
  }

  function millis(ms) {
    const value = Number(ms);
    if (!Number.isFinite(value)) return '-';
    return (value < 10 ? value.toFixed(1) : value.toFixed(0)) + ' ms';
  }

  function pairs(map) {
    return Object.keys(map || {}).sort()
        .map((name) => name + '=' + String(map[name]));
  }

  // -- indexing (once per registry version) --------------------------------

  // What the search box matches a service against, lower case: id, name,
  // endpoint URLs and every metadata pair as "key=value".
  function searchText(entry) {
    let text = entry.id + '\n' + entry.name;
    const add = (map) => {
      for (const name in map) text += '\n' + name + '=' + map[name];
    };
    add(entry.service.metadata);
    for (const endpoint of entry.endpoints) {
      text += '\n' + endpoint.url;
      add(endpoint.metadata);
    }
    return text.toLowerCase();
  }

  function textOf(entry) {
    if (entry.text === null) entry.text = searchText(entry);
    return entry.text;
  }

  // The search texts are built after the first screen, a slice at a time,
  // so that neither the first screen nor the first keystroke waits for all
  // of them (a search builds what is still missing itself).
  let textTimer = null;
  function buildTexts(entries, from) {
    clearTimeout(textTimer);
    const end = Math.min(entries.length, from + 1000);
    for (let i = from; i < end; ++i) textOf(entries[i]);
    if (end < entries.length) {
      textTimer = setTimeout(() => buildTexts(entries, end), 0);
    }
  }

  // The endpoints whose state differs from the last version's: compared
  // service by service, matched by URL.
  function changedEndpoints(id, endpoints, before, changed) {
    if (!before || !Array.isArray(before.endpoints)) return;
    endpoints.forEach((endpoint, i) => {
      let old = before.endpoints[i];
      if (!old || old.url !== endpoint.url) {
        old = before.endpoints.find((e) => e.url === endpoint.url);
      }
      if (old && old.health_status !== endpoint.health_status) {
        changed.add(key(id, endpoint.url));
      }
    });
  }

  function makeEntry(id, service) {
    service = service || {};
    const endpoints = Array.isArray(service.endpoints) ? service.endpoints
                                                        : [];
    const state = knownState(service.health_status, SERVICE_STATES);
    return {id, service, endpoints, state, rank: RANK[state],
            name: String(service.name || ''), text: null};
  }

  // Indexes a new version: `ids` are the services that may differ from
  // `before` (null: all of them); the others keep their entries (and their
  // search texts). Returns the summary counts.
  function index(services, before, ids) {
    const changed = new Set();
    const update = (id) => {
      if (!(id in services)) {
        view.byId.delete(id);
        return;
      }
      const entry = makeEntry(id, services[id]);
      view.byId.set(id, entry);
      changedEndpoints(id, entry.endpoints, before[id], changed);
    };
    if (ids === null) {
      view.byId = new Map();
      for (const id in services) update(id);
    } else {
      ids.forEach(update);
    }
    const entries = Array.from(view.byId.values());
    const counts = {services: {}, endpoints: {}, degraded: 0, endpointTotal: 0};
    for (const state of SERVICE_STATES) counts.services[state] = 0;
    for (const state of ENDPOINT_STATES) counts.endpoints[state] = 0;
    for (const entry of entries) {
      ++counts.services[entry.state];
      for (const endpoint of entry.endpoints) {
        ++counts.endpoints[knownState(endpoint.health_status,
                                      ENDPOINT_STATES)];
        if (endpoint.degraded) ++counts.degraded;
      }
      counts.endpointTotal += entry.endpoints.length;
    }
    // Plain comparisons: localeCompare is too slow for 10,000s of entries.
    entries.sort((a, b) => a.rank - b.rank ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    view.entries = entries;
    view.changed = changed;
    return counts;
  }

  function filter() {
    const terms = view.query;
    const state = view.stateFilter;
    view.matching = view.entries.filter((entry) =>
      (!state || entry.state === state) &&
      (terms.length === 0 ||
       terms.every((term) => textOf(entry).includes(term))));
  }

  // -- summary -------------------------------------------------------------

  function summarize(which, counts, states, total, extra) {
    $(which + '-total').textContent = number(total);
    const bar = $(which + '-bar');
    const legend = $(which + '-legend');
    const segments = [];
    const items = [];
    const words = [];
    for (const state of states) {
      const count = counts[state];
      if (count > 0) {
        const segment = el('span', 'segment ' + state);
        segment.style.flexGrow = String(count);
        segment.title = state + ': ' + number(count);
        segments.push(segment);
      }
      const item = el('li');
      // Service states filter the list when clicked; endpoint states only
      // count.
      const filters = which === 'services';
      const entry = el(filters ? 'button' : 'span', 'legend-item');
      entry.dataset.state = state;
      entry.append(el('span', 'swatch ' + state),
                   el('span', 'legend-name', state),
                   el('span', 'legend-count mono', number(count)));
      if (total > 0 && count > 0) {
        entry.append(el('span', 'legend-share',
                        (100 * count / total).toFixed(count === total ? 0 : 1)
                        + '%'));
      }
      if (filters) {
        entry.type = 'button';
        entry.title = 'Show only the services in this state (again: all)';
        entry.addEventListener('click', () => setStateFilter(state));
        if (view.stateFilter === state) entry.classList.add('active');
      }
      item.append(entry);
      items.push(item);
      words.push(number(count) + ' ' + state);
    }
    if (segments.length === 0) segments.push(el('span', 'segment empty'));
    bar.replaceChildren(...segments);
    bar.setAttribute('aria-label', words.join(', '));
    if (extra) items.push(extra);
    legend.replaceChildren(...items);
  }

  function renderSummary(counts) {
    summarize('services', counts.services, SERVICE_STATES,
              view.entries.length);
    let extra = null;
    if (counts.degraded > 0) {
      extra = el('li', 'legend-note',
                 number(counts.degraded) + ' Healthy but degraded (429)');
    }
    summarize('endpoints', counts.endpoints, ENDPOINT_STATES,
              counts.endpointTotal, extra);
  }

  // -- the page of services ------------------------------------------------

  function pageCount() {
    return Math.max(1, Math.ceil(view.matching.length / view.pageSize));
  }

  function metadataNode(map) {
    const list = pairs(map);
    if (list.length === 0) return el('span', 'muted', '-');
    const wrap = el('span', 'tags');
    for (const text of list) wrap.append(el('span', 'tag mono', text));
    return wrap;
  }

  // Every endpoint table has the same fixed columns (table-layout: fixed),
  // so that they line up with the one header above the list.
  const COLUMNS = ['url', 'state', 'chart', 'latency', 'reason', 'weight',
                   'meta'];
  function columns() {
    const group = el('colgroup');
    for (const name of COLUMNS) group.append(el('col', 'c-' + name));
    return group;
  }

  function renderService(entry) {
    const {id, service, endpoints} = entry;
    const section = el('section', 'svc ' + entry.state);
    section.dataset.serviceId = id;
    section.dataset.name = entry.name;
    section.dataset.state = String(service.health_status);
    const healthy =
        endpoints.filter((e) => e.health_status === 'Healthy').length;

    const head = el('div', 'svc-head');
    head.append(badge(service.health_status),
                el('span', 'svc-name', entry.name || id),
                el('span', 'svc-id mono', id),
                el('span', 'note', healthy + '/' + endpoints.length +
                                   ' endpoints healthy'));
    if (Object.keys(service.metadata || {}).length) {
      head.append(metadataNode(service.metadata));
    }
    section.append(head);

    const table = el('table', 'endpoints');
    const tbody = el('tbody');
    table.append(columns(), tbody);
    for (const endpoint of endpoints) {
      const k = key(id, endpoint.url);
      const row = el('tr', 'endpoint');
      row.dataset.url = String(endpoint.url);
      row.dataset.state = String(endpoint.health_status);
      if (view.changed.has(k)) row.classList.add('changed');
      const state = el('td', 'endpoint-state');
      state.append(badge(endpoint.health_status, ENDPOINT_STATES));
      if (endpoint.degraded) {
        state.append(el('span', 'flag', '429 degraded'));
      }
      const cells = {
        chart: el('td', 'chart'),
        latency: el('td', 'latency mono'),
        reason: el('td', 'reason'),
      };
      const meta = el('td', 'meta-cell');
      meta.append(metadataNode(endpoint.metadata));
      row.append(el('td', 'url mono', endpoint.url), state, cells.chart,
                 cells.latency, cells.reason,
                 el('td', 'weight mono', endpoint.weight), meta);
      view.rows.set(k, cells);
      fillProbeCells(cells, (view.probes[id] || {})[endpoint.url]);
      tbody.append(row);
    }
    if (endpoints.length === 0) {
      const row = el('tr');
      const cell = el('td', 'muted', 'no endpoints');
      cell.colSpan = 7;
      row.append(cell);
      tbody.append(row);
    }
    section.append(table);
    return section;
  }

  function renderPage() {
    const pages = pageCount();
    view.page = Math.min(view.page, pages - 1);
    const start = view.page * view.pageSize;
    const shown = view.matching.slice(start, start + view.pageSize);
    view.rows = new Map();
    const fragment = document.createDocumentFragment();
    for (const entry of shown) fragment.append(renderService(entry));
    $('services').replaceChildren(fragment);

    const total = view.entries.length;
    const matching = view.matching.length;
    const filtered = view.query.length > 0 || view.stateFilter;
    $('count').textContent = !view.known ? ''
        : matching === 0 ? (filtered ? '0 of ' + number(total) + ' services'
                                     : '')
        : number(start + 1) + '–' + number(start + shown.length) + ' of ' +
          number(matching) + (filtered ? ' matching (' + number(total) +
                                         ' services)'
                                       : ' services');
    $('page-info').textContent = 'page ' + number(view.page + 1) + ' of ' +
                                 number(pages);
    $('page-first').disabled = $('page-prev').disabled = view.page === 0;
    $('page-last').disabled = $('page-next').disabled =
        view.page >= pages - 1;
    const empty = $('empty');
    empty.hidden = !view.known || matching > 0;
    empty.textContent = total === 0 ? 'The registry has no services.'
                                    : 'No service matches the search.';
    // Other services on the page: their checks soon (not at once:
    // keystrokes come in bursts); the same ones: at the next refresh.
    const shownIds = shown.map((entry) => entry.id).join('\n');
    if (shownIds !== view.shownIds) {
      view.shownIds = shownIds;
      scheduleProbes(100);
    }
  }

  function refilter() {
    filter();
    view.page = 0;
    renderPage();
  }

  function setStateFilter(state) {
    view.stateFilter = view.stateFilter === state ? '' : state;
    $('filter-state').value = view.stateFilter;
    for (const button of document.querySelectorAll(
        '#services-legend .legend-item')) {
      button.classList.toggle('active',
                              button.dataset.state === view.stateFilter);
    }
    refilter();
  }

  // -- recent checks of an endpoint ----------------------------------------

  function fillProbeCells(cells, history) {
    if (!history) {
      cells.chart.replaceChildren(el('span', 'muted',
          view.probing === false ? 'checks off' : '-'));
      cells.latency.textContent = '-';
      cells.reason.textContent = '-';
      cells.reason.title = '';
      return;
    }
    cells.chart.replaceChildren(checkChart(history.recent || []));
    cells.latency.textContent = millis(history.latency_ms);
    cells.latency.title = history.checked_at_ms
        ? 'at ' + clock(history.checked_at_ms) : '';
    cells.reason.textContent = String(history.reason);
    cells.reason.title = String(history.reason);
    cells.reason.classList.toggle('failing', history.passed === false);
  }

  // Bars oldest to newest, one per check: height is latency (on this
  // chart's scale, up to its slowest passing check), colour the result; a
  // failed check is a full red bar.
  function checkChart(recent) {
    const bar = 4;
    const gap = 1;
    const height = 24;
    const width = RING * (bar + gap);
    const chart = svg('svg', {
      width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img',
    }, 'checks');
    chart.append(svg('line', {x1: 0, y1: height - 0.5, x2: width,
                              y2: height - 0.5}, 'baseline'));
    const latencies = recent.map((check) => Number(check.latency_ms) || 0);
    const passedLatencies = recent
        .filter((check) => check.result !== 'failed')
        .map((check) => Number(check.latency_ms) || 0);
    const scale = Math.max(1, ...passedLatencies);
    const offset = RING - recent.length; // newest on the right
    let failed = 0;
    recent.forEach((check, i) => {
      const result = ['passed', 'degraded', 'failed'].includes(check.result)
          ? check.result : 'failed';
      if (result === 'failed') ++failed;
      // A square-root scale: small latencies stay visible beside a spike.
      const h = result === 'failed' ? height - 2
          : Math.max(3, Math.round((height - 2) *
                                   Math.sqrt(latencies[i] / scale)));
      const rect = svg('rect', {
        x: (offset + i) * (bar + gap), y: height - 1 - h, width: bar,
        height: h,
      }, 'check ' + result);
      const title = svg('title');
      title.textContent = clock(check.at_ms) + '  ' + result +
          (check.status ? '  ' + check.status : '') +
          (check.failure ? '  ' + check.failure : '') + '  ' +
          millis(check.latency_ms);
      rect.append(title);
      chart.append(rect);
    });
    const sorted = passedLatencies.slice().sort((a, b) => a - b);
    const median = sorted.length ? sorted[sorted.length >> 1] : NaN;
    chart.setAttribute('aria-label',
        'last ' + recent.length + ' checks: ' + (recent.length - failed) +
        ' passed, ' + failed + ' failed' +
        (sorted.length ? '; median ' + millis(median) + ', max ' +
                         millis(scale) : ''));
    const title = svg('title');
    title.textContent = chart.getAttribute('aria-label');
    chart.prepend(title);
    chart.dataset.checks = String(recent.length);
    return chart;
  }

  let probeTimer = null;
  function scheduleProbes(delay) {
    clearTimeout(probeTimer);
    probeTimer = setTimeout(refreshProbes, delay);
  }

  // GET /v1/probes?service=a&service=b...: only this page's services, in
  // requests that stay under the server's request-line limit.
  async function refreshProbes() {
    scheduleProbes(REFRESH_MS);
    if (view.probing === false) return;
    const start = view.page * view.pageSize;
    const ids = view.matching.slice(start, start + view.pageSize)
        .map((entry) => entry.id);
    if (ids.length === 0) return;
    const generation = ++view.probeGeneration;
    const batches = [];
    let query = '';
    for (const id of ids) {
      const part = 'service=' + encodeURIComponent(id);
      if (query && query.length + part.length + 1 > URL_BUDGET) {
        batches.push(query);
        query = '';
      }
      query += (query ? '&' : '') + part;
    }
    batches.push(query);
    try {
      const answers = await Promise.all(batches.map(async (q) => {
        const res = await fetch('/v1/probes?' + q, {cache: 'no-store'});
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      }));
      if (generation !== view.probeGeneration) return; // the page changed
      const probes = {};
      for (const answer of answers) Object.assign(probes, answer);
      view.probes = probes;
      for (const id of ids) {
        const service = view.services[id];
        for (const endpoint of (service && service.endpoints) || []) {
          const cells = view.rows.get(key(id, endpoint.url));
          if (cells) fillProbeCells(cells, (probes[id] || {})[endpoint.url]);
        }
      }
    } catch (err) {
      // The watch loop reports the connection state.
    }
  }

  // -- transitions ---------------------------------------------------------

  async function refreshTransitions() {
    if (view.probing === false) {
      $('timeline-note').textContent = 'health checks are off';
      $('timeline').replaceChildren(el('p', 'note off',
          'This instance does not probe its endpoints ' +
          '(health_check.enabled is false): their states are the ones ' +
          'the backend declares, and there are no checks to chart and no ' +
          'transitions to show.'));
      $('transitions').replaceChildren();
      return;
    }
    try {
      const since = view.lastSequence;
      const res = await fetch('/v1/transitions?since=' + since,
                              {cache: 'no-store'});
      if (!res.ok) return;
      const body = await res.json();
      // Another answer was applied meanwhile: this one is stale.
      if (since !== view.lastSequence) return;
      view.capacity = Number(body.capacity) || view.capacity;
      const fresh = Array.isArray(body.transitions) ? body.transitions : [];
      if (fresh.length > 0) {
        // A restarted server counts from 1 again: start over.
        if (Number(fresh[0].seq) <= since) view.transitions = [];
        view.transitions.push(...fresh);
        view.transitions.splice(0, view.transitions.length - view.capacity);
        view.lastSequence = Number(fresh[fresh.length - 1].seq);
      }
      renderTimeline();
    } catch (err) {
      // The watch loop reports the connection state.
    }
  }

  function renderTimeline() {
    const now = Date.now();
    const all = view.transitions;
    const oldest = all.length ? Number(all[0].at_ms) : now;
    const span = TIMELINE_SPANS.find((ms) => now - ms <= oldest) ||
                 TIMELINE_SPANS[TIMELINE_SPANS.length - 1];
    const minutes = span / 60000;
    const start = now - span;
    const recent = all.filter((t) => Number(t.at_ms) >= start);
    $('timeline-note').textContent = all.length === 0
        ? 'none yet'
        : number(recent.length) + ' in the last ' + minutes + ' min' +
          (all.length >= view.capacity ? ' (the last ' +
                                         number(view.capacity) + ' kept)'
                                       : '');

    // Drawn at the box's own width, so that text is never stretched.
    const width = Math.max(320, $('timeline').clientWidth || 640);
    const rate = 26;
    const lane = 16;
    // Endpoints by number of transitions in the window: flaps first.
    const byEndpoint = new Map();
    for (const t of all) {
      const k = key(t.service, t.url);
      if (!byEndpoint.has(k)) byEndpoint.set(k, []);
      byEndpoint.get(k).push(t);
    }
    const lanes = [...byEndpoint.entries()]
        .map(([k, list]) => ({k, list,
                              count: list.filter((t) => t.at_ms >= start)
                                         .length}))
        .filter((x) => x.count > 0)
        .sort((a, b) => b.count - a.count ||
                        b.list[b.list.length - 1].seq -
                        a.list[a.list.length - 1].seq)
        .slice(0, LANES);
    const height = rate + 6 + lanes.length * (lane * 2 + 2) + 14;
    const chart = svg('svg', {
      width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img',
    }, 'timeline');
    const x = (ms) => width * (ms - start) / span;

    // Transitions per 1/60 of the window, by the state they went to.
    const buckets = 60;
    const counts = Array.from({length: buckets},
                              () => ({Healthy: 0, Unhealthy: 0, Unknown: 0}));
    for (const t of recent) {
      const b = Math.min(buckets - 1,
                         Math.floor((t.at_ms - start) * buckets / span));
      const to = knownState(t.to, ENDPOINT_STATES);
      ++counts[b][to];
    }
    const peak = Math.max(1, ...counts.map((c) =>
      c.Healthy + c.Unhealthy + c.Unknown));
    const step = width / buckets;
    counts.forEach((c, b) => {
      let y = rate;
      for (const state of ['Unhealthy', 'Unknown', 'Healthy']) {
        if (c[state] === 0) continue;
        const h = Math.max(1.5, (rate - 2) * c[state] / peak);
        y -= h;
        const rect = svg('rect', {x: b * step + 0.5, y,
                                  width: Math.max(1, step - 1), height: h},
                         'rate ' + state);
        const title = svg('title');
        title.textContent = c[state] + ' → ' + state + ' at ' +
            clock(start + (b + 0.5) * span / buckets);
        rect.append(title);
        chart.append(rect);
      }
    });
    chart.append(svg('line', {x1: 0, y1: rate + 0.5, x2: width,
                              y2: rate + 0.5}, 'baseline'));

    // One lane per flapping endpoint: its state over the window.
    lanes.forEach((item, i) => {
      const top = rate + 6 + i * (lane * 2 + 2);
      const first = item.list[0];
      const name = svg('text', {x: 2, y: top + 11}, 'lane-label');
      name.textContent = first.service + '  ' + first.url + '  ·  ' +
          item.count + ' transitions';
      chart.append(name);
      // Nothing is drawn before the endpoint's first kept transition: of
      // that time the log says nothing.
      let state = knownState(first.from, ENDPOINT_STATES);
      let from = Math.max(start, first.at_ms);
      const segments = [];
      for (const t of item.list) {
        if (t.at_ms > start) segments.push([from, t.at_ms, state]);
        from = Math.max(start, t.at_ms);
        state = knownState(t.to, ENDPOINT_STATES);
      }
      segments.push([from, now, state]);
      for (const [a, b, s] of segments) {
        if (b <= a) continue;
        const rect = svg('rect', {x: x(a), y: top + lane,
                                  width: Math.max(1, x(b) - x(a)),
                                  height: lane - 4}, 'lane ' + s);
        const title = svg('title');
        title.textContent = s + ' from ' + clock(a) + ' to ' + clock(b);
        rect.append(title);
        chart.append(rect);
      }
    });
    const axis = height - 3;
    for (let tick = 0; tick <= 5; ++tick) {
      const ago = span * (5 - tick) / 5;
      const text = svg('text', {x: x(now - ago), y: axis,
                                'text-anchor': tick === 0 ? 'start'
                                               : tick === 5 ? 'end'
                                                            : 'middle'},
                       'axis');
      const seconds = Math.round(ago / 1000);
      text.textContent = seconds === 0 ? 'now'
          : seconds < 120 ? '−' + seconds + ' s'
                          : '−' + Math.round(seconds / 60) + ' min';
      chart.append(text);
    }
    chart.setAttribute('aria-label', $('timeline-note').textContent);
    $('timeline').replaceChildren(chart);

    // The latest ones as text, newest first.
    const list = [];
    for (const t of all.slice(-8).reverse()) {
      const item = el('li', 'transition');
      item.dataset.seq = String(t.seq);
      item.append(el('span', 'when mono', clock(t.at_ms)),
                  badge(t.from, ENDPOINT_STATES),
                  el('span', 'arrow', '→'),
                  badge(t.to, ENDPOINT_STATES),
                  el('span', 'who', t.service),
                  el('span', 'url mono', t.url),
                  el('span', 'why muted', t.reason));
      list.push(item);
    }
    $('transitions').replaceChildren(...list);
  }

  // -- header --------------------------------------------------------------

  function setConnection(state, detail) {
    const conn = $('conn');
    conn.className = 'pill ' + state;
    conn.textContent = state === 'live' ? 'live'
        : state === 'down' ? 'disconnected, retrying' : 'connecting';
    conn.title = detail || '';
  }

  async function refreshMetrics() {
    try {
      const res = await fetch('/v1/metrics', {cache: 'no-store'});
      if (!res.ok) return;
      const probes = (await res.json()).probes || {};
      const before = view.probing;
      view.probing = Boolean(probes.enabled);
      if (!view.probing) {
        $('probes').textContent = 'health checks off';
      } else {
        const failed = Object.entries(probes.attempts_failed || {})
            .filter(([, count]) => count > 0)
            .map(([reason, count]) => reason + ' ' + number(count))
            .join(', ');
        $('probes').textContent = 'probe attempts: ' +
            number(probes.attempts_passed || 0) + ' passed' +
            (failed ? '; failed: ' + failed : '');
      }
      if (before !== view.probing && view.known) renderPage();
    } catch (err) {
      // The watch loop reports the connection state.
    }
  }

  // One refresh at a time: on a slow server a refresh can outlast the
  // period, and two overlapping ones would apply the same transitions twice.
  let refreshing = false;
  async function refreshSlow() {
    if (refreshing) return;
    refreshing = true;
    try {
      await refreshMetrics();
      await refreshTransitions();
    } finally {
      refreshing = false;
    }
  }

  // -- live registry -------------------------------------------------------

  // A watch answer: the whole registry ("services"), or the changes from
  // the version this page holds ("changed", "removed"; ?changes=1).
  function apply(body, version) {
    let counts;
    if (body.changed && typeof body.changed === 'object') {
      const ids = Object.keys(body.changed)
          .concat(Array.isArray(body.removed) ? body.removed : []);
      const before = {};
      for (const id of ids) before[id] = view.services[id];
      for (const id of ids) delete view.services[id];
      Object.assign(view.services, body.changed);
      counts = index(view.services, before, ids);
    } else {
      const services = body.services && typeof body.services === 'object'
          ? body.services : {};
      counts = index(services, view.services, null);
      view.services = services;
    }
    filter();
    view.known = true;
    view.version = version;
    $('version').textContent = version;
    $('stale').hidden = !body.stale;
    $('updated').textContent = 'updated ' + clock(Date.now());
    renderSummary(counts);
    renderPage();
    view.changed = new Set(); // flash once, not again on a page change
    performance.mark('orasi-applied');
    buildTexts(view.entries, 0);
  }

  // Blocking watch: answers at once when the registry is past `index`,
  // else after the wait. The index is kept as the header's decimal string
  // (versions are 64-bit).
  async function watch() {
    let index = '0';
    let delay = 500;
    let first = true;
    for (;;) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 45000);
      const asked = Date.now();
      try {
        const res = await fetch('/v1/watch?index=' + index +
                                '&wait=30s&changes=1',
                                {cache: 'no-store', signal: abort.signal});
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const body = await res.json();
        index = res.headers.get('X-Orasi-Index') || String(body.version);
        setConnection('live');
        delay = 500;
        apply(body, index);
        if (first) {
          first = false;
          performance.mark('orasi-first-screen');
        }
      } catch (err) {
        setConnection('down', String(err && err.message || err));
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
        continue;
      } finally {
        clearTimeout(timer);
      }
      // A busy registry publishes often: coalesce its versions rather than
      // re-indexing the whole fleet many times a second.
      const spent = Date.now() - asked;
      if (spent < WATCH_GAP_MS) await sleep(WATCH_GAP_MS - spent);
    }
  }

  function goTo(page) {
    view.page = Math.max(0, Math.min(page, pageCount() - 1));
    renderPage();
    $('services').scrollIntoView({block: 'nearest'});
  }

  $('filter-name').addEventListener('input', (event) => {
    view.query = event.target.value.toLowerCase().split(/\s+/)
        .filter(Boolean);
    refilter();
  });
  $('filter-state').addEventListener('change', (event) => {
    setStateFilter(event.target.value);
  });
  $('page-size').addEventListener('change', (event) => {
    const first = view.page * view.pageSize;
    view.pageSize = Number(event.target.value) || 50;
    goTo(Math.floor(first / view.pageSize));
  });
  $('page-first').addEventListener('click', () => goTo(0));
  $('page-prev').addEventListener('click', () => goTo(view.page - 1));
  $('page-next').addEventListener('click', () => goTo(view.page + 1));
  $('page-last').addEventListener('click', () => goTo(pageCount() - 1));
  // The timeline's "now" moves even without transitions.
  setInterval(refreshSlow, REFRESH_MS);
  window.addEventListener('resize', renderTimeline);
  refreshSlow();
  watch();
})();
