// Authentication and authorization: a server started with --auth-secret-file
// and keys minted by `thaw token create`.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheDelete,
  CacheFlush,
  CacheGet,
  CacheGetBatch,
  CacheIncrement,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheKeysExist,
  CacheSet,
  CacheSetBatch,
  CacheSetIfAbsent,
  CacheUpdateTtl,
  CreateCache,
  DeleteCache,
  ListCaches,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {
  createToken,
  keyClient,
  localClient,
  makeTempDir,
  removeDir,
  show,
  startServer,
  uniqueCacheName,
  uniqueKey,
  writeSecret,
} from './harness.mjs';

const EXPIRED_KEY_LIFETIME = '1s';
const EXPIRED_KEY_WAIT_MS = 2_500;

let dir;
let secretFile;
let server;
const cacheA = uniqueCacheName('auth-a');
const cacheB = uniqueCacheName('auth-b');
const clients = [];
const extraDirs = [];
let superuser;
let shortKeyMadeAt;
let shortKey;

async function track(clientPromise) {
  const c = await clientPromise;
  clients.push(c);
  return c;
}

function token(opts) {
  return createToken({secretFile, endpoint: server.addr, ...opts});
}

before(async () => {
  dir = await makeTempDir('thaw-auth-');
  secretFile = await writeSecret(dir);
  server = await startServer(['--auth-secret-file', secretFile, '--create-cache', cacheA, '--create-cache', cacheB]);
  // Minted first so that it has expired by the time its test runs.
  shortKey = await token({role: 'readwrite', expires: EXPIRED_KEY_LIFETIME});
  shortKeyMadeAt = Date.now();
  superuser = await track(keyClient(server, await token({role: 'superuser'})));
});

after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  for (const d of [dir, ...extraDirs]) if (d) await removeDir(d);
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, ErrorCls, code, what) {
  assert.ok(resp instanceof ErrorCls, `${what} = ${show(resp)}, want ${code}`);
  assert.equal(resp.errorCode(), code, `${what}: ${show(resp)}`);
}

describe('no or bad credentials', () => {
  test('the local provider (empty authorization) is an authentication error', async () => {
    const anon = await track(localClient(server));
    expectError(await anon.get(cacheA, 'k'), CacheGet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'get with no key');
    expectError(await anon.set(cacheA, 'k', 'v'), CacheSet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'set with no key');
    expectError(await anon.createCache(uniqueCacheName('anon')), CreateCache.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'createCache with no key');
    expectError(await anon.listCaches(), ListCaches.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'listCaches with no key');
  });

  test('a well-formed v1 key with an unknown api_key is an authentication error', async () => {
    const forged = Buffer.from(JSON.stringify({endpoint: server.addr, api_key: 'not-a-real-key'})).toString('base64');
    const c = await track(keyClient(server, forged));
    expectError(await c.get(cacheA, 'k'), CacheGet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'get with a forged key');
  });

  test('a key signed with another secret is an authentication error', async () => {
    const otherDir = await makeTempDir('thaw-auth-other-');
    extraDirs.push(otherDir);
    const other = await writeSecret(otherDir);
    const key = await createToken({secretFile: other, role: 'superuser', endpoint: server.addr});
    const c = await track(keyClient(server, key));
    expectError(await c.get(cacheA, 'k'), CacheGet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'get with a key from another secret');
  });

  test('an expired key is an authentication error', async () => {
    const wait = shortKeyMadeAt + EXPIRED_KEY_WAIT_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const c = await track(keyClient(server, shortKey));
    expectError(await c.get(cacheA, 'k'), CacheGet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'get with an expired key');
    expectError(await c.set(cacheA, 'k', 'v'), CacheSet.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'set with an expired key');
  });
});

