// Security matrix through the official SDK: with --auth-secret-file, every
// scalar and control call the SDK's CacheClient has (and thaw serves) is
// refused for every kind of bad or insufficient key, and a refused call
// changes nothing. Also: listCaches with a scoped key, revocation, and the
// test admin (/block, /unblock, fault injection) with auth on.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomBytes, randomUUID} from 'node:crypto';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheClient,
  CacheDecreaseTtl,
  CacheDelete,
  CacheFlush,
  CacheGet,
  CacheGetBatch,
  CacheIncrement,
  CacheIncreaseTtl,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheKeyExists,
  CacheKeysExist,
  CacheSet,
  CacheSetBatch,
  CacheSetIfAbsent,
  CacheSetIfAbsentOrEqual,
  CacheSetIfEqual,
  CacheSetIfNotEqual,
  CacheSetIfNotExists,
  CacheSetIfPresent,
  CacheSetIfPresentAndNotEqual,
  CacheUpdateTtl,
  CreateCache,
  DeleteCache,
  ListCaches,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {
  adminCall,
  apiKeyToken,
  createToken,
  keyClient,
  laptopConfig,
  localClient,
  makeTempDir,
  metadataMiddleware,
  removeDir,
  runThaw,
  show,
  startServer,
  uniqueCacheName,
  uniqueKey,
  writeSecret,
} from './harness.mjs';

const AUTH = MomentoErrorCode.AUTHENTICATION_ERROR;
const PERMISSION = MomentoErrorCode.PERMISSION_ERROR;

/** TTL of the items each matrix cell seeds, and how far below it a TTL may have run down. */
const SEED_TTL_SECONDS = 600;
const TTL_SLACK_MS = 120_000;
/** What the refused TTL calls would set: far above and far below the seeded TTL. */
const RAISED_TTL_MS = 3_600_000;
const LOWERED_TTL_MS = 1_000;

const EXPIRED_KEY_LIFETIME = '1s';
// Tokens carry whole seconds, so a 1 s key has expired 1 s after it was made.
const EXPIRED_KEY_WAIT_MS = 2_500;
/** How long a revoked key may still be accepted (the server re-reads the list within ~1 s). */
const REVOCATION_BOUND_MS = 15_000;
const RECOVERY_BOUND_MS = 30_000;
const POLL_INTERVAL_MS = 100;

/** Deadline of the fault-injection clients, and a delay far beyond it. */
const FAULT_CLIENT_TIMEOUT_MS = 5_000;
const LONG_DELAY_MS = 60_000;

let dir;
let secretFile;
let revokedKeysFile;
let matrixServer;
let adminServer;
const clients = [];

// Caches of the matrix server: the one every cell acts on, and the one the
// scoped key is limited to.
const target = uniqueCacheName('sec-target');
const other = uniqueCacheName('sec-other');
const adminCache = uniqueCacheName('sec-admin');

/** v1 API keys by name, minted (or built) in before(). */
const keys = {};
/** Superuser clients that check state: one per server. */
let su;
let adminSu;
/** The matrix server's caches before any cell ran, sorted. */
let baselineCaches;

async function track(clientPromise) {
  const c = await clientPromise;
  clients.push(c);
  return c;
}

function token(opts) {
  return createToken({secretFile, endpoint: matrixServer.addr, ...opts});
}

/** A v1 API key (base64 of {"endpoint","api_key"}) around any token, forged or not. */
function v1Key(endpoint, apiKey) {
  return Buffer.from(JSON.stringify({endpoint, api_key: apiKey})).toString('base64');
}

/**
 * An unsigned JWT claiming superuser: header {"alg":"none","typ":"JWT"}, a
 * well-formed payload and an empty signature, wrapped in a v1 key.
 */
