// Sorted-set operations through the official SDK against a real server:
// every sorted-set call of CacheClient, with hits, misses, ordering, ranges,
// TTLs, errors and binary values.

import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CacheDelete,
  CacheGet,
  CacheItemGetTtl,
  CacheItemGetType,
  CacheSet,
  CacheSortedSetFetch,
  CacheSortedSetGetRank,
  CacheSortedSetGetScore,
  CacheSortedSetGetScores,
  CacheSortedSetIncrementScore,
  CacheSortedSetLength,
  CacheSortedSetLengthByScore,
  CacheSortedSetPutElement,
  CacheSortedSetPutElements,
  CacheSortedSetRemoveElement,
  CacheSortedSetRemoveElements,
  CacheSortedSetUnionStore,
  CollectionTtl,
  ItemType,
  MomentoErrorCode,
  SortedSetAggregate,
  SortedSetOrder,
} from '@gomomento/sdk';

import {DEFAULT_TTL_SECONDS, allBytes, show, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

let client;
const cache = uniqueCacheName('sorted-set');

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

async function putElements(set, elements, options) {
  expect(await client.sortedSetPutElements(cache, set, elements, options), CacheSortedSetPutElements.Success, `sortedSetPutElements(${set})`);
}

/** Fetches by rank (options as the SDK's) and checks the elements, or a miss when want is undefined. */
async function expectFetchByRank(set, options, want) {
  const resp = await client.sortedSetFetchByRank(cache, set, options);
  const what = `sortedSetFetchByRank(${set}, ${JSON.stringify(options)})`;
  if (want === undefined) {
    expect(resp, CacheSortedSetFetch.Miss, what);
    return;
  }
  expect(resp, CacheSortedSetFetch.Hit, what);
  assert.deepEqual(resp.valueArray(), want, what);
}

async function expectFetchByScore(set, options, want) {
  const resp = await client.sortedSetFetchByScore(cache, set, options);
  const what = `sortedSetFetchByScore(${set}, ${JSON.stringify(options)})`;
  if (want === undefined) {
    expect(resp, CacheSortedSetFetch.Miss, what);
    return;
  }
  expect(resp, CacheSortedSetFetch.Hit, what);
  assert.deepEqual(resp.valueArray(), want, what);
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

const el = (value, score) => ({value, score});

// The eight-element set of the SDK's own integration tests, ascending.
const fixture = {bam: 1000, foo: 1, taco: 90210, bar: 2, burrito: 9000, baz: 42, habanero: 68, jalapeno: 1_000_000};
const ascending = [
  el('foo', 1), el('bar', 2), el('baz', 42), el('habanero', 68),
  el('bam', 1000), el('burrito', 9000), el('taco', 90210), el('jalapeno', 1_000_000),
];
const descending = [...ascending].reverse();

describe('sortedSetPutElement(s) / sortedSetFetchByRank', () => {
  test('fetch of a missing sorted set is a miss', async () => {
    await expectFetchByRank(uniqueKey('zset'), {}, undefined);
  });

  test('putElement creates the set; putElement again updates the score', async () => {
    const set = uniqueKey('zset');
    expect(await client.sortedSetPutElement(cache, set, 'a', 42), CacheSortedSetPutElement.Success, 'sortedSetPutElement(a, 42)');
    const resp = await client.sortedSetFetchByRank(cache, set);
    expect(resp, CacheSortedSetFetch.Hit, 'sortedSetFetchByRank');
    assert.equal(resp.toString(), 'Hit: valueArrayStringElements: a: 42');
    expect(await client.sortedSetPutElement(cache, set, 'a', -1.5), CacheSortedSetPutElement.Success, 'sortedSetPutElement(a, -1.5)');
    expect(await client.sortedSetPutElement(cache, set, 'b', 0), CacheSortedSetPutElement.Success, 'sortedSetPutElement(b, 0)');
    await expectFetchByRank(set, {}, [el('a', -1.5), el('b', 0)]);
  });

  test('putElements takes a record, a map or an array of pairs', async () => {
    for (const elements of [{foo: 90210, bar: 42}, new Map([['foo', 90210], ['bar', 42]]), [['foo', 90210], ['bar', 42]]]) {
      const set = uniqueKey('zset');
      await putElements(set, elements);
      await expectFetchByRank(set, {}, [el('bar', 42), el('foo', 90210)]);
    }
  });

  test('equal scores are ordered by value bytes, descending is the exact reverse', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {b: 1, a: 1, B: 1, aa: 1, '': 1, z: 0});
    const asc = [el('z', 0), el('', 1), el('B', 1), el('a', 1), el('aa', 1), el('b', 1)];
    await expectFetchByRank(set, {}, asc);
    await expectFetchByRank(set, {order: SortedSetOrder.Descending}, [...asc].reverse());
  });

  test('infinite scores are stored and ordered', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {pinf: Infinity, ninf: -Infinity, zero: 0});
    await expectFetchByRank(set, {}, [el('ninf', -Infinity), el('zero', 0), el('pinf', Infinity)]);
  });

  test('a NaN score is INVALID_ARGUMENT and changes nothing', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1});
    const resp = await client.sortedSetPutElement(cache, set, 'b', NaN);
    expectError(resp, CacheSortedSetPutElement, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'sortedSetPutElement(b, NaN)');
    await expectFetchByRank(set, {}, [el('a', 1)]);
  });

  describe('ranges and order', () => {
    const set = uniqueKey('zset');
    const cases = [
      ['all, ascending by default', {}, ascending],
      ['explicit ascending', {order: SortedSetOrder.Ascending}, ascending],
      ['descending', {order: SortedSetOrder.Descending}, descending],
      ['start rank', {startRank: 4}, ascending.slice(4)],
      ['end rank', {endRank: 3}, ascending.slice(0, 3)],
      ['start and end rank', {startRank: 1, endRank: 5}, ascending.slice(1, 5)],
      ['start rank out of bounds is an empty hit', {startRank: 10}, []],
      ['end rank out of bounds is clamped', {startRank: 5, endRank: 100}, ascending.slice(5)],
      ['negative start rank', {startRank: -5}, ascending.slice(3)],
      ['negative end rank', {endRank: -2}, ascending.slice(0, 6)],
      ['both negative', {startRank: -5, endRank: -2}, ascending.slice(3, 6)],
      ['start equal to end is an empty hit', {startRank: 3, endRank: 3}, []],
      ['start after end is an empty hit', {startRank: 3, endRank: -6}, []],
      ['descending with a start rank', {order: SortedSetOrder.Descending, startRank: 5}, descending.slice(5)],
      ['descending with an end rank', {order: SortedSetOrder.Descending, endRank: 3}, descending.slice(0, 3)],
      ['descending with a negative start', {order: SortedSetOrder.Descending, startRank: -3}, descending.slice(5)],
      ['descending with a negative end', {order: SortedSetOrder.Descending, endRank: -3}, descending.slice(0, 5)],
      ['descending with start and end', {order: SortedSetOrder.Descending, startRank: 1, endRank: 4}, descending.slice(1, 4)],
    ];
    for (const [name, options, want] of cases) {
      test(name, async () => {
        await putElements(set, fixture); // idempotent
        await expectFetchByRank(set, options, want);
      });
    }
  });
});