describe('roles', () => {
  test('superuser can create, list and delete caches and use them', async () => {
    const name = uniqueCacheName('su');
    expect(await superuser.createCache(name), CreateCache.Success, `createCache(${name})`);
    const list = await superuser.listCaches();
    expect(list, ListCaches.Success, 'listCaches');
    assert.ok(list.getCaches().some(c => c.getName() === name), `listCaches() lacks ${name}`);
    expect(await superuser.set(name, 'k', 'v'), CacheSet.Success, `set(${name})`);
    expect(await superuser.get(name, 'k'), CacheGet.Hit, `get(${name})`);
    expect(await superuser.deleteCache(name), DeleteCache.Success, `deleteCache(${name})`);
  });

  test('readonly can get but not set or delete', async () => {
    const key = uniqueKey();
    expect(await superuser.set(cacheA, key, 'seen'), CacheSet.Success, `superuser set(${key})`);
    const ro = await track(keyClient(server, await token({role: 'readonly'})));
    const got = await ro.get(cacheA, key);
    expect(got, CacheGet.Hit, `readonly get(${key})`);
    assert.equal(got.valueString(), 'seen');
    expect(await ro.get(cacheA, uniqueKey()), CacheGet.Miss, 'readonly get(missing)');
    expectError(await ro.set(cacheA, key, 'changed'), CacheSet.Error, MomentoErrorCode.PERMISSION_ERROR, `readonly set(${key})`);
    expectError(await ro.delete(cacheA, key), CacheDelete.Error, MomentoErrorCode.PERMISSION_ERROR, `readonly delete(${key})`);
    const after = await superuser.get(cacheA, key);
    assert.equal(after.valueString?.(), 'seen', `value after refused writes = ${show(after)}`);
  });

  test('readonly may use every read and no write', async () => {
    const key = uniqueKey();
    expect(await superuser.set(cacheA, key, '7'), CacheSet.Success, `superuser set(${key})`);
    const ro = await track(keyClient(server, await token({role: 'readonly'})));
    const reads = [
      ['keysExist', () => ro.keysExist(cacheA, [key]), CacheKeysExist.Success],
      ['itemGetTtl', () => ro.itemGetTtl(cacheA, key), CacheItemGetTtl.Hit],
      ['itemGetType', () => ro.itemGetType(cacheA, key), CacheItemGetType.Hit],
      ['getBatch', () => ro.getBatch(cacheA, [key]), CacheGetBatch.Success],
    ];
    for (const [name, call, Want] of reads) expect(await call(), Want, `readonly ${name}`);
    const writes = [
      ['setIfAbsent', () => ro.setIfAbsent(cacheA, uniqueKey(), 'v'), CacheSetIfAbsent.Error],
      ['increment', () => ro.increment(cacheA, key, 1), CacheIncrement.Error],
      ['updateTtl', () => ro.updateTtl(cacheA, key, 10_000), CacheUpdateTtl.Error],
      ['setBatch', () => ro.setBatch(cacheA, {[uniqueKey()]: 'v'}), CacheSetBatch.Error],
      ['flushCache', () => ro.flushCache(cacheA), CacheFlush.Error],
    ];
    for (const [name, call, ErrorCls] of writes) {
      expectError(await call(), ErrorCls, MomentoErrorCode.PERMISSION_ERROR, `readonly ${name}`);
    }
    const after = await superuser.get(cacheA, key);
    assert.equal(after.valueString?.(), '7', `value after refused writes = ${show(after)}`);
  });

  test('readwrite can set and get but not create or delete caches', async () => {
    const rw = await track(keyClient(server, await token({role: 'readwrite'})));
    const key = uniqueKey();
    expect(await rw.set(cacheA, key, 'v'), CacheSet.Success, `readwrite set(${key})`);
    expect(await rw.get(cacheA, key), CacheGet.Hit, `readwrite get(${key})`);
    const name = uniqueCacheName('rw');
    expectError(await rw.createCache(name), CreateCache.Error, MomentoErrorCode.PERMISSION_ERROR, `readwrite createCache(${name})`);
    expectError(await rw.deleteCache(cacheB), DeleteCache.Error, MomentoErrorCode.PERMISSION_ERROR, `readwrite deleteCache(${cacheB})`);
    const list = await superuser.listCaches();
    expect(list, ListCaches.Success, 'listCaches');
    const names = list.getCaches().map(c => c.getName());
    assert.ok(!names.includes(name), `refused createCache still made ${name}`);
    assert.ok(names.includes(cacheB), `refused deleteCache still removed ${cacheB}`);
  });

  test('a key limited to cache A works on A and is refused on B', async () => {
    const scoped = await track(keyClient(server, await token({role: 'readwrite', caches: [cacheA]})));
    const key = uniqueKey();
    expect(await scoped.set(cacheA, key, 'v'), CacheSet.Success, `scoped set(${cacheA})`);
    expect(await scoped.get(cacheA, key), CacheGet.Hit, `scoped get(${cacheA})`);
    expectError(await scoped.get(cacheB, key), CacheGet.Error, MomentoErrorCode.PERMISSION_ERROR, `scoped get(${cacheB})`);
    expectError(await scoped.set(cacheB, key, 'v'), CacheSet.Error, MomentoErrorCode.PERMISSION_ERROR, `scoped set(${cacheB})`);
  });

  test('a readonly key limited to cache A cannot read B', async () => {
    const scoped = await track(keyClient(server, await token({role: 'readonly', caches: [cacheA]})));
    expect(await scoped.get(cacheA, uniqueKey()), CacheGet.Miss, `scoped readonly get(${cacheA})`);
    expectError(await scoped.get(cacheB, 'k'), CacheGet.Error, MomentoErrorCode.PERMISSION_ERROR, `scoped readonly get(${cacheB})`);
  });
});
