// A health-check target the browser test controls: GET /health answers 200
// until GET /control/fail, then 503 (GET /control/recover: 200 again).
// Listens on a free loopback port and writes it to the file in argv[2].
'use strict';
const fs = require('fs');
const http = require('http');

let failing = false;
const server = http.createServer((req, res) => {
  if (req.url === '/control/fail' || req.url === '/control/recover') {
    failing = req.url === '/control/fail';
    res.writeHead(200, {'Content-Type': 'text/plain'});
    res.end(failing ? 'failing\n' : 'healthy\n');
  } else if (req.url === '/health') {
    res.writeHead(failing ? 503 : 200, {'Content-Type': 'text/plain'});
    res.end(failing ? 'down\n' : 'ok\n');
  } else {
    res.writeHead(404, {'Content-Type': 'text/plain'});
    res.end('not found\n');
  }
});
server.listen(0, '127.0.0.1', () => {
  const file = process.argv[2];
  fs.writeFileSync(file + '.tmp', String(server.address().port));
  fs.renameSync(file + '.tmp', file);
});
process.on('SIGTERM', () => process.exit(0));
