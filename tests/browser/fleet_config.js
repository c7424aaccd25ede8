// Writes a launcher config with a fleet of static services, health checks
// off (the states are the ones declared here), admin API on a free port:
//   node fleet_config.js FILE [SERVICES]
// Service i is "svc-NNNNN" with 3 endpoints; every address is loopback
// (127.x.y.z) and nothing is ever contacted. States by i % 100: 0-1 every
// endpoint Unhealthy, 2-6 one Unhealthy (service Degraded), 7 all Unknown,
// the rest Healthy. A few services carry values the browser test searches
// for (see `markers` below).
'use strict';
const fs = require('fs');

const file = process.argv[2];
const count = Number(process.argv[3] || 10000);
const teams = ['checkout', 'payments', 'search', 'catalog', 'auth', 'billing',
               'inventory', 'shipping', 'ledger', 'profile'];
const kinds = ['api', 'worker', 'cache', 'gateway', 'indexer'];
const zones = ['a', 'b', 'c'];

// Unique values, each on exactly one service, for the search test.
const markers = {
  name: {index: 7311, name: 'orders-ledger-reconciler'},
  metadata: {index: 4242, key: 'build', value: 'rc-7f3a9'},
};

function address(i, e) {
  const n = i * 3 + e + 1; // distinct per endpoint, inside 127.0.0.0/8
  return `http://127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}:8080`;
}

function endpointStates(i) {
  const r = i % 100;
  if (r < 2) return ['Unhealthy', 'Unhealthy', 'Unhealthy'];
  if (r < 7) return ['Healthy', 'Unhealthy', 'Healthy'];
  if (r === 7) return ['Unknown', 'Unknown', 'Unknown'];
  return ['Healthy', 'Healthy', 'Healthy'];
}

const services = {};
for (let i = 0; i < count; ++i) {
  const id = 'svc-' + String(i).padStart(5, '0');
  const team = teams[i % teams.length];
  const kind = kinds[Math.floor(i / teams.length) % kinds.length];
  const name = i === markers.name.index ? markers.name.name
                                        : `${team}-${kind}`;
  const endpoints = endpointStates(i).map((state, e) => {
    const metadata = {zone: zones[e]};
    if (i === markers.metadata.index && e === 1) {
      metadata[markers.metadata.key] = markers.metadata.value;
    }
    return {url: address(i, e), weight: 1 + (e === 0 ? 1 : 0),
            health_status: state, metadata};
  });
  services[id] = {
    name,
    endpoints,
    health_status: 'Unknown', // derived by the registry
    metadata: {team, tier: i % 4 === 0 ? 'critical' : 'standard'},
  };
}

const config = {
  service_discovery: {
    backend: 'static',
    health_check: {enabled: false},
    services,
  },
  admin: {listen: '127.0.0.1:0'},
  logging: {level: 'info'}, // the run script reads the admin API's port
};
fs.writeFileSync(file, JSON.stringify(config));
