// --enable-test-admin: fault injection through request metadata (sent with an
// SDK Middleware, as the SDKs' own momento-local tests do) and the admin
// listener's /block and /unblock.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheGet,
  CacheIncrement,
  CacheSet,
  CreateCache,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {
  adminRequest,
  laptopConfig,
  localClient,
  metadataMiddleware,
  show,
  startServer,
  uniqueCacheName,
  uniqueKey,
} from './harness.mjs';

const RECOVERY_BOUND_MS = 30_000;

let server;
let plain;
const clients = [];
const cache = uniqueCacheName('admin');

before(async () => {
  server = await startServer(['--enable-test-admin', '--create-cache', cache]);
  assert.ok(server.adminAddr, 'ready file has no admin_addr');
  plain = await localClient(server);
  clients.push(plain);
});

after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

/** A client whose every call carries `headers`; `configure` may adjust the config. */
async function faultClient(headers, configure = c => c) {
  const configuration = configure(laptopConfig().addMiddleware(metadataMiddleware({'request-id': randomUUID(), ...headers})));
  const c = await localClient(server, {configuration});
  clients.push(c);
  return c;
}

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, ErrorCls, code, what) {
  assert.ok(resp instanceof ErrorCls, `${what} = ${show(resp)}, want ${code}`);
  assert.equal(resp.errorCode(), code, `${what}: ${show(resp)}`);
}

describe('error injection', () => {
  test('an injected unavailable on get with error-count 1 is retried by the SDK and succeeds', async () => {
    const key = uniqueKey();
    expect(await plain.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
    const c = await faultClient({'return-error': 'unavailable', 'error-rpcs': 'get', 'error-count': 1});
    const got = await c.get(cache, key);
    expect(got, CacheGet.Hit, `get(${key}) with one injected unavailable`);
    assert.equal(got.valueString(), 'v');
  });

  test('an injected unavailable without a count outlasts the retries', async () => {
    const c = await faultClient({'return-error': 'unavailable', 'error-rpcs': 'get'});
    expectError(await c.get(cache, uniqueKey()), CacheGet.Error, MomentoErrorCode.SERVER_UNAVAILABLE, 'get with unavailable always injected');
    // Calls of RPCs not listed are untouched.
    expect(await c.set(cache, uniqueKey(), 'v'), CacheSet.Success, 'set while only get fails');
  });

  test('a non-idempotent call is not retried, and error-count is kept per request-id', async () => {
    const key = uniqueKey();
    const c = await faultClient({'return-error': 'unavailable', 'error-rpcs': 'increment', 'error-count': 1});
    expectError(await c.increment(cache, key, 1), CacheIncrement.Error, MomentoErrorCode.SERVER_UNAVAILABLE, 'first increment');
    const second = await c.increment(cache, key, 1);
    expect(second, CacheIncrement.Success, 'second increment (count used up)');
    assert.equal(second.value(), 1, 'the failed increment must not have been applied');
  });

  const mapped = [
    ['invalid-argument', MomentoErrorCode.INVALID_ARGUMENT_ERROR],
    ['not-found', MomentoErrorCode.NOT_FOUND_ERROR],
    ['permission-denied', MomentoErrorCode.PERMISSION_ERROR],
    ['unauthenticated', MomentoErrorCode.AUTHENTICATION_ERROR],
    ['resource-exhausted', MomentoErrorCode.LIMIT_EXCEEDED_ERROR],
    ['failed-precondition', MomentoErrorCode.FAILED_PRECONDITION_ERROR],
    ['deadline-exceeded', MomentoErrorCode.TIMEOUT_ERROR],
    ['internal', MomentoErrorCode.INTERNAL_SERVER_ERROR],
    ['unknown', MomentoErrorCode.UNKNOWN_SERVICE_ERROR],
    ['cancelled', MomentoErrorCode.CANCELLED_ERROR],
  ];
  for (const [name, code] of mapped) {
    test(`return-error ${name} reaches the SDK as ${code}`, async () => {
      const c = await faultClient({'return-error': name, 'error-rpcs': 'set'});
      expectError(await c.set(cache, uniqueKey(), 'v'), CacheSet.Error, code, `set with ${name} injected`);
    });
  }
});

describe('delay injection', () => {
  test('delay-ms holds the call back at least that long', async () => {
    const c = await faultClient({'delay-rpcs': 'get', 'delay-ms': 400, 'delay-count': 1});
    const started = Date.now();
    expect(await c.get(cache, uniqueKey()), CacheGet.Miss, 'delayed get');
    const took = Date.now() - started;
    assert.ok(took >= 350, `delayed get took ${took} ms, want >= 400 (less a little clock slack)`);
  });

  test('a delay beyond the client deadline is a timeout', async () => {
    const c = await faultClient({'delay-rpcs': 'get', 'delay-ms': 3000}, cfg => cfg.withClientTimeoutMillis(500));
    expectError(await c.get(cache, uniqueKey()), CacheGet.Error, MomentoErrorCode.TIMEOUT_ERROR, 'get delayed past its deadline');
  });
});

describe('/block and /unblock', () => {
  test('/block makes calls fail and /unblock restores them', async () => {
    // Its own client with a short deadline: when the SDK finds a channel in
    // TRANSIENT_FAILURE it replaces it and closes the old one after twice the
    // deadline on a timer that holds the process open, so keep that short.
    const c = await localClient(server, {configuration: laptopConfig().withClientTimeoutMillis(1_500)});
    clients.push(c);
    const key = uniqueKey();
    expect(await c.set(cache, key, 'before'), CacheSet.Success, `set(${key}) before /block`);
    await adminRequest(server, '/block');
    let unblocked = false;
    try {
      const blocked = await c.get(cache, key);
      assert.ok(blocked instanceof CacheGet.Error, `get(${key}) while blocked = ${show(blocked)}, want an error`);
      const transient = [
        MomentoErrorCode.SERVER_UNAVAILABLE,
        MomentoErrorCode.TIMEOUT_ERROR,
        MomentoErrorCode.CONNECTION_ERROR,
        MomentoErrorCode.CANCELLED_ERROR,
        MomentoErrorCode.INTERNAL_SERVER_ERROR,
      ];
      assert.ok(transient.includes(blocked.errorCode()), `get while blocked: ${show(blocked)}, want a transport-type error`);
      await adminRequest(server, '/unblock');
      unblocked = true;
    } finally {
      if (!unblocked) await adminRequest(server, '/unblock').catch(() => {});
    }
    // The client reconnects with backoff; poll with a generous bound.
    const started = Date.now();
    let got;
    for (;;) {
      got = await c.get(cache, key);
      if (got instanceof CacheGet.Hit) break;
      assert.ok(Date.now() - started < RECOVERY_BOUND_MS, `get(${key}) still failing ${Date.now() - started} ms after /unblock: ${show(got)}`);
      await sleep(200);
    }
    assert.equal(got.valueString(), 'before', 'data survives /block');
    // The shared client, idle while the port was cut, works again too.
    expect(await plain.get(cache, key), CacheGet.Hit, `get(${key}) on another client after /unblock`);
  });

  test('unknown admin paths are 404', async () => {
    const res = await fetch(`http://${server.adminAddr}/no-such-route`);
    await res.text();
    assert.equal(res.status, 404);
  });
});
