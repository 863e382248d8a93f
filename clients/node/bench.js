#!/usr/bin/env node
'use strict';
// Latency of the same calls from Node over gRPC straight to the service and over REST through
// the Envoy gateway, interleaved in one run so machine noise hits every path alike: a chat
// completion (max_tokens 1, temperature 0), a vector store search, and a model lookup (almost no
// work: the transport's own cost). REST goes twice, with fetch and with node:http on a
// keep-alive agent, because fetch (undici) costs about a millisecond per call of its own that is
// not the gateway's. Prints one JSON object of per-call milliseconds; bench/polyglot_node.py
// starts the stack and reports on it.
// Usage: node bench.js --inference HOST:PORT --vector-io HOST:PORT --gateway URL
//          --chat-model NAME --embedding-model NAME [--iterations 200] [--warmup 10]

const http = require('node:http');
const { parseArgs } = require('node:util');
const { performance } = require('node:perf_hooks');
const sm = require('./stackmesh');

const DOCUMENT = 'Sea otters hold hands while they sleep so that the current does not carry them apart.\n';
const QUERY = 'Why do sea otters hold hands?';
const MAX_NUM_RESULTS = 3;

async function viaFetch(method, url, body) {
  const init = body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(url, init);
  // The body is read on failure too: it says why, and reading it frees the connection.
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${url}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function viaHttp(method, url, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent, headers }, (response) => {
      const parts = [];
      response.on('data', (part) => parts.push(part));
      response.on('end', () => {
        const text = Buffer.concat(parts).toString();
        if (response.statusCode >= 300) reject(new Error(`${method} ${url}: HTTP ${response.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    request.on('error', reject);
    request.end(payload);
  });
}

async function millis(call) {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      inference: { type: 'string' },
      'vector-io': { type: 'string' },
      gateway: { type: 'string' },
      'chat-model': { type: 'string' },
      'embedding-model': { type: 'string' },
      iterations: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '10' },
    },
  });
  const missing = ['inference', 'vector-io', 'gateway', 'chat-model', 'embedding-model'].filter((name) => !args[name]);
  if (missing.length) throw new Error(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
  const iterations = Number(args.iterations);
  const warmup = Number(args.warmup);

  const clients = sm.connect({ inference: args.inference, vectorIo: args['vector-io'] });
  try {
    const file = await sm.uploadFile(clients.files, { filename: 'bench-note.txt', purpose: 'assistants', contentType: 'text/plain', content: Buffer.from(DOCUMENT) });
    const store = await sm.unary(clients.vectorStores, 'CreateVectorStore', { name: 'node-bench', file_ids: [file.id], embedding_model: args['embedding-model'] });
    await sm.waitIngested(clients.vectorStores, store.id, file.id);

    const chat = { model: args['chat-model'], messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0 };
    const grpcChat = { ...chat, messages: chat.messages.map((message) => ({ ...message, content: sm.toValue(message.content) })) };
    const search = { query: QUERY, max_num_results: MAX_NUM_RESULTS };
    const rest = {
      chat: ['POST', `${args.gateway}/v1/chat/completions`, chat],
      search: ['POST', `${args.gateway}/v1/vector_stores/${store.id}/search`, search],
      model: ['GET', `${args.gateway}/v1/models/${args['chat-model']}`, undefined],
    };
    const grpcCalls = {
      chat: () => sm.unary(clients.inference, 'CreateChatCompletion', grpcChat, 60_000),
      search: () => sm.unary(clients.vectorStores, 'SearchVectorStore', { vector_store_id: store.id, ...search, query: sm.toValue(QUERY) }),
      model: () => sm.unary(clients.models, 'GetModel', { model: args['chat-model'] }),
    };
    const transports = ['grpc', 'fetch', 'http'];
    const samples = {};
    for (const name of Object.keys(rest)) samples[name] = Object.fromEntries(transports.map((transport) => [transport, []]));
    const call = (name, transport) =>
      transport === 'grpc' ? grpcCalls[name]() : transport === 'fetch' ? viaFetch(...rest[name]) : viaHttp(...rest[name]);

    for (let i = 0; i < warmup + iterations; i += 1) {
      // The order rotates, so no transport always runs first on a just-warmed path.
      const order = transports.map((_, k) => transports[(i + k) % transports.length]);
      for (const name of Object.keys(rest)) {
        for (const transport of order) {
          const ms = await millis(() => call(name, transport));
          if (i >= warmup) samples[name][transport].push(ms);
        }
      }
    }
    await sm.unary(clients.vectorStores, 'DeleteVectorStore', { vector_store_id: store.id });
    await sm.unary(clients.files, 'DeleteFile', { file_id: file.id });
    process.stdout.write(`${JSON.stringify(samples)}\n`);
  } finally {
    sm.close(clients);
    agent.destroy();
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.details || error.message}\n`);
  process.exit(1);
});