describe('sortedSetFetchByScore', () => {
  const set = uniqueKey('zset');
  const cases = [
    ['all', {}, ascending],
    ['inclusive bounds', {minScore: 2, maxScore: 1000}, ascending.slice(1, 5)],
    ['min only', {minScore: 42}, ascending.slice(2)],
    ['max only', {maxScore: 42}, ascending.slice(0, 3)],
    ['min out of range is an empty hit', {minScore: 2_000_000}, []],
    ['between scores is an empty hit', {minScore: 3, maxScore: 41}, []],
    ['offset', {offset: 2}, ascending.slice(2)],
    ['count', {count: 3}, ascending.slice(0, 3)],
    ['offset and count', {minScore: 2, offset: 2, count: 2}, ascending.slice(3, 5)],
    ['count beyond the matches', {minScore: 2, maxScore: 1000, offset: 1, count: 100}, ascending.slice(2, 5)],
    ['offset beyond the matches is an empty hit', {offset: 100}, []],
    ['descending', {order: SortedSetOrder.Descending}, descending],
    ['descending with offset and count', {order: SortedSetOrder.Descending, minScore: 20, maxScore: 100000, offset: 2, count: 2},
      [el('bam', 1000), el('habanero', 68)]],
    ['infinite bounds', {minScore: -Infinity, maxScore: Infinity}, ascending],
  ];
  for (const [name, options, want] of cases) {
    test(name, async () => {
      await putElements(set, fixture);
      await expectFetchByScore(set, options, want);
    });
  }

  test('a missing sorted set is a miss', async () => {
    await expectFetchByScore(uniqueKey('zset'), {minScore: 0}, undefined);
  });

  test('a NaN bound is INVALID_ARGUMENT', async () => {
    await putElements(set, fixture);
    const resp = await client.sortedSetFetchByScore(cache, set, {minScore: NaN});
    expectError(resp, CacheSortedSetFetch, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'sortedSetFetchByScore(min NaN)');
  });
});

