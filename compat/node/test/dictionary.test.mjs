// Dictionary operations through the official SDK against a real server:
// every dictionary call of CacheClient, with hits, misses, TTLs, errors and
// binary fields and values.

import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheDelete,
  CacheDictionaryFetch,
  CacheDictionaryGetField,
  CacheDictionaryGetFields,
  CacheDictionaryIncrement,
  CacheDictionaryLength,
  CacheDictionaryRemoveField,
  CacheDictionaryRemoveFields,
  CacheDictionarySetField,
  CacheDictionarySetFields,
  CacheGet,
  CacheIncrement,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheKeyExists,
  CacheSet,
  CacheSetAddElement,
  CollectionTtl,
  ItemType,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {DEFAULT_TTL_SECONDS, allBytes, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('dictionary');

useServerWithCache(cache, (_server, c) => {
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, Cls, code, what) {
  expect(resp, Cls.Error, what);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}, want ${code}`);
}

async function setFields(dict, fields, options) {
  expect(await client.dictionarySetFields(cache, dict, fields, options), CacheDictionarySetFields.Success, `dictionarySetFields(${dict})`);
}

async function expectFetch(dict, want) {
  const resp = await client.dictionaryFetch(cache, dict);
  if (want === undefined) {
    expect(resp, CacheDictionaryFetch.Miss, `dictionaryFetch(${dict})`);
    return;
  }
  expect(resp, CacheDictionaryFetch.Hit, `dictionaryFetch(${dict})`);
  assert.deepEqual(resp.valueRecord(), want, `dictionaryFetch(${dict})`);
}

async function expectLength(dict, want) {
  const resp = await client.dictionaryLength(cache, dict);
  if (want === undefined) {
    expect(resp, CacheDictionaryLength.Miss, `dictionaryLength(${dict})`);
    return;
  }
  expect(resp, CacheDictionaryLength.Hit, `dictionaryLength(${dict})`);
  assert.equal(resp.length(), want, `dictionaryLength(${dict})`);
}

async function remainingTtl(key) {
  const resp = await client.itemGetTtl(cache, key);
  expect(resp, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
  return resp.remainingTtlMillis();
}

/** Polls cond every 100 ms until it resolves true, failing after ms. */
async function eventually(what, cond, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`gave up after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('dictionarySetField / dictionaryGetField', () => {
  test('getField of a missing dictionary is a miss', async () => {
    const resp = await client.dictionaryGetField(cache, uniqueKey('dict'), 'a');
    expect(resp, CacheDictionaryGetField.Miss, 'dictionaryGetField(missing)');
    assert.equal(resp.fieldString(), 'a');
  });

  test('setField then getField is a hit; another field is a miss', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionarySetField(cache, dict, 'a', 'one'), CacheDictionarySetField.Success, 'dictionarySetField(a)');
    const hit = await client.dictionaryGetField(cache, dict, 'a');
    expect(hit, CacheDictionaryGetField.Hit, 'dictionaryGetField(a)');
    assert.equal(hit.valueString(), 'one');
    assert.equal(hit.fieldString(), 'a');
    const miss = await client.dictionaryGetField(cache, dict, 'b');
    expect(miss, CacheDictionaryGetField.Miss, 'dictionaryGetField(b)');
    assert.equal(miss.fieldString(), 'b');
  });

  test('setField replaces the value of an existing field', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionarySetField(cache, dict, 'a', 'old'), CacheDictionarySetField.Success, 'dictionarySetField(a, old)');
    expect(await client.dictionarySetField(cache, dict, 'a', 'new'), CacheDictionarySetField.Success, 'dictionarySetField(a, new)');
    await expectFetch(dict, {a: 'new'});
  });

  test('an empty value is a hit with the empty string', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionarySetField(cache, dict, 'empty', ''), CacheDictionarySetField.Success, 'dictionarySetField(empty)');
    const hit = await client.dictionaryGetField(cache, dict, 'empty');
    expect(hit, CacheDictionaryGetField.Hit, 'dictionaryGetField(empty)');
    assert.equal(hit.valueString(), '');
  });

  test('binary fields and values round-trip byte for byte', async () => {
    const dict = uniqueKey('dict');
    const field = allBytes(256);
    const value = allBytes(1000).reverse();
    expect(await client.dictionarySetField(cache, dict, field, value), CacheDictionarySetField.Success, 'dictionarySetField(binary)');
    const hit = await client.dictionaryGetField(cache, dict, field);
    expect(hit, CacheDictionaryGetField.Hit, 'dictionaryGetField(binary)');
    assert.deepEqual(Buffer.from(hit.valueUint8Array()), Buffer.from(value));
    assert.deepEqual(Buffer.from(hit.fieldUint8Array()), Buffer.from(field));
    // A field that differs by one trailing byte is another field.
    const other = await client.dictionaryGetField(cache, dict, field.slice(0, 255));
    expect(other, CacheDictionaryGetField.Miss, 'dictionaryGetField(binary minus one byte)');
  });
});

