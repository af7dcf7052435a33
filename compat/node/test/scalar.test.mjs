// Scalar data-plane operations through the official SDK against a real server.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';

import {
  CacheDecreaseTtl,
  CacheDelete,
  CacheGet,
  CacheGetBatch,
  CacheIncreaseTtl,
  CacheIncrement,
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
  ItemType,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {DEFAULT_TTL_SECONDS, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let server;
let client;
const cache = uniqueCacheName('scalar');

useServerWithCache(cache, (s, c) => {
  server = s;
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

async function expectValue(key, want) {
  const got = await client.get(cache, key);
  expect(got, CacheGet.Hit, `get(${key})`);
  assert.equal(got.valueString(), want, `get(${key}) = ${JSON.stringify(got.valueString())}, want ${JSON.stringify(want)}`);
}

async function expectMiss(key) {
  const got = await client.get(cache, key);
  expect(got, CacheGet.Miss, `get(${key})`);
}

describe('get / set / delete', () => {
  test('get of a key never set is a miss', async () => {
    await expectMiss(uniqueKey());
  });

  test('set then get is a hit with the value', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v1'), CacheSet.Success, `set(${key})`);
    await expectValue(key, 'v1');
    const hit = await client.get(cache, key);
    assert.deepEqual(Buffer.from(hit.valueUint8Array()), Buffer.from('v1'));
  });

  test('set overwrites an existing value', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'old'), CacheSet.Success, `set(${key}, old)`);
    expect(await client.set(cache, key, 'new'), CacheSet.Success, `set(${key}, new)`);
    await expectValue(key, 'new');
  });

  test('set with an explicit ttl is stored', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v', {ttl: 120}), CacheSet.Success, `set(${key}, ttl 120)`);
    await expectValue(key, 'v');
  });

  test('delete removes the key', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
    expect(await client.delete(cache, key), CacheDelete.Success, `delete(${key})`);
    await expectMiss(key);
  });

  test('delete of a missing key succeeds', async () => {
    expect(await client.delete(cache, uniqueKey()), CacheDelete.Success, 'delete(missing)');
  });

  test('an empty value round-trips', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, ''), CacheSet.Success, `set(${key}, "")`);
    await expectValue(key, '');
  });
});

