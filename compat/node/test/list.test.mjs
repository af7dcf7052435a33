// List collection operations through the official SDK against a real server:
// every list call of CacheClient, with the semantics of the real service's
// integration tests (ordering, truncation, slices, misses, TTLs, errors).

import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheDelete,
  CacheGet,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheListConcatenateBack,
  CacheListConcatenateFront,
  CacheListFetch,
  CacheListLength,
  CacheListPopBack,
  CacheListPopFront,
  CacheListPushBack,
  CacheListPushFront,
  CacheListRemoveValue,
  CacheListRetain,
  CacheSet,
  CollectionTtl,
  ItemType,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {allBytes, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('list');

useServerWithCache(cache, (_server, c) => {
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, Cls, code, what) {
  expect(resp, Cls, what);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}, want ${code}`);
}

/** Asserts that listFetch(list) is a Hit with `want`, or a Miss when want is null. */
async function expectList(list, want, options) {
  const got = await client.listFetch(cache, list, options);
  const what = `listFetch(${list}${options ? ', ' + JSON.stringify(options) : ''})`;
  if (want === null) {
    expect(got, CacheListFetch.Miss, what);
    return;
  }
  expect(got, CacheListFetch.Hit, what);
  assert.deepEqual(got.valueListString(), want, `${what} = ${JSON.stringify(got.valueListString())}, want ${JSON.stringify(want)}`);
}

async function makeList(values, ttl) {
  const list = uniqueKey('list');
  const resp = await client.listConcatenateBack(cache, list, values, ttl ? {ttl} : undefined);
  expect(resp, CacheListConcatenateBack.Success, `listConcatenateBack(${list})`);
  assert.equal(resp.listLength(), values.length);
  return list;
}

async function remainingTtlMillis(key) {
  const resp = await client.itemGetTtl(cache, key);
  expect(resp, CacheItemGetTtl.Hit, `itemGetTtl(${key})`);
  return resp.remainingTtlMillis();
}

describe('listPushFront / listPushBack', () => {
  test('pushing to the front reverses the order and returns the new length', async () => {
    const list = uniqueKey('list');
    for (const [i, v] of ['a', 'b', 'c'].entries()) {
      const resp = await client.listPushFront(cache, list, v);
      expect(resp, CacheListPushFront.Success, `listPushFront(${v})`);
      assert.equal(resp.listLength(), i + 1, `listPushFront(${v}).listLength()`);
    }
    await expectList(list, ['c', 'b', 'a']);
  });

  test('pushing to the back keeps the order and returns the new length', async () => {
    const list = uniqueKey('list');
    for (const [i, v] of ['a', 'b', 'c'].entries()) {
      const resp = await client.listPushBack(cache, list, v);
      expect(resp, CacheListPushBack.Success, `listPushBack(${v})`);
      assert.equal(resp.listLength(), i + 1, `listPushBack(${v}).listLength()`);
    }
    await expectList(list, ['a', 'b', 'c']);
  });

  test('truncateBackToSize cuts the back', async () => {
    const list = uniqueKey('list');
    for (const v of ['one', 'two', 'three']) {
      const resp = await client.listPushFront(cache, list, v, {truncateBackToSize: 2});
      expect(resp, CacheListPushFront.Success, `listPushFront(${v}, truncate 2)`);
    }
    await expectList(list, ['three', 'two']);
  });

  test('truncateFrontToSize cuts the front', async () => {
    const list = uniqueKey('list');
    let resp;
    for (const v of ['one', 'two', 'three']) {
      resp = await client.listPushBack(cache, list, v, {truncateFrontToSize: 2});
      expect(resp, CacheListPushBack.Success, `listPushBack(${v}, truncate 2)`);
    }
    assert.equal(resp.listLength(), 2, 'listLength() after truncation');
    await expectList(list, ['two', 'three']);
  });

  test('duplicates and empty values are elements like any other', async () => {
    const list = uniqueKey('list');
    for (const v of ['x', '', 'x', '']) {
      expect(await client.listPushBack(cache, list, v), CacheListPushBack.Success, `listPushBack(${JSON.stringify(v)})`);
    }
    await expectList(list, ['x', '', 'x', '']);
  });
});

describe('listConcatenateFront / listConcatenateBack', () => {
  test('concatenating to the front keeps the block in order', async () => {
    const list = await makeList(['1', '2', '3']);
    const resp = await client.listConcatenateFront(cache, list, ['4', '5', '6']);
    expect(resp, CacheListConcatenateFront.Success, 'listConcatenateFront');
    assert.equal(resp.listLength(), 6);
    await expectList(list, ['4', '5', '6', '1', '2', '3']);
  });

  test('concatenating to the back with truncateFrontToSize returns the truncated length', async () => {
    const list = await makeList(['1', '2', '3']);
    const resp = await client.listConcatenateBack(cache, list, ['4', '5', '6'], {truncateFrontToSize: 5});
    expect(resp, CacheListConcatenateBack.Success, 'listConcatenateBack(truncate 5)');
    assert.equal(resp.listLength(), 5);
    await expectList(list, ['2', '3', '4', '5', '6']);
  });

  test('concatenating to the front with truncateBackToSize cuts old elements first', async () => {
    const list = await makeList(['one', 'two', 'three']);
    const resp = await client.listConcatenateFront(cache, list, ['four', 'five', 'six'], {truncateBackToSize: 4});
    expect(resp, CacheListConcatenateFront.Success, 'listConcatenateFront(truncate 4)');
    assert.equal(resp.listLength(), 4);
    await expectList(list, ['four', 'five', 'six', 'one']);
  });

  test('truncation can cut into the block itself', async () => {
    const list = uniqueKey('list');
    const resp = await client.listConcatenateFront(cache, list, ['v1', 'v2', 'v1', 'v2'], {truncateBackToSize: 2});
    expect(resp, CacheListConcatenateFront.Success, 'listConcatenateFront(new, truncate 2)');
    assert.equal(resp.listLength(), 2);
    await expectList(list, ['v1', 'v2']);
  });

  test('the returned length doubles with each concatenation', async () => {
    const list = uniqueKey('list');
    const values = ['a', 'b', 'c', 'd'];
    for (const want of [4, 8]) {
      const resp = await client.listConcatenateBack(cache, list, values);
      expect(resp, CacheListConcatenateBack.Success, 'listConcatenateBack');
      assert.equal(resp.listLength(), want);
    }
  });

  test('concatenating no values creates nothing', async () => {
    const list = uniqueKey('list');
    const resp = await client.listConcatenateBack(cache, list, []);
    expect(resp, CacheListConcatenateBack.Success, 'listConcatenateBack([])');
    assert.equal(resp.listLength(), 0);
    expect(await client.listLength(cache, list), CacheListLength.Miss, 'listLength after concatenating nothing');
  });
});

describe('listFetch', () => {
  test('a list that does not exist is a miss', async () => {
    await expectList(uniqueKey('list'), null);
  });

  test('a deleted list is a miss', async () => {
    const list = await makeList(['a']);
    expect(await client.delete(cache, list), CacheDelete.Success, 'delete');
    await expectList(list, null);
  });

  test('slices with Python rules', async () => {
    const list = await makeList(['a', 'b', 'c', '1', '2', '3']);
    await expectList(list, ['c', '1'], {startIndex: 2, endIndex: 4});
    await expectList(list, ['2', '3'], {startIndex: -2});
    await expectList(list, ['a', 'b', 'c'], {endIndex: -3});
    await expectList(list, ['1', '2'], {startIndex: -3, endIndex: -1});
    await expectList(list, ['b', 'c', '1', '2', '3'], {startIndex: 1});
    await expectList(list, ['a', 'b', 'c', '1', '2', '3'], {startIndex: -100, endIndex: 100});
  });

  test('the SDK sends endIndex 0 as unbounded', async () => {
    const list = await makeList(['a', 'b', 'c']);
    await expectList(list, ['b', 'c'], {startIndex: 1, endIndex: 0});
  });

  test('an empty slice of an existing list is a miss', async () => {
    const list = await makeList(['a', 'b', 'c', 'd', 'e']);
    // The SDK only checks start < end when start <= 0 <= end, so these
    // reach the server.
    await expectList(list, null, {startIndex: 3, endIndex: 1});
    await expectList(list, null, {startIndex: 2, endIndex: 2});
    await expectList(list, null, {startIndex: 5});
    await expectList(list, null, {startIndex: -1, endIndex: -2});
    await expectList(list, ['a', 'b', 'c', 'd', 'e']);
  });

  test('the SDK itself refuses an end at or before a start of 0', async () => {
    const resp = await client.listFetch(cache, uniqueKey('list'), {startIndex: 0, endIndex: 0});
    expectError(resp, CacheListFetch.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'listFetch(0, 0)');
  });
});

describe('listLength', () => {
  test('a hit with the length, a miss for a missing list', async () => {
    const list = await makeList(['a', 'b', 'c']);
    const hit = await client.listLength(cache, list);
    expect(hit, CacheListLength.Hit, 'listLength');
    assert.equal(hit.length(), 3);
    expect(await client.listLength(cache, uniqueKey('list')), CacheListLength.Miss, 'listLength(missing)');
  });
});

describe('listPopFront / listPopBack', () => {
  test('pops from both ends until the list is gone', async () => {
    const list = await makeList(['a', 'b', 'c']);
    const front = await client.listPopFront(cache, list);
    expect(front, CacheListPopFront.Hit, 'listPopFront');
    assert.equal(front.valueString(), 'a');
    const back = await client.listPopBack(cache, list);
    expect(back, CacheListPopBack.Hit, 'listPopBack');
    assert.equal(back.valueString(), 'c');
    const last = await client.listPopBack(cache, list);
    expect(last, CacheListPopBack.Hit, 'listPopBack(last)');
    assert.equal(last.valueString(), 'b');
    expect(await client.listPopBack(cache, list), CacheListPopBack.Miss, 'listPopBack(emptied)');
    expect(await client.listPopFront(cache, list), CacheListPopFront.Miss, 'listPopFront(emptied)');
    expect(await client.listLength(cache, list), CacheListLength.Miss, 'listLength(emptied)');
    const type = await client.itemGetType(cache, list);
    assert.ok(type instanceof CacheItemGetType.Miss, `itemGetType(emptied) = ${show(type)}, want Miss`);
  });

  test('a list that does not exist is a miss', async () => {
    expect(await client.listPopFront(cache, uniqueKey('list')), CacheListPopFront.Miss, 'listPopFront(missing)');
    expect(await client.listPopBack(cache, uniqueKey('list')), CacheListPopBack.Miss, 'listPopBack(missing)');
  });
});

describe('listRemoveValue', () => {
  test('removes every occurrence', async () => {
    const list = await makeList(['number 9', 'a', 'number 9', 'b', 'number 9']);
    expect(await client.listRemoveValue(cache, list, 'number 9'), CacheListRemoveValue.Success, 'listRemoveValue');
    await expectList(list, ['a', 'b']);
  });

  test('a value the list does not hold changes nothing', async () => {
    const list = await makeList(['a', 'b']);
    expect(await client.listRemoveValue(cache, list, 'c'), CacheListRemoveValue.Success, 'listRemoveValue(absent)');
    await expectList(list, ['a', 'b']);
  });

  test('the empty value', async () => {
    const list = await makeList(['', 'a', '']);
    expect(await client.listRemoveValue(cache, list, ''), CacheListRemoveValue.Success, 'listRemoveValue("")');
    await expectList(list, ['a']);
  });

  test('a list that does not exist is a success and stays missing', async () => {
    const list = uniqueKey('list');
    expect(await client.listRemoveValue(cache, list, 'a'), CacheListRemoveValue.Success, 'listRemoveValue(missing)');
    await expectList(list, null);
  });

  test('removing every element deletes the list', async () => {
    const list = await makeList(['z', 'z']);
    expect(await client.listRemoveValue(cache, list, 'z'), CacheListRemoveValue.Success, 'listRemoveValue(all)');
    await expectList(list, null);
    expect(await client.listLength(cache, list), CacheListLength.Miss, 'listLength(emptied)');
  });
});

describe('listRetain', () => {
  test('keeps a slice', async () => {
    const list = await makeList(['a', 'b', 'c', 'd']);
    expect(await client.listRetain(cache, list, {startIndex: 1, endIndex: 2}), CacheListRetain.Success, 'listRetain(1, 2)');
    await expectList(list, ['b']);
  });

  test('the slices of the .NET SDK tests', async () => {
    const six = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    const cases = [
      [{startIndex: 1, endIndex: 4}, ['v2', 'v3', 'v4']],
      [{startIndex: 2, endIndex: -1}, ['v3', 'v4', 'v5']],
      [{startIndex: -4, endIndex: -1}, ['v3', 'v4', 'v5']],
      [{startIndex: -3}, ['v4', 'v5', 'v6']],
      [{endIndex: 1}, ['v1']],
      [{endIndex: -3}, ['v1', 'v2', 'v3']],
    ];
    for (const [options, want] of cases) {
      const list = await makeList(six);
      expect(await client.listRetain(cache, list, options), CacheListRetain.Success, `listRetain(${JSON.stringify(options)})`);
      await expectList(list, want);
    }
  });

  test('a list that does not exist is a success and stays missing', async () => {
    const list = uniqueKey('list');
    expect(await client.listRetain(cache, list, {startIndex: 1, endIndex: 2}), CacheListRetain.Success, 'listRetain(missing)');
    await expectList(list, null);
  });

  test('an empty slice deletes the list', async () => {
    const list = await makeList(['a', 'b', 'c', 'd', 'e']);
    expect(await client.listRetain(cache, list, {startIndex: 3, endIndex: 1}), CacheListRetain.Success, 'listRetain(3, 1)');
    await expectList(list, null);
    expect(await client.listLength(cache, list), CacheListLength.Miss, 'listLength(emptied)');
  });

  test('refreshes the TTL unless told not to', async () => {
    const refreshed = await makeList(['a', 'b', 'c'], CollectionTtl.of(10));
    expect(await client.listRetain(cache, refreshed, {startIndex: 1, ttl: CollectionTtl.of(100)}), CacheListRetain.Success, 'listRetain(refresh)');
    const kept = await makeList(['a', 'b', 'c'], CollectionTtl.of(10));
    const noRefresh = CollectionTtl.of(100).withNoRefreshTtlOnUpdates();
    expect(await client.listRetain(cache, kept, {startIndex: 1, ttl: noRefresh}), CacheListRetain.Success, 'listRetain(no refresh)');
    assert.ok((await remainingTtlMillis(refreshed)) > 10_000, 'a retain with refresh moves the TTL to 100 s');
    assert.ok((await remainingTtlMillis(kept)) <= 10_000, 'a retain without refresh keeps the TTL of 10 s');
    await expectList(kept, ['b', 'c']);
  });
});

describe('collection TTL', () => {
  test('a list created without refresh expires after its TTL', async () => {
    const list = uniqueKey('list');
    const ttl = new CollectionTtl(1, false);
    for (const v of ['one', 'two', 'three']) {
      expect(await client.listPushBack(cache, list, v, {ttl}), CacheListPushBack.Success, `listPushBack(${v})`);
    }
    await expectList(list, ['one', 'two', 'three']);
    // Poll with a generous deadline: the list must go, never assert when.
    const deadline = Date.now() + 20_000;
    await sleep(1000);
    for (;;) {
      const got = await client.listFetch(cache, list);
      if (got instanceof CacheListFetch.Miss) break;
      expect(got, CacheListFetch.Hit, 'listFetch while waiting for expiry');
      assert.ok(Date.now() < deadline, 'the list never expired');
      await sleep(50);
    }
  });

  test('writes refresh the TTL by default', async () => {
    const list = await makeList(['a'], CollectionTtl.of(10));
    expect(await client.listPushFront(cache, list, 'b', {ttl: CollectionTtl.of(100)}), CacheListPushFront.Success, 'listPushFront');
    const remaining = await remainingTtlMillis(list);
    assert.ok(remaining > 10_000 && remaining <= 100_000, `remaining TTL ${remaining} ms, want in (10 s, 100 s]`);
  });

  test('withNoRefreshTtlOnUpdates keeps the TTL', async () => {
    const list = await makeList(['a'], CollectionTtl.of(10));
    const ttl = CollectionTtl.of(100).withNoRefreshTtlOnUpdates();
    expect(await client.listPushBack(cache, list, 'b', {ttl}), CacheListPushBack.Success, 'listPushBack');
    expect(await client.listConcatenateFront(cache, list, ['c'], {ttl}), CacheListConcatenateFront.Success, 'listConcatenateFront');
    const remaining = await remainingTtlMillis(list);
    assert.ok(remaining > 0 && remaining <= 10_000, `remaining TTL ${remaining} ms, want in (0, 10 s]`);
    await expectList(list, ['c', 'a', 'b']);
  });

  test('pops and removals keep the TTL', async () => {
    const list = await makeList(['a', 'b', 'c', 'd'], CollectionTtl.of(10));
    expect(await client.listPopFront(cache, list), CacheListPopFront.Hit, 'listPopFront');
    expect(await client.listRemoveValue(cache, list, 'c'), CacheListRemoveValue.Success, 'listRemoveValue');
    const remaining = await remainingTtlMillis(list);
    assert.ok(remaining > 0 && remaining <= 10_000, `remaining TTL ${remaining} ms, want in (0, 10 s]`);
  });
});

describe('item type and errors', () => {
  test('itemGetType says list', async () => {
    const list = await makeList(['a']);
    const resp = await client.itemGetType(cache, list);
    expect(resp, CacheItemGetType.Hit, 'itemGetType');
    assert.equal(resp.itemType(), ItemType.LIST);
  });

  test('list calls on a scalar fail with FAILED_PRECONDITION and leave it alone', async () => {
    const key = uniqueKey('scalar');
    expect(await client.set(cache, key, 'text'), CacheSet.Success, 'set');
    const code = MomentoErrorCode.FAILED_PRECONDITION_ERROR;
    expectError(await client.listPushFront(cache, key, 'v'), CacheListPushFront.Error, code, 'listPushFront(scalar)');
    expectError(await client.listPushBack(cache, key, 'v'), CacheListPushBack.Error, code, 'listPushBack(scalar)');
    expectError(await client.listConcatenateFront(cache, key, ['v']), CacheListConcatenateFront.Error, code, 'listConcatenateFront(scalar)');
    expectError(await client.listConcatenateBack(cache, key, ['v']), CacheListConcatenateBack.Error, code, 'listConcatenateBack(scalar)');
    expectError(await client.listFetch(cache, key), CacheListFetch.Error, code, 'listFetch(scalar)');
    expectError(await client.listLength(cache, key), CacheListLength.Error, code, 'listLength(scalar)');
    expectError(await client.listPopFront(cache, key), CacheListPopFront.Error, code, 'listPopFront(scalar)');
    expectError(await client.listPopBack(cache, key), CacheListPopBack.Error, code, 'listPopBack(scalar)');
    expectError(await client.listRemoveValue(cache, key, 'v'), CacheListRemoveValue.Error, code, 'listRemoveValue(scalar)');
    expectError(await client.listRetain(cache, key, {startIndex: 1}), CacheListRetain.Error, code, 'listRetain(scalar)');
    const got = await client.get(cache, key);
    expect(got, CacheGet.Hit, 'get(scalar)');
    assert.equal(got.valueString(), 'text');
  });

  test('list calls on another collection type fail with FAILED_PRECONDITION', async () => {
    const key = uniqueKey('dictionary');
    const set = await client.dictionarySetField(cache, key, 'f', 'v');
    assert.ok(!set.errorCode, `dictionarySetField = ${show(set)}, want success`);
    const code = MomentoErrorCode.FAILED_PRECONDITION_ERROR;
    expectError(await client.listPushBack(cache, key, 'v'), CacheListPushBack.Error, code, 'listPushBack(dictionary)');
    expectError(await client.listFetch(cache, key), CacheListFetch.Error, code, 'listFetch(dictionary)');
  });

  test('scalar calls on a list fail with FAILED_PRECONDITION', async () => {
    const list = await makeList(['a']);
    const got = await client.get(cache, list);
    expectError(got, CacheGet.Error, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'get(list)');
    await expectList(list, ['a']);
  });

  test('the SDK refuses an empty list name', async () => {
    expectError(await client.listPushBack(cache, '', 'v'), CacheListPushBack.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'listPushBack("")');
    expectError(await client.listFetch(cache, ''), CacheListFetch.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'listFetch("")');
  });

  test('a list growing past the item size limit is refused and unchanged', async () => {
    // Values stay under the 128 KiB element limit: blocks of 20 × 100 KB.
    const list = uniqueKey('list');
    const block = Array.from({length: 20}, () => new Uint8Array(100_000).fill(7));
    for (let i = 0; i < 2; i++) {
      expect(await client.listConcatenateBack(cache, list, block), CacheListConcatenateBack.Success, `listConcatenateBack(2 MB) #${i}`);
    }
    const over = await client.listConcatenateBack(cache, list, block);
    expectError(over, CacheListConcatenateBack.Error, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'listConcatenateBack(third 2 MB)');
    assert.match(over.message(), /Item size limit exceeded/, show(over));
    const length = await client.listLength(cache, list);
    expect(length, CacheListLength.Hit, 'listLength');
    assert.equal(length.length(), 40);
    // Truncation makes room: the same block dropping the front fits.
    const rolled = await client.listConcatenateBack(cache, list, block, {truncateFrontToSize: 40});
    expect(rolled, CacheListConcatenateBack.Success, 'listConcatenateBack(2 MB, truncate 40)');
    assert.equal(rolled.listLength(), 40);
  });
});