describe('dictionarySetFields / dictionaryGetFields', () => {
  test('setFields accepts a Map, a Record and an array of pairs', async () => {
    const forms = [
      new Map([['a', '1'], ['b', '2']]),
      {a: '1', b: '2'},
      [['a', '1'], ['b', '2']],
    ];
    for (const form of forms) {
      const dict = uniqueKey('dict');
      await setFields(dict, form);
      await expectFetch(dict, {a: '1', b: '2'});
    }
  });

  test('setFields adds fields and replaces existing ones', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2'});
    await setFields(dict, {b: 'two', c: '3'});
    await expectFetch(dict, {a: '1', b: 'two', c: '3'});
  });

  test('getFields answers each field in order, hits and misses', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '', c: '3'});
    const resp = await client.dictionaryGetFields(cache, dict, ['c', 'missing', 'a', 'b']);
    expect(resp, CacheDictionaryGetFields.Hit, 'dictionaryGetFields');
    const kinds = resp.responses.map(r => r.constructor.name);
    assert.deepEqual(kinds, ['Hit', 'Miss', 'Hit', 'Hit'], `dictionaryGetFields parts = ${kinds}`);
    assert.deepEqual(resp.responses.map(r => r.fieldString()), ['c', 'missing', 'a', 'b']);
    assert.deepEqual(resp.valueRecord(), {c: '3', a: '1', b: ''});
    assert.deepEqual(resp.valueMap(), new Map([['c', '3'], ['a', '1'], ['b', '']]));
  });

  test('getFields of a missing dictionary is a miss', async () => {
    const resp = await client.dictionaryGetFields(cache, uniqueKey('dict'), ['a', 'b']);
    expect(resp, CacheDictionaryGetFields.Miss, 'dictionaryGetFields(missing)');
  });

  test('binary fields in setFields and getFields', async () => {
    const dict = uniqueKey('dict');
    const f1 = Uint8Array.from([0, 1, 2, 0xff]);
    const f2 = Uint8Array.from([0xfe, 0]);
    const v1 = Uint8Array.from([0xde, 0xad, 0xbe, 0xef]);
    await setFields(dict, new Map([[f1, v1], [f2, '']]));
    const resp = await client.dictionaryGetFields(cache, dict, [f2, f1, Uint8Array.from([0])]);
    expect(resp, CacheDictionaryGetFields.Hit, 'dictionaryGetFields(binary)');
    assert.deepEqual(resp.responses.map(r => r.constructor.name), ['Hit', 'Hit', 'Miss']);
    assert.deepEqual(Buffer.from(resp.responses[1].valueUint8Array()), Buffer.from(v1));
    assert.equal(resp.responses[0].valueUint8Array().length, 0);
  });
});

describe('dictionaryFetch', () => {
  test('fetch of a missing dictionary is a miss', async () => {
    await expectFetch(uniqueKey('dict'), undefined);
  });

  test('fetch returns every field, binary values intact', async () => {
    const dict = uniqueKey('dict');
    const bin = allBytes(300);
    await setFields(dict, new Map([['text', 'hello'], ['bin', bin], ['empty', '']]));
    const resp = await client.dictionaryFetch(cache, dict);
    expect(resp, CacheDictionaryFetch.Hit, 'dictionaryFetch');
    const got = resp.valueRecordStringUint8Array();
    assert.deepEqual(Object.keys(got).sort(), ['bin', 'empty', 'text']);
    assert.deepEqual(Buffer.from(got.bin), Buffer.from(bin));
    assert.equal(Buffer.from(got.text).toString(), 'hello');
    assert.equal(got.empty.length, 0);
    assert.deepEqual(resp.valueMapStringString().get('text'), 'hello');
  });

  test('fetch of a dictionary of 2000 fields returns them all', async () => {
    const dict = uniqueKey('dict');
    const want = {};
    for (let i = 0; i < 2000; i++) want[`field-${i}`] = `value-${i}`;
    await setFields(dict, want);
    await expectFetch(dict, want);
    await expectLength(dict, 2000);
  });
});

