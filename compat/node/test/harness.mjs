// Shared helpers for the compat suite: start a real `thaw serve` process on a
// free loopback port, mint API keys with `thaw token`, and build Momento SDK
// clients (cache and topic) that point at the server.

import assert from 'node:assert/strict';
import {spawn, execFile} from 'node:child_process';
import {randomBytes, randomUUID} from 'node:crypto';
import {mkdtemp, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve, dirname} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {after, before} from 'node:test';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheClient,
  Configurations,
  CreateCache,
  CredentialProvider,
  DefaultMomentoLoggerFactory,
  DefaultMomentoLoggerLevel,
  TopicClient,
  TopicConfigurations,
} from '@gomomento/sdk';

const execFileAsync = promisify(execFile);

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the thaw binary: $THAW_BIN, or the one `go build -o .bin/thaw` leaves in the repo. */
export const THAW_BIN =
  process.env.THAW_BIN ?? resolve(here, '..', '..', '..', '.bin', 'thaw');

/** Default item TTL, in seconds, of the clients built here. */
export const DEFAULT_TTL_SECONDS = 60;

/**
 * Arguments added to every `thaw serve` this harness starts, from $THAW_SERVE_ARGS
 * (split on white space), with {server} replaced by an id of the server, so
 * that servers sharing one backend stay apart: ./test.sh runs the suite a
 * second time with '--store redis://... --store-namespace compat-{server}',
 * and a third time with '--transport epoll'. That transport serves plaintext
 * only, so a server started with --tls-cert keeps the default transport.
 */
const EXTRA_SERVE_ARGS = (process.env.THAW_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);

/** EXTRA_SERVE_ARGS without '--transport epoll' when args ask for TLS. */
function extraServeArgs(args) {
  if (!args.includes('--tls-cert')) return EXTRA_SERVE_ARGS;
  return EXTRA_SERVE_ARGS.filter((a, i, all) => !(a === '--transport' && all[i + 1] === 'epoll') && !(a === 'epoll' && all[i - 1] === '--transport'));
}

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

