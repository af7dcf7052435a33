// Set collection operations through the official SDK against a real server:
// every set call of CacheClient (setAddElement(s), setRemoveElement(s),
// setFetch, setContainsElement(s), setSample, setPop, setLength) plus the
// item calls that apply to a set (delete, itemGetType, itemGetTtl,
// keyExists).

import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheDelete,
  CacheDictionarySetField,
  CacheGet,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheKeyExists,
  CacheListPushBack,
  CacheSet,
  CacheSetAddElement,
  CacheSetAddElements,
  CacheSetContainsElement,
  CacheSetContainsElements,
  CacheSetFetch,
  CacheSetLengthResponse,
  CacheSetPopResponse,
  CacheSetRemoveElement,
  CacheSetRemoveElements,
  CacheSetSample,
  CollectionTtl,
  ItemType,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {DEFAULT_TTL_SECONDS, allBytes, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('set');

useServerWithCache(cache, (_server, c) => {
  client = c;
});

// The SDK exports no response classes for setLength and setPop, only their
// type enums: these stand in for the classes, and expect() checks a string
// against the response's type.
const CacheSetLength = CacheSetLengthResponse;
const CacheSetPop = CacheSetPopResponse;

/** Fails unless resp is an instance of Cls, or has type Cls when it is a type name. */
function expect(resp, Cls, what) {
  if (typeof Cls === 'string') {
    assert.equal(resp?.type, Cls, `${what} = ${show(resp)}, want ${Cls}`);
    return;
  }
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, Cls, code, what) {
  expect(resp, Cls, what);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}, want error code ${code}`);
}

/** Adds elements to setName and fails unless it succeeds. */
async function add(setName, elements, options) {
  expect(await client.setAddElements(cache, setName, elements, options), CacheSetAddElements.Success, `setAddElements(${setName}, ${JSON.stringify(elements)})`);
}

/** Fails unless setName holds exactly `want` (in any order), or is a miss when want is undefined. */
async function expectMembers(setName, want) {
  const resp = await client.setFetch(cache, setName);
  if (want === undefined) {
    expect(resp, CacheSetFetch.Miss, `setFetch(${setName})`);
    expect(await client.setLength(cache, setName), CacheSetLength.Miss, `setLength(${setName})`);
    return;
  }
  expect(resp, CacheSetFetch.Hit, `setFetch(${setName})`);
  assert.deepEqual(resp.valueArray().sort(), [...want].sort(), `setFetch(${setName})`);
  const length = await client.setLength(cache, setName);
  expect(length, CacheSetLength.Hit, `setLength(${setName})`);
  assert.equal(length.length(), want.length, `setLength(${setName})`);
}

/** Remaining TTL of key in ms; fails on a miss. */
async function remainingTtl(key) {
  const resp = await client.itemGetTtl(cache, key);
  expect(resp, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
  return resp.remainingTtlMillis();
}

/** Polls until setFetch(setName) is a miss; fails after a generous deadline. */
async function waitForMiss(setName, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const resp = await client.setFetch(cache, setName);
    if (resp instanceof CacheSetFetch.Miss) return;
    expect(resp, CacheSetFetch.Hit, `setFetch(${setName}) while waiting for expiry`);
    assert.ok(Date.now() < deadline, `setFetch(${setName}) still a hit after ${timeoutMs} ms, want expiry`);
    await sleep(100);
  }
}

describe('add, fetch and length', () => {
  test('fetch and length of a set never written are misses', async () => {
    await expectMembers(uniqueKey('set'), undefined);
  });

  test('setAddElement creates the set; setAddElements adds to it', async () => {
    const name = uniqueKey('set');
    expect(await client.setAddElement(cache, name, 'a'), CacheSetAddElement.Success, `setAddElement(${name}, a)`);
    await expectMembers(name, ['a']);
    await add(name, ['b', 'c']);
    await expectMembers(name, ['a', 'b', 'c']);
  });

  test('duplicates, in the set or in one call, are added once', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b', 'a']);
    await add(name, ['b', 'c', 'c']);
    await expectMembers(name, ['a', 'b', 'c']);
  });

  test('the empty string is a member', async () => {
    const name = uniqueKey('set');
    await add(name, ['', 'x']);
    await expectMembers(name, ['', 'x']);
  });

  test('adding no elements creates nothing', async () => {
    const name = uniqueKey('set');
    await add(name, []);
    await expectMembers(name, undefined);
    expect(await client.itemGetType(cache, name), CacheItemGetType.Miss, `itemGetType(${name})`);
  });

  test('a set is of type SET and exists as a key', async () => {
    const name = uniqueKey('set');
    await add(name, ['a']);
    const type = await client.itemGetType(cache, name);
    expect(type, CacheItemGetType.Hit, `itemGetType(${name})`);
    assert.equal(type.itemType(), ItemType.SET, `itemGetType(${name})`);
    const exists = await client.keyExists(cache, name);
    expect(exists, CacheKeyExists.Success, `keyExists(${name})`);
    assert.equal(exists.exists(), true, `keyExists(${name})`);
  });

  test('a large set round-trips', async () => {
    const name = uniqueKey('set');
    const members = Array.from({length: 2000}, (_, i) => `member-${i}`);
    await add(name, members);
    await expectMembers(name, members);
  });
});

describe('remove and delete', () => {
  test('setRemoveElement and setRemoveElements remove members', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b', 'c', 'd']);
    expect(await client.setRemoveElement(cache, name, 'a'), CacheSetRemoveElement.Success, `setRemoveElement(${name}, a)`);
    expect(await client.setRemoveElements(cache, name, ['b', 'c']), CacheSetRemoveElements.Success, `setRemoveElements(${name}, b c)`);
    await expectMembers(name, ['d']);
  });

  test('removing an element that is not a member changes nothing', async () => {
    const name = uniqueKey('set');
    await add(name, ['a']);
    expect(await client.setRemoveElements(cache, name, ['x', 'y']), CacheSetRemoveElements.Success, `setRemoveElements(${name}, x y)`);
    await expectMembers(name, ['a']);
  });

  test('removing from a set that does not exist succeeds and creates nothing', async () => {
    const name = uniqueKey('set');
    expect(await client.setRemoveElement(cache, name, 'a'), CacheSetRemoveElement.Success, `setRemoveElement(${name}, a)`);
    await expectMembers(name, undefined);
  });

  test('removing the last member deletes the set', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b']);
    expect(await client.setRemoveElements(cache, name, ['a', 'b']), CacheSetRemoveElements.Success, `setRemoveElements(${name}, a b)`);
    await expectMembers(name, undefined);
    expect(await client.itemGetType(cache, name), CacheItemGetType.Miss, `itemGetType(${name})`);
  });

  test('delete removes the whole set', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b']);
    expect(await client.delete(cache, name), CacheDelete.Success, `delete(${name})`);
    await expectMembers(name, undefined);
    await add(name, ['c']);
    await expectMembers(name, ['c']);
  });
});

describe('contains', () => {
  test('setContainsElement is a hit with true or false on an existing set', async () => {
    const name = uniqueKey('set');
    await add(name, ['foo', 'bar']);
    const yes = await client.setContainsElement(cache, name, 'foo');
    expect(yes, CacheSetContainsElement.Hit, `setContainsElement(${name}, foo)`);
    assert.equal(yes.containsElement(), true);
    const no = await client.setContainsElement(cache, name, 'baz');
    expect(no, CacheSetContainsElement.Hit, `setContainsElement(${name}, baz)`);
    assert.equal(no.containsElement(), false);
  });

  test('setContainsElements answers per element', async () => {
    const name = uniqueKey('set');
    await add(name, ['foo', 'bar']);
    const resp = await client.setContainsElements(cache, name, ['foo', 'baz', 'bar']);
    expect(resp, CacheSetContainsElements.Hit, `setContainsElements(${name})`);
    assert.deepEqual(resp.containsElements(), {foo: true, baz: false, bar: true});
  });

  test('contains on a set that does not exist is a miss', async () => {
    const name = uniqueKey('set');
    expect(await client.setContainsElement(cache, name, 'foo'), CacheSetContainsElement.Miss, `setContainsElement(${name})`);
    expect(await client.setContainsElements(cache, name, ['foo']), CacheSetContainsElements.Miss, `setContainsElements(${name})`);
  });
});

describe('sample', () => {
  const members = ['a', 'b', 'c', 'd', 'e'];
  for (const [limit, want] of [[0, 0], [1, 1], [3, 3], [5, 5], [6, 5], [100, 5]]) {
    test(`setSample(${limit}) of a 5-member set returns ${want} distinct members`, async () => {
      const name = uniqueKey('set');
      await add(name, members);
      const resp = await client.setSample(cache, name, limit);
      expect(resp, CacheSetSample.Hit, `setSample(${name}, ${limit})`);
      const got = resp.valueArray();
      assert.equal(got.length, want, `setSample(${name}, ${limit}) = ${JSON.stringify(got)}`);
      assert.equal(new Set(got).size, want, `setSample(${name}, ${limit}) = ${JSON.stringify(got)}, want distinct`);
      for (const m of got) assert.ok(members.includes(m), `setSample returned ${m}, not a member`);
      await expectMembers(name, members);
    });
  }

  test('samples are random', async () => {
    const name = uniqueKey('set');
    await add(name, members);
    const seen = new Set();
    for (let i = 0; i < 100; i++) {
      const resp = await client.setSample(cache, name, 1);
      expect(resp, CacheSetSample.Hit, `setSample(${name}, 1)`);
      seen.add(resp.valueArray()[0]);
    }
    assert.ok(seen.size >= 2, `100 setSample(1) returned only ${JSON.stringify([...seen])}, want random members`);
  });

  test('setSample of a set that does not exist is a miss', async () => {
    expect(await client.setSample(cache, uniqueKey('set'), 3), CacheSetSample.Miss, 'setSample(missing)');
  });
});

describe('pop', () => {
  const members = ['a', 'b', 'c', 'd', 'e'];
  for (const [count, want] of [[1, 1], [3, 3], [5, 5], [6, 5]]) {
    test(`setPop(${count}) of a 5-member set pops ${want}`, async () => {
      const name = uniqueKey('set');
      await add(name, members);
      const resp = await client.setPop(cache, name, count);
      expect(resp, CacheSetPop.Hit, `setPop(${name}, ${count})`);
      const popped = resp.valueArray();
      assert.equal(popped.length, want, `setPop(${name}, ${count}) = ${JSON.stringify(popped)}`);
      assert.equal(new Set(popped).size, want, `setPop(${name}, ${count}) = ${JSON.stringify(popped)}, want distinct`);
      const rest = members.filter(m => !popped.includes(m));
      await expectMembers(name, rest.length === 0 ? undefined : rest);
    });
  }

  test('popping one at a time empties the set, then misses', async () => {
    const name = uniqueKey('set');
    await add(name, members);
    const popped = [];
    for (let i = 0; i < members.length; i++) {
      const resp = await client.setPop(cache, name, 1);
      expect(resp, CacheSetPop.Hit, `setPop(${name}, 1) #${i}`);
      popped.push(...resp.valueArray());
    }
    assert.deepEqual(popped.sort(), members);
    expect(await client.setPop(cache, name, 1), CacheSetPop.Miss, `setPop(${name}) once empty`);
    await expectMembers(name, undefined);
  });

  test('setPop of a set that does not exist is a miss', async () => {
    expect(await client.setPop(cache, uniqueKey('set'), 1), CacheSetPop.Miss, 'setPop(missing)');
  });
});