describe('dictionaryIncrement', () => {
  test('increments from nothing as the SDK tests do: 1, 42, -1000', async () => {
    const dict = uniqueKey('dict');
    const steps = [[undefined, 1], [41, 42], [-1042, -1000]];
    for (const [amount, want] of steps) {
      const resp = await client.dictionaryIncrement(cache, dict, 'n', amount);
      expect(resp, CacheDictionaryIncrement.Success, `dictionaryIncrement(${amount})`);
      assert.equal(resp.value(), want, `dictionaryIncrement(${amount})`);
    }
    const got = await client.dictionaryGetField(cache, dict, 'n');
    expect(got, CacheDictionaryGetField.Hit, 'dictionaryGetField(n)');
    assert.equal(got.valueString(), '-1000');
  });

  test('an amount of 0 is accepted: it reads a set value and creates a missing one', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionarySetField(cache, dict, 'n', '10'), CacheDictionarySetField.Success, 'dictionarySetField(n, 10)');
    const read = await client.dictionaryIncrement(cache, dict, 'n', 0);
    expect(read, CacheDictionaryIncrement.Success, 'dictionaryIncrement(10, 0)');
    assert.equal(read.value(), 10);
    const created = await client.dictionaryIncrement(cache, dict, 'zero', 0);
    expect(created, CacheDictionaryIncrement.Success, 'dictionaryIncrement(missing, 0)');
    assert.equal(created.value(), 0);
    await expectFetch(dict, {n: '10', zero: '0'});
  });

  for (const bad of ['abcxyz', 'hello, world!', '1.5', '']) {
    test(`incrementing a field holding ${JSON.stringify(bad)} is a failed precondition`, async () => {
      const dict = uniqueKey('dict');
      await setFields(dict, {n: bad, other: 'x'});
      const resp = await client.dictionaryIncrement(cache, dict, 'n', 1);
      expectError(resp, CacheDictionaryIncrement, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `dictionaryIncrement(${JSON.stringify(bad)})`);
      await expectFetch(dict, {n: bad, other: 'x'});
    });
  }

  test('an increment past the int64 range is a failed precondition', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionarySetField(cache, dict, 'n', '9223372036854775807'), CacheDictionarySetField.Success, 'dictionarySetField(max)');
    const resp = await client.dictionaryIncrement(cache, dict, 'n', 1);
    expectError(resp, CacheDictionaryIncrement, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'dictionaryIncrement(max, 1)');
    await expectFetch(dict, {n: '9223372036854775807'});
  });

  test('100 concurrent increments of one field see 1..100 exactly once', async () => {
    const dict = uniqueKey('dict');
    const results = await Promise.all(Array.from({length: 100}, () => client.dictionaryIncrement(cache, dict, 'n', 1)));
    results.forEach((r, i) => expect(r, CacheDictionaryIncrement.Success, `dictionaryIncrement #${i}`));
    assert.deepEqual(results.map(r => r.value()).sort((a, b) => a - b), Array.from({length: 100}, (_, i) => i + 1));
    await expectFetch(dict, {n: '100'});
  });
});

