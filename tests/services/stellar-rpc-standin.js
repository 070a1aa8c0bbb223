#!/usr/bin/env node
'use strict';
// Local stand-in for a Stellar RPC node: JSON-RPC 2.0 over HTTP, no dependencies.
//
//   node stellar-rpc-standin.js --port 0 [--host 127.0.0.1]
//
// Binds to a loopback address only and prints exactly one line
// "LISTENING <port>" to stdout when ready (diagnostics go to stderr).
//
// JSON-RPC (POST /): getHealth, getLatestLedger, getLedgerEntries; batches allowed.
//   unknown method -> -32601, malformed JSON -> -32700, bad request -> -32600,
//   bad params -> -32602.
// Control API:
//   POST /__control {"mode":"up"|"down"|"slow", "delayMs"?: n}
//        down: JSON-RPC requests get HTTP 503; slow: answered after delayMs (default 3000)
//   GET  /__control      -> {"mode": ..., "delayMs": ...}
//   GET  /__requests     -> JSON array of the JSON-RPC method names received (oldest first)
//   DELETE /__requests   -> clears that list
// SIGTERM/SIGINT: close and exit 0.

const http = require('node:http');
const crypto = require('node:crypto');

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const MAX_BODY = 1024 * 1024;
const MAX_RECORDED = 10000;
const PROTOCOL_VERSION = 22;
const RETENTION_WINDOW = 17280;
const BASE_LEDGER = 1000000;
const LEDGER_CLOSE_MS = 5000;

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--host') opts.host = next();
    else if (a.startsWith('--host=')) opts.host = a.slice(7);
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port must be 0..65535');
  if (!LOOPBACK.has(opts.host)) usage('--host must be a loopback address (127.0.0.1, localhost or ::1)');
  if (opts.host === 'localhost') opts.host = '127.0.0.1';
  return opts;
}

function usage(err) {
  if (err) process.stderr.write(`stellar-rpc-standin: ${err}\n`);
  process.stderr.write('usage: node stellar-rpc-standin.js --port <n|0> [--host 127.0.0.1]\n');
  process.exit(err ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const startedAt = Date.now();
const state = { mode: 'up', delayMs: 3000 };
const received = [];
const pendingTimers = new Set();

function latestLedger() {
  return BASE_LEDGER + Math.floor((Date.now() - startedAt) / LEDGER_CLOSE_MS);
}

function ledgerHash(seq) {
  return crypto.createHash('sha256').update(`ledger-${seq}`).digest('hex');
}

const methods = {
  getHealth() {
    const latest = latestLedger();
    return {
      status: 'healthy',
      latestLedger: latest,
      oldestLedger: Math.max(1, latest - RETENTION_WINDOW + 1),
      ledgerRetentionWindow: RETENTION_WINDOW,
    };
  },
  getLatestLedger() {
    const seq = latestLedger();
    return { id: ledgerHash(seq), protocolVersion: PROTOCOL_VERSION, sequence: seq };
  },
  getLedgerEntries(params) {
    const keys = params && !Array.isArray(params) ? params.keys : Array.isArray(params) ? params[0] : undefined;
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > 200 || !keys.every((k) => typeof k === 'string' && k.length > 0)) {
      throw rpcError(-32602, 'invalid params: "keys" must be a non-empty array of base64 XDR ledger keys');
    }
    const latest = latestLedger();
    const entries = keys.map((key) => ({
      key,
      // Deterministic opaque payload (not a real LedgerEntryData XDR).
      xdr: crypto.createHash('sha256').update(`entry-${key}`).digest('base64'),
      lastModifiedLedgerSeq: BASE_LEDGER - 100,
      liveUntilLedgerSeq: latest + 500000,
    }));
    return { entries, latestLedger: latest };
  },
};

function rpcError(code, message) {
  const e = new Error(message);
  e.rpcCode = code;
  return e;
}

function record(method) {
  received.push(typeof method === 'string' ? method : '<invalid>');
  if (received.length > MAX_RECORDED) received.splice(0, received.length - MAX_RECORDED);
}

function handleOne(req) {
  const hasId = req && typeof req === 'object' && !Array.isArray(req) && Object.prototype.hasOwnProperty.call(req, 'id');
  const id = hasId ? req.id : null;
  if (!req || typeof req !== 'object' || Array.isArray(req) || req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
    record(req && typeof req === 'object' ? req.method : undefined);
    return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid Request' } };
  }
  record(req.method);
  const fn = Object.prototype.hasOwnProperty.call(methods, req.method) ? methods[req.method] : null;
  let response;
  if (!fn) {
    response = { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
  } else {
    try {
      response = { jsonrpc: '2.0', id, result: fn(req.params) };
    } catch (err) {
      response = { jsonrpc: '2.0', id, error: { code: err.rpcCode || -32603, message: err.message || 'Internal error' } };
    }
  }
  return hasId ? response : null; // notifications get no response
}

function sendJson(res, status, body, extraHeaders) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...extraHeaders });
  res.end(data);
}