// Every server process still alive, so that a crashed test file never leaves
// one behind: the 'exit' hook below kills whatever stop() did not reach.
const liveProcesses = new Set();
process.on('exit', () => {
  for (const child of liveProcesses) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Makes a temporary directory; the caller removes it with removeDir. */
export function makeTempDir(prefix = 'thaw-compat-') {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a directory made by makeTempDir, ignoring one that is already gone. */
export function removeDir(dir) {
  return rm(dir, {recursive: true, force: true});
}

/** A cache name unique to this run, so reruns against one server never collide. */
export function uniqueCacheName(prefix = 'compat') {
  return `${prefix}-${randomUUID()}`;
}

/** A random key, for tests that need a fresh item. */
export function uniqueKey(prefix = 'key') {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

function hostAndPort(addr) {
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`address ${JSON.stringify(addr)} has no port`);
  let host = addr.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return {host, port: Number(addr.slice(i + 1))};
}

function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise(resolvePromise => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolvePromise(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolvePromise(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Starts `thaw serve --addr 127.0.0.1:0 --ready-file <tmp> ...args` and waits
 * until it has written its ready file.
 *
 * With --enable-test-admin and no --admin-addr, the admin listener also gets a
 * free loopback port. Resolves to {addr, host, port, adminAddr, metricsAddr,
 * httpAddr (with --http-addr), pid, output(), stop()}; stop() sends SIGTERM,
 * waits for exit (SIGKILL after a few seconds), removes the temp dir and
 * resolves to {code, signal}. If the
 * server does not become ready the process is killed and the promise rejects
 * with its output.
 */
export async function startServer(args = []) {
  const dir = await makeTempDir('thaw-serve-');
  const readyFile = join(dir, 'ready.json');
  const fullArgs = ['serve', '--addr', '127.0.0.1:0', '--ready-file', readyFile, ...args];
  const serverId = randomUUID();
  const extra = extraServeArgs(args);
  fullArgs.push(...extra.map(a => a.replaceAll('{server}', serverId)));
  if (args.includes('--enable-test-admin') && !args.includes('--admin-addr')) {
    fullArgs.push('--admin-addr', '127.0.0.1:0');
  }

  const child = spawn(THAW_BIN, fullArgs, {stdio: ['ignore', 'pipe', 'pipe']});
  liveProcesses.add(child);
  let output = '';
  const append = chunk => {
    output += chunk.toString();
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let spawnError;
  child.on('error', err => {
    spawnError = err;
  });
  const exited = new Promise(resolvePromise => {
    child.once('exit', (code, signal) => {
      liveProcesses.delete(child);
      resolvePromise({code, signal});
    });
  });

  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && !spawnError) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, STOP_GRACE_MS))) {
          child.kill('SIGKILL');
        }
      }
      const status = spawnError ? {code: null, signal: null} : await exited;
      await removeDir(dir);
      return status;
    })();
    return stopped;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready;
  while (!ready) {
    if (spawnError) {
      await stop();
      throw new Error(`cannot start ${THAW_BIN}: ${spawnError.message} (set THAW_BIN)`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `thaw ${fullArgs.join(' ')} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${output}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`thaw ${fullArgs.join(' ')} wrote no ready file within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    try {
      const text = await readFile(readyFile, 'utf8');
      // The file may be caught half-written; only a complete JSON object counts.
      ready = JSON.parse(text);
    } catch {
      await sleep(25);
    }
  }

  const wantTransport = extra.includes('--transport') ? extra[extra.indexOf('--transport') + 1] : undefined;
  if (wantTransport && ready.transport !== wantTransport) {
    await stop();
    throw new Error(`THAW_SERVE_ARGS asks for --transport ${wantTransport}, but the server runs on ${ready.transport}`);
  }
  const {host, port} = hostAndPort(ready.addr);
  return {
    addr: ready.addr,
    host,
    port,
    adminAddr: ready.admin_addr || '',
    metricsAddr: ready.metrics_addr || '',
    httpAddr: ready.http_addr || '',
    pid: child.pid,
    output: () => output,
    exited,
    stop,
  };
}

/** A logger factory that keeps the SDK quiet unless something really breaks. */
export function quietLoggerFactory() {
  return new DefaultMomentoLoggerFactory(DefaultMomentoLoggerLevel.ERROR);
}

/** The configuration the suite uses unless a test says otherwise: Laptop v1. */
export function laptopConfig() {
  return Configurations.Laptop.v1(quietLoggerFactory());
}

/**
 * A CacheClient for `server` through CredentialProvider.forMomentoLocal
 * (plaintext, empty authorization).
 */
export function localClient(server, {configuration, defaultTtlSeconds = DEFAULT_TTL_SECONDS, eagerConnectTimeout} = {}) {
  return CacheClient.create({
    configuration: configuration ?? laptopConfig(),
    credentialProvider: CredentialProvider.forMomentoLocal({hostname: server.host, port: server.port}),
    defaultTtlSeconds,
    ...(eagerConnectTimeout === undefined ? {} : {eagerConnectTimeout}),
  });
}

/** A credential provider that sends `apiKey` to `server` over plaintext. */
export function keyCredentials(server, apiKey) {
  return CredentialProvider.fromString({
    apiKey,
    endpointOverrides: {
      cacheEndpoint: server.addr,
      controlEndpoint: server.addr,
      tokenEndpoint: server.addr,
      secureConnection: false,
    },
  });
}

/** A CacheClient for `server` that authenticates with `apiKey` (from createToken). */
export function keyClient(server, apiKey, {configuration, defaultTtlSeconds = DEFAULT_TTL_SECONDS} = {}) {
  return CacheClient.create({
    configuration: configuration ?? laptopConfig(),
    credentialProvider: keyCredentials(server, apiKey),
    defaultTtlSeconds,
  });
}

/** The topic configuration the suite uses unless a test says otherwise: Default.latest(). */
export function topicConfig() {
  return TopicConfigurations.Default.latest(quietLoggerFactory());
}

/**
 * A TopicClient for `server`: through CredentialProvider.forMomentoLocal
 * (plaintext, empty authorization), or with `apiKey` (from createToken) when
 * given. middlewares are added to the configuration (see metadataMiddleware).
 */
export function topicClient(server, {apiKey, configuration, middlewares = []} = {}) {
  let config = configuration ?? topicConfig();
  for (const m of middlewares) config = config.addMiddleware(m);
  return new TopicClient({
    configuration: config,
    credentialProvider: apiKey
      ? keyCredentials(server, apiKey)
      : CredentialProvider.forMomentoLocal({hostname: server.host, port: server.port}),
  });
}

/**
 * Resolves once cond() (which may be async) is true, polling every few
 * milliseconds; rejects with `what` after timeoutMs. For waiting on
 * subscription callbacks.
 */
export async function waitFor(what, cond, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * An SDK Middleware that adds fixed metadata to every request: the way the
 * SDKs' own tests talk to momento-local's fault injection (request-id,
 * return-error, error-rpcs, delay-ms, ...). Add it with
 * laptopConfig().addMiddleware(metadataMiddleware({...})).
 */
export function metadataMiddleware(headers) {
  const handler = {
    onRequestMetadata(metadata) {
      for (const [k, v] of Object.entries(headers)) metadata._grpcMetadata.set(k, String(v));
      return Promise.resolve(metadata);
    },
    onRequestBody: request => Promise.resolve(request),
    onResponseMetadata: metadata => Promise.resolve(metadata),
    onResponseBody: response => Promise.resolve(response),
    onResponseStatus: status => Promise.resolve(status),
  };
  return {shouldLoadLate: true, onNewRequest: () => handler};
}

/** Runs the thaw binary with `args` and resolves to its trimmed stdout. */
export async function runThaw(args) {
  try {
    const {stdout} = await execFileAsync(THAW_BIN, args, {timeout: 30_000});
    return stdout.trim();
  } catch (err) {
    throw new Error(`thaw ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}`);
  }
}

/** `thaw token secret --out <dir>/secret`; resolves to the secret file's path. */
export async function writeSecret(dir) {
  const file = join(dir, 'secret');
  await runThaw(['token', 'secret', '--out', file]);
  return file;
}

/**
 * `thaw token create`: resolves to a v1 API key.
 * role is superuser, readwrite or readonly; caches limits the key to those
 * caches; expires is a duration such as "1h" or "1s".
 */
export async function createToken({secretFile, role, caches = [], expires, endpoint}) {
  const args = ['token', 'create', '--secret-file', secretFile, '--role', role, '--endpoint', endpoint];
  for (const cache of caches) args.push('--cache', cache);
  if (expires) args.push('--expires', expires);
  const out = await runThaw(args);
  // The key is the last non-empty line, in case the command also prints a note.
  const lines = out.split('\n').map(s => s.trim()).filter(Boolean);
  if (lines.length === 0) throw new Error(`thaw ${args.join(' ')} printed no key`);
  return lines[lines.length - 1];
}

/**
 * The token inside a v1 API key (base64 of {"endpoint","api_key"}): what the
 * SDK sends as the authorization header, and what the test-admin listener
 * expects in its Authorization header.
 */
export function apiKeyToken(apiKey) {
  const token = JSON.parse(Buffer.from(apiKey, 'base64').toString('utf8')).api_key;
  if (typeof token !== 'string' || token === '') throw new Error('not a v1 API key: no api_key member');
  return token;
}

/**
 * Sends an HTTP request to the test-admin listener and resolves to {status,
 * body}, whatever the status. Tries POST and falls back to GET when POST is
 * not allowed. authorization, when given, is sent as the Authorization header
 * (a bare token from apiKeyToken, or "Bearer <token>").
 */
export async function adminCall(server, path, {authorization} = {}) {
  if (!server.adminAddr) throw new Error('server has no admin listener (start it with --enable-test-admin)');
  const url = `http://${server.adminAddr}${path}`;
  const headers = authorization === undefined ? {} : {Authorization: authorization};
  let res = await fetch(url, {method: 'POST', headers});
  if (res.status === 405) {
    await res.text();
    res = await fetch(url, {method: 'GET', headers});
  }
  return {status: res.status, body: await res.text()};
}

/**
 * Sends an HTTP request to the test-admin listener, e.g. adminRequest(server,
 * '/block'), and resolves to the body; a status other than 2xx rejects.
 * Options as for adminCall.
 */
export async function adminRequest(server, path, options = {}) {
  const {status, body} = await adminCall(server, path, options);
  if (status < 200 || status > 299) throw new Error(`${path} on admin ${server.adminAddr}: HTTP ${status} ${body}`);
  return body;
}

/**
 * Describes a response for assertion messages:
 * its class, and for errors its code and message.
 */
export function show(resp) {
  if (resp === undefined || resp === null) return String(resp);
  const name = resp.constructor?.name ?? typeof resp;
  if (typeof resp.errorCode === 'function') {
    return `${name}(${resp.errorCode()}: ${resp.message()})`;
  }
  return `${name} ${String(resp)}`;
}

/** Bytes 0..255 repeated to `length`. */
export function allBytes(length = 256) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 256;
  return out;
}

/**
 * Registers a suite's before and after hooks for the common set-up: a server,
 * a local Laptop client and one created cache. onReady(server, client) gets
 * both once they exist; teardown closes the client and stops the server, also
 * when a test failed.
 */
export function useServerWithCache(cache, onReady) {
  let server;
  let client;
  before(async () => {
    server = await startServer();
    client = await localClient(server);
    const created = await client.createCache(cache);
    assert.ok(created instanceof CreateCache.Success, `createCache(${cache}) = ${show(created)}, want Success`);
    onReady(server, client);
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });
}
