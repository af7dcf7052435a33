// Momento's HTTP API (thaw serve --http-addr) driven with Node's own fetch,
// a real HTTP client, beside the official SDK on the gRPC port: items written
// through one surface are read through the other, binary keys and values
// survive both, each documented error has its status, and an item published
// over HTTP reaches an SDK TopicClient subscriber.
//
// The API's shape is from Momento's docs:
// https://docs.momentohq.com/cache/develop/api-reference/http-api and
// https://docs.momentohq.com/topics/api-reference/http-api.

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';

import {CacheGet, CacheSet, CreateCache, TopicSubscribe} from '@gomomento/sdk';

import {
  allBytes,
  createToken,
  keyClient,
  localClient,
  makeTempDir,
  removeDir,
  show,
  startServer,
  topicClient,
  uniqueCacheName,
  uniqueKey,
  waitFor,
  writeSecret,
} from './harness.mjs';

/** Percent-encodes every byte, so that any binary key fits in a query. */
function percentEncode(bytes) {
  return Array.from(bytes, b => '%' + b.toString(16).padStart(2, '0').toUpperCase()).join('');
}

/** base64url without padding, the docs' key_base64 form. */
function base64url(bytes) {
  return Buffer.from(bytes).toString('base64url');
}

function itemUrl(server, cache, query) {
  return `http://${server.httpAddr}/cache/${encodeURIComponent(cache)}?${query}`;
}

/** fetch, resolving to {status, contentType, body: Buffer}. */
async function call(url, init = {}) {
  const res = await fetch(url, init);
  return {status: res.status, contentType: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer())};
}

function sameBytes(got, want, what) {
  assert.ok(Buffer.from(got).equals(Buffer.from(want)), `${what}: got ${Buffer.from(got).toString('hex')}, want ${Buffer.from(want).toString('hex')}`);
}

function expectStatus(got, status, what, bodyHas = '') {
  assert.equal(got.status, status, `${what}: status ${got.status} ${got.body}`);
  assert.ok(got.body.toString().includes(bodyHas), `${what}: body ${JSON.stringify(got.body.toString())} lacks ${JSON.stringify(bodyHas)}`);
}

/** Subscribes and records the values of the items received. */
async function subscribeValues(topics, cache, topic) {
  const values = [];
  const sub = await topics.subscribe(cache, topic, {onItem: item => values.push(item.value()), onError: () => {}});
  assert.ok(sub instanceof TopicSubscribe.Subscription, `subscribe(${cache}, ${topic}) = ${show(sub)}, want a Subscription`);
  return {sub, values};
}