function readBody(req, cb) {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) tooLarge = true;
    else chunks.push(c);
  });
  req.on('end', () => cb(tooLarge ? null : Buffer.concat(chunks).toString('utf8'), tooLarge));
  req.on('error', () => undefined);
}

function later(ms, fn) {
  const t = setTimeout(() => {
    pendingTimers.delete(t);
    fn();
  }, ms);
  pendingTimers.add(t);
}

function handleRpc(req, res) {
  readBody(req, (text, tooLarge) => {
    if (tooLarge) return sendJson(res, 413, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Request too large' } });
    let parsed;
    let parseFailed = false;
    try {
      parsed = JSON.parse(text);
    } catch {
      parseFailed = true;
    }
    const mode = state.mode;
    let reply;
    if (parseFailed) {
      record('<parse-error>');
      reply = () => sendJson(res, 200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    } else if (Array.isArray(parsed)) {
      if (parsed.length === 0) {
        reply = () => sendJson(res, 200, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
      } else {
        const out = parsed.map(handleOne).filter((r) => r !== null);
        reply = () => (out.length ? sendJson(res, 200, out) : sendJson(res, 204));
      }
    } else {
      const out = handleOne(parsed);
      reply = () => (out ? sendJson(res, 200, out) : sendJson(res, 204));
    }
    if (mode === 'down') {
      return sendJson(res, 503, { error: 'service unavailable (stand-in mode "down")' });
    }
    if (mode === 'slow') return later(state.delayMs, () => { if (!res.destroyed) reply(); });
    return reply();
  });
}

function handleControl(req, res) {
  if (req.method === 'GET') return sendJson(res, 200, { mode: state.mode, delayMs: state.delayMs });
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, POST' });
  readBody(req, (text) => {
    let body;
    try {
      body = JSON.parse(text || '{}');
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    if (!body || !['up', 'down', 'slow'].includes(body.mode)) {
      return sendJson(res, 400, { error: 'mode must be "up", "down" or "slow"' });
    }
    if (body.delayMs !== undefined) {
      if (!Number.isInteger(body.delayMs) || body.delayMs < 0 || body.delayMs > 60000) {
        return sendJson(res, 400, { error: 'delayMs must be an integer 0..60000' });
      }
      state.delayMs = body.delayMs;
    } else if (body.mode === 'slow') {
      state.delayMs = 3000;
    }
    state.mode = body.mode;
    process.stderr.write(`stellar-rpc-standin: mode=${state.mode} delayMs=${state.delayMs}\n`);
    return sendJson(res, 200, { mode: state.mode, delayMs: state.delayMs });
  });
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/__control') return handleControl(req, res);
  if (path === '/__requests') {
    if (req.method === 'GET') return sendJson(res, 200, received);
    if (req.method === 'DELETE') {
      received.length = 0;
      return sendJson(res, 200, []);
    }
    return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, DELETE' });
  }
  if (path === '/' && req.method === 'POST') return handleRpc(req, res);
  req.resume();
  return sendJson(res, 404, { error: 'not found: JSON-RPC is served by POST /' });
});
server.keepAliveTimeout = 5000;

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`stellar-rpc-standin: ${signal}, exiting\n`);
  for (const t of pendingTimers) clearTimeout(t);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

server.on('error', (err) => {
  process.stderr.write(`stellar-rpc-standin: ${err.message}\n`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
