// The soak scenario's world (scripts/soak.sh): a fleet of HTTP endpoints on
// loopback whose health flaps at random, the services that list them in etcd
// (written and churned through etcd's v3 JSON gateway), and the final check
// that the launcher's registry equals what etcd holds and what the fleet
// answers. Control on 127.0.0.1:<control port>:
//   POST /freeze  stop flapping and churning (the world holds still)
//   GET  /check   compare the launcher with etcd and the fleet (JSON)
//   GET  /stats   counters of flaps and writes
'use strict';
const http = require('http');

const env = (name, fallback) => process.env[name] ?? fallback;
const etcdUrl = env('SOAK_ETCD', 'http://127.0.0.1:2379');
const adminUrl = env('SOAK_ADMIN', 'http://127.0.0.1:9650');
const prefix = env('SOAK_PREFIX', '/soak');
const basePort = Number(env('SOAK_FLEET_PORT', '20000'));
const endpointCount = Number(env('SOAK_ENDPOINTS', '2000'));
const perService = Number(env('SOAK_ENDPOINTS_PER_SERVICE', '10'));
const controlPort = Number(env('SOAK_CONTROL_PORT', '19999'));
const flapsPerSecond = Number(env('SOAK_FLAPS_PER_SECOND', '20'));
const churnEveryMs = Number(env('SOAK_CHURN_MS', '2000'));

// ok: 200; fail: 503; hang: never answers (the probe times out);
// reset: the connection is destroyed; garbage: not HTTP at all.
const modes = ['ok', 'ok', 'ok', 'fail', 'hang', 'reset', 'garbage'];
const mode = new Array(endpointCount).fill('ok');
const stats = { flaps: 0, puts: 0, deletes: 0, write_failures: 0, requests: 0 };
let frozen = false;

const pick = (list) => list[Math.floor(Math.random() * list.length)];

function serveEndpoint(index) {
  const server = http.createServer((req, res) => {
    stats.requests++;
    switch (mode[index]) {
      case 'ok': res.writeHead(200).end('ok'); break;
      case 'fail': res.writeHead(503).end('down'); break;
      case 'hang': break; // held until the prober gives up
      case 'reset': req.socket.destroy(); break;
      case 'garbage': req.socket.end('\x00\xffNOT HTTP\r\n\r\n'); break;
    }
  });
  server.keepAliveTimeout = 60000;
  server.listen(basePort + index, '127.0.0.1');
  return server;
}

// --- etcd through its JSON gateway -----------------------------------------
const b64 = (text) => Buffer.from(text).toString('base64');
const unb64 = (text) => Buffer.from(text, 'base64').toString();

async function etcd(path, body) {
  const res = await fetch(etcdUrl + path, {
    method: 'POST', body: JSON.stringify(body),
    signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}`);
  return res.json();
}

const serviceCount = Math.floor(endpointCount / perService);
const serviceId = (i) => `soak-${String(i).padStart(4, '0')}`;
const generation = new Array(serviceCount).fill(0);

function serviceInfo(i) {
  const endpoints = [];
  for (let k = 0; k < perService; k++)
    endpoints.push({
      url: `http://127.0.0.1:${basePort + i * perService + k}`,
      weight: 1 + (k % 3), health_status: 'Unknown', metadata: { slot: String(k) },
    });
  return { name: `soak-service-${i}`, endpoints, health_status: 'Unknown',
           metadata: { generation: String(generation[i]) } };
}

const put = (i) => etcd('/v3/kv/put', {
  key: b64(`${prefix}/services/${serviceId(i)}`),
  value: b64(JSON.stringify(serviceInfo(i))),
}).then(() => stats.puts++);
const remove = (i) => etcd('/v3/kv/deleterange', {
  key: b64(`${prefix}/services/${serviceId(i)}`),
}).then(() => stats.deletes++);

