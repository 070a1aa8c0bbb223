#!/usr/bin/env node
'use strict';
// A TCP relay for containers on Docker's bridge network: they cannot reach the host's 127.0.0.1, where the test
// PostgreSQL and the Stellar RPC stand-in listen, so this listens on the bridge's gateway address and forwards each
// connection to 127.0.0.1:<target>. No dependencies.
//
//   node tcp-relay.js --listen 172.17.0.1 --target 15432 [--target 18000 ...]
//
// One listener per --target, each on a port the OS picks; prints "RELAY <target> <listen port>" per target, then
// "READY". Only addresses of private networks are accepted for --listen. SIGTERM/SIGINT: close and exit 0.

const net = require('node:net');

const args = process.argv.slice(2);
let listen = null;
const targets = [];
for (let i = 0; i < args.length; i += 2) {
  if (args[i] === '--listen') listen = args[i + 1];
  else if (args[i] === '--target') targets.push(Number.parseInt(args[i + 1], 10));
  else {
    console.error(`unknown argument ${args[i]}`);
    process.exit(2);
  }
}

if (!listen || !/^(10|172\.(1[6-9]|2\d|3[01])|192\.168)\./.test(listen) || targets.length === 0 || targets.some((t) => !(t > 0 && t < 65536))) {
  console.error('usage: tcp-relay.js --listen <private address> --target <port> [--target <port> ...]');
  process.exit(2);
}

const servers = [];
let ready = 0;
for (const target of targets) {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  server.on('error', (err) => {
    console.error(`relay for ${target}: ${err.message}`);
    process.exit(1);
  });
  server.listen(0, listen, () => {
    console.log(`RELAY ${target} ${server.address().port}`);
    if (++ready === targets.length) console.log('READY');
  });
  servers.push(server);
}

function stop() {
  for (const server of servers) server.close();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
