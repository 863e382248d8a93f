'use strict';
// The stackmesh contracts for Node: loads protos/ at runtime with @grpc/proto-loader (no
// generated code to keep in step) and exposes clients of the inference and vector_io services.

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const REPO = path.resolve(__dirname, '..', '..');
const PROTOS = path.join(REPO, 'protos');

const CONTRACTS = [
  'stackmesh/inference/v1/inference_service.proto',
  'stackmesh/vector_io/v1/files_service.proto',
  'stackmesh/vector_io/v1/vector_io_service.proto',
];

// keepCase: field names stay the upstream snake_case JSON names the contracts use.
// enums as strings and oneofs: true (decoded messages name their set oneof member) keep
// results readable as JSON; defaults: true fills unset scalars so callers need no guards.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

// google/api and google/rpc are not bundled with proto-loader; the Python venv ships them
// (googleapis-common-protos), so by default they come from there.
function googleProtos() {
  if (process.env.STACKMESH_GOOGLE_PROTOS) return process.env.STACKMESH_GOOGLE_PROTOS;
  const lib = path.join(REPO, '.venv', 'lib');
  const python = fs.existsSync(lib) ? fs.readdirSync(lib).find((name) => name.startsWith('python3')) : undefined;
  const dir = python && path.join(lib, python, 'site-packages');
  if (!dir || !fs.existsSync(path.join(dir, 'google', 'api', 'annotations.proto'))) {
    throw new Error(`google/api protos not found under ${lib}; set STACKMESH_GOOGLE_PROTOS to a directory holding google/api and google/rpc`);
  }
  return dir;
}

const GOOGLE = googleProtos();
const definition = protoLoader.loadSync(CONTRACTS, { ...LOADER_OPTIONS, includeDirs: [PROTOS, GOOGLE] });
const contracts = grpc.loadPackageDefinition(definition);

// google.rpc.Status and ErrorInfo only travel inside the grpc-status-details-bin trailer, never
// as RPC messages, so they are decoded with protobufjs itself.
const statusRoot = new protobuf.Root();
statusRoot.resolvePath = (_origin, target) => path.join(GOOGLE, target);
statusRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = statusRoot.lookupType('google.rpc.Status');
const ErrorInfo = statusRoot.lookupType('google.rpc.ErrorInfo');

/** Clients of the inference service (models, chat) and the vector_io service (files, vector stores). */
function connect({ inference, vectorIo }) {
  const credentials = grpc.credentials.createInsecure();
  // grpc-js shares one connection between clients of the same address and options.
  return {
    models: new contracts.stackmesh.inference.v1.ModelsService(inference, credentials),
    inference: new contracts.stackmesh.inference.v1.InferenceService(inference, credentials),
    files: new contracts.stackmesh.vector_io.v1.FilesService(vectorIo, credentials),
    vectorStores: new contracts.stackmesh.vector_io.v1.VectorStoresService(vectorIo, credentials),
  };
}

function close(clients) {
  for (const client of Object.values(clients)) client.close();
}

/** A unary call as a promise, with a deadline. */
function unary(client, method, request, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** A server-streaming call as an async iterable of messages; a failed call throws from the loop. */
function serverStream(client, method, request, timeoutMs = 60_000) {
  return client[method](request, { deadline: Date.now() + timeoutMs });
}

/** Uploads bytes with FilesService.UploadFile: the metadata message first, then the content in chunks. */
function uploadFile(files, { filename, purpose, contentType, content, chunkBytes = 64 * 1024 }, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const call = files.UploadFile({ deadline: Date.now() + timeoutMs }, (error, file) => (error ? reject(error) : resolve(file)));
    call.write({ metadata: { filename, purpose, content_type: contentType } });
    for (let offset = 0; offset < content.length; offset += chunkBytes) {
      call.write({ chunk: content.subarray(offset, offset + chunkBytes) });
    }
    call.end();
  });
}

/** Polls GetVectorStoreFile until the file's ingestion completes; throws if it fails or times out. */
async function waitIngested(vectorStores, vectorStoreId, fileId, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const file = await unary(vectorStores, 'GetVectorStoreFile', { vector_store_id: vectorStoreId, file_id: fileId });
    if (file.status === 'completed') return file;
    if (file.status !== 'in_progress') {
      throw new Error(`ingestion ended "${file.status}": ${file.last_error?.code} ${file.last_error?.message}`);
    }
    if (Date.now() > deadline) throw new Error(`ingestion still in_progress after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A JSON value as a google.protobuf.Value. Its field names are camelCase (stringValue,
 * structValue…) despite keepCase: protobufjs builds the well-known types from its own bundled
 * JSON definitions, which keepCase does not touch, and it silently drops snake_case names
 * (string_value encodes an empty Value, i.e. JSON null).
 */
function toValue(value) {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'number':
      return { numberValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'object':
      return { structValue: { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toValue(v)])) } };
    default:
      throw new TypeError(`not a JSON value: ${typeof value}`);
  }
}

/**
 * The google.rpc.ErrorInfo of a failed call, from its grpc-status-details-bin trailer:
 * {reason, domain, metadata}, or null when the status carries none.
 */
function errorInfo(error) {
  const [details] = error.metadata?.get('grpc-status-details-bin') ?? [];
  if (!details) return null;
  const status = Status.decode(details);
  const any = status.details.find((detail) => detail.type_url.endsWith('/google.rpc.ErrorInfo'));
  if (!any) return null;
  return ErrorInfo.toObject(ErrorInfo.decode(any.value), { defaults: true });
}

/** The name of a grpc.status code, e.g. 5 → "NOT_FOUND". */
function statusName(code) {
  return Object.keys(grpc.status).find((name) => grpc.status[name] === code) ?? String(code);
}

module.exports = { connect, close, unary, serverStream, uploadFile, waitIngested, toValue, errorInfo, statusName };