async function seed() {
  for (;;) {
    try {
      for (let i = 0; i < serviceCount; i++) await put(i);
      return;
    } catch (err) {
      await new Promise((r) => setTimeout(r, 500)); // etcd still starting
    }
  }
}

async function etcdServices() {
  const start = `${prefix}/services/`;
  const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1);
  const answer = await etcd('/v3/kv/range', { key: b64(start), range_end: b64(end) });
  const services = {};
  for (const kv of answer.kvs ?? [])
    services[unb64(kv.key).slice(start.length)] = JSON.parse(unb64(kv.value));
  return services;
}

// --- the world moving --------------------------------------------------------
function flap() {
  if (frozen) return;
  for (let n = 0; n < flapsPerSecond; n++) {
    mode[Math.floor(Math.random() * endpointCount)] = pick(modes);
    stats.flaps++;
  }
}

// One change per tick: a service updated (new metadata generation), removed,
// or brought back. A write that fails (etcd restarting) is simply lost; the
// final check compares against what etcd holds, not against intentions.
async function churn() {
  if (frozen) return;
  const i = Math.floor(Math.random() * serviceCount);
  try {
    if (Math.random() < 0.3) return await remove(i);
    generation[i]++;
    await put(i);
  } catch (err) {
    stats.write_failures++;
  }
}

// --- the final check -----------------------------------------------------------
const withoutHealth = (info) => ({
  name: info.name, metadata: info.metadata ?? {},
  endpoints: info.endpoints.map((e) => ({ url: e.url, weight: e.weight ?? 1,
                                          metadata: e.metadata ?? {} })),
});

async function check() {
  const [inEtcd, inRegistry] = await Promise.all([
    etcdServices(),
    fetch(adminUrl + '/v1/services').then((r) => r.json()),
  ]);
  const ids = new Set([...Object.keys(inEtcd), ...Object.keys(inRegistry)]);
  const differing = [];
  let endpoints = 0, wrongHealth = [];
  for (const id of ids) {
    const a = inEtcd[id], b = inRegistry[id];
    if (!a || !b || JSON.stringify(withoutHealth(a)) !== JSON.stringify(withoutHealth(b))) {
      differing.push(id);
      continue;
    }
    for (const endpoint of b.endpoints) {
      endpoints++;
      const index = Number(new URL(endpoint.url).port) - basePort;
      const expected = mode[index] === 'ok' ? 'Healthy' : 'Unhealthy';
      if (endpoint.health_status !== expected)
        wrongHealth.push(`${id} ${endpoint.url}: ${endpoint.health_status}, expected ${expected} (${mode[index]})`);
    }
  }
  return {
    equal: differing.length === 0 && wrongHealth.length === 0,
    services_in_etcd: Object.keys(inEtcd).length,
    services_in_registry: Object.keys(inRegistry).length,
    differing_services: differing.slice(0, 10), endpoints_compared: endpoints,
    endpoints_with_wrong_health: wrongHealth.length, examples: wrongHealth.slice(0, 5),
  };
}

function control(req, res) {
  const reply = (status, body) => res.writeHead(status, { 'Content-Type': 'application/json' })
    .end(JSON.stringify(body) + '\n');
  if (req.method === 'POST' && req.url === '/freeze') {
    frozen = true;
    return reply(200, { frozen });
  }
  if (req.url === '/stats') return reply(200, { ...stats, frozen });
  if (req.url === '/check')
    return check().then((r) => reply(200, r), (err) => reply(503, { error: String(err) }));
  reply(404, { error: 'not found' });
}

async function main() {
  for (let i = 0; i < endpointCount; i++) {
    serveEndpoint(i);
    if (Math.random() < 0.3) mode[i] = pick(modes);
  }
  await seed();
  setInterval(flap, 1000);
  setInterval(churn, churnEveryMs);
  http.createServer(control).listen(controlPort, '127.0.0.1', () =>
    console.log(`soak driver ready: ${serviceCount} services, ${endpointCount} endpoints`));
}

main();
