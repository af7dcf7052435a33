// Items expire after their TTL. Polls with generous bounds instead of relying
// on a tight sleep.

import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheGet,
  CacheItemGetTtl,
  CacheKeyExists,
  CacheSet,
  CacheSetIfAbsent,
  CacheUpdateTtl,
} from '@gomomento/sdk';

import {show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

const EXPIRY_BOUND_MS = 10_000;

let server;
let client;
const cache = uniqueCacheName('ttl');

useServerWithCache(cache, (s, c) => {
  server = s;
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

// Waits until get(key) is a miss; fails if it is still a hit after the bound,
// or if anything other than a hit or miss comes back.
async function waitForMiss(key, startedAt) {
  for (;;) {
    const got = await client.get(cache, key);
    if (got instanceof CacheGet.Miss) return Date.now() - startedAt;
    expect(got, CacheGet.Hit, `get(${key}) while waiting for expiry`);
    assert.ok(Date.now() - startedAt < EXPIRY_BOUND_MS, `get(${key}) still a hit ${Date.now() - startedAt} ms after a 1 s ttl`);
    await sleep(100);
  }
}

test('an item with a 1 s ttl is a hit at once and a miss after it expires', async () => {
  const key = uniqueKey();
  const startedAt = Date.now();
  expect(await client.set(cache, key, 'short', {ttl: 1}), CacheSet.Success, `set(${key}, ttl 1)`);
  expect(await client.get(cache, key), CacheGet.Hit, `get(${key}) right after set`);
  await sleep(1_000);
  const elapsed = await waitForMiss(key, startedAt);
  assert.ok(elapsed >= 1_000, `expired after ${elapsed} ms, want >= 1000`);
  expect(await client.itemGetTtl(cache, key), CacheItemGetTtl.Miss, `itemGetTtl(${key}) after expiry`);
  const exists = await client.keyExists(cache, key);
  expect(exists, CacheKeyExists.Success, `keyExists(${key})`);
  assert.equal(exists.exists(), false, `keyExists(${key}) after expiry`);
});

test('an expired item counts as absent for setIfAbsent', async () => {
  const key = uniqueKey();
  const startedAt = Date.now();
  expect(await client.set(cache, key, 'old', {ttl: 1}), CacheSet.Success, `set(${key}, ttl 1)`);
  await sleep(1_000);
  await waitForMiss(key, startedAt);
  expect(await client.setIfAbsent(cache, key, 'new'), CacheSetIfAbsent.Stored, `setIfAbsent(${key}) after expiry`);
  const got = await client.get(cache, key);
  expect(got, CacheGet.Hit, `get(${key})`);
  assert.equal(got.valueString(), 'new');
});

test('updateTtl to 1 s makes a long-lived item expire', async () => {
  const key = uniqueKey();
  expect(await client.set(cache, key, 'v', {ttl: 600}), CacheSet.Success, `set(${key}, ttl 600)`);
  const startedAt = Date.now();
  expect(await client.updateTtl(cache, key, 1_000), CacheUpdateTtl.Set, `updateTtl(${key}, 1000)`);
  await sleep(1_000);
  await waitForMiss(key, startedAt);
});

test('items with a long ttl survive while a short one expires', async () => {
  const short = uniqueKey('short');
  const long = uniqueKey('long');
  const startedAt = Date.now();
  expect(await client.set(cache, short, 's', {ttl: 1}), CacheSet.Success, `set(${short}, ttl 1)`);
  expect(await client.set(cache, long, 'l', {ttl: 600}), CacheSet.Success, `set(${long}, ttl 600)`);
  await sleep(1_000);
  await waitForMiss(short, startedAt);
  expect(await client.get(cache, long), CacheGet.Hit, `get(${long})`);
});
