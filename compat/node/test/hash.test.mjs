// The hash-conditional scalars through the official SDK against a real
// server: setWithHash, getWithHash and the four setIf...Hash... calls, as the
// SDKs' own integration tests use them (client-sdk-javascript
// common-integration-tests get-set-delete.ts, client-sdk-go
// scalar_with_hash_test.go). The hash is opaque: the tests only compare one
// hash with another, except where they check that it is ASCII, so that
// hashString() round-trips.

import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';

import {
  CacheGet,
  CacheGetWithHash,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheSetAddElement,
  CacheSetIfAbsentOrHashEqual,
  CacheSetIfAbsentOrHashNotEqual,
  CacheSetIfPresentAndHashEqual,
  CacheSetIfPresentAndHashNotEqual,
  CacheSetWithHash,
  ItemType,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {allBytes, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('hash');

useServerWithCache(cache, (_server, c) => {
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

const encode = s => new TextEncoder().encode(s);

/** setWithHash(key, value), asserting Stored; resolves to the hash bytes. */
async function setWithHash(key, value, options) {
  const resp = await client.setWithHash(cache, key, value, options);
  expect(resp, CacheSetWithHash.Stored, `setWithHash(${key})`);
  return resp.hashUint8Array();
}

/** getWithHash(key), asserting a Hit; resolves to the Hit. */
async function getWithHash(key) {
  const resp = await client.getWithHash(cache, key);
  expect(resp, CacheGetWithHash.Hit, `getWithHash(${key})`);
  return resp;
}

describe('setWithHash / getWithHash', () => {
  const values = [
    ['a string', randomUUID()],
    ['special characters', `${randomUUID()} héllö wörld ✓`],
    ['bytes', allBytes(300)],
    ['the empty string', ''],
    ['a blank string', '  '],
  ];
  for (const [name, value] of values) {
    test(`${name}: getWithHash returns the value and the hash setWithHash returned`, async () => {
      const key = uniqueKey();
      const hash = await setWithHash(key, value);
      const hit = await getWithHash(key);
      const want = typeof value === 'string' ? encode(value) : value;
      assert.deepEqual(hit.valueUint8Array(), want, `getWithHash(${key}) value`);
      assert.deepEqual(hit.hashUint8Array(), hash, `getWithHash(${key}) hash`);
      assert.equal(hit.hashString(), new TextDecoder().decode(hash));
    });
  }

  test('a byte key names the same item as its string', async () => {
    const key = uniqueKey();
    const hash = await setWithHash(encode(key), 'v');
    assert.deepEqual((await getWithHash(key)).hashUint8Array(), hash);
  });

  test('getWithHash of a missing key is a Miss', async () => {
    expect(await client.getWithHash(cache, uniqueKey()), CacheGetWithHash.Miss, 'getWithHash(missing)');
  });

  test('equal values have equal hashes and different values different ones', async () => {
    const a = await setWithHash(uniqueKey(), 'same');
    const b = await setWithHash(uniqueKey(), 'same');
    const c = await setWithHash(uniqueKey(), 'different');
    assert.deepEqual(a, b, 'hashes of two equal values');
    assert.notDeepEqual(a, c, 'hashes of two different values');
  });

  test('overwriting with another value changes the hash', async () => {
    const key = uniqueKey();
    const first = await setWithHash(key, randomUUID());
    const second = await setWithHash(key, randomUUID());
    assert.notDeepEqual(second, first);
    assert.deepEqual((await getWithHash(key)).hashUint8Array(), second);
  });

  test('the hash is ASCII, so hashString() survives a round trip', async () => {
    const key = uniqueKey();
    const hash = await setWithHash(key, allBytes(64));
    assert.ok(hash.every(b => b > 0x20 && b < 0x7f), `hash ${Buffer.from(hash).toString('hex')} is not printable ASCII`);
    const hashString = (await getWithHash(key)).hashString();
    const resp = await client.setIfPresentAndHashEqual(cache, key, 'next', encode(hashString));
    expect(resp, CacheSetIfPresentAndHashEqual.Stored, 'setIfPresentAndHashEqual(hashString())');
  });

  test('setWithHash takes the ttl option', async () => {
    const key = uniqueKey();
    await setWithHash(key, 'v', {ttl: 1000});
    const ttl = await client.itemGetTtl(cache, key);
    expect(ttl, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
    assert.ok(ttl.remainingTtlMillis() > 950_000 && ttl.remainingTtlMillis() <= 1_000_000, `remaining ${ttl.remainingTtlMillis()} ms`);
  });

  test('a value set with plain set has a hash too', async () => {
    const key = uniqueKey();
    await client.set(cache, key, 'plain');
    const other = await setWithHash(uniqueKey(), 'plain');
    assert.deepEqual((await getWithHash(key)).hashUint8Array(), other);
  });

  test('delete removes a value set with setWithHash', async () => {
    const key = uniqueKey();
    await setWithHash(key, 'v');
    await client.delete(cache, key);
    expect(await client.getWithHash(cache, key), CacheGetWithHash.Miss, `getWithHash(${key}) after delete`);
  });
});

// Each conditional call with whether it stores on a missing key, on a key
// whose hash is the one given, and on a key whose hash is another.
const conditionals = [
  {name: 'setIfPresentAndHashEqual', Resp: CacheSetIfPresentAndHashEqual, stores: {missing: false, equal: true, other: false}},
  {name: 'setIfPresentAndHashNotEqual', Resp: CacheSetIfPresentAndHashNotEqual, stores: {missing: false, equal: false, other: true}},
  {name: 'setIfAbsentOrHashEqual', Resp: CacheSetIfAbsentOrHashEqual, stores: {missing: true, equal: true, other: false}},
  {name: 'setIfAbsentOrHashNotEqual', Resp: CacheSetIfAbsentOrHashNotEqual, stores: {missing: true, equal: false, other: true}},
];

for (const {name, Resp, stores} of conditionals) {
  describe(`#${name}`, () => {
    for (const state of ['missing', 'equal', 'other']) {
      test(`${stores[state] ? 'stores' : 'does not store'} when the key is ${state === 'missing' ? 'missing' : `present with ${state === 'equal' ? 'the' : 'another'} hash`}`, async () => {
        const key = uniqueKey();
        const old = randomUUID();
        let hash = encode(randomUUID()); // a hash no value has, as the Go SDK's "some-hash-value"
        if (state !== 'missing') {
          const stored = await setWithHash(key, old);
          if (state === 'equal') hash = stored;
        }
        const value = randomUUID();
        const resp = await client[name](cache, key, value, hash);
        if (stores[state]) {
          expect(resp, Resp.Stored, `${name}(${state})`);
          const hit = await getWithHash(key);
          assert.equal(hit.valueString(), value);
          assert.deepEqual(hit.hashUint8Array(), resp.hashUint8Array(), `${name} returned a hash other than getWithHash's`);
        } else {
          expect(resp, Resp.NotStored, `${name}(${state})`);
          const got = await client.get(cache, key);
          if (state === 'missing') {
            expect(got, CacheGet.Miss, `get(${key}) after ${name}`);
          } else {
            expect(got, CacheGet.Hit, `get(${key}) after ${name}`);
            assert.equal(got.valueString(), old, `${name} changed a value it did not store`);
          }
        }
      });
    }

    test('sets the ttl it is given', async () => {
      const key = uniqueKey();
      let hash = encode('not a hash');
      if (stores.equal) hash = await setWithHash(key, 'old');
      else if (!stores.missing) await setWithHash(key, 'old');
      expect(await client[name](cache, key, 'new', hash, {ttl: 1000}), Resp.Stored, `${name}(ttl 1000 s)`);
      const ttl = await client.itemGetTtl(cache, key);
      expect(ttl, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
      assert.ok(ttl.remainingTtlMillis() > 950_000, `remaining ${ttl.remainingTtlMillis()} ms, want more than 950 s`);
    });

    test('on a collection is a failed precondition and leaves it alone', async () => {
      const key = uniqueKey('set');
      expect(await client.setAddElement(cache, key, 'member'), CacheSetAddElement.Success, `setAddElement(${key})`);
      const resp = await client[name](cache, key, 'v', encode('any hash'));
      expect(resp, Resp.Error, `${name}(a set)`);
      assert.equal(resp.errorCode(), MomentoErrorCode.FAILED_PRECONDITION_ERROR, show(resp));
      const type = await client.itemGetType(cache, key);
      expect(type, CacheItemGetType.Hit, `itemGetType(${key})`);
      assert.equal(type.itemType(), ItemType.SET);
    });
  });
}

describe('hashes and collections', () => {
  test('getWithHash of a collection is a failed precondition', async () => {
    const key = uniqueKey('set');
    expect(await client.setAddElement(cache, key, 'member'), CacheSetAddElement.Success, `setAddElement(${key})`);
    const resp = await client.getWithHash(cache, key);
    expect(resp, CacheGetWithHash.Error, 'getWithHash(a set)');
    assert.equal(resp.errorCode(), MomentoErrorCode.FAILED_PRECONDITION_ERROR, show(resp));
  });

  test('setWithHash, like set, replaces a collection', async () => {
    const key = uniqueKey('set');
    expect(await client.setAddElement(cache, key, 'member'), CacheSetAddElement.Success, `setAddElement(${key})`);
    const hash = await setWithHash(key, 'scalar now');
    assert.deepEqual((await getWithHash(key)).hashUint8Array(), hash);
    const type = await client.itemGetType(cache, key);
    expect(type, CacheItemGetType.Hit, `itemGetType(${key})`);
    assert.equal(type.itemType(), ItemType.SCALAR);
  });
});

describe('compare and swap', () => {
  test('of two writers holding the same hash, only the first succeeds', async () => {
    const key = uniqueKey();
    const hash = await setWithHash(key, '0');
    const first = await client.setIfPresentAndHashEqual(cache, key, 'writer 1', hash);
    const second = await client.setIfPresentAndHashEqual(cache, key, 'writer 2', hash);
    expect(first, CacheSetIfPresentAndHashEqual.Stored, 'first writer');
    expect(second, CacheSetIfPresentAndHashEqual.NotStored, 'second writer');
    assert.equal((await getWithHash(key)).valueString(), 'writer 1');
  });

  test('concurrent increments by compare and swap lose no update', async () => {
    const key = uniqueKey();
    await setWithHash(key, '0');
    const increment = async () => {
      for (;;) {
        const hit = await getWithHash(key);
        const next = String(Number(hit.valueString()) + 1);
        const resp = await client.setIfPresentAndHashEqual(cache, key, next, hit.hashUint8Array());
        if (resp instanceof CacheSetIfPresentAndHashEqual.Stored) return;
        expect(resp, CacheSetIfPresentAndHashEqual.NotStored, 'setIfPresentAndHashEqual');
      }
    };
    await Promise.all(Array.from({length: 8}, () => Promise.all([increment(), increment(), increment()])));
    assert.equal((await getWithHash(key)).valueString(), '24');
  });
});