describe('conditional sets', () => {
  // Each case: the state before (absent, or a stored value), the call, whether
  // it stores, and the value afterwards (undefined = still absent).
  const cases = [
    {name: 'setIfNotExists on absent', initial: undefined, call: k => client.setIfNotExists(cache, k, 'new'), ns: CacheSetIfNotExists, stored: true},
    {name: 'setIfNotExists on present', initial: 'old', call: k => client.setIfNotExists(cache, k, 'new'), ns: CacheSetIfNotExists, stored: false},
    {name: 'setIfAbsent on absent', initial: undefined, call: k => client.setIfAbsent(cache, k, 'new'), ns: CacheSetIfAbsent, stored: true},
    {name: 'setIfAbsent on present', initial: 'old', call: k => client.setIfAbsent(cache, k, 'new'), ns: CacheSetIfAbsent, stored: false},
    {name: 'setIfPresent on present', initial: 'old', call: k => client.setIfPresent(cache, k, 'new'), ns: CacheSetIfPresent, stored: true},
    {name: 'setIfPresent on absent', initial: undefined, call: k => client.setIfPresent(cache, k, 'new'), ns: CacheSetIfPresent, stored: false},
    {name: 'setIfEqual with equal value', initial: 'old', call: k => client.setIfEqual(cache, k, 'new', 'old'), ns: CacheSetIfEqual, stored: true},
    {name: 'setIfEqual with other value', initial: 'old', call: k => client.setIfEqual(cache, k, 'new', 'other'), ns: CacheSetIfEqual, stored: false},
    {name: 'setIfEqual on absent', initial: undefined, call: k => client.setIfEqual(cache, k, 'new', 'old'), ns: CacheSetIfEqual, stored: false},
    {name: 'setIfNotEqual with other value', initial: 'old', call: k => client.setIfNotEqual(cache, k, 'new', 'other'), ns: CacheSetIfNotEqual, stored: true},
    {name: 'setIfNotEqual with equal value', initial: 'old', call: k => client.setIfNotEqual(cache, k, 'new', 'old'), ns: CacheSetIfNotEqual, stored: false},
    {name: 'setIfNotEqual on absent', initial: undefined, call: k => client.setIfNotEqual(cache, k, 'new', 'old'), ns: CacheSetIfNotEqual, stored: true},
    {name: 'setIfPresentAndNotEqual with other value', initial: 'old', call: k => client.setIfPresentAndNotEqual(cache, k, 'new', 'other'), ns: CacheSetIfPresentAndNotEqual, stored: true},
    {name: 'setIfPresentAndNotEqual with equal value', initial: 'old', call: k => client.setIfPresentAndNotEqual(cache, k, 'new', 'old'), ns: CacheSetIfPresentAndNotEqual, stored: false},
    {name: 'setIfPresentAndNotEqual on absent', initial: undefined, call: k => client.setIfPresentAndNotEqual(cache, k, 'new', 'old'), ns: CacheSetIfPresentAndNotEqual, stored: false},
    {name: 'setIfAbsentOrEqual on absent', initial: undefined, call: k => client.setIfAbsentOrEqual(cache, k, 'new', 'old'), ns: CacheSetIfAbsentOrEqual, stored: true},
    {name: 'setIfAbsentOrEqual with equal value', initial: 'old', call: k => client.setIfAbsentOrEqual(cache, k, 'new', 'old'), ns: CacheSetIfAbsentOrEqual, stored: true},
    {name: 'setIfAbsentOrEqual with other value', initial: 'old', call: k => client.setIfAbsentOrEqual(cache, k, 'new', 'other'), ns: CacheSetIfAbsentOrEqual, stored: false},
  ];

  for (const c of cases) {
    test(`${c.name} ${c.stored ? 'stores' : 'does not store'}`, async () => {
      const key = uniqueKey();
      if (c.initial !== undefined) {
        expect(await client.set(cache, key, c.initial), CacheSet.Success, `set(${key})`);
      }
      const resp = await c.call(key);
      expect(resp, c.stored ? c.ns.Stored : c.ns.NotStored, c.name);
      const after = c.stored ? 'new' : c.initial;
      if (after === undefined) {
        await expectMiss(key);
      } else {
        await expectValue(key, after);
      }
    });
  }

  test('a conditional set honours its ttl', async () => {
    const key = uniqueKey();
    expect(await client.setIfAbsent(cache, key, 'v', {ttl: 30}), CacheSetIfAbsent.Stored, `setIfAbsent(${key}, ttl 30)`);
    const ttl = await client.itemGetTtl(cache, key);
    expect(ttl, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
    assert.ok(ttl.remainingTtlMillis() > 0 && ttl.remainingTtlMillis() <= 30_000, `itemGetTtl(${key}) = ${ttl.remainingTtlMillis()} ms, want (0, 30000]`);
  });
});

describe('keysExist / keyExists', () => {
  test('keysExist reports each key in order', async () => {
    const present = [uniqueKey(), uniqueKey()];
    const absent = uniqueKey();
    for (const k of present) expect(await client.set(cache, k, 'v'), CacheSet.Success, `set(${k})`);
    const resp = await client.keysExist(cache, [present[0], absent, present[1]]);
    expect(resp, CacheKeysExist.Success, 'keysExist');
    assert.deepEqual(resp.exists(), [true, false, true]);
    assert.deepEqual(resp.valueRecord(), {[present[0]]: true, [absent]: false, [present[1]]: true});
  });

  test('keyExists is true for a stored key and false for a missing one', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
    const yes = await client.keyExists(cache, key);
    expect(yes, CacheKeyExists.Success, `keyExists(${key})`);
    assert.equal(yes.exists(), true);
    const no = await client.keyExists(cache, uniqueKey());
    expect(no, CacheKeyExists.Success, 'keyExists(missing)');
    assert.equal(no.exists(), false);
  });
});

describe('increment', () => {
  test('increment of a missing key creates it holding the amount', async () => {
    const key = uniqueKey();
    const resp = await client.increment(cache, key, 5);
    expect(resp, CacheIncrement.Success, `increment(${key}, 5)`);
    assert.equal(resp.value(), 5);
    await expectValue(key, '5');
  });

  test('increment adds to an integer value, negative amounts too', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, '10'), CacheSet.Success, `set(${key}, 10)`);
    const up = await client.increment(cache, key, 3);
    expect(up, CacheIncrement.Success, `increment(${key}, 3)`);
    assert.equal(up.value(), 13);
    const down = await client.increment(cache, key, -20);
    expect(down, CacheIncrement.Success, `increment(${key}, -20)`);
    assert.equal(down.value(), -7);
    await expectValue(key, '-7');
  });

  test('increment with the default amount adds 1', async () => {
    const key = uniqueKey();
    const resp = await client.increment(cache, key);
    expect(resp, CacheIncrement.Success, `increment(${key})`);
    assert.equal(resp.value(), 1);
  });

  test('increment of a non-integer value is a failed precondition', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'not a number'), CacheSet.Success, `set(${key})`);
    const resp = await client.increment(cache, key, 1);
    expect(resp, CacheIncrement.Error, `increment(${key})`);
    assert.equal(resp.errorCode(), MomentoErrorCode.FAILED_PRECONDITION_ERROR, show(resp));
    await expectValue(key, 'not a number');
  });
});

