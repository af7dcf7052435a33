// The keepalive lab's Node.js function: the official Momento SDK
// (@gomomento/sdk 1.118.1, unmodified) with one CacheClient made during init
// and reused by every invocation, as a real function does.
//
// thaw lab keepalive --sdk-versions runs this same file with other SDK
// releases (a copy beside their node_modules), so it feature-detects what
// changed between them rather than forking: releases before 1.103.0 have no
// CredentialProvider.forMomentoLocal, so it gives them the endpoints on a
// string key instead, as {endpoint, secureConnection} objects from 1.87.0 and
// as bare host:port strings (always TLS) before; releases before 1.31.0 have
// no Configurations.Lambda.
//
// Environment (set by `thaw lab keepalive`):
//   LAB_PRESET    laptop (Configurations.Laptop.v1: keepalive ping every 5 s,
//                 1 s timeout), lambda (Configurations.Lambda.latest: no
//                 keepalive) or inregion (Configurations.InRegion.Default.v1)
//   LAB_ENDPOINT  host:port of the cache server (the lab's netem proxy)
//   LAB_TLS       "1" to connect with TLS; the CA comes from
//                 GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, which grpc-js reads on load
//   LAB_CACHE     the cache to use (the lab's server creates it)
//   LAB_SDK_VERSION  the @gomomento/sdk version installed, for error messages
//
// Each event says what to do: {"op": "none"} spins the CPU for work_ms and
// returns at once without yielding to the event loop; {"op": "get"} or
// {"op": "set"} makes one cache call, then waits work_ms. The reply carries the
// call's latency and, when it failed, the SDK's error code: the caller-visible
// result the lab counts.

import {
  CacheClient,
  CacheGet,
  CacheSet,
  Configurations,
  CredentialProvider,
  DefaultMomentoLoggerFactory,
  DefaultMomentoLoggerLevel,
} from '@gomomento/sdk';

const preset = process.env.LAB_PRESET ?? 'laptop';
const endpoint = process.env.LAB_ENDPOINT ?? '127.0.0.1:8080';
const secure = process.env.LAB_TLS === '1';
const cacheName = process.env.LAB_CACHE ?? 'lab';
const sdkVersion = process.env.LAB_SDK_VERSION ?? 'this version';

function configuration() {
  const loggers = new DefaultMomentoLoggerFactory(DefaultMomentoLoggerLevel.ERROR);
  switch (preset) {
    case 'laptop':
      return Configurations.Laptop.v1(loggers);
    case 'lambda':
      if (Configurations.Lambda === undefined) {
        throw new Error(`@gomomento/sdk ${sdkVersion} has no Configurations.Lambda (added in 1.31.0)`);
      }
      return Configurations.Lambda.latest(loggers);
    case 'inregion':
      return Configurations.InRegion.Default.v1(loggers);
    default:
      throw new Error(`LAB_PRESET=${preset}: want laptop, lambda or inregion`);
  }
}

function credentialProvider() {
  const endpoints = {cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint};
  if (typeof CredentialProvider.forMomentoLocal === 'function') {
    return CredentialProvider.forMomentoLocal({endpointOverrides: {...endpoints, secureConnection: secure}});
  }
  // Before 1.103.0: a v1 API key (base64 JSON, which thaw serve does not
  // check) with every endpoint overridden.
  const apiKey = Buffer.from(JSON.stringify({endpoint: 'lab.invalid', api_key: 'lab'})).toString('base64');
  const provider = CredentialProvider.fromString({apiKey, endpointOverrides: {...endpoints, vectorEndpoint: endpoint}});
  if (typeof provider.isCacheEndpointSecure === 'function') {
    // 1.87.0 to 1.102.x: endpoints are {endpoint, secureConnection}.
    const ep = {endpoint, secureConnection: secure};
    return CredentialProvider.fromString({apiKey, endpointOverrides: {cacheEndpoint: ep, controlEndpoint: ep, tokenEndpoint: ep}});
  }
  if (!secure) {
    throw new Error(`@gomomento/sdk ${sdkVersion} always connects with TLS (plaintext came in 1.87.0): run the lab with --tls`);
  }
  return provider;
}

const client = await CacheClient.create({
  configuration: configuration(),
  credentialProvider: credentialProvider(),
  defaultTtlSeconds: 600,
});

/** spin keeps the CPU busy for ms without giving the event loop a turn. */
function spin(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

export const handler = async (event, context) => {
  const op = event?.op ?? 'none';
  const workMs = event?.work_ms ?? 0;
  const reply = {request_id: context.awsRequestId, op, ms: 0, error_code: '', error: ''};
  if (op === 'none') {
    spin(workMs);
    return reply;
  }
  const key = `key-${event?.key ?? 0}`;
  const start = performance.now();
  let resp;
  if (op === 'set') {
    resp = await client.set(cacheName, key, `value set by ${context.awsRequestId}`);
  } else {
    resp = await client.get(cacheName, key);
  }
  reply.ms = performance.now() - start;
  if (resp instanceof CacheGet.Error || resp instanceof CacheSet.Error) {
    reply.error_code = resp.errorCode();
    reply.error = resp.message();
  }
  if (workMs > 0) {
    await new Promise(resolve => setTimeout(resolve, workMs));
  }
  return reply;
};