describe('collection ttl', () => {
  test('a new set gets the client default ttl', async () => {
    const name = uniqueKey('set');
    await add(name, ['a']);
    const ms = await remainingTtl(name);
    assert.ok(ms > 0 && ms <= DEFAULT_TTL_SECONDS * 1000, `itemGetTtl(${name}) = ${ms} ms, want (0, ${DEFAULT_TTL_SECONDS * 1000}]`);
  });

  test('a write with refresh (the default) resets the ttl', async () => {
    const name = uniqueKey('set');
    await add(name, ['a'], {ttl: CollectionTtl.of(10)});
    const first = await remainingTtl(name);
    assert.ok(first <= 10_000, `itemGetTtl(${name}) after creating with 10 s = ${first} ms`);
    await add(name, ['b'], {ttl: CollectionTtl.of(1000)});
    const second = await remainingTtl(name);
    assert.ok(second > 10_000, `itemGetTtl(${name}) after a refreshing write of 1000 s = ${second} ms, want > 10000`);
  });

  test('a refreshing write resets the ttl even when nothing new is added', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b'], {ttl: CollectionTtl.of(10)});
    expect(await client.setAddElement(cache, name, 'a', {ttl: CollectionTtl.of(1000)}), CacheSetAddElement.Success, `setAddElement(${name}, a)`);
    const ms = await remainingTtl(name);
    assert.ok(ms > 10_000, `itemGetTtl(${name}) after re-adding a member with 1000 s = ${ms} ms, want > 10000`);
    await expectMembers(name, ['a', 'b']);
  });

  test('a write without refresh keeps the ttl', async () => {
    const name = uniqueKey('set');
    await add(name, ['a'], {ttl: CollectionTtl.of(10)});
    await add(name, ['b'], {ttl: CollectionTtl.of(1000).withNoRefreshTtlOnUpdates()});
    const ms = await remainingTtl(name);
    assert.ok(ms <= 10_000, `itemGetTtl(${name}) after a write without refresh = ${ms} ms, want <= 10000`);
    await expectMembers(name, ['a', 'b']);
  });

  test('a set created without refresh still gets its ttl, and expires', async () => {
    const name = uniqueKey('set');
    const noRefresh = new CollectionTtl(1, false);
    await add(name, ['a'], {ttl: noRefresh});
    await add(name, ['b'], {ttl: noRefresh});
    const ms = await remainingTtl(name).catch(() => 0);
    assert.ok(ms <= 1000, `itemGetTtl(${name}) = ${ms} ms, want <= 1000`);
    await waitForMiss(name);
    await expectMembers(name, undefined);
  });

  test('removals keep the ttl', async () => {
    const name = uniqueKey('set');
    await add(name, ['a', 'b', 'c'], {ttl: CollectionTtl.of(10)});
    expect(await client.setRemoveElement(cache, name, 'a'), CacheSetRemoveElement.Success, `setRemoveElement(${name}, a)`);
    expect(await client.setPop(cache, name, 1), CacheSetPop.Hit, `setPop(${name}, 1)`);
    const ms = await remainingTtl(name);
    assert.ok(ms <= 10_000, `itemGetTtl(${name}) after removals = ${ms} ms, want <= 10000`);
  });
});