function algNoneKey(endpoint) {
  const segment = obj => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = segment({alg: 'none', typ: 'JWT'});
  const payload = segment({jti: randomBytes(16).toString('hex'), role: 'superuser', iat: now, exp: now + 3600});
  return v1Key(endpoint, `${header}.${payload}.`);
}

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, ErrorCls, code, what) {
  assert.ok(resp instanceof ErrorCls, `${what} = ${show(resp)}, want an error ${code}`);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}, want ${code}`);
}

async function cacheNames(client) {
  const resp = await client.listCaches();
  expect(resp, ListCaches.Success, 'listCaches');
  return resp.getCaches().map(c => c.getName()).sort();
}

/**
 * Polls get with `client` until the server refuses it as unauthenticated,
 * failing after REVOCATION_BOUND_MS or on any other error.
 */
async function waitUntilRefused(client, cache, what) {
  const deadline = Date.now() + REVOCATION_BOUND_MS;
  for (;;) {
    const resp = await client.get(cache, 'revocation-probe');
    if (resp instanceof CacheGet.Error && resp.errorCode() === AUTH) return;
    assert.ok(resp instanceof CacheGet.Miss || resp instanceof CacheGet.Hit, `${what}: get = ${show(resp)}, want Miss until refused`);
    assert.ok(Date.now() < deadline, `${what}: still accepted ${REVOCATION_BOUND_MS} ms after revocation`);
    await sleep(POLL_INTERVAL_MS);
  }
}

before(async () => {
  dir = await makeTempDir('thaw-security-');
  secretFile = await writeSecret(dir);
  // Does not exist yet: `thaw token revoke` creates it.
  revokedKeysFile = join(dir, 'revoked-keys');
  const auth = ['--auth-secret-file', secretFile, '--revoked-keys', revokedKeysFile];
  matrixServer = await startServer([...auth, '--create-cache', target, '--create-cache', other]);
  adminServer = await startServer([...auth, '--enable-test-admin', '--admin-addr', '127.0.0.1:0', '--create-cache', adminCache]);
  assert.ok(adminServer.adminAddr, 'ready file has no admin_addr');

  // Minted first so that it has expired by the time the tests run.
  keys.expired = await token({role: 'superuser', expires: EXPIRED_KEY_LIFETIME});
  const expiredMadeAt = Date.now();

  keys.superuser = await token({role: 'superuser'});
  keys.readwrite = await token({role: 'readwrite'});
  keys.readwrite2 = await token({role: 'readwrite'});
  keys.readonly = await token({role: 'readonly'});
  keys.scopedOther = await token({role: 'superuser', caches: [other]});
  keys.garbage = v1Key(matrixServer.addr, 'not-a-real-key');
  keys.algNone = algNoneKey(matrixServer.addr);
  const otherSecretFile = join(dir, 'other-secret');
  await runThaw(['token', 'secret', '--out', otherSecretFile]);
  keys.foreign = await createToken({secretFile: otherSecretFile, role: 'superuser', endpoint: matrixServer.addr});

  su = await track(keyClient(matrixServer, keys.superuser));
  adminSu = await track(keyClient(adminServer, keys.superuser));
  baselineCaches = await cacheNames(su);
  assert.ok(baselineCaches.includes(target) && baselineCaches.includes(other), `listCaches() = ${baselineCaches}, want ${target} and ${other}`);

  // A superuser key that works on both servers, then is revoked.
  keys.revoked = await token({role: 'superuser'});
  const revokedOnMatrix = await track(keyClient(matrixServer, keys.revoked));
  const revokedOnAdmin = await track(keyClient(adminServer, keys.revoked));
  expect(await revokedOnMatrix.get(target, uniqueKey()), CacheGet.Miss, 'get with the key to be revoked');
  expect(await revokedOnAdmin.get(adminCache, uniqueKey()), CacheGet.Miss, 'get on the admin server with the key to be revoked');
  await runThaw(['token', 'revoke', '--revoked-keys', revokedKeysFile, keys.revoked]);
  await waitUntilRefused(revokedOnMatrix, target, 'revoked key on the matrix server');
  await waitUntilRefused(revokedOnAdmin, adminCache, 'revoked key on the admin server');

  const wait = expiredMadeAt + EXPIRED_KEY_WAIT_MS - Date.now();
  if (wait > 0) await sleep(wait);
});

after(async () => {
  for (const c of clients) c.close();
  await matrixServer?.stop();
  await adminServer?.stop();
  if (dir) await removeDir(dir);
});

// ---------------------------------------------------------------------------
// 1. The matrix.

/**
 * Every scalar and control call of CacheClient that thaw serves, acting on
 * the items a cell seeded (see seedCell). Each would change or reveal
 * something if it were let through. Not here: the *WithHash and *HashEqual
 * calls (RPCs thaw does not serve), ping (open by design), collections,
 * topics and leaderboards.
 */
const calls = [
  {name: 'get', kind: 'read', Error: CacheGet.Error, call: (c, s) => c.get(target, s.key)},
  {name: 'getBatch', kind: 'read', Error: CacheGetBatch.Error, call: (c, s) => c.getBatch(target, [s.key, s.counter])},
  {name: 'keysExist', kind: 'read', Error: CacheKeysExist.Error, call: (c, s) => c.keysExist(target, [s.key, s.absent])},
  {name: 'keyExists', kind: 'read', Error: CacheKeyExists.Error, call: (c, s) => c.keyExists(target, s.key)},
  {name: 'itemGetTtl', kind: 'read', Error: CacheItemGetTtl.Error, call: (c, s) => c.itemGetTtl(target, s.key)},
  {name: 'itemGetType', kind: 'read', Error: CacheItemGetType.Error, call: (c, s) => c.itemGetType(target, s.key)},

  {name: 'set', kind: 'write', Error: CacheSet.Error, call: (c, s) => c.set(target, s.key, 'changed')},
  {name: 'setBatch', kind: 'write', Error: CacheSetBatch.Error, call: (c, s) => c.setBatch(target, {[s.key]: 'changed', [s.absent]: 'x'})},
  {name: 'setIfAbsent', kind: 'write', Error: CacheSetIfAbsent.Error, call: (c, s) => c.setIfAbsent(target, s.absent, 'x')},
  {name: 'setIfNotExists', kind: 'write', Error: CacheSetIfNotExists.Error, call: (c, s) => c.setIfNotExists(target, s.absent, 'x')},
  {name: 'setIfPresent', kind: 'write', Error: CacheSetIfPresent.Error, call: (c, s) => c.setIfPresent(target, s.key, 'changed')},
  {name: 'setIfEqual', kind: 'write', Error: CacheSetIfEqual.Error, call: (c, s) => c.setIfEqual(target, s.key, 'changed', 'v')},
  {name: 'setIfNotEqual', kind: 'write', Error: CacheSetIfNotEqual.Error, call: (c, s) => c.setIfNotEqual(target, s.key, 'changed', 'other')},
  {
    name: 'setIfPresentAndNotEqual',
    kind: 'write',
    Error: CacheSetIfPresentAndNotEqual.Error,
    call: (c, s) => c.setIfPresentAndNotEqual(target, s.key, 'changed', 'other'),
  },
  {name: 'setIfAbsentOrEqual', kind: 'write', Error: CacheSetIfAbsentOrEqual.Error, call: (c, s) => c.setIfAbsentOrEqual(target, s.key, 'changed', 'v')},
  {name: 'delete', kind: 'write', Error: CacheDelete.Error, call: (c, s) => c.delete(target, s.key)},
  {name: 'increment', kind: 'write', Error: CacheIncrement.Error, call: (c, s) => c.increment(target, s.counter, 1)},
  {name: 'updateTtl', kind: 'write', Error: CacheUpdateTtl.Error, call: (c, s) => c.updateTtl(target, s.key, RAISED_TTL_MS)},
  {name: 'increaseTtl', kind: 'write', Error: CacheIncreaseTtl.Error, call: (c, s) => c.increaseTtl(target, s.key, RAISED_TTL_MS)},
  {name: 'decreaseTtl', kind: 'write', Error: CacheDecreaseTtl.Error, call: (c, s) => c.decreaseTtl(target, s.key, LOWERED_TTL_MS)},

  {name: 'createCache', kind: 'control', Error: CreateCache.Error, call: (c, s) => c.createCache(s.newCache)},
  {name: 'deleteCache', kind: 'control', Error: DeleteCache.Error, call: c => c.deleteCache(target)},
  {name: 'flushCache', kind: 'control', Error: CacheFlush.Error, call: c => c.flushCache(target)},
  {name: 'listCaches', kind: 'control', Error: ListCaches.Error, call: c => c.listCaches()},
];

const ALL_KINDS = ['read', 'write', 'control'];

/**
 * The bad-key cases. client(server) builds the caller's client; kinds are the
 * call kinds the case applies to; code is the refusal every such call gets.
 * A key scoped to another cache may still list caches: listCaches answers
 * with only the caches the key may see (listedBy).
 */
const cases = [
  {name: 'no key (local provider, empty authorization)', kinds: ALL_KINDS, code: AUTH, client: s => localClient(s)},
  {name: 'garbage v1 key', kinds: ALL_KINDS, code: AUTH, client: s => keyClient(s, keys.garbage)},
  {name: 'superuser key from another secret', kinds: ALL_KINDS, code: AUTH, client: s => keyClient(s, keys.foreign)},
  {name: 'alg:none superuser token in a v1 key', kinds: ALL_KINDS, code: AUTH, client: s => keyClient(s, keys.algNone)},
  {name: 'expired superuser key', kinds: ALL_KINDS, code: AUTH, client: s => keyClient(s, keys.expired)},
  {name: 'revoked superuser key', kinds: ALL_KINDS, code: AUTH, client: s => keyClient(s, keys.revoked)},
  {name: 'readonly key on writes and control', kinds: ['write', 'control'], code: PERMISSION, client: s => keyClient(s, keys.readonly)},
  {name: 'readwrite key on control', kinds: ['control'], code: PERMISSION, client: s => keyClient(s, keys.readwrite)},
  {
    name: 'superuser key scoped to another cache',
    kinds: ALL_KINDS,
    code: PERMISSION,
    listedBy: () => [other],
    client: s => keyClient(s, keys.scopedOther),
  },
];

/** Seeds fresh items for one cell: a value and a counter with a known TTL, and a key left absent. */
async function seedCell() {
  const s = {key: uniqueKey('val'), counter: uniqueKey('ctr'), absent: uniqueKey('absent'), newCache: uniqueCacheName('never')};
  expect(await su.set(target, s.key, 'v', {ttl: SEED_TTL_SECONDS}), CacheSet.Success, `seed set(${s.key})`);
  expect(await su.set(target, s.counter, '5', {ttl: SEED_TTL_SECONDS}), CacheSet.Success, `seed set(${s.counter})`);
  return s;
}

/**
 * Checks as superuser that the cell's items and the set of caches are as
 * seeded. A changed set of caches is put back before the assertion fails, so
 * that one broken cell does not fail the ones after it.
 */
async function assertUnchanged(s, what) {
  const names = await cacheNames(su);
  if (JSON.stringify(names) !== JSON.stringify(baselineCaches)) {
    for (const name of baselineCaches.filter(n => !names.includes(n))) await su.createCache(name);
    for (const name of names.filter(n => !baselineCaches.includes(n))) await su.deleteCache(name);
    assert.deepEqual(names, baselineCaches, `${what}: caches changed`);
  }
  for (const [key, want] of [[s.key, 'v'], [s.counter, '5']]) {
    const got = await su.get(target, key);
    assert.equal(got.valueString?.(), want, `${what}: get(${key}) = ${show(got)}, want Hit ${want}`);
    const ttl = await su.itemGetTtl(target, key);
    expect(ttl, CacheItemGetTtl.Hit, `${what}: itemGetTtl(${key})`);
    const ms = ttl.remainingTtlMillis();
    const max = SEED_TTL_SECONDS * 1000;
    assert.ok(ms > max - TTL_SLACK_MS && ms <= max, `${what}: itemGetTtl(${key}) = ${ms} ms, want (${max - TTL_SLACK_MS}, ${max}]`);
  }
  const exists = await su.keysExist(target, [s.absent]);
  expect(exists, CacheKeysExist.Success, `${what}: keysExist(${s.absent})`);
  assert.deepEqual(exists.exists(), [false], `${what}: ${s.absent} was written`);
}

describe('every call is refused for every bad key and changes nothing', () => {
  test('every call in the table is a CacheClient method', () => {
    for (const {name} of calls) {
      assert.equal(typeof CacheClient.prototype[name], 'function', `CacheClient.${name} is not a method of @gomomento/sdk`);
    }
  });

  for (const kase of cases) {
    describe(kase.name, () => {
      let client;
      before(async () => {
        client = await track(kase.client(matrixServer));
      });

      for (const call of calls.filter(c => kase.kinds.includes(c.kind))) {
        test(`${call.name} (${call.kind})`, async () => {
          const s = await seedCell();
          const what = `${call.name} with ${kase.name}`;
          const resp = await call.call(client, s);
          // Check (and repair) the state first, so that a call let through
          // cannot break the cells after it; report the response first.
          const unchanged = await assertUnchanged(s, what).then(() => undefined, err => err);
          if (call.name === 'listCaches' && kase.listedBy) {
            expect(resp, ListCaches.Success, what);
            const names = resp.getCaches().map(c => c.getName()).sort();
            assert.deepEqual(names, kase.listedBy().sort(), `${what}: listed caches`);
          } else {
            expectError(resp, call.Error, kase.code, what);
          }
          if (unchanged) throw unchanged;
        });
      }
    });
  }

  // The other side of the matrix: the calls do reach the store when the key
  // allows them, and assertUnchanged notices every write (it restores any
  // cache a call removed or added, so the cells after it are unaffected).
  describe('with a superuser key (the check of the matrix itself)', () => {
    for (const call of calls) {
      const changes = call.kind !== 'read' && call.name !== 'listCaches';
      test(`${call.name} (${call.kind}) is let through${changes ? ' and the change is noticed' : ''}`, async () => {
        const s = await seedCell();
        const what = `${call.name} with a superuser key`;
        const resp = await call.call(su, s);
        assert.ok(!(resp instanceof call.Error), `${what} = ${show(resp)}, want it let through`);
        if (changes) {
          await assert.rejects(assertUnchanged(s, what), assert.AssertionError, `${what} changed nothing that assertUnchanged sees`);
        } else {
          await assertUnchanged(s, what);
        }
      });
    }
  });
});

// ---------------------------------------------------------------------------
// 2. listCaches with scoped keys.

describe('listCaches with a superuser key limited to some caches', () => {
  test('a key scoped to one cache lists exactly that cache', async () => {
    const c = await track(keyClient(matrixServer, await token({role: 'superuser', caches: [target]})));
    assert.deepEqual(await cacheNames(c), [target]);
  });

  test('a key scoped to several caches lists exactly those that exist', async () => {
    // Three caches exist (target, other, extra); the key names two of them
    // and one that does not exist.
    const extra = uniqueCacheName('sec-extra');
    const missing = uniqueCacheName('missing');
    expect(await su.createCache(extra), CreateCache.Success, `createCache(${extra})`);
    try {
      const c = await track(keyClient(matrixServer, await token({role: 'superuser', caches: [target, extra, missing]})));
      assert.deepEqual(await cacheNames(c), [target, extra].sort());
    } finally {
      await su.deleteCache(extra);
    }
  });

  test('an unscoped superuser key lists every cache', async () => {
    const names = await cacheNames(su);
    for (const name of [target, other]) assert.ok(names.includes(name), `listCaches() = ${names}, lacks ${name}`);
  });
});

// ---------------------------------------------------------------------------
// Revocation by id.

describe('revocation by id', () => {
  test('a key revoked with --id is refused after SIGHUP and stays refused', async () => {
    const key = await token({role: 'readwrite'});
    const c = await track(keyClient(matrixServer, key));
    const item = uniqueKey();
    expect(await c.set(target, item, 'before'), CacheSet.Success, 'set before revocation');
    const claims = JSON.parse(await runThaw(['token', 'inspect', '--secret-file', secretFile, key]));
    assert.equal(typeof claims.id, 'string', `thaw token inspect printed ${JSON.stringify(claims)}, want an "id"`);
    assert.ok(claims.id.length > 0, 'thaw token inspect printed an empty id');
    await runThaw(['token', 'revoke', '--revoked-keys', revokedKeysFile, '--id', claims.id]);
    process.kill(matrixServer.pid, 'SIGHUP');
    await waitUntilRefused(c, target, 'key revoked by id');
    expectError(await c.set(target, item, 'after'), CacheSet.Error, AUTH, 'set after revocation');
    const got = await su.get(target, item);
    assert.equal(got.valueString?.(), 'before', `get(${item}) after a refused set = ${show(got)}`);
  });
});

// ---------------------------------------------------------------------------
// 3. The test admin with auth on.

/** A client on the admin server whose every call carries fault metadata. */
function faultClient(apiKey, headers) {
  const configuration = laptopConfig()
    .withClientTimeoutMillis(FAULT_CLIENT_TIMEOUT_MS)
    .addMiddleware(metadataMiddleware(headers));
  return track(apiKey === undefined ? localClient(adminServer, {configuration}) : keyClient(adminServer, apiKey, {configuration}));
}

describe('fault injection runs only after auth', () => {
  test('a refused caller is never delayed; an authorized one is', async () => {
    const headers = {'request-id': randomUUID(), 'delay-rpcs': 'get,set', 'delay-ms': LONG_DELAY_MS};
    // The delay is 12 times the client deadline: a refused call that was
    // delayed would come back TIMEOUT_ERROR, not the refusal.
    const anon = await faultClient(undefined, headers);
    expectError(await anon.get(adminCache, uniqueKey()), CacheGet.Error, AUTH, 'delayed get with no key');
    const garbage = await faultClient(keys.garbage, headers);
    expectError(await garbage.get(adminCache, uniqueKey()), CacheGet.Error, AUTH, 'delayed get with a garbage key');
    const revoked = await faultClient(keys.revoked, headers);
    expectError(await revoked.get(adminCache, uniqueKey()), CacheGet.Error, AUTH, 'delayed get with a revoked key');
    const ro = await faultClient(keys.readonly, headers);
    expectError(await ro.set(adminCache, uniqueKey(), 'v'), CacheSet.Error, PERMISSION, 'delayed set with a readonly key');
    const rw = await faultClient(keys.readwrite, headers);
    expectError(await rw.get(adminCache, uniqueKey()), CacheGet.Error, MomentoErrorCode.TIMEOUT_ERROR, 'delayed get with a readwrite key');
  });

  test('a refused caller never gets an injected error; an authorized one does', async () => {
    const item = uniqueKey();
    expect(await adminSu.set(adminCache, item, 'seeded'), CacheSet.Success, `seed set(${item})`);
    const headers = {'request-id': randomUUID(), 'return-error': 'failed-precondition', 'error-rpcs': 'get,set'};
    const anon = await faultClient(undefined, headers);
    expectError(await anon.get(adminCache, item), CacheGet.Error, AUTH, 'get with no key and an injected error');
    expectError(await anon.set(adminCache, item, 'changed'), CacheSet.Error, AUTH, 'set with no key and an injected error');
    const foreign = await faultClient(keys.foreign, headers);
    expectError(await foreign.set(adminCache, item, 'changed'), CacheSet.Error, AUTH, 'set with a foreign key and an injected error');
    const ro = await faultClient(keys.readonly, headers);
    expectError(await ro.set(adminCache, item, 'changed'), CacheSet.Error, PERMISSION, 'set with a readonly key and an injected error');
    const rw = await faultClient(keys.readwrite, headers);
    const injected = MomentoErrorCode.FAILED_PRECONDITION_ERROR;
    expectError(await rw.get(adminCache, item), CacheGet.Error, injected, 'get with a readwrite key and an injected error');
    expectError(await rw.set(adminCache, item, 'changed'), CacheSet.Error, injected, 'set with a readwrite key and an injected error');
    const got = await adminSu.get(adminCache, item);
    assert.equal(got.valueString?.(), 'seeded', `get(${item}) after refused and failed sets = ${show(got)}`);
  });

  test('error-count is kept per key: two keys with one request-id each get one injected error', async () => {
    const counter = uniqueKey('ctr');
    const headers = {'request-id': randomUUID(), 'return-error': 'unavailable', 'error-rpcs': 'increment', 'error-count': 1};
    const a = await faultClient(keys.readwrite, headers);
    const b = await faultClient(keys.readwrite2, headers);
    const unavailable = MomentoErrorCode.SERVER_UNAVAILABLE;
    // Increment is not retried by the SDK, so each injected error is seen.
    expectError(await a.increment(adminCache, counter, 1), CacheIncrement.Error, unavailable, 'first increment with key A');
    expectError(await b.increment(adminCache, counter, 1), CacheIncrement.Error, unavailable, 'first increment with key B (same request-id)');
    const steps = [
      [a, 'second increment with key A', 1],
      [b, 'second increment with key B', 2],
      [a, 'third increment with key A', 3],
      [b, 'third increment with key B', 4],
    ];
    for (const [c, what, want] of steps) {
      const resp = await c.increment(adminCache, counter, 1);
      expect(resp, CacheIncrement.Success, what);
      assert.equal(resp.value(), want, `${what} = ${resp.value()}, want ${want}`);
    }
  });
});

describe('/block and /unblock need a superuser key', () => {
  const bearer = key => `Bearer ${apiKeyToken(key)}`;
  // [what, Authorization header or undefined, status]
  const refused = () => [
    ['no Authorization header', undefined, 401],
    ['an empty bearer', 'Bearer ', 401],
    ['a garbage token', 'not-a-real-key', 401],
    ['a superuser key from another secret', bearer(keys.foreign), 401],
    ['an alg:none superuser token', bearer(keys.algNone), 401],
    ['an expired superuser key', bearer(keys.expired), 401],
    ['a revoked superuser key', bearer(keys.revoked), 401],
    ['a readonly key', bearer(keys.readonly), 403],
    ['a readwrite key', bearer(keys.readwrite), 403],
    ['a superuser key scoped to one cache', bearer(keys.scopedOther), 403],
  ];
  let probe;
  let item;

  before(async () => {
    // A short deadline: when the SDK finds a channel in TRANSIENT_FAILURE it
    // replaces it and closes the old one after twice the deadline on a timer
    // that holds the process open (see test_admin.test.mjs).
    probe = await track(keyClient(adminServer, keys.superuser, {configuration: laptopConfig().withClientTimeoutMillis(1_500)}));
    item = uniqueKey();
    expect(await probe.set(adminCache, item, 'v'), CacheSet.Success, `seed set(${item})`);
  });

  async function expectServing(what) {
    const got = await probe.get(adminCache, item);
    assert.equal(got.valueString?.(), 'v', `${what}: get(${item}) = ${show(got)}, want Hit v`);
  }

  async function expectBlocked(what) {
    const got = await probe.get(adminCache, item);
    assert.ok(got instanceof CacheGet.Error, `${what}: get(${item}) = ${show(got)}, want an error while blocked`);
    const transient = [
      MomentoErrorCode.SERVER_UNAVAILABLE,
      MomentoErrorCode.TIMEOUT_ERROR,
      MomentoErrorCode.CONNECTION_ERROR,
      MomentoErrorCode.CANCELLED_ERROR,
      MomentoErrorCode.INTERNAL_SERVER_ERROR,
    ];
    assert.ok(transient.includes(got.errorCode()), `${what}: get while blocked = ${show(got)}, want a transport-type error`);
  }

  test('a refused /block blocks nothing', async () => {
    let blocked = false;
    try {
      for (const [what, authorization, status] of refused()) {
        const res = await adminCall(adminServer, '/block', {authorization});
        blocked ||= res.status === 200;
        assert.equal(res.status, status, `/block with ${what} = HTTP ${res.status} ${res.body.trim()}, want ${status}`);
        await expectServing(`after /block with ${what}`);
      }
    } finally {
      // Leave the port open for the next test even if a refusal failed.
      if (blocked) await adminCall(adminServer, '/unblock', {authorization: apiKeyToken(keys.superuser)}).catch(() => {});
    }
  });

  test('a superuser key blocks; a refused /unblock leaves the port blocked; a superuser key unblocks', async () => {
    const superuserToken = apiKeyToken(keys.superuser);
    let blocked = false;
    try {
      const res = await adminCall(adminServer, '/block', {authorization: `Bearer ${superuserToken}`});
      blocked = res.status === 200;
      assert.equal(res.status, 200, `/block with a superuser key (Bearer) = HTTP ${res.status} ${res.body.trim()}`);
      await expectBlocked('after /block with a superuser key');

      for (const [what, authorization, status] of refused()) {
        const refusedRes = await adminCall(adminServer, '/unblock', {authorization});
        assert.equal(refusedRes.status, status, `/unblock with ${what} = HTTP ${refusedRes.status} ${refusedRes.body.trim()}, want ${status}`);
      }
      await expectBlocked('after the refused /unblock calls');

      // The bare token, without "Bearer ", works too.
      const unblock = await adminCall(adminServer, '/unblock', {authorization: superuserToken});
      assert.equal(unblock.status, 200, `/unblock with a superuser key (bare) = HTTP ${unblock.status} ${unblock.body.trim()}`);
      blocked = false;
    } finally {
      if (blocked) await adminCall(adminServer, '/unblock', {authorization: superuserToken}).catch(() => {});
    }
    // The client reconnects with backoff; poll with a generous bound.
    const deadline = Date.now() + RECOVERY_BOUND_MS;
    for (;;) {
      const got = await probe.get(adminCache, item);
      if (got instanceof CacheGet.Hit) break;
      assert.ok(Date.now() < deadline, `get(${item}) still failing ${RECOVERY_BOUND_MS} ms after /unblock: ${show(got)}`);
      await sleep(200);
    }
  });
});