describe('dictionaryRemoveField / dictionaryRemoveFields', () => {
  test('removing from a missing dictionary succeeds and creates nothing', async () => {
    const dict = uniqueKey('dict');
    expect(await client.dictionaryRemoveField(cache, dict, 'a'), CacheDictionaryRemoveField.Success, 'dictionaryRemoveField(missing)');
    expect(await client.dictionaryRemoveFields(cache, dict, ['a', 'b']), CacheDictionaryRemoveFields.Success, 'dictionaryRemoveFields(missing)');
    await expectFetch(dict, undefined);
  });

  test('removeField removes one field; a missing field is a no-op', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2'});
    expect(await client.dictionaryRemoveField(cache, dict, 'a'), CacheDictionaryRemoveField.Success, 'dictionaryRemoveField(a)');
    expect(await client.dictionaryRemoveField(cache, dict, 'zz'), CacheDictionaryRemoveField.Success, 'dictionaryRemoveField(zz)');
    await expectFetch(dict, {b: '2'});
    expect(await client.dictionaryGetField(cache, dict, 'a'), CacheDictionaryGetField.Miss, 'dictionaryGetField(a) after removal');
  });

  test('removeFields removes the listed fields', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2', c: '3'});
    expect(await client.dictionaryRemoveFields(cache, dict, ['a', 'zz', 'c']), CacheDictionaryRemoveFields.Success, 'dictionaryRemoveFields(a, zz, c)');
    await expectFetch(dict, {b: '2'});
    await expectLength(dict, 1);
  });

  test('removing every field deletes the dictionary', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2'});
    expect(await client.dictionaryRemoveFields(cache, dict, ['a', 'b']), CacheDictionaryRemoveFields.Success, 'dictionaryRemoveFields(a, b)');
    expect(await client.dictionaryGetFields(cache, dict, ['a', 'b']), CacheDictionaryGetFields.Miss, 'dictionaryGetFields after emptying');
    await expectFetch(dict, undefined);
    await expectLength(dict, undefined);
    expect(await client.itemGetType(cache, dict), CacheItemGetType.Miss, 'itemGetType after emptying');
    const exists = await client.keyExists(cache, dict);
    expect(exists, CacheKeyExists.Success, 'keyExists after emptying');
    assert.equal(exists.exists(), false);
  });

  test('binary fields are removed byte for byte', async () => {
    const dict = uniqueKey('dict');
    const f1 = Uint8Array.from([0, 0xff]);
    const f2 = Uint8Array.from([0, 0xff, 0]);
    await setFields(dict, new Map([[f1, 'one'], [f2, 'two']]));
    expect(await client.dictionaryRemoveFields(cache, dict, [f1]), CacheDictionaryRemoveFields.Success, 'dictionaryRemoveFields(binary)');
    expect(await client.dictionaryGetField(cache, dict, f1), CacheDictionaryGetField.Miss, 'dictionaryGetField(removed)');
    const kept = await client.dictionaryGetField(cache, dict, f2);
    expect(kept, CacheDictionaryGetField.Hit, 'dictionaryGetField(kept)');
    assert.equal(kept.valueString(), 'two');
  });
});

describe('dictionaryLength', () => {
  test('length of a missing dictionary is a miss', async () => {
    await expectLength(uniqueKey('dict'), undefined);
  });

  test('length counts distinct fields', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2', c: '3'});
    await setFields(dict, {a: 'again'});
    await expectLength(dict, 3);
  });
});

