// Leaderboards through the official SDK's PreviewLeaderboardClient against a
// real server: every call the client sends (upsert, fetch by score and by
// rank, get rank, length, remove, delete), the answers of the SDK's own
// integration tests (ranks, ordering, offsets, missing leaderboards), the
// bad inputs the server must refuse itself, and authorization with keys.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';

import {
  CacheGet,
  CacheSet,
  CredentialProvider,
  LeaderboardConfigurations,
  LeaderboardDelete,
  LeaderboardFetch,
  LeaderboardLength,
  LeaderboardOrder,
  LeaderboardRemoveElements,
  LeaderboardUpsert,
  MomentoErrorCode,
  PreviewLeaderboardClient,
} from '@gomomento/sdk';

import {
  createToken,
  keyCredentials,
  makeTempDir,
  quietLoggerFactory,
  removeDir,
  show,
  startServer,
  uniqueCacheName,
  useServerWithCache,
  writeSecret,
} from './harness.mjs';

const cache = uniqueCacheName('leaderboard');
let lbClient;
let cacheClient;

function newLeaderboardClient(credentialProvider) {
  return new PreviewLeaderboardClient({
    configuration: LeaderboardConfigurations.Laptop.v1(quietLoggerFactory()),
    credentialProvider,
  });
}

useServerWithCache(cache, (server, c) => {
  cacheClient = c;
  lbClient = newLeaderboardClient(CredentialProvider.forMomentoLocal({hostname: server.host, port: server.port}));
});

after(() => lbClient?.close());