describe('HTTP API without auth', () => {
  let server;
  let client;
  let topics;
  const cache = uniqueCacheName('http');

  before(async () => {
    server = await startServer(['--http-addr', '127.0.0.1:0']);
    assert.match(server.httpAddr, /^127\.0\.0\.1:\d+$/, 'ready file has no http_addr');
    client = await localClient(server);
    const created = await client.createCache(cache);
    assert.ok(created instanceof CreateCache.Success, `createCache = ${show(created)}`);
    topics = topicClient(server);
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  test('a value PUT over HTTP is read by the SDK, and one set by the SDK is read over HTTP', async () => {
    const key = uniqueKey('text');
    expectStatus(await call(itemUrl(server, cache, `key=${key}&ttl_seconds=60`), {method: 'PUT', body: 'from fetch'}), 204, 'PUT');
    const got = await client.get(cache, key);
    assert.ok(got instanceof CacheGet.Hit, `SDK get = ${show(got)}, want Hit`);
    assert.equal(got.valueString(), 'from fetch');

    const other = uniqueKey('sdk');
    assert.ok((await client.set(cache, other, 'from the SDK')) instanceof CacheSet.Success);
    const res = await call(itemUrl(server, cache, `key=${other}`));
    expectStatus(res, 200, 'GET');
    assert.equal(res.contentType, 'application/octet-stream');
    assert.equal(res.body.toString(), 'from the SDK');
  });

  test('binary keys (percent-encoded or key_base64) and binary values round-trip through both surfaces', async () => {
    const key = Uint8Array.from([0x00, 0xff, 0xfe, 0x26, 0x3d, 0x2b, 0x20, 0x80, 0x2f]);
    const value = allBytes(1024);
    expectStatus(
      await call(itemUrl(server, cache, `key=${percentEncode(key)}&ttl_seconds=60`), {
        method: 'PUT',
        body: value,
        headers: {'Content-Type': 'application/octet-stream'},
      }),
      204,
      'PUT binary',
    );
    const viaSdk = await client.get(cache, key);
    assert.ok(viaSdk instanceof CacheGet.Hit, `SDK get(binary key) = ${show(viaSdk)}, want Hit`);
    sameBytes(viaSdk.valueUint8Array(), value, 'SDK get(binary key)');
    for (const query of [`key=${percentEncode(key)}`, `key_base64=${base64url(key)}`]) {
      const res = await call(itemUrl(server, cache, query));
      expectStatus(res, 200, `GET ${query}`);
      sameBytes(res.body, value, `GET ${query}`);
    }

    const sdkKey = allBytes(256);
    assert.ok((await client.set(cache, sdkKey, Uint8Array.from([1, 2, 3]))) instanceof CacheSet.Success);
    const res = await call(itemUrl(server, cache, `key_base64=${base64url(sdkKey)}`));
    expectStatus(res, 200, 'GET of an SDK-set all-bytes key');
    sameBytes(res.body, [1, 2, 3], 'GET of an SDK-set all-bytes key');
  });

  test('a miss is 404 "Key Not Found"; DELETE is 204 and the SDK then misses', async () => {
    expectStatus(await call(itemUrl(server, cache, `key=${uniqueKey('never')}`)), 404, 'GET miss', 'Key Not Found');
    const key = uniqueKey('doomed');
    assert.ok((await client.set(cache, key, 'v')) instanceof CacheSet.Success);
    expectStatus(await call(itemUrl(server, cache, `key=${key}`), {method: 'DELETE'}), 204, 'DELETE');
    const got = await client.get(cache, key);
    assert.ok(got instanceof CacheGet.Miss, `SDK get after DELETE = ${show(got)}, want Miss`);
  });

  test('bad input is a 400 with a readable message', async () => {
    const url = q => itemUrl(server, cache, q);
    expectStatus(await call(url('key=k'), {method: 'PUT', body: 'v'}), 400, 'PUT without ttl_seconds', 'ttl_seconds is required');
    expectStatus(await call(url('key=k&ttl_seconds=soon'), {method: 'PUT', body: 'v'}), 400, 'PUT with ttl_seconds=soon', 'ttl_seconds');
    expectStatus(await call(url('key=k&ttl_seconds=0'), {method: 'PUT', body: 'v'}), 400, 'PUT with ttl_seconds=0', 'ttl');
    expectStatus(await call(url('')), 400, 'GET without a key', 'key');
    expectStatus(await call(url('key=a&key_base64=Yg')), 400, 'GET with two keys', 'not both');
  });

  test('an unknown cache is 404 "Cache Not Found" on every route', async () => {
    const nope = uniqueCacheName('nope');
    expectStatus(await call(itemUrl(server, nope, 'key=k')), 404, 'GET', 'Cache Not Found');
    expectStatus(await call(itemUrl(server, nope, 'key=k&ttl_seconds=5'), {method: 'PUT', body: 'v'}), 404, 'PUT', 'Cache Not Found');
    expectStatus(await call(itemUrl(server, nope, 'key=k'), {method: 'DELETE'}), 404, 'DELETE', 'Cache Not Found');
    expectStatus(await call(`http://${server.httpAddr}/topics/${nope}/t`, {method: 'POST', body: 'v'}), 404, 'POST', 'Cache Not Found');
  });

  test('items published over HTTP reach an SDK TopicClient subscriber, text and binary', async () => {
    const {sub, values} = await subscribeValues(topics, cache, 'http-news');
    try {
      const publish = (body, contentType) =>
        call(`http://${server.httpAddr}/topics/${cache}/http-news`, {method: 'POST', body, headers: {'Content-Type': contentType}});
      expectStatus(await publish('hello ✓', 'text/plain'), 204, 'publish text');
      expectStatus(await publish(Uint8Array.from([0, 255, 7]), 'application/octet-stream'), 204, 'publish binary');
      await waitFor('two items', () => values.length === 2);
      assert.equal(values[0], 'hello ✓');
      assert.ok(values[1] instanceof Uint8Array, `binary item = ${values[1]}, want a Uint8Array`);
      sameBytes(values[1], [0, 255, 7], 'binary item');
    } finally {
      sub.unsubscribe();
    }
  });
});

describe('HTTP API with auth', () => {
  let dir;
  let server;
  let superuser;
  let readWriteKey;
  let readOnlyKey;
  let wrongKey;
  const cache = uniqueCacheName('http-auth');

  before(async () => {
    dir = await makeTempDir('thaw-http-auth-');
    const secretFile = await writeSecret(dir);
    server = await startServer(['--http-addr', '127.0.0.1:0', '--auth-secret-file', secretFile, '--create-cache', cache]);
    const token = opts => createToken({secretFile, endpoint: server.addr, ...opts});
    readWriteKey = await token({role: 'readwrite'});
    readOnlyKey = await token({role: 'readonly'});
    superuser = await keyClient(server, await token({role: 'superuser'}));
    const otherDir = await makeTempDir('thaw-http-other-');
    try {
      wrongKey = await createToken({secretFile: await writeSecret(otherDir), role: 'superuser', endpoint: server.addr});
    } finally {
      await removeDir(otherDir);
    }
  });
  after(async () => {
    superuser?.close();
    await server?.stop();
    if (dir) await removeDir(dir);
  });

  test('no key or a wrong key is 401; a read-only key writing is 403', async () => {
    const url = itemUrl(server, cache, 'key=k&ttl_seconds=60');
    expectStatus(await call(url, {method: 'PUT', body: 'v'}), 401, 'PUT without a key');
    expectStatus(await call(url, {method: 'PUT', body: 'v', headers: {Authorization: wrongKey}}), 401, 'PUT with a key of another secret');
    expectStatus(await call(`${url}&token=${encodeURIComponent(wrongKey)}`, {method: 'PUT', body: 'v'}), 401, 'PUT with a wrong token parameter');
    expectStatus(await call(url, {method: 'PUT', body: 'v', headers: {Authorization: readOnlyKey}}), 403, 'PUT with a read-only key');
    expectStatus(await call(itemUrl(server, cache, 'key=k'), {headers: {Authorization: readOnlyKey}}), 404, 'GET with a read-only key', 'Key Not Found');
  });

  test('the key works in the Authorization header or the token parameter, not both', async () => {
    const key = uniqueKey('authed');
    expectStatus(
      await call(itemUrl(server, cache, `key=${key}&ttl_seconds=60`), {method: 'PUT', body: 'secret', headers: {Authorization: readWriteKey}}),
      204,
      'PUT with the key in the header',
    );
    const got = await call(itemUrl(server, cache, `key=${key}&token=${encodeURIComponent(readOnlyKey)}`));
    expectStatus(got, 200, 'GET with the key in the query');
    assert.equal(got.body.toString(), 'secret');
    const viaSdk = await superuser.get(cache, key);
    assert.ok(viaSdk instanceof CacheGet.Hit && viaSdk.valueString() === 'secret', `SDK get = ${show(viaSdk)}, want Hit "secret"`);
    expectStatus(
      await call(itemUrl(server, cache, `key=${key}&token=${encodeURIComponent(readOnlyKey)}`), {headers: {Authorization: readOnlyKey}}),
      400,
      'GET with the key in both places',
      'not both',
    );
  });

  test('a publish over HTTP with a key reaches a subscriber that uses a key', async () => {
    const topics = topicClient(server, {apiKey: readOnlyKey});
    const {sub, values} = await subscribeValues(topics, cache, 'secured');
    try {
      const url = `http://${server.httpAddr}/topics/${cache}/secured`;
      expectStatus(await call(url, {method: 'POST', body: 'nope', headers: {Authorization: readOnlyKey, 'Content-Type': 'text/plain'}}), 403, 'publish with a read-only key');
      expectStatus(await call(url, {method: 'POST', body: 'ok', headers: {Authorization: readWriteKey, 'Content-Type': 'text/plain'}}), 204, 'publish with a read-write key');
      await waitFor('the item', () => values.length === 1);
      assert.deepEqual(values, ['ok']);
    } finally {
      sub.unsubscribe();
    }
  });
});
