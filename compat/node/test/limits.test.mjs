// The service's size limits and the limits ListCaches reports, as the SDKs'
// own integration tests check them against the real service:
// client-sdk-nodejs test/integration/cache/large-messages.test.ts (a
// 5,000,000-byte set succeeds, a 5,300,000-byte one is "Request size limit
// exceeded") and common-integration-tests create-delete-list-cache.ts (the
// limits of a new cache).

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';

import {
  CacheDictionaryFetch,
  CacheDictionarySetField,
  CacheDictionarySetFields,
  CacheGet,
  CacheItemGetTtl,
  CacheSet,
  CacheSetWithHash,
  CreateCache,
  ListCaches,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {localClient, show, startServer, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('limits');

useServerWithCache(cache, (_server, c) => {
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

/** Asserts a LIMIT_EXCEEDED error whose text is the SDK's wording for `wrapper`. */
function expectLimit(resp, Cls, wrapper, what) {
  expect(resp, Cls, what);
  assert.equal(resp.errorCode(), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, show(resp));
  assert.ok(resp.toString().includes('RESOURCE_EXHAUSTED'), `${what}: ${resp.toString()} lacks RESOURCE_EXHAUSTED`);
  assert.ok(resp.toString().includes(wrapper), `${what}: ${resp.toString()} lacks ${JSON.stringify(wrapper)}`);
}

const REQUEST_SIZE = 'Request size limit exceeded for this account';
const ITEM_SIZE = 'Item size limit exceeded for this account';
const ELEMENT_SIZE = 'Element size limit exceeded for this account';

describe('size limits', () => {
  test('a 5,000,000-byte value is stored and read back (large-messages "should send and receive 5mb messages")', async () => {
    const value = 'a'.repeat(5_000_000);
    const key = `js-5mb-key-${randomUUID()}`;
    expect(await client.set(cache, key, value, {ttl: 2000}), CacheSet.Success, 'set(5,000,000 bytes)');
    const ttl = await client.itemGetTtl(cache, key);
    expect(ttl, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
    assert.ok(ttl.remainingTtlMillis() > 0);
    const got = await client.get(cache, key);
    expect(got, CacheGet.Hit, `get(${key})`);
    assert.ok(got.valueString() === value, `get(${key}) returned ${got.valueString().length} bytes, not the value set`);
  });

  test('a 5,300,000-byte set is RESOURCE_EXHAUSTED: "Request size limit exceeded for this account"', async () => {
    const key = `js-5mb-key-${randomUUID()}`;
    const resp = await client.set(cache, key, 'a'.repeat(5_300_000));
    expectLimit(resp, CacheSet.Error, REQUEST_SIZE, 'set(5,300,000 bytes)');
    expect(await client.get(cache, key), CacheGet.Miss, `get(${key}) after the refused set`);
  });

  test('an item one byte over 4883 KiB, in a request within the limit, is "Item size limit exceeded"', async () => {
    const key = uniqueKey();
    const resp = await client.set(cache, key, 'a'.repeat(4883 * 1024 - key.length + 1));
    expectLimit(resp, CacheSet.Error, ITEM_SIZE, 'set(key and value of 4883 KiB + 1 byte)');
    expect(await client.get(cache, key), CacheGet.Miss, `get(${key}) after the refused set`);
  });

  test('an item of exactly 4883 KiB, key included, is stored', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'a'.repeat(4883 * 1024 - key.length)), CacheSet.Success, 'set(key and value of 4883 KiB)');
  });

  test('setWithHash is held to the request limit', async () => {
    const resp = await client.setWithHash(cache, uniqueKey(), 'a'.repeat(5_300_000));
    expectLimit(resp, CacheSetWithHash.Error, REQUEST_SIZE, 'setWithHash(5,300,000 bytes)');
  });

  test('a collection write is held to the request limit', async () => {
    const fields = new Map(Array.from({length: 6}, (_, i) => [`f${i}`, 'a'.repeat(1_000_000)]));
    const resp = await client.dictionarySetFields(cache, uniqueKey('dict'), fields);
    expectLimit(resp, CacheDictionarySetFields.Error, REQUEST_SIZE, 'dictionarySetFields(6 x 1,000,000 bytes)');
  });

  test('a collection element over 128 KiB is "Element size limit exceeded", one at the limit is stored', async () => {
    const name = uniqueKey('dict');
    const resp = await client.dictionarySetField(cache, name, 'f', 'a'.repeat(128 * 1024 + 1));
    expectLimit(resp, CacheDictionarySetField.Error, ELEMENT_SIZE, 'dictionarySetField(128 KiB + 1 byte)');
    expect(await client.dictionaryFetch(cache, name), CacheDictionaryFetch.Miss, `dictionaryFetch(${name}) after the refused write`);
    expect(await client.dictionarySetField(cache, name, 'f', 'a'.repeat(128 * 1024)), CacheDictionarySetField.Success, 'dictionarySetField(128 KiB)');
  });

  test('the server still serves after refusing oversize requests', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'small'), CacheSet.Success, `set(${key})`);
    expect(await client.get(cache, key), CacheGet.Hit, `get(${key})`);
  });
});