describe('binary elements', () => {
  test('elements are arbitrary bytes, compared bytewise', async () => {
    const name = uniqueKey('set');
    const elements = [allBytes(), new Uint8Array([0]), new Uint8Array([0, 0]), new Uint8Array([0xff, 0xfe]), new Uint8Array([0xc3, 0x28])];
    expect(await client.setAddElements(cache, name, elements), CacheSetAddElements.Success, `setAddElements(${name}, binary)`);
    const resp = await client.setFetch(cache, name);
    expect(resp, CacheSetFetch.Hit, `setFetch(${name})`);
    const got = resp.valueArrayUint8Array().map(e => Buffer.from(e).toString('hex')).sort();
    const want = elements.map(e => Buffer.from(e).toString('hex')).sort();
    assert.deepEqual(got, want);

    const contains = await client.setContainsElement(cache, name, new Uint8Array([0, 0]));
    expect(contains, CacheSetContainsElement.Hit, `setContainsElement(${name}, 00 00)`);
    assert.equal(contains.containsElement(), true);
    const absent = await client.setContainsElement(cache, name, new Uint8Array([0, 0, 0]));
    expect(absent, CacheSetContainsElement.Hit, `setContainsElement(${name}, 00 00 00)`);
    assert.equal(absent.containsElement(), false);

    expect(await client.setRemoveElement(cache, name, new Uint8Array([0])), CacheSetRemoveElement.Success, `setRemoveElement(${name}, 00)`);
    const popped = await client.setPop(cache, name, 10);
    expect(popped, CacheSetPop.Hit, `setPop(${name}, 10)`);
    assert.deepEqual(
      popped.valueArrayUint8Array().map(e => Buffer.from(e).toString('hex')).sort(),
      want.filter(h => h !== '00'),
    );
    await expectMembers(name, undefined);
  });
});