describe('sortedSetGetScore(s) / sortedSetGetRank', () => {
  test('getScore is a hit with the score, a miss for a missing value or set', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {foo: 42, bar: 84.5});
    const hit = await client.sortedSetGetScore(cache, set, 'bar');
    expect(hit, CacheSortedSetGetScore.Hit, 'sortedSetGetScore(bar)');
    assert.equal(hit.score(), 84.5);
    assert.equal(hit.valueString(), 'bar');
    expect(await client.sortedSetGetScore(cache, set, 'nope'), CacheSortedSetGetScore.Miss, 'sortedSetGetScore(nope)');
    expect(await client.sortedSetGetScore(cache, uniqueKey('zset'), 'foo'), CacheSortedSetGetScore.Miss, 'sortedSetGetScore(missing set)');
  });

  test('getScores answers per value, partial hits included', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {foo: 42, bar: 84, baz: 90210});
    const resp = await client.sortedSetGetScores(cache, set, ['baz', 'nope', 'foo']);
    expect(resp, CacheSortedSetGetScores.Hit, 'sortedSetGetScores');
    assert.deepEqual(resp.valueRecord(), {baz: 90210, foo: 42});
    const parts = resp.responses();
    assert.equal(parts.length, 3);
    expect(parts[1], CacheSortedSetGetScore.Miss, 'sortedSetGetScores part 1');
    expect(await client.sortedSetGetScores(cache, uniqueKey('zset'), ['foo']), CacheSortedSetGetScores.Miss, 'sortedSetGetScores(missing set)');
  });

  test('getRank is 0-based in either order', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {foo: 42, bar: 84, baz: 90210});
    const want = [['foo', 0, 2], ['bar', 1, 1], ['baz', 2, 0]];
    for (const [value, asc, desc] of want) {
      const a = await client.sortedSetGetRank(cache, set, value);
      expect(a, CacheSortedSetGetRank.Hit, `sortedSetGetRank(${value})`);
      assert.equal(a.rank(), asc, `sortedSetGetRank(${value})`);
      const d = await client.sortedSetGetRank(cache, set, value, {order: SortedSetOrder.Descending});
      expect(d, CacheSortedSetGetRank.Hit, `sortedSetGetRank(${value}, descending)`);
      assert.equal(d.rank(), desc, `sortedSetGetRank(${value}, descending)`);
    }
  });

  test('getRank of a missing value or set is a miss', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {foo: 42});
    expect(await client.sortedSetGetRank(cache, set, 'nope'), CacheSortedSetGetRank.Miss, 'sortedSetGetRank(nope)');
    expect(await client.sortedSetGetRank(cache, uniqueKey('zset'), 'foo'), CacheSortedSetGetRank.Miss, 'sortedSetGetRank(missing set)');
  });
});