describe('concurrency', () => {
  test('200 concurrent increments of one key add up exactly', async () => {
    const key = uniqueKey();
    const results = await Promise.all(Array.from({length: 200}, () => client.increment(cache, key, 1)));
    results.forEach((r, i) => expect(r, CacheIncrement.Success, `increment #${i}`));
    const seen = results.map(r => r.value()).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({length: 200}, (_, i) => i + 1), 'each increment must see a distinct value 1..200');
    await expectValue(key, '200');
  });

  test('of 50 concurrent setIfAbsent calls exactly one stores', async () => {
    const key = uniqueKey();
    const results = await Promise.all(Array.from({length: 50}, (_, i) => client.setIfAbsent(cache, key, `writer-${i}`)));
    const stored = results.filter(r => r instanceof CacheSetIfAbsent.Stored);
    const notStored = results.filter(r => r instanceof CacheSetIfAbsent.NotStored);
    assert.equal(stored.length, 1, `${stored.length} setIfAbsent calls stored, want 1`);
    assert.equal(notStored.length, 49, `${notStored.length} setIfAbsent calls not stored, want 49`);
    const winner = results.findIndex(r => r instanceof CacheSetIfAbsent.Stored);
    await expectValue(key, `writer-${winner}`);
  });
});

describe('ttl operations', () => {
  test('itemGetTtl returns the remaining ttl of a stored key', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v', {ttl: 100}), CacheSet.Success, `set(${key})`);
    const resp = await client.itemGetTtl(cache, key);
    expect(resp, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
    const ms = resp.remainingTtlMillis();
    assert.ok(ms > 50_000 && ms <= 100_000, `itemGetTtl(${key}) = ${ms} ms, want (50000, 100000]`);
  });

  test('a set without a ttl gets the client default ttl', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
    const ms = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ms > (DEFAULT_TTL_SECONDS - 10) * 1000 && ms <= DEFAULT_TTL_SECONDS * 1000, `itemGetTtl(${key}) = ${ms} ms, want about ${DEFAULT_TTL_SECONDS} s`);
  });

  test('increment that creates a key gives it the ttl asked for', async () => {
    const key = uniqueKey();
    expect(await client.increment(cache, key, 1, {ttl: 30}), CacheIncrement.Success, `increment(${key}, ttl 30)`);
    const ms = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ms > 0 && ms <= 30_000, `itemGetTtl(${key}) = ${ms} ms, want (0, 30000]`);
  });

  test('itemGetTtl of a missing key is a miss', async () => {
    expect(await client.itemGetTtl(cache, uniqueKey()), CacheItemGetTtl.Miss, 'itemGetTtl(missing)');
  });

  test('updateTtl overwrites the ttl, up or down', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v', {ttl: 100}), CacheSet.Success, `set(${key})`);
    expect(await client.updateTtl(cache, key, 500_000), CacheUpdateTtl.Set, `updateTtl(${key}, 500000)`);
    let ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl > 400_000 && ttl <= 500_000, `ttl after updateTtl(500000) = ${ttl}`);
    expect(await client.updateTtl(cache, key, 20_000), CacheUpdateTtl.Set, `updateTtl(${key}, 20000)`);
    ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl > 0 && ttl <= 20_000, `ttl after updateTtl(20000) = ${ttl}`);
    await expectValue(key, 'v');
  });

  test('updateTtl of a missing key is a miss', async () => {
    expect(await client.updateTtl(cache, uniqueKey(), 10_000), CacheUpdateTtl.Miss, 'updateTtl(missing)');
  });

  test('increaseTtl sets a longer ttl and refuses a shorter one', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v', {ttl: 100}), CacheSet.Success, `set(${key})`);
    expect(await client.increaseTtl(cache, key, 300_000), CacheIncreaseTtl.Set, `increaseTtl(${key}, 300000)`);
    let ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl > 200_000 && ttl <= 300_000, `ttl after increaseTtl(300000) = ${ttl}`);
    expect(await client.increaseTtl(cache, key, 10_000), CacheIncreaseTtl.NotSet, `increaseTtl(${key}, 10000)`);
    ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl > 200_000, `ttl after refused increaseTtl(10000) = ${ttl}, want unchanged (> 200000)`);
  });

  test('increaseTtl of a missing key is a miss', async () => {
    expect(await client.increaseTtl(cache, uniqueKey(), 10_000), CacheIncreaseTtl.Miss, 'increaseTtl(missing)');
  });

  test('decreaseTtl sets a shorter ttl and refuses a longer one', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v', {ttl: 100}), CacheSet.Success, `set(${key})`);
    expect(await client.decreaseTtl(cache, key, 30_000), CacheDecreaseTtl.Set, `decreaseTtl(${key}, 30000)`);
    let ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl > 0 && ttl <= 30_000, `ttl after decreaseTtl(30000) = ${ttl}`);
    expect(await client.decreaseTtl(cache, key, 90_000), CacheDecreaseTtl.NotSet, `decreaseTtl(${key}, 90000)`);
    ttl = (await client.itemGetTtl(cache, key)).remainingTtlMillis();
    assert.ok(ttl <= 30_000, `ttl after refused decreaseTtl(90000) = ${ttl}, want unchanged (<= 30000)`);
  });

  test('decreaseTtl of a missing key is a miss', async () => {
    expect(await client.decreaseTtl(cache, uniqueKey(), 10_000), CacheDecreaseTtl.Miss, 'decreaseTtl(missing)');
  });
});

