// Control-plane operations: create, delete, flush and list caches.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';

import {
  CacheFlush,
  CacheGet,
  CacheSet,
  CreateCache,
  DeleteCache,
  ListCaches,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {localClient, show, startServer, uniqueCacheName, uniqueKey} from './harness.mjs';

let server;
let client;
const startupCache = uniqueCacheName('startup');

before(async () => {
  server = await startServer(['--create-cache', startupCache]);
  client = await localClient(server);
});

after(async () => {
  client?.close();
  await server?.stop();
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

async function cacheNames() {
  const resp = await client.listCaches();
  expect(resp, ListCaches.Success, 'listCaches');
  return resp.getCaches().map(c => c.getName());
}

describe('caches', () => {
  test('--create-cache makes a cache that is usable at once', async () => {
    assert.ok((await cacheNames()).includes(startupCache), `listCaches() lacks ${startupCache}`);
    const key = uniqueKey();
    expect(await client.set(startupCache, key, 'v'), CacheSet.Success, `set(${startupCache}, ${key})`);
    expect(await client.get(startupCache, key), CacheGet.Hit, `get(${startupCache}, ${key})`);
  });

  test('createCache makes a new cache and listCaches shows it', async () => {
    const name = uniqueCacheName('ctl');
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    assert.ok((await cacheNames()).includes(name), `listCaches() lacks ${name}`);
  });

  test('createCache of an existing cache is AlreadyExists', async () => {
    const name = uniqueCacheName('ctl');
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    expect(await client.createCache(name), CreateCache.AlreadyExists, `second createCache(${name})`);
  });

  test('createCache of an existing cache keeps its items', async () => {
    const name = uniqueCacheName('ctl');
    const key = uniqueKey();
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    expect(await client.set(name, key, 'kept'), CacheSet.Success, `set(${name}, ${key})`);
    expect(await client.createCache(name), CreateCache.AlreadyExists, `second createCache(${name})`);
    const got = await client.get(name, key);
    expect(got, CacheGet.Hit, `get(${name}, ${key})`);
    assert.equal(got.valueString(), 'kept');
  });

  test('deleteCache removes the cache and its items', async () => {
    const name = uniqueCacheName('ctl');
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    expect(await client.set(name, 'k', 'v'), CacheSet.Success, `set(${name}, k)`);
    expect(await client.deleteCache(name), DeleteCache.Success, `deleteCache(${name})`);
    assert.ok(!(await cacheNames()).includes(name), `listCaches() still has ${name}`);
    const got = await client.get(name, 'k');
    expect(got, CacheGet.Error, `get(${name}, k) after deleteCache`);
    assert.equal(got.errorCode(), MomentoErrorCode.CACHE_NOT_FOUND_ERROR, show(got));
    // A cache made again under the same name starts empty.
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name}) again`);
    expect(await client.get(name, 'k'), CacheGet.Miss, `get(${name}, k) in the new cache`);
  });

  test('deleteCache of a missing cache is a not-found error', async () => {
    const name = uniqueCacheName('missing');
    const resp = await client.deleteCache(name);
    expect(resp, DeleteCache.Error, `deleteCache(${name})`);
    assert.equal(resp.errorCode(), MomentoErrorCode.NOT_FOUND_ERROR, show(resp));
  });

  test('flushCache empties the cache but keeps it', async () => {
    const name = uniqueCacheName('ctl');
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    const keys = [uniqueKey(), uniqueKey(), uniqueKey()];
    for (const k of keys) expect(await client.set(name, k, 'v'), CacheSet.Success, `set(${name}, ${k})`);
    expect(await client.flushCache(name), CacheFlush.Success, `flushCache(${name})`);
    for (const k of keys) expect(await client.get(name, k), CacheGet.Miss, `get(${name}, ${k}) after flush`);
    assert.ok((await cacheNames()).includes(name), `listCaches() lacks ${name} after flush`);
    expect(await client.set(name, keys[0], 'again'), CacheSet.Success, `set(${name}) after flush`);
  });

  test('flushCache of a missing cache is a not-found error', async () => {
    const name = uniqueCacheName('missing');
    const resp = await client.flushCache(name);
    expect(resp, CacheFlush.Error, `flushCache(${name})`);
    assert.equal(resp.errorCode(), MomentoErrorCode.NOT_FOUND_ERROR, show(resp));
  });

  test('listCaches lists every cache once', async () => {
    const names = [uniqueCacheName('list'), uniqueCacheName('list'), uniqueCacheName('list')];
    for (const n of names) expect(await client.createCache(n), CreateCache.Success, `createCache(${n})`);
    const listed = await cacheNames();
    for (const n of names) {
      assert.equal(listed.filter(x => x === n).length, 1, `listCaches() has ${n} ${listed.filter(x => x === n).length} times, want 1`);
    }
  });

  test('caches are isolated from each other', async () => {
    const a = uniqueCacheName('iso');
    const b = uniqueCacheName('iso');
    expect(await client.createCache(a), CreateCache.Success, `createCache(${a})`);
    expect(await client.createCache(b), CreateCache.Success, `createCache(${b})`);
    expect(await client.set(a, 'shared-key', 'in-a'), CacheSet.Success, `set(${a})`);
    expect(await client.get(b, 'shared-key'), CacheGet.Miss, `get(${b}, shared-key)`);
  });
});