describe('sortedSetIncrementScore', () => {
  test('creates the set and element, starting from 0; default amount 1', async () => {
    const set = uniqueKey('zset');
    let resp = await client.sortedSetIncrementScore(cache, set, 'foo');
    expect(resp, CacheSortedSetIncrementScore.Success, 'sortedSetIncrementScore(foo)');
    assert.equal(resp.score(), 1);
    resp = await client.sortedSetIncrementScore(cache, set, 'bar', 42);
    expect(resp, CacheSortedSetIncrementScore.Success, 'sortedSetIncrementScore(bar, 42)');
    assert.equal(resp.score(), 42);
    await expectFetchByRank(set, {}, [el('foo', 1), el('bar', 42)]);
  });

  test('increments and decrements an existing score', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {foo: 90210});
    for (const [amount, want] of [[10, 90220], [-20, 90200], [0.25, 90200.25], [-90200.25, 0]]) {
      const resp = await client.sortedSetIncrementScore(cache, set, 'foo', amount);
      expect(resp, CacheSortedSetIncrementScore.Success, `sortedSetIncrementScore(foo, ${amount})`);
      assert.equal(resp.score(), want, `sortedSetIncrementScore(foo, ${amount})`);
    }
  });

  test('a result that would be NaN is FAILED_PRECONDITION and changes nothing', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {p: Infinity});
    const resp = await client.sortedSetIncrementScore(cache, set, 'p', -Infinity);
    expectError(resp, CacheSortedSetIncrementScore, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'sortedSetIncrementScore(+Inf, -Inf)');
    await expectFetchByRank(set, {}, [el('p', Infinity)]);
  });
});

describe('sortedSetRemoveElement(s)', () => {
  test('removes values; absent values and sets are no-ops', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1, b: 2, c: 3, d: 4});
    expect(await client.sortedSetRemoveElement(cache, set, 'b'), CacheSortedSetRemoveElement.Success, 'sortedSetRemoveElement(b)');
    expect(await client.sortedSetRemoveElement(cache, set, 'nope'), CacheSortedSetRemoveElement.Success, 'sortedSetRemoveElement(nope)');
    expect(await client.sortedSetRemoveElements(cache, set, ['a', 'nope', 'd']), CacheSortedSetRemoveElements.Success, 'sortedSetRemoveElements(a, nope, d)');
    await expectFetchByRank(set, {}, [el('c', 3)]);
    const missing = uniqueKey('zset');
    expect(await client.sortedSetRemoveElements(cache, missing, ['a']), CacheSortedSetRemoveElements.Success, 'sortedSetRemoveElements(missing set)');
    await expectFetchByRank(missing, {}, undefined);
  });

  test('removing the last element deletes the set', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1, b: 2});
    expect(await client.sortedSetRemoveElements(cache, set, ['a', 'b']), CacheSortedSetRemoveElements.Success, 'sortedSetRemoveElements(a, b)');
    await expectFetchByRank(set, {}, undefined);
    expect(await client.itemGetType(cache, set), CacheItemGetType.Miss, 'itemGetType(emptied set)');
    assert.equal((await client.keyExists(cache, set)).exists(), false, 'keyExists(emptied set)');
  });
});

