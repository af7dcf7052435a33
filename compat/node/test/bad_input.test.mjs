// Bad input: what the SDK rejects itself and what the server must reject.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';

import {
  CacheDelete,
  CacheGet,
  CacheIncrement,
  CacheSet,
  CacheSetIfAbsent,
  CacheUpdateTtl,
  CreateCache,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {localClient, show, startServer, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let server;
let client;
const cache = uniqueCacheName('badinput');

useServerWithCache(cache, (s, c) => {
  server = s;
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, ErrorCls, code, what) {
  assert.ok(resp instanceof ErrorCls, `${what} = ${show(resp)}, want an error`);
  assert.equal(resp.errorCode(), code, `${what}: ${show(resp)}`);
}

describe('blank names (rejected by the SDK)', () => {
  for (const name of ['', '   ']) {
    test(`cache name ${JSON.stringify(name)} is an invalid argument`, async () => {
      expectError(await client.get(name, 'k'), CacheGet.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `get(${JSON.stringify(name)})`);
      expectError(await client.set(name, 'k', 'v'), CacheSet.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `set(${JSON.stringify(name)})`);
      expectError(await client.createCache(name), CreateCache.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `createCache(${JSON.stringify(name)})`);
    });
  }
});

describe('unknown cache', () => {
  const missing = uniqueCacheName('no-such');
  const cases = [
    ['get', () => client.get(missing, 'k'), CacheGet.Error],
    ['set', () => client.set(missing, 'k', 'v'), CacheSet.Error],
    ['delete', () => client.delete(missing, 'k'), CacheDelete.Error],
    ['setIfAbsent', () => client.setIfAbsent(missing, 'k', 'v'), CacheSetIfAbsent.Error],
    ['increment', () => client.increment(missing, 'k', 1), CacheIncrement.Error],
    ['updateTtl', () => client.updateTtl(missing, 'k', 1000), CacheUpdateTtl.Error],
  ];
  for (const [name, call, ErrorCls] of cases) {
    test(`${name} on a cache that does not exist is cache-not-found`, async () => {
      const resp = await call();
      expectError(resp, ErrorCls, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, `${name}(${missing})`);
    });
  }
});

describe('ttl limits', () => {
  test('a ttl above 24 h is an invalid argument', async () => {
    const key = uniqueKey();
    const resp = await client.set(cache, key, 'v', {ttl: 24 * 3600 + 60});
    expectError(resp, CacheSet.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `set(${key}, ttl 24h1m)`);
    assert.ok((await client.get(cache, key)) instanceof CacheGet.Miss, `get(${key}) after the rejected set should miss`);
  });

  test('a ttl of exactly 24 h is accepted', async () => {
    const key = uniqueKey();
    const resp = await client.set(cache, key, 'v', {ttl: 24 * 3600});
    assert.ok(resp instanceof CacheSet.Success, `set(${key}, ttl 24h) = ${show(resp)}, want Success`);
  });

  test('a client default ttl above 24 h makes plain sets fail as invalid arguments', async () => {
    const longClient = await localClient(server, {defaultTtlSeconds: 48 * 3600});
    try {
      const resp = await longClient.set(cache, uniqueKey(), 'v');
      expectError(resp, CacheSet.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'set with a 48 h default ttl');
    } finally {
      longClient.close();
    }
  });

  test('updateTtl above 24 h is an invalid argument', async () => {
    const key = uniqueKey();
    assert.ok((await client.set(cache, key, 'v')) instanceof CacheSet.Success);
    const resp = await client.updateTtl(cache, key, 25 * 3600 * 1000);
    expectError(resp, CacheUpdateTtl.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `updateTtl(${key}, 25 h)`);
  });
});

describe('--max-ttl', () => {
  let short;
  let shortClient;
  const shortCache = uniqueCacheName('maxttl');

  before(async () => {
    short = await startServer(['--max-ttl', '1m', '--create-cache', shortCache]);
    shortClient = await localClient(short, {defaultTtlSeconds: 30});
  });

  after(async () => {
    shortClient?.close();
    await short?.stop();
  });

  test('a ttl of the configured maximum is accepted and one second more is refused', async () => {
    expect(await shortClient.set(shortCache, uniqueKey(), 'v', {ttl: 60}), CacheSet.Success, 'set(ttl 60 s) with --max-ttl 1m');
    expectError(await shortClient.set(shortCache, uniqueKey(), 'v', {ttl: 61}), CacheSet.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'set(ttl 61 s) with --max-ttl 1m');
  });
});