describe('itemGetType', () => {
  test('a scalar item has type SCALAR', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
    const resp = await client.itemGetType(cache, key);
    expect(resp, CacheItemGetType.Hit, `itemGetType(${key})`);
    assert.equal(resp.itemType(), ItemType.SCALAR);
  });

  test('itemGetType of a missing key is a miss', async () => {
    expect(await client.itemGetType(cache, uniqueKey()), CacheItemGetType.Miss, 'itemGetType(missing)');
  });
});

describe('batches', () => {
  test('setBatch stores every item and getBatch reads them back with misses in place', async () => {
    const items = new Map([
      [uniqueKey('b'), 'one'],
      [uniqueKey('b'), 'two'],
      [uniqueKey('b'), 'three'],
    ]);
    const set = await client.setBatch(cache, items);
    expect(set, CacheSetBatch.Success, 'setBatch');
    assert.equal(set.results().length, 3);
    for (const r of set.results()) expect(r, CacheSet.Success, 'setBatch result');

    const missing = uniqueKey('b');
    const keys = [...items.keys()];
    const order = [keys[0], missing, keys[1], keys[2]];
    const got = await client.getBatch(cache, order);
    expect(got, CacheGetBatch.Success, 'getBatch');
    const results = got.results();
    assert.equal(results.length, 4);
    expect(results[0], CacheGet.Hit, `getBatch[0] (${order[0]})`);
    expect(results[1], CacheGet.Miss, `getBatch[1] (${missing})`);
    expect(results[2], CacheGet.Hit, `getBatch[2] (${order[2]})`);
    expect(results[3], CacheGet.Hit, `getBatch[3] (${order[3]})`);
    assert.deepEqual(got.values(), {[keys[0]]: 'one', [keys[1]]: 'two', [keys[2]]: 'three'});
  });

  test('a batch of 200 items keeps its order', async () => {
    const keys = Array.from({length: 200}, (_, i) => uniqueKey(`many${i}`));
    const set = await client.setBatch(cache, keys.map((key, i) => ({key, value: `value-${i}`})));
    expect(set, CacheSetBatch.Success, 'setBatch(200)');
    assert.equal(set.results().length, 200);
    const got = await client.getBatch(cache, keys);
    expect(got, CacheGetBatch.Success, 'getBatch(200)');
    const values = got.results().map(r => (r instanceof CacheGet.Hit ? r.valueString() : show(r)));
    assert.deepEqual(values, keys.map((_, i) => `value-${i}`));
  });

  test('setBatch honours per-item ttls', async () => {
    const a = uniqueKey('b');
    const b = uniqueKey('b');
    const set = await client.setBatch(cache, [
      {key: a, value: 'a', ttl: 40},
      {key: b, value: 'b', ttl: 200},
    ]);
    expect(set, CacheSetBatch.Success, 'setBatch');
    const ta = (await client.itemGetTtl(cache, a)).remainingTtlMillis();
    const tb = (await client.itemGetTtl(cache, b)).remainingTtlMillis();
    assert.ok(ta > 0 && ta <= 40_000, `itemGetTtl(${a}) = ${ta}, want (0, 40000]`);
    assert.ok(tb > 100_000 && tb <= 200_000, `itemGetTtl(${b}) = ${tb}, want (100000, 200000]`);
  });
});