describe('sortedSetLength / sortedSetLengthByScore', () => {
  test('length is a hit with the count, a miss for a missing set', async () => {
    const set = uniqueKey('zset');
    await putElements(set, fixture);
    const resp = await client.sortedSetLength(cache, set);
    expect(resp, CacheSortedSetLength.Hit, 'sortedSetLength');
    assert.equal(resp.length(), 8);
    expect(await client.sortedSetLength(cache, uniqueKey('zset')), CacheSortedSetLength.Miss, 'sortedSetLength(missing)');
  });

  test('lengthByScore counts inclusive bounds', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {...fixture, ninf: -Infinity});
    for (const [options, want] of [[{}, 9], [{minScore: 42}, 6], [{maxScore: 42}, 4], [{minScore: 1, maxScore: 42}, 3], [{minScore: 68, maxScore: 68}, 1]]) {
      const resp = await client.sortedSetLengthByScore(cache, set, options);
      expect(resp, CacheSortedSetLengthByScore.Hit, `sortedSetLengthByScore(${JSON.stringify(options)})`);
      assert.equal(resp.length(), want, `sortedSetLengthByScore(${JSON.stringify(options)})`);
    }
    // The SDK reports a found length of 0 as a miss.
    expect(await client.sortedSetLengthByScore(cache, set, {minScore: 3, maxScore: 41}), CacheSortedSetLengthByScore.Miss, 'sortedSetLengthByScore(none)');
    expect(await client.sortedSetLengthByScore(cache, uniqueKey('zset')), CacheSortedSetLengthByScore.Miss, 'sortedSetLengthByScore(missing)');
  });
});

describe('sortedSetUnionStore', () => {
  // The SDK's example: set3 {foo:1, bar:3} and set4 {abc:2, bar:2}, weights 1 and 2.5.
  const cases = [
    ['SUM by default', undefined, [el('foo', 1), el('abc', 5), el('bar', 8)]],
    ['MIN', SortedSetAggregate.MIN, [el('foo', 1), el('bar', 3), el('abc', 5)]],
    ['MAX', SortedSetAggregate.MAX, [el('foo', 1), el('abc', 5), el('bar', 5)]],
  ];
  for (const [name, aggregate, want] of cases) {
    test(`aggregates with ${name}`, async () => {
      const set3 = uniqueKey('set3');
      const set4 = uniqueKey('set4');
      const dest = uniqueKey('dest');
      await putElements(set3, {foo: 1, bar: 3});
      await putElements(set4, {abc: 2, bar: 2});
      await putElements(dest, {old: 7}); // replaced
      const sources = [{sortedSetName: set3, weight: 1}, {sortedSetName: set4, weight: 2.5}];
      const resp = await client.sortedSetUnionStore(cache, dest, sources, aggregate === undefined ? {} : {aggregate});
      expect(resp, CacheSortedSetUnionStore.Success, `sortedSetUnionStore(${name})`);
      assert.equal(resp.length(), 3);
      await expectFetchByRank(dest, {}, want);
      await expectFetchByRank(set3, {}, [el('foo', 1), el('bar', 3)]);
    });
  }

  test('weights of 0 and -1; a missing source counts as empty', async () => {
    const src = uniqueKey('src');
    await putElements(src, {a: 1, b: 2});
    const dest = uniqueKey('dest');
    let resp = await client.sortedSetUnionStore(cache, dest, [{sortedSetName: src, weight: -1}, {sortedSetName: uniqueKey('missing'), weight: 3}]);
    expect(resp, CacheSortedSetUnionStore.Success, 'sortedSetUnionStore(weight -1)');
    await expectFetchByRank(dest, {}, [el('b', -2), el('a', -1)]);
    resp = await client.sortedSetUnionStore(cache, dest, [{sortedSetName: src, weight: 0}]);
    expect(resp, CacheSortedSetUnionStore.Success, 'sortedSetUnionStore(weight 0)');
    await expectFetchByRank(dest, {}, [el('a', 0), el('b', 0)]);
  });

  test('an empty union deletes the destination and reports length 0', async () => {
    const dest = uniqueKey('dest');
    await putElements(dest, {old: 1});
    const resp = await client.sortedSetUnionStore(cache, dest, [{sortedSetName: uniqueKey('missing'), weight: 1}]);
    expect(resp, CacheSortedSetUnionStore.Success, 'sortedSetUnionStore(missing source)');
    assert.equal(resp.length(), 0);
    await expectFetchByRank(dest, {}, undefined);
  });

  test('no source is INVALID_ARGUMENT from the server', async () => {
    const resp = await client.sortedSetUnionStore(cache, uniqueKey('dest'), []);
    expectError(resp, CacheSortedSetUnionStore, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'sortedSetUnionStore([])');
  });

  test('the destination takes the ttl', async () => {
    const src = uniqueKey('src');
    await putElements(src, {a: 1});
    const dest = uniqueKey('dest');
    await putElements(dest, {old: 1}, {ttl: CollectionTtl.of(300)});
    const resp = await client.sortedSetUnionStore(cache, dest, [{sortedSetName: src, weight: 1}], {ttl: CollectionTtl.of(20)});
    expect(resp, CacheSortedSetUnionStore.Success, 'sortedSetUnionStore(ttl 20 s)');
    const left = await remainingTtl(dest);
    assert.ok(left > 0 && left <= 20_000, `itemGetTtl of the destination = ${left} ms, want (0, 20000]`);
  });
});