describe('errors', () => {
  const ops = [
    ['setFetch', name => client.setFetch(cache, name), CacheSetFetch.Error],
    ['setAddElement', name => client.setAddElement(cache, name, 'x'), CacheSetAddElement.Error],
    ['setAddElements', name => client.setAddElements(cache, name, ['x', 'y']), CacheSetAddElements.Error],
    ['setRemoveElement', name => client.setRemoveElement(cache, name, 'x'), CacheSetRemoveElement.Error],
    ['setRemoveElements', name => client.setRemoveElements(cache, name, ['x']), CacheSetRemoveElements.Error],
    ['setContainsElement', name => client.setContainsElement(cache, name, 'x'), CacheSetContainsElement.Error],
    ['setContainsElements', name => client.setContainsElements(cache, name, ['x']), CacheSetContainsElements.Error],
    ['setSample', name => client.setSample(cache, name, 2), CacheSetSample.Error],
    ['setPop', name => client.setPop(cache, name, 1), CacheSetPop.Error],
    ['setLength', name => client.setLength(cache, name), CacheSetLength.Error],
  ];

  for (const [op, call, ErrorCls] of ops) {
    test(`${op} on a scalar key is FAILED_PRECONDITION and leaves it alone`, async () => {
      const key = uniqueKey('scalar');
      expect(await client.set(cache, key, 'v'), CacheSet.Success, `set(${key})`);
      expectError(await call(key), ErrorCls, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `${op}(scalar)`);
      const got = await client.get(cache, key);
      expect(got, CacheGet.Hit, `get(${key})`);
      assert.equal(got.valueString(), 'v');
    });

    test(`${op} on a list key is FAILED_PRECONDITION`, async () => {
      const key = uniqueKey('list');
      expect(await client.listPushBack(cache, key, 'v'), CacheListPushBack.Success, `listPushBack(${key})`);
      expectError(await call(key), ErrorCls, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `${op}(list)`);
    });
  }

  test('scalar and dictionary calls on a set are FAILED_PRECONDITION', async () => {
    const name = uniqueKey('set');
    await add(name, ['a']);
    expectError(await client.get(cache, name), CacheGet.Error, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `get(${name})`);
    expectError(
      await client.dictionarySetField(cache, name, 'f', 'v'),
      CacheDictionarySetField.Error,
      MomentoErrorCode.FAILED_PRECONDITION_ERROR,
      `dictionarySetField(${name})`,
    );
    await expectMembers(name, ['a']);
  });

  test('a cache that does not exist is CACHE_NOT_FOUND', async () => {
    const other = uniqueCacheName('nope');
    expectError(await client.setFetch(other, 's'), CacheSetFetch.Error, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, 'setFetch(unknown cache)');
    expectError(await client.setAddElement(other, 's', 'x'), CacheSetAddElement.Error, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, 'setAddElement(unknown cache)');
  });

  test('growing a set past the item size limit is LIMIT_EXCEEDED and changes nothing', async () => {
    // Members stay under the 128 KiB element limit: blocks of 20 × 100 KB.
    const name = uniqueKey('set');
    const block = b => Array.from({length: 20}, (_, i) => 'x'.repeat(100_000 - 8) + String(b * 100 + i).padStart(8, '0'));
    await add(name, block(0));
    await add(name, block(1));
    const resp = await client.setAddElements(cache, name, block(2));
    expectError(resp, CacheSetAddElements.Error, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, `setAddElements(${name}, 2 MB more)`);
    assert.match(resp.message(), /item size/i, `setAddElements(${name}) message`);
    const length = await client.setLength(cache, name);
    expect(length, CacheSetLength.Hit, `setLength(${name})`);
    assert.equal(length.length(), 40);
  });
});
