#!/usr/bin/env node
'use strict';
// One pass over the inference and vector_io contracts from Node, as a polyglot backend would
// call them; prints one JSON object of results (tests/polyglot/test_node_client.py asserts on it).
// Usage: node scenario.js --inference HOST:PORT --vector-io HOST:PORT --chat-model NAME --embedding-model NAME

const { parseArgs } = require('node:util');
const sm = require('./stackmesh');

const NOTE_FILENAME = 'node-client-note.txt';
const NOTE = 'Sea otters hold hands while they sleep so that the current does not carry them apart.\n';
const QUERY = 'Why do sea otters hold hands?';

// The step a failure belongs to, so the message says what broke and not just the gRPC status.
async function step(name, run) {
  try {
    return await run();
  } catch (error) {
    const status = error.code === undefined ? '' : ` (${sm.statusName(error.code)})`;
    throw new Error(`${name} failed${status}: ${error.details || error.message}`);
  }
}

function chatRequest(model) {
  return { model, messages: [{ role: 'user', content: sm.toValue('Say hello.') }], max_tokens: 8, temperature: 0 };
}

async function listModels(clients) {
  const response = await sm.unary(clients.models, 'ListModels', {});
  return response.data.map((model) => model.id);
}

async function chat(clients, model) {
  const response = await sm.unary(clients.inference, 'CreateChatCompletion', chatRequest(model), 120_000);
  const [choice] = response.choices;
  const { prompt_tokens, completion_tokens, total_tokens } = response.usage;
  return { content: choice.message.content, finish_reason: choice.finish_reason, usage: { prompt_tokens, completion_tokens, total_tokens } };
}

async function stream(clients, model) {
  let chunks = 0;
  let text = '';
  let finishReason = null;
  for await (const chunk of sm.serverStream(clients.inference, 'StreamChatCompletion', chatRequest(model), 120_000)) {
    chunks += 1;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      finishReason = choice.finish_reason ?? finishReason;
    }
  }
  return { chunks, text, finish_reason: finishReason };
}

async function search(clients, embeddingModel, created) {
  const file = await step('UploadFile', () =>
    sm.uploadFile(clients.files, { filename: NOTE_FILENAME, purpose: 'assistants', contentType: 'text/plain', content: Buffer.from(NOTE) }),
  );
  created.fileId = file.id;
  const store = await step('CreateVectorStore', () =>
    sm.unary(clients.vectorStores, 'CreateVectorStore', { name: 'node-client', file_ids: [file.id], embedding_model: embeddingModel }),
  );
  created.vectorStoreId = store.id;
  const ingested = await step('GetVectorStoreFile (ingestion)', () => sm.waitIngested(clients.vectorStores, store.id, file.id));
  const results = await step('SearchVectorStore', () =>
    sm.unary(clients.vectorStores, 'SearchVectorStore', { vector_store_id: store.id, query: sm.toValue(QUERY), max_num_results: 3 }),
  );
  const [top] = results.data;
  if (!top) throw new Error('SearchVectorStore returned no results');
  return {
    file_id: file.id,
    filename: NOTE_FILENAME,
    uploaded_text: NOTE,
    vector_store_id: store.id,
    file_status: ingested.status,
    top_hit: { file_id: top.file_id, filename: top.filename, score: top.score, text: top.content.map((part) => part.text).join('') },
  };
}

async function unknownModel(clients) {
  try {
    await sm.unary(clients.inference, 'CreateChatCompletion', chatRequest('no-such-model'));
  } catch (error) {
    if (error.code === undefined) throw error;
    const info = sm.errorInfo(error);
    return { code: sm.statusName(error.code), details: error.details, reason: info?.reason ?? null, domain: info?.domain ?? null, param: info?.metadata.param ?? null };
  }
  throw new Error('a chat completion with an unknown model succeeded');
}

// The store and file are deleted afterwards so a shared stack keeps nothing of this run.
async function cleanUp(clients, created) {
  if (created.vectorStoreId) await sm.unary(clients.vectorStores, 'DeleteVectorStore', { vector_store_id: created.vectorStoreId });
  if (created.fileId) await sm.unary(clients.files, 'DeleteFile', { file_id: created.fileId });
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      inference: { type: 'string' },
      'vector-io': { type: 'string' },
      'chat-model': { type: 'string' },
      'embedding-model': { type: 'string' },
    },
  });
  const missing = ['inference', 'vector-io', 'chat-model', 'embedding-model'].filter((name) => !args[name]);
  if (missing.length) throw new Error(`missing ${missing.map((name) => `--${name}`).join(', ')}`);

  const clients = sm.connect({ inference: args.inference, vectorIo: args['vector-io'] });
  const created = {};
  let result;
  try {
    result = {
      models: await step('ListModels', () => listModels(clients)),
      chat: await step('CreateChatCompletion', () => chat(clients, args['chat-model'])),
      stream: await step('StreamChatCompletion', () => stream(clients, args['chat-model'])),
      vector_store: await search(clients, args['embedding-model'], created),
      unknown_model: await step('CreateChatCompletion (unknown model)', () => unknownModel(clients)),
    };
  } finally {
    // A failed run cleans up too; its clean-up error must not hide the failure that matters.
    const cleaning = step('clean-up', () => cleanUp(clients, created));
    try {
      await (result ? cleaning : cleaning.catch(() => {}));
    } finally {
      sm.close(clients);
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`scenario: ${error.message}\n`);
  process.exit(1);
});