describe('collection ttl', () => {
  test('a new sorted set takes the client default ttl', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1});
    const ttl = await remainingTtl(set);
    assert.ok(ttl > 0 && ttl <= DEFAULT_TTL_SECONDS * 1000, `itemGetTtl = ${ttl} ms, want (0, ${DEFAULT_TTL_SECONDS * 1000}]`);
  });

  // Each write: how it writes the sorted set with a CollectionTtl.
  const writes = [
    {name: 'sortedSetPutElement', write: (set, ttl) => client.sortedSetPutElement(cache, set, 'a', 42, {ttl}), ok: CacheSortedSetPutElement.Success},
    {name: 'sortedSetPutElements', write: (set, ttl) => client.sortedSetPutElements(cache, set, {a: 42}, {ttl}), ok: CacheSortedSetPutElements.Success},
    {name: 'sortedSetIncrementScore', write: (set, ttl) => client.sortedSetIncrementScore(cache, set, 'a', 1, {ttl}), ok: CacheSortedSetIncrementScore.Success},
  ];
  for (const w of writes) {
    test(`${w.name} creates with the ttl, even without refresh`, async () => {
      const set = uniqueKey('zset');
      expect(await w.write(set, CollectionTtl.of(30).withNoRefreshTtlOnUpdates()), w.ok, `${w.name}(30 s, no refresh)`);
      const left = await remainingTtl(set);
      assert.ok(left > 0 && left <= 30_000, `itemGetTtl after creation = ${left} ms, want (0, 30000]`);
    });

    test(`${w.name} with refresh resets the ttl, longer or shorter`, async () => {
      const set = uniqueKey('zset');
      expect(await w.write(set, CollectionTtl.of(30)), w.ok, `${w.name}(30 s)`);
      expect(await w.write(set, CollectionTtl.of(300)), w.ok, `${w.name}(300 s, refresh)`);
      let left = await remainingTtl(set);
      assert.ok(left > 100_000 && left <= 300_000, `itemGetTtl after a 300 s refresh = ${left} ms, want (100000, 300000]`);
      expect(await w.write(set, CollectionTtl.of(20)), w.ok, `${w.name}(20 s, refresh)`);
      left = await remainingTtl(set);
      assert.ok(left > 0 && left <= 20_000, `itemGetTtl after a 20 s refresh = ${left} ms, want (0, 20000]`);
    });

    test(`${w.name} without refresh keeps the ttl`, async () => {
      const set = uniqueKey('zset');
      expect(await w.write(set, CollectionTtl.of(30)), w.ok, `${w.name}(30 s)`);
      expect(await w.write(set, CollectionTtl.of(300).withNoRefreshTtlOnUpdates()), w.ok, `${w.name}(300 s, no refresh)`);
      let left = await remainingTtl(set);
      assert.ok(left > 0 && left <= 30_000, `itemGetTtl after a 300 s write without refresh = ${left} ms, want (0, 30000]`);
      expect(await w.write(set, CollectionTtl.of(1).withNoRefreshTtlOnUpdates()), w.ok, `${w.name}(1 s, no refresh)`);
      left = await remainingTtl(set);
      assert.ok(left > 1_000, `itemGetTtl after a 1 s write without refresh = ${left} ms, want it unchanged (above 1000)`);
    });
  }

  test('removing an element keeps the ttl', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1, b: 2}, {ttl: CollectionTtl.of(30)});
    expect(await client.sortedSetRemoveElement(cache, set, 'a'), CacheSortedSetRemoveElement.Success, 'sortedSetRemoveElement(a)');
    const left = await remainingTtl(set);
    assert.ok(left > 0 && left <= 30_000, `itemGetTtl after a removal = ${left} ms, want (0, 30000]`);
  });

  test('a sorted set expires at its ttl and is then a miss', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1}, {ttl: CollectionTtl.of(1).withNoRefreshTtlOnUpdates()});
    await eventually('the sorted set to expire', async () => (await client.sortedSetFetchByRank(cache, set)) instanceof CacheSortedSetFetch.Miss);
    expect(await client.sortedSetGetScore(cache, set, 'a'), CacheSortedSetGetScore.Miss, 'sortedSetGetScore after expiry');
    const resp = await client.sortedSetIncrementScore(cache, set, 'a', 5);
    expect(resp, CacheSortedSetIncrementScore.Success, 'sortedSetIncrementScore after expiry');
    assert.equal(resp.score(), 5, 'an expired sorted set starts anew');
  });
});