describe('collection ttl', () => {
  test('a new dictionary takes the client default ttl', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1'});
    const ttl = await remainingTtl(dict);
    assert.ok(ttl > 0 && ttl <= DEFAULT_TTL_SECONDS * 1000, `itemGetTtl = ${ttl} ms, want (0, ${DEFAULT_TTL_SECONDS * 1000}]`);
  });

  test('a new dictionary takes the CollectionTtl, even without refresh', async () => {
    for (const ttl of [CollectionTtl.of(30), CollectionTtl.of(30).withNoRefreshTtlOnUpdates()]) {
      const dict = uniqueKey('dict');
      expect(await client.dictionarySetField(cache, dict, 'a', '1', {ttl}), CacheDictionarySetField.Success, `dictionarySetField(${ttl})`);
      const left = await remainingTtl(dict);
      assert.ok(left > 0 && left <= 30_000, `itemGetTtl after creation with ${ttl} = ${left} ms, want (0, 30000]`);
    }
  });

  // Each write: how it writes the dictionary with a CollectionTtl.
  const writes = [
    {name: 'dictionarySetField', write: (dict, ttl) => client.dictionarySetField(cache, dict, 'f', 'v', {ttl}), ok: CacheDictionarySetField.Success},
    {name: 'dictionarySetFields', write: (dict, ttl) => client.dictionarySetFields(cache, dict, {f: 'v'}, {ttl}), ok: CacheDictionarySetFields.Success},
    {name: 'dictionaryIncrement', write: (dict, ttl) => client.dictionaryIncrement(cache, dict, 'n', 1, {ttl}), ok: CacheDictionaryIncrement.Success},
  ];
  for (const w of writes) {
    test(`${w.name} with refresh resets the ttl, longer or shorter`, async () => {
      const dict = uniqueKey('dict');
      expect(await w.write(dict, CollectionTtl.of(30)), w.ok, `${w.name}(30 s)`);
      expect(await w.write(dict, CollectionTtl.of(300)), w.ok, `${w.name}(300 s, refresh)`);
      let left = await remainingTtl(dict);
      assert.ok(left > 100_000 && left <= 300_000, `itemGetTtl after a 300 s refresh = ${left} ms, want (100000, 300000]`);
      expect(await w.write(dict, CollectionTtl.of(20)), w.ok, `${w.name}(20 s, refresh)`);
      left = await remainingTtl(dict);
      assert.ok(left > 0 && left <= 20_000, `itemGetTtl after a 20 s refresh = ${left} ms, want (0, 20000]`);
    });

    test(`${w.name} without refresh keeps the ttl`, async () => {
      const dict = uniqueKey('dict');
      expect(await w.write(dict, CollectionTtl.of(30)), w.ok, `${w.name}(30 s)`);
      expect(await w.write(dict, CollectionTtl.of(300).withNoRefreshTtlOnUpdates()), w.ok, `${w.name}(300 s, no refresh)`);
      let left = await remainingTtl(dict);
      assert.ok(left > 0 && left <= 30_000, `itemGetTtl after a 300 s write without refresh = ${left} ms, want (0, 30000]`);
      expect(await w.write(dict, CollectionTtl.of(1).withNoRefreshTtlOnUpdates()), w.ok, `${w.name}(1 s, no refresh)`);
      left = await remainingTtl(dict);
      assert.ok(left > 1_000, `itemGetTtl after a 1 s write without refresh = ${left} ms, want it unchanged (above 1000)`);
    });
  }

  test('removing a field keeps the ttl', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2'}, {ttl: CollectionTtl.of(30)});
    expect(await client.dictionaryRemoveField(cache, dict, 'a'), CacheDictionaryRemoveField.Success, 'dictionaryRemoveField(a)');
    const left = await remainingTtl(dict);
    assert.ok(left > 0 && left <= 30_000, `itemGetTtl after a removal = ${left} ms, want (0, 30000]`);
  });

  test('a dictionary expires at its ttl and is then a miss', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1'}, {ttl: CollectionTtl.of(1).withNoRefreshTtlOnUpdates()});
    await eventually('the dictionary to expire', async () => (await client.dictionaryFetch(cache, dict)) instanceof CacheDictionaryFetch.Miss);
    expect(await client.dictionaryGetField(cache, dict, 'a'), CacheDictionaryGetField.Miss, 'dictionaryGetField after expiry');
    const resp = await client.dictionaryIncrement(cache, dict, 'a', 5);
    expect(resp, CacheDictionaryIncrement.Success, 'dictionaryIncrement after expiry');
    assert.equal(resp.value(), 5, 'an expired dictionary starts anew');
  });
});

describe('item operations on a dictionary', () => {
  test('itemGetType is DICTIONARY and keyExists is true', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1'});
    const type = await client.itemGetType(cache, dict);
    expect(type, CacheItemGetType.Hit, 'itemGetType');
    assert.equal(type.itemType(), ItemType.DICTIONARY);
    const exists = await client.keyExists(cache, dict);
    assert.equal(exists.exists(), true);
  });

  test('delete removes the whole dictionary', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1', b: '2'});
    expect(await client.delete(cache, dict), CacheDelete.Success, 'delete');
    await expectFetch(dict, undefined);
  });

  test('set replaces a dictionary with a scalar', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1'});
    expect(await client.set(cache, dict, 'scalar'), CacheSet.Success, 'set');
    const got = await client.get(cache, dict);
    expect(got, CacheGet.Hit, 'get');
    assert.equal(got.valueString(), 'scalar');
  });
});

