// Binary keys and values, and the item-size limit.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomBytes} from 'node:crypto';

import {
  CacheGet,
  CacheGetBatch,
  CacheKeysExist,
  CacheSet,
  CacheSetBatch,
  CacheSetIfAbsent,
  MomentoErrorCode,
} from '@gomomento/sdk';

import {allBytes, localClient, show, startServer, uniqueCacheName, uniqueKey, useServerWithCache} from './harness.mjs';

const MiB = 1024 * 1024;

let server;
let client;
const cache = uniqueCacheName('binary');

useServerWithCache(cache, (s, c) => {
  server = s;
  client = c;
});

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

function sameBytes(got, want, what) {
  assert.ok(Buffer.from(got).equals(Buffer.from(want)), `${what}: ${got.length} bytes differ from the ${want.length} bytes stored`);
}

describe('binary data', () => {
  test('a key and value holding every byte value round-trip exactly', async () => {
    const key = allBytes(256);
    const value = allBytes(1024);
    expect(await client.set(cache, key, value), CacheSet.Success, 'set(all-bytes key)');
    const got = await client.get(cache, key);
    expect(got, CacheGet.Hit, 'get(all-bytes key)');
    sameBytes(got.valueUint8Array(), value, 'get(all-bytes key)');
  });

  test('keys that differ only in one non-UTF-8 byte are different items', async () => {
    const a = Uint8Array.from([0xff, 0xfe, 0x00, 0x80]);
    const b = Uint8Array.from([0xff, 0xfe, 0x00, 0x81]);
    expect(await client.set(cache, a, Uint8Array.from([1])), CacheSet.Success, 'set(a)');
    expect(await client.set(cache, b, Uint8Array.from([2])), CacheSet.Success, 'set(b)');
    const ga = await client.get(cache, a);
    const gb = await client.get(cache, b);
    expect(ga, CacheGet.Hit, 'get(a)');
    expect(gb, CacheGet.Hit, 'get(b)');
    sameBytes(ga.valueUint8Array(), [1], 'get(a)');
    sameBytes(gb.valueUint8Array(), [2], 'get(b)');
  });

  test('a string key and its UTF-8 bytes name the same item', async () => {
    const text = `ключ-🔑-${uniqueKey()}`;
    expect(await client.set(cache, text, 'значение ✓'), CacheSet.Success, `set(${text})`);
    const got = await client.get(cache, new TextEncoder().encode(text));
    expect(got, CacheGet.Hit, 'get(utf-8 bytes of the key)');
    assert.equal(got.valueString(), 'значение ✓');
  });

  test('keysExist and getBatch accept binary keys', async () => {
    const present = Uint8Array.from([0x00, 0x01, 0xfe, 0xff, ...randomBytes(8)]);
    const absent = Uint8Array.from([0x00, 0x02, ...randomBytes(8)]);
    const value = Uint8Array.from([0x00, 0xff, 0x7f, 0x80]);
    expect(await client.set(cache, present, value), CacheSet.Success, 'set(binary key)');
    const exists = await client.keysExist(cache, [present, absent]);
    expect(exists, CacheKeysExist.Success, 'keysExist');
    assert.deepEqual(exists.exists(), [true, false]);
    const batch = await client.getBatch(cache, [present, absent]);
    expect(batch, CacheGetBatch.Success, 'getBatch');
    const [hit, miss] = batch.results();
    expect(hit, CacheGet.Hit, 'getBatch[0]');
    expect(miss, CacheGet.Miss, 'getBatch[1]');
    sameBytes(hit.valueUint8Array(), value, 'getBatch[0]');
  });
});

describe('item size', () => {
  test('a 4 MiB item round-trips', async () => {
    const key = uniqueKey('big');
    const value = randomBytes(4 * MiB);
    expect(await client.set(cache, key, value), CacheSet.Success, `set(${key}, 4 MiB)`);
    const got = await client.get(cache, key);
    expect(got, CacheGet.Hit, `get(${key})`);
    sameBytes(got.valueUint8Array(), value, `get(${key})`);
  });

  // The service refuses a set this large as a request over its size limit,
  // not as an item (client-sdk-nodejs large-messages.test.ts: 5,300,000
  // bytes give "Request size limit exceeded for this account"); items just
  // over the limit are "item size", see --max-item-size below.
  test('a 6 MiB item is rejected as over the request-size limit', async () => {
    const key = uniqueKey('huge');
    const resp = await client.set(cache, key, randomBytes(6 * MiB));
    expect(resp, CacheSet.Error, `set(${key}, 6 MiB)`);
    assert.equal(resp.errorCode(), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, show(resp));
    const details = resp.innerException().transportDetails()?.grpc?.details ?? '';
    assert.match(details, /request limit/i, `gRPC details ${JSON.stringify(details)} should mention the request limit`);
    assert.match(resp.message(), /Request size limit exceeded/, `message ${JSON.stringify(resp.message())} should mention the request size`);
    expect(await client.get(cache, key), CacheGet.Miss, `get(${key}) after the rejected set`);
  });

  test('a 9 MiB setBatch request of 3 MiB items is accepted (messages up to the SDK cap of 10,486,000 bytes)', async () => {
    const items = [0, 1, 2].map(i => ({key: uniqueKey(`batch${i}`), value: randomBytes(3 * MiB)}));
    const set = await client.setBatch(cache, items);
    expect(set, CacheSetBatch.Success, 'setBatch(3 x 3 MiB)');
    set.results().forEach((r, i) => expect(r, CacheSet.Success, `setBatch result ${i}`));
    const got = await client.getBatch(cache, items.map(it => it.key));
    expect(got, CacheGetBatch.Success, 'getBatch(3 x 3 MiB)');
    got.results().forEach((r, i) => {
      expect(r, CacheGet.Hit, `getBatch[${i}]`);
      sameBytes(r.valueUint8Array(), items[i].value, `getBatch[${i}]`);
    });
  });

  test('the server still serves after rejecting an oversize item', async () => {
    const key = uniqueKey();
    expect(await client.set(cache, key, 'small'), CacheSet.Success, `set(${key})`);
    expect(await client.get(cache, key), CacheGet.Hit, `get(${key})`);
  });
});

describe('--max-item-size', () => {
  let small;
  let smallClient;
  const smallCache = uniqueCacheName('small');

  before(async () => {
    small = await startServer(['--max-item-size', '1000', '--create-cache', smallCache]);
    smallClient = await localClient(small);
  });

  after(async () => {
    smallClient?.close();
    await small?.stop();
  });

  test('key plus value of exactly the limit is stored, one byte more is refused', async () => {
    const key = 'k'.repeat(10);
    expect(await smallClient.set(smallCache, key, 'v'.repeat(990)), CacheSet.Success, 'set(10 + 990 bytes)');
    const over = await smallClient.set(smallCache, key, 'v'.repeat(991));
    expect(over, CacheSet.Error, 'set(10 + 991 bytes)');
    assert.equal(over.errorCode(), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, show(over));
    assert.match(over.message(), /item size/i);
    const kept = await smallClient.get(smallCache, key);
    expect(kept, CacheGet.Hit, 'get after the refused overwrite');
    assert.equal(kept.valueString().length, 990, 'a refused overwrite must leave the old value');
  });

  test('conditional sets are held to the limit too', async () => {
    const resp = await smallClient.setIfAbsent(smallCache, uniqueKey(), 'v'.repeat(2000));
    expect(resp, CacheSetIfAbsent.Error, 'setIfAbsent(2000 bytes)');
    assert.equal(resp.errorCode(), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, show(resp));
  });
});