describe('item operations on a sorted set', () => {
  test('itemGetType is SORTED_SET and keyExists is true', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1});
    const type = await client.itemGetType(cache, set);
    expect(type, CacheItemGetType.Hit, 'itemGetType');
    assert.equal(type.itemType(), ItemType.SORTED_SET);
    assert.equal((await client.keyExists(cache, set)).exists(), true);
  });

  test('delete removes the whole sorted set', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1, b: 2});
    expect(await client.delete(cache, set), CacheDelete.Success, 'delete');
    await expectFetchByRank(set, {}, undefined);
  });

  test('set replaces a sorted set with a scalar', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1});
    expect(await client.set(cache, set, 'scalar'), CacheSet.Success, 'set');
    const got = await client.get(cache, set);
    expect(got, CacheGet.Hit, 'get');
    assert.equal(got.valueString(), 'scalar');
  });
});

describe('binary values', () => {
  test('values of any bytes round-trip and order bytewise', async () => {
    const set = uniqueKey('zset');
    const all = allBytes(256);
    const values = [all, new Uint8Array([0]), new Uint8Array([0xff]), new Uint8Array([0xc3, 0x28]), new Uint8Array([])];
    await putElements(set, new Map(values.map(v => [v, 7])));
    const resp = await client.sortedSetFetchByRank(cache, set);
    expect(resp, CacheSortedSetFetch.Hit, 'sortedSetFetchByRank(binary)');
    const got = resp.valueArrayUint8Elements().map(e => Buffer.from(e.value).toString('hex'));
    const want = [new Uint8Array([]), new Uint8Array([0]), all, new Uint8Array([0xc3, 0x28]), new Uint8Array([0xff])].map(v => Buffer.from(v).toString('hex'));
    assert.deepEqual(got, want);
    const score = await client.sortedSetGetScore(cache, set, all);
    expect(score, CacheSortedSetGetScore.Hit, 'sortedSetGetScore(all bytes)');
    assert.equal(score.score(), 7);
    const rank = await client.sortedSetGetRank(cache, set, new Uint8Array([0xff]));
    expect(rank, CacheSortedSetGetRank.Hit, 'sortedSetGetRank(ff)');
    assert.equal(rank.rank(), 4);
    expect(await client.sortedSetRemoveElement(cache, set, all), CacheSortedSetRemoveElement.Success, 'sortedSetRemoveElement(all bytes)');
    expect(await client.sortedSetGetScore(cache, set, all), CacheSortedSetGetScore.Miss, 'sortedSetGetScore(all bytes) after removal');
  });
});

