// A small HTTP server on 127.0.0.1 for the artifact download tests (and a /health a target can probe).
// Usage: node http-file-server.js <port> <directory> <requestLog>
//   GET /health                  200 {"status":"healthy"}
//   GET /files/<name>            the file, with Content-Length
//   GET /chunked/<name>          the file, chunked (no Content-Length: the size is only known while it arrives)
//   GET /redirect/<n>/<path>     302 to /redirect/<n-1>/<path>, and at 0 to /<path>
//   GET /loop                    302 to /loop, for ever
//   GET /to-file                 302 to file:///etc/passwd (a client must not follow it)
//   GET /stall/<name>            headers and the first 64 KB of the file, then nothing more (never ends)
//   anything else                404
// Every request is appended to <requestLog> as a JSON line (method, url, user agent, remote port), with the
// query string reduced to its names, so a value planted there is not written anywhere.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const [port, root, requestLog] = process.argv.slice(2);

function fileOf(name) {
  const file = path.join(root, path.basename(decodeURIComponent(name)));
  return fs.existsSync(file) && fs.statSync(file).isFile() ? file : null;
}

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const logged = url.pathname + (url.search ? '?' + [...url.searchParams.keys()].join('&') : '');
  fs.appendFileSync(requestLog, JSON.stringify({
    method: req.method, url: logged, userAgent: req.headers['user-agent'] || '', remotePort: req.socket.remotePort,
  }) + '\n');
  const parts = url.pathname.split('/').filter(Boolean);
  if (url.pathname === '/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"status":"healthy"}');
  } else if (parts[0] === 'files' && parts.length === 2 && fileOf(parts[1])) {
    const file = fileOf(parts[1]);
    res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  } else if (parts[0] === 'chunked' && parts.length === 2 && fileOf(parts[1])) {
    res.writeHead(200, { 'Content-Type': 'application/gzip' });
    fs.createReadStream(fileOf(parts[1])).pipe(res);
  } else if (parts[0] === 'redirect' && parts.length >= 3 && /^\d+$/.test(parts[1])) {
    const n = Number(parts[1]);
    const rest = parts.slice(2).join('/');
    res.writeHead(302, { Location: n > 0 ? `/redirect/${n - 1}/${rest}` : `/${rest}` });
    res.end();
  } else if (url.pathname === '/loop') {
    res.writeHead(302, { Location: '/loop' });
    res.end();
  } else if (url.pathname === '/to-file') {
    res.writeHead(302, { Location: 'file:///etc/passwd' });
    res.end();
  } else if (parts[0] === 'stall' && parts.length === 2 && fileOf(parts[1])) {
    const file = fileOf(parts[1]);
    res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': fs.statSync(file).size });
    const head = Buffer.alloc(65536);
    const fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    res.write(head.subarray(0, n));
    // ... and nothing more: the client's timeout has to end it.
  } else {
    notFound(res);
  }
});

server.listen(Number(port), '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