describe('errors', () => {
  // Every dictionary call on key in cache c, with its response namespace.
  const calls = [
    {name: 'dictionarySetField', ns: CacheDictionarySetField, call: (c, key) => client.dictionarySetField(c, key, 'a', '1')},
    {name: 'dictionarySetFields', ns: CacheDictionarySetFields, call: (c, key) => client.dictionarySetFields(c, key, {a: '1'})},
    {name: 'dictionaryGetField', ns: CacheDictionaryGetField, call: (c, key) => client.dictionaryGetField(c, key, 'a')},
    {name: 'dictionaryGetFields', ns: CacheDictionaryGetFields, call: (c, key) => client.dictionaryGetFields(c, key, ['a'])},
    {name: 'dictionaryFetch', ns: CacheDictionaryFetch, call: (c, key) => client.dictionaryFetch(c, key)},
    {name: 'dictionaryIncrement', ns: CacheDictionaryIncrement, call: (c, key) => client.dictionaryIncrement(c, key, 'n', 1)},
    {name: 'dictionaryRemoveField', ns: CacheDictionaryRemoveField, call: (c, key) => client.dictionaryRemoveField(c, key, 'a')},
    {name: 'dictionaryRemoveFields', ns: CacheDictionaryRemoveFields, call: (c, key) => client.dictionaryRemoveFields(c, key, ['a'])},
    {name: 'dictionaryLength', ns: CacheDictionaryLength, call: (c, key) => client.dictionaryLength(c, key)},
  ];

  test('every dictionary call on a scalar is a failed precondition and changes nothing', async () => {
    const key = uniqueKey('scalar');
    expect(await client.set(cache, key, '7'), CacheSet.Success, 'set');
    for (const c of calls) {
      expectError(await c.call(cache, key), c.ns, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `${c.name}(scalar)`);
    }
    const got = await client.get(cache, key);
    expect(got, CacheGet.Hit, 'get after the failed calls');
    assert.equal(got.valueString(), '7');
  });

  test('every dictionary call on a set is a failed precondition', async () => {
    const key = uniqueKey('set');
    expect(await client.setAddElement(cache, key, 'm'), CacheSetAddElement.Success, 'setAddElement');
    for (const c of calls) {
      expectError(await c.call(cache, key), c.ns, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `${c.name}(set)`);
    }
  });

  test('scalar get and increment on a dictionary are failed preconditions', async () => {
    const dict = uniqueKey('dict');
    await setFields(dict, {a: '1'});
    expectError(await client.get(cache, dict), CacheGet, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'get(dictionary)');
    expectError(await client.increment(cache, dict, 1), CacheIncrement, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'increment(dictionary)');
    await expectFetch(dict, {a: '1'});
  });

  test('every dictionary call on a missing cache is cache not found', async () => {
    const other = uniqueCacheName('missing');
    for (const c of calls) {
      expectError(await c.call(other, 'dict'), c.ns, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, `${c.name}(missing cache)`);
    }
  });

  test('a blank dictionary name is refused as an invalid argument', async () => {
    expectError(await client.dictionaryFetch(cache, ''), CacheDictionaryFetch, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'dictionaryFetch("")');
  });

  test('a dictionary may not grow past the item size limit', async () => {
    // Elements stay under the 128 KiB element limit: 30 fields of 100 KB
    // are 3 MB, and another 30 would pass the 4883 KiB item limit.
    const dict = uniqueKey('dict');
    const fields = prefix => new Map(Array.from({length: 30}, (_, i) => [`${prefix}${i}`, 'x'.repeat(100_000)]));
    expect(await client.dictionarySetFields(cache, dict, fields('a')), CacheDictionarySetFields.Success, 'dictionarySetFields(3 MB)');
    const resp = await client.dictionarySetFields(cache, dict, fields('b'));
    expectError(resp, CacheDictionarySetFields, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'dictionarySetFields(another 3 MB)');
    assert.match(resp.message(), /Item size limit exceeded/, show(resp));
    await expectLength(dict, 30);
    expect(await client.dictionaryGetField(cache, dict, 'b0'), CacheDictionaryGetField.Miss, 'dictionaryGetField(b0) after the refused write');
  });
});