/** The listed cache named name, asserting that listCaches succeeds and has it. */
async function listed(c, name) {
  const resp = await c.listCaches();
  expect(resp, ListCaches.Success, 'listCaches');
  const info = resp.getCaches().find(ci => ci.getName() === name);
  assert.ok(info, `listCaches() lacks ${name}`);
  return info;
}

describe('listCaches limits', () => {
  test('a new cache has the service\'s limits (create-delete-list-cache "expected limits")', async () => {
    const name = uniqueCacheName('limits');
    expect(await client.createCache(name), CreateCache.Success, `createCache(${name})`);
    const info = await listed(client, name);
    const limits = info.getCacheLimits();
    assert.equal(limits.maxItemSizeKb, 4883);
    assert.equal(limits.maxTtlSeconds, 86400);
    assert.ok(limits.maxThroughputKbps >= 10240, `maxThroughputKbps ${limits.maxThroughputKbps}`);
    assert.ok(limits.maxTrafficRate >= 500, `maxTrafficRate ${limits.maxTrafficRate}`);
    assert.deepEqual(info.getTopicLimits(), {maxPublishRate: 100, maxSubscriptionCount: 100, maxPublishMessageSizeKb: 100});
  });

  describe('with --max-item-size and --max-ttl', () => {
    let server;
    let small;
    const name = uniqueCacheName('small');

    before(async () => {
      server = await startServer(['--max-item-size', '1MiB', '--max-ttl', '1h', '--create-cache', name]);
      small = await localClient(server);
    });

    after(async () => {
      small?.close();
      await server?.stop();
    });

    test('the limits show the server\'s configuration', async () => {
      const limits = (await listed(small, name)).getCacheLimits();
      assert.equal(limits.maxItemSizeKb, 1024);
      assert.equal(limits.maxTtlSeconds, 3600);
    });

    test('a request over the configured limit is the request size error', async () => {
      const resp = await small.set(name, uniqueKey(), 'a'.repeat(2 * 1024 * 1024));
      expectLimit(resp, CacheSet.Error, REQUEST_SIZE, 'set(2 MiB) under --max-item-size 1MiB');
    });
  });

  describe('with more caches than a page', () => {
    let server;
    let many;
    // The page holds 1000 caches; the SDK reads the first page only.
    const names = Array.from({length: 1001}, (_, i) => `page-${String(i).padStart(4, '0')}`);

    before(async () => {
      server = await startServer(names.flatMap(n => ['--create-cache', n]));
      many = await localClient(server);
    });

    after(async () => {
      many?.close();
      await server?.stop();
    });

    test('listCaches shows the first 1000 in order: the SDK does not follow next_token', async () => {
      const resp = await many.listCaches();
      expect(resp, ListCaches.Success, 'listCaches');
      assert.deepEqual(resp.getCaches().map(c => c.getName()), names.slice(0, 1000));
    });
  });
});