describe('errors', () => {
  // Every sorted-set call on key in cache c, with its response namespace.
  const calls = [
    {name: 'sortedSetPutElement', ns: CacheSortedSetPutElement, call: (c, key) => client.sortedSetPutElement(c, key, 'a', 1)},
    {name: 'sortedSetPutElements', ns: CacheSortedSetPutElements, call: (c, key) => client.sortedSetPutElements(c, key, {a: 1})},
    {name: 'sortedSetFetchByRank', ns: CacheSortedSetFetch, call: (c, key) => client.sortedSetFetchByRank(c, key)},
    {name: 'sortedSetFetchByScore', ns: CacheSortedSetFetch, call: (c, key) => client.sortedSetFetchByScore(c, key, {minScore: 0})},
    {name: 'sortedSetGetScore', ns: CacheSortedSetGetScore, call: (c, key) => client.sortedSetGetScore(c, key, 'a')},
    {name: 'sortedSetGetScores', ns: CacheSortedSetGetScores, call: (c, key) => client.sortedSetGetScores(c, key, ['a'])},
    {name: 'sortedSetGetRank', ns: CacheSortedSetGetRank, call: (c, key) => client.sortedSetGetRank(c, key, 'a')},
    {name: 'sortedSetIncrementScore', ns: CacheSortedSetIncrementScore, call: (c, key) => client.sortedSetIncrementScore(c, key, 'a', 1)},
    {name: 'sortedSetRemoveElement', ns: CacheSortedSetRemoveElement, call: (c, key) => client.sortedSetRemoveElement(c, key, 'a')},
    {name: 'sortedSetRemoveElements', ns: CacheSortedSetRemoveElements, call: (c, key) => client.sortedSetRemoveElements(c, key, ['a'])},
    {name: 'sortedSetLength', ns: CacheSortedSetLength, call: (c, key) => client.sortedSetLength(c, key)},
    {name: 'sortedSetLengthByScore', ns: CacheSortedSetLengthByScore, call: (c, key) => client.sortedSetLengthByScore(c, key)},
    {name: 'sortedSetUnionStore (destination)', ns: CacheSortedSetUnionStore,
      call: (c, key) => client.sortedSetUnionStore(c, key, [{sortedSetName: 'zset-errors-source', weight: 1}])},
    {name: 'sortedSetUnionStore (source)', ns: CacheSortedSetUnionStore,
      call: (c, key) => client.sortedSetUnionStore(c, 'zset-errors-dest', [{sortedSetName: key, weight: 1}])},
  ];

  for (const {name, ns, call} of calls) {
    test(`${name} on a scalar key is FAILED_PRECONDITION, not INTERNAL`, async () => {
      const key = uniqueKey('scalar');
      expect(await client.set(cache, key, 'text'), CacheSet.Success, `set(${key})`);
      await putElements('zset-errors-source', {s: 1});
      expectError(await call(cache, key), ns, MomentoErrorCode.FAILED_PRECONDITION_ERROR, `${name}(scalar)`);
      const got = await client.get(cache, key);
      expect(got, CacheGet.Hit, `get(${key}) after ${name}`);
      assert.equal(got.valueString(), 'text');
    });

    test(`${name} in a missing cache is CACHE_NOT_FOUND`, async () => {
      expectError(await call(uniqueCacheName('nope'), uniqueKey('zset')), ns, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, `${name}(missing cache)`);
    });
  }

  test('a sorted set is FAILED_PRECONDITION for scalar and other collection calls', async () => {
    const set = uniqueKey('zset');
    await putElements(set, {a: 1});
    expectError(await client.get(cache, set), CacheGet, MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'get(sorted set)');
    const dict = await client.dictionarySetField(cache, set, 'f', 'v');
    assert.equal(dict.errorCode?.(), MomentoErrorCode.FAILED_PRECONDITION_ERROR, `dictionarySetField(sorted set) = ${show(dict)}`);
    await expectFetchByRank(set, {}, [el('a', 1)]);
  });

  test('a blank sorted set name is refused by the client', async () => {
    expectError(await client.sortedSetFetchByRank(cache, '  '), CacheSortedSetFetch, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'sortedSetFetchByRank(blank)');
  });
});