describe('binary values', () => {
  test('every byte survives push, fetch, pop and remove', async () => {
    const list = uniqueKey('list');
    const all = allBytes(256);
    const invalidUtf8 = new Uint8Array([0xc3, 0x28, 0xff, 0x00]);
    const zero = new Uint8Array([0]);
    expect(await client.listConcatenateBack(cache, list, [all, zero, invalidUtf8, zero]), CacheListConcatenateBack.Success, 'listConcatenateBack(binary)');
    const got = await client.listFetch(cache, list);
    expect(got, CacheListFetch.Hit, 'listFetch(binary)');
    assert.deepEqual(got.valueListUint8Array().map(v => Buffer.from(v)), [all, zero, invalidUtf8, zero].map(v => Buffer.from(v)));
    expect(await client.listRemoveValue(cache, list, zero), CacheListRemoveValue.Success, 'listRemoveValue(\\x00)');
    const back = await client.listPopBack(cache, list);
    expect(back, CacheListPopBack.Hit, 'listPopBack');
    assert.deepEqual(Buffer.from(back.valueUint8Array()), Buffer.from(invalidUtf8));
    const front = await client.listPopFront(cache, list);
    expect(front, CacheListPopFront.Hit, 'listPopFront');
    assert.deepEqual(Buffer.from(front.valueUint8Array()), Buffer.from(all));
    await expectList(list, null);
  });

  test('a list name outside ASCII', async () => {
    // The SDK takes list names as strings and sends their UTF-8 bytes.
    const list = `list-\u00ff\u0000\u{1F600}-${uniqueKey()}`;
    const value = new Uint8Array([0xff, 0x00, 0x80, 0x01]);
    expect(await client.listPushBack(cache, list, value), CacheListPushBack.Success, 'listPushBack(unicode name)');
    const got = await client.listFetch(cache, list);
    expect(got, CacheListFetch.Hit, 'listFetch(unicode name)');
    assert.deepEqual(Buffer.from(got.valueListUint8Array()[0]), Buffer.from(value));
    await expectList(`list-\u00ff\u0000\u{1F601}-x`, null);
  });
});