let boardCount = 0;
/** A leaderboard of the test cache that no other test uses. */
function board() {
  boardCount++;
  return lbClient.leaderboard(cache, `board-${boardCount}`);
}

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function expectError(resp, Cls, code, what) {
  expect(resp, Cls.Error, what);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}, want ${code}`);
}

async function upsert(lb, elements) {
  expect(await lb.upsert(elements), LeaderboardUpsert.Success, `upsert(${JSON.stringify([...new Map(elements)])})`);
}

/** Calls fetch and checks its elements ({id, score, rank} in order). */
async function expectElements(what, fetch, want) {
  const resp = await fetch();
  expect(resp, LeaderboardFetch.Success, what);
  assert.deepEqual(resp.values(), want, what);
}

const eight = new Map([
  [123, 10],
  [234, 100],
  [345, 250],
  [456, 500],
  [567, 750],
  [678, 1000],
  [789, 1500],
  [890, 2000],
]);

describe('upsert', () => {
  test('inserts, updates and accepts a Record', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    await expectElements('fetchByScore() after insert', () => lb.fetchByScore(), [
      {id: 123, score: 100, rank: 0},
      {id: 456, score: 200, rank: 1},
      {id: 789, score: 300, rank: 2},
    ]);
    await upsert(lb, new Map([[456, 50], [1011, 500]]));
    expect(await lb.upsert({4321: 1000}), LeaderboardUpsert.Success, 'upsert(Record)');
    await expectElements('fetchByScore() after update', () => lb.fetchByScore(), [
      {id: 456, score: 50, rank: 0},
      {id: 123, score: 100, rank: 1},
      {id: 789, score: 300, rank: 2},
      {id: 1011, score: 500, rank: 3},
      {id: 4321, score: 1000, rank: 4},
    ]);
  });

  test('keeps double precision and the full id range', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 27.004309862363737], [456, 16777217], [4294967295, 300.5], [0, -1.5]]));
    await expectElements('fetchByScore()', () => lb.fetchByScore(), [
      {id: 0, score: -1.5, rank: 0},
      {id: 123, score: 27.004309862363737, rank: 1},
      {id: 4294967295, score: 300.5, rank: 2},
      {id: 456, score: 16777217, rank: 3},
    ]);
  });

  test('an empty upsert is INVALID_ARGUMENT (checked by the SDK)', async () => {
    expectError(await board().upsert(new Map()), LeaderboardUpsert, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'upsert(empty)');
  });

  test('NaN and infinite scores are INVALID_ARGUMENT and change nothing', async () => {
    const lb = board();
    await upsert(lb, new Map([[1, 1]]));
    for (const bad of [NaN, Infinity, -Infinity]) {
      expectError(await lb.upsert(new Map([[2, 2], [1, bad]])), LeaderboardUpsert, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `upsert(score ${bad})`);
    }
    await expectElements('fetchByScore() after refused upserts', () => lb.fetchByScore(), [{id: 1, score: 1, rank: 0}]);
  });

  test('more than 8192 elements is INVALID_ARGUMENT', async () => {
    const elements = new Map();
    for (let id = 0; id <= 8192; id++) elements.set(id, id);
    expectError(await board().upsert(elements), LeaderboardUpsert, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'upsert(8193 elements)');
  });

  test('an unknown cache is NOT_FOUND', async () => {
    const lb = lbClient.leaderboard(uniqueCacheName('no-such'), 'board');
    expectError(await lb.upsert(new Map([[1, 1]])), LeaderboardUpsert, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, 'upsert(unknown cache)');
  });
});

describe('fetchByScore', () => {
  test('offset, count, score range and order as the SDK tests expect', async () => {
    const lb = board();
    await upsert(lb, eight);
    await expectElements('fetchByScore({offset: 2, count: 2})', () => lb.fetchByScore({offset: 2, count: 2}), [
      {id: 345, score: 250, rank: 2},
      {id: 456, score: 500, rank: 3},
    ]);
    await expectElements('fetchByScore({minScore: 750, maxScore: 1500})', () => lb.fetchByScore({minScore: 750, maxScore: 1500}), [
      {id: 567, score: 750, rank: 4},
      {id: 678, score: 1000, rank: 5},
    ]);
    // Ranks are the descending ranks in the whole leaderboard.
    const all = {offset: 2, count: 10, minScore: 0, maxScore: 800, order: LeaderboardOrder.Descending};
    await expectElements(`fetchByScore(${JSON.stringify(all)})`, () => lb.fetchByScore(all), [
      {id: 345, score: 250, rank: 5},
      {id: 234, score: 100, rank: 6},
      {id: 123, score: 10, rank: 7},
    ]);
    await expectElements('fetchByScore({offset: 10})', () => lb.fetchByScore({offset: 10}), []);
    await expectElements('fetchByScore({minScore: 500, maxScore: 500})', () => lb.fetchByScore({minScore: 500, maxScore: 500}), []);
  });

  test('a missing leaderboard is empty', async () => {
    await expectElements('fetchByScore(missing)', () => board().fetchByScore(), []);
  });

  test('bad arguments are INVALID_ARGUMENT', async () => {
    const lb = board();
    for (const options of [{offset: -10}, {count: -10}, {minScore: 100, maxScore: 50}, {count: 8193}, {minScore: NaN}]) {
      expectError(await lb.fetchByScore(options), LeaderboardFetch, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `fetchByScore(${JSON.stringify(options)})`);
    }
  });
});

describe('fetchByRank', () => {
  test('both orders and partial ranges', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    await expectElements('fetchByRank(0, 10, ascending)', () => lb.fetchByRank(0, 10, {order: LeaderboardOrder.Ascending}), [
      {id: 123, score: 100, rank: 0},
      {id: 456, score: 200, rank: 1},
      {id: 789, score: 300, rank: 2},
    ]);
    await expectElements('fetchByRank(0, 10, descending)', () => lb.fetchByRank(0, 10, {order: LeaderboardOrder.Descending}), [
      {id: 789, score: 300, rank: 0},
      {id: 456, score: 200, rank: 1},
      {id: 123, score: 100, rank: 2},
    ]);
    await expectElements('fetchByRank(0, 2)', () => lb.fetchByRank(0, 2), [
      {id: 123, score: 100, rank: 0},
      {id: 456, score: 200, rank: 1},
    ]);
    await expectElements('fetchByRank(1, 8193)', () => lb.fetchByRank(1, 8193), [
      {id: 456, score: 200, rank: 1},
      {id: 789, score: 300, rank: 2},
    ]);
  });

  test('ties are ordered by id, and descending is the exact reverse', async () => {
    const lb = board();
    await upsert(lb, new Map([[65536, 5], [256, 5], [9, 5], [1, 5], [2, 9]]));
    await expectElements('fetchByRank(0, 5, ascending)', () => lb.fetchByRank(0, 5), [
      {id: 1, score: 5, rank: 0},
      {id: 9, score: 5, rank: 1},
      {id: 256, score: 5, rank: 2},
      {id: 65536, score: 5, rank: 3},
      {id: 2, score: 9, rank: 4},
    ]);
    await expectElements('fetchByRank(0, 5, descending)', () => lb.fetchByRank(0, 5, {order: LeaderboardOrder.Descending}), [
      {id: 2, score: 9, rank: 0},
      {id: 65536, score: 5, rank: 1},
      {id: 256, score: 5, rank: 2},
      {id: 9, score: 5, rank: 3},
      {id: 1, score: 5, rank: 4},
    ]);
  });

  test('a missing leaderboard is empty', async () => {
    await expectElements('fetchByRank(missing)', () => board().fetchByRank(0, 100), []);
  });

  test('empty, inverted, negative and over-8192 ranges are INVALID_ARGUMENT', async () => {
    const lb = board();
    // 0..0 and 0..8193 pass the SDK's own checks: the server refuses them.
    for (const [start, end] of [[-10, -5], [0, 0], [10, 5], [0, 8193], [123, 8316]]) {
      expectError(await lb.fetchByRank(start, end), LeaderboardFetch, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `fetchByRank(${start}, ${end})`);
    }
  });
});

describe('getRank', () => {
  test('ranks in both orders, in the order asked, without missing ids', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    await expectElements('getRank([123, 789], ascending)', () => lb.getRank([123, 789], {order: LeaderboardOrder.Ascending}), [
      {id: 123, score: 100, rank: 0},
      {id: 789, score: 300, rank: 2},
    ]);
    await expectElements('getRank([123, 789], descending)', () => lb.getRank([123, 789], {order: LeaderboardOrder.Descending}), [
      {id: 123, score: 100, rank: 2},
      {id: 789, score: 300, rank: 0},
    ]);
    await expectElements('getRank([789, 5, 456])', () => lb.getRank([789, 5, 456]), [
      {id: 789, score: 300, rank: 2},
      {id: 456, score: 200, rank: 1},
    ]);
  });

  test('a missing leaderboard is empty', async () => {
    await expectElements('getRank(missing)', () => board().getRank([123]), []);
  });
});

describe('length, removeElements and delete', () => {
  test('length counts ids; a missing leaderboard has 0', async () => {
    const lb = board();
    const missing = await lb.length();
    expect(missing, LeaderboardLength.Success, 'length(missing)');
    assert.equal(missing.length(), 0);
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    const resp = await lb.length();
    expect(resp, LeaderboardLength.Success, 'length()');
    assert.equal(resp.length(), 3);
  });

  test('removeElements removes ids and ignores unknown ones', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    expect(await lb.removeElements([123, 789, 5]), LeaderboardRemoveElements.Success, 'removeElements([123, 789, 5])');
    await expectElements('fetchByScore() after remove', () => lb.fetchByScore(), [{id: 456, score: 200, rank: 0}]);
    expect(await board().removeElements([123]), LeaderboardRemoveElements.Success, 'removeElements(missing leaderboard)');
    expectError(await lb.removeElements([]), LeaderboardRemoveElements, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'removeElements([])');
  });

  test('delete empties the leaderboard; deleting a missing one succeeds', async () => {
    const lb = board();
    await upsert(lb, new Map([[123, 100], [456, 200], [789, 300]]));
    expect(await lb.delete(), LeaderboardDelete.Success, 'delete()');
    const resp = await lb.length();
    expect(resp, LeaderboardLength.Success, 'length() after delete');
    assert.equal(resp.length(), 0);
    expect(await lb.delete(), LeaderboardDelete.Success, 'delete() again');
  });

  test('leaderboards live apart from cache items and from each other', async () => {
    const lb = board();
    const name = `board-${boardCount}`;
    await upsert(lb, new Map([[1, 1]]));
    expect(await cacheClient.set(cache, name, 'item'), CacheSet.Success, `set(${name})`);
    expect(await cacheClient.get(cache, name), CacheGet.Hit, `get(${name})`);
    await expectElements(`fetchByScore(${name}) after set`, () => lb.fetchByScore(), [{id: 1, score: 1, rank: 0}]);
    await expectElements('fetchByScore(other)', () => lbClient.leaderboard(cache, `${name}-other`).fetchByScore(), []);
    expect(await lb.delete(), LeaderboardDelete.Success, 'delete()');
    expect(await cacheClient.get(cache, name), CacheGet.Hit, `get(${name}) after delete()`);
  });
});

describe('authorization', () => {
  let dir;
  let secretFile;
  let server;
  const cacheA = uniqueCacheName('lb-auth-a');
  const cacheB = uniqueCacheName('lb-auth-b');
  const clients = [];

  async function clientFor(opts) {
    const key = await createToken({secretFile, endpoint: server.addr, ...opts});
    const c = newLeaderboardClient(keyCredentials(server, key));
    clients.push(c);
    return c;
  }

  before(async () => {
    dir = await makeTempDir('thaw-lb-auth-');
    secretFile = await writeSecret(dir);
    server = await startServer(['--auth-secret-file', secretFile, '--create-cache', cacheA, '--create-cache', cacheB]);
  });

  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    if (dir) await removeDir(dir);
  });

  test('readonly may read but not upsert, remove or delete', async () => {
    const rw = (await clientFor({role: 'readwrite'})).leaderboard(cacheA, 'ro-board');
    await upsert(rw, new Map([[1, 10], [2, 20]]));
    const ro = (await clientFor({role: 'readonly'})).leaderboard(cacheA, 'ro-board');
    await expectElements('readonly fetchByScore()', () => ro.fetchByScore(), [
      {id: 1, score: 10, rank: 0},
      {id: 2, score: 20, rank: 1},
    ]);
    await expectElements('readonly fetchByRank(0, 1)', () => ro.fetchByRank(0, 1), [{id: 1, score: 10, rank: 0}]);
    await expectElements('readonly getRank([2])', () => ro.getRank([2]), [{id: 2, score: 20, rank: 1}]);
    expect(await ro.length(), LeaderboardLength.Success, 'readonly length()');
    const perm = MomentoErrorCode.PERMISSION_ERROR;
    expectError(await ro.upsert(new Map([[3, 30]])), LeaderboardUpsert, perm, 'readonly upsert()');
    expectError(await ro.removeElements([1]), LeaderboardRemoveElements, perm, 'readonly removeElements()');
    expectError(await ro.delete(), LeaderboardDelete, perm, 'readonly delete()');
    const resp = await rw.length();
    assert.equal(resp.length?.(), 2, `length() after refused writes = ${show(resp)}`);
  });

  test('a key limited to cache A is refused on cache B', async () => {
    const scoped = await clientFor({role: 'readwrite', caches: [cacheA]});
    await upsert(scoped.leaderboard(cacheA, 'scoped'), new Map([[1, 1]]));
    const onB = scoped.leaderboard(cacheB, 'scoped');
    const perm = MomentoErrorCode.PERMISSION_ERROR;
    expectError(await onB.upsert(new Map([[1, 1]])), LeaderboardUpsert, perm, `scoped upsert(${cacheB})`);
    expectError(await onB.fetchByScore(), LeaderboardFetch, perm, `scoped fetchByScore(${cacheB})`);
    expectError(await onB.length(), LeaderboardLength, perm, `scoped length(${cacheB})`);
  });
});
