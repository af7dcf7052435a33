// Topics through the official SDK's TopicClient: publish and subscribe of
// text and binary values, ordering, resuming after a cut stream,
// discontinuities, heartbeats, unsubscribing, the end of a subscription when
// its cache is flushed or deleted, the service's limits and errors, and auth.
//
// The cases follow the SDK's own topic integration tests
// (client-sdk-javascript common-integration-tests topics/topic-client.ts)
// and what its PubsubClient does with each stream message: the first one
// resolves subscribe(); an item sets the resume point (last + 1, with its
// sequence page); a discontinuity moves it to its new sequence; an error that
// is not final (anything but CACHE_NOT_FOUND, PERMISSION, AUTHENTICATION,
// CANCELLED) resubscribes from there after 500 ms.
//
// The servers run with a 100 ms heartbeat interval (--topic-heartbeat-interval)
// so that the heartbeat tests are quick, and with test admin so that the
// resume tests can cut streams as the SDKs' own tests do (stream-error-rpcs
// topic-subscribe).

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  CreateCache,
  CacheFlush,
  DeleteCache,
  ListCaches,
  MomentoErrorCode,
  TopicPublish,
  TopicSubscribe,
} from '@gomomento/sdk';

import {
  allBytes,
  createToken,
  localClient,
  makeTempDir,
  metadataMiddleware,
  removeDir,
  show,
  startServer,
  topicClient,
  topicConfig,
  uniqueCacheName,
  waitFor,
  writeSecret,
} from './harness.mjs';

const HEARTBEAT = '100ms';
/** How long a test waits to be sure something does not arrive. */
const QUIET_MS = 500;

/** Records everything a subscription's callbacks are given. */
function recorder() {
  const r = {items: [], heartbeats: 0, discontinuities: [], errors: [], connectionLost: 0, ended: 0};
  r.options = {
    onItem: item => r.items.push(item),
    onHeartbeat: () => r.heartbeats++,
    onDiscontinuity: d => r.discontinuities.push(d),
    onError: (e, subscription) => r.errors.push({error: e, subscribed: subscription.isSubscribed}),
    onConnectionLost: () => r.connectionLost++,
    onSubscriptionEnd: () => r.ended++,
  };
  r.values = () => r.items.map(i => i.value());
  r.sequences = () => r.items.map(i => i.sequenceNumber());
  return r;
}

// Subscriptions still open when a file's tests end, unsubscribed in after().
const open = new Set();
after(() => {
  for (const s of open) s.unsubscribe();
});

/** Subscribes and asserts a Subscription; returns it with its recorder. */
async function subscribe(client, cache, topic, rec = recorder()) {
  const sub = await client.subscribe(cache, topic, rec.options);
  assert.ok(sub instanceof TopicSubscribe.Subscription, `subscribe(${cache}, ${topic}) = ${show(sub)}, want a Subscription`);
  open.add(sub);
  return {sub, rec};
}

async function publishOk(client, cache, topic, value) {
  const resp = await client.publish(cache, topic, value);
  assert.ok(resp instanceof TopicPublish.Success, `publish(${cache}, ${topic}) = ${show(resp)}, want Success`);
}

function expectError(resp, Cls, code, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
  assert.equal(resp.errorCode(), code, `${what} = ${show(resp)}`);
}

/** Starts a server with the quick heartbeat and more args, and a cache client with one cache. */
function useServer(args, onReady) {
  let server;
  let cacheClient;
  before(async () => {
    server = await startServer(['--topic-heartbeat-interval', HEARTBEAT, ...args]);
    cacheClient = await localClient(server);
    onReady(server, cacheClient);
  });
  after(async () => {
    cacheClient?.close();
    await server?.stop();
  });
}

async function newCache(cacheClient, prefix) {
  const name = uniqueCacheName(prefix);
  const resp = await cacheClient.createCache(name);
  assert.ok(resp instanceof CreateCache.Success, `createCache(${name}) = ${show(resp)}`);
  return name;
}

describe('publish and subscribe', () => {
  let server;
  let cacheClient;
  let topics;
  let cache;
  useServer(['--enable-test-admin', '--topic-publish-rate', '100000'], (s, c) => {
    server = s;
    cacheClient = c;
    topics = topicClient(server);
  });
  before(async () => {
    cache = await newCache(cacheClient, 'topics');
  });

  test('text and binary values arrive as published, in order (topic-client.ts "should publish strings and bytes")', async () => {
    const {rec} = await subscribe(topics, cache, 'values');
    const bytes = allBytes();
    await publishOk(topics, cache, 'values', 'value1');
    await publishOk(topics, cache, 'values', 'value2 ✓');
    await publishOk(topics, cache, 'values', bytes);
    await waitFor('three items', () => rec.items.length === 3);
    assert.deepEqual(rec.values().slice(0, 2), ['value1', 'value2 ✓']);
    assert.ok(rec.values()[2] instanceof Uint8Array, `binary item = ${rec.items[2]}, want a Uint8Array`);
    assert.deepEqual(Buffer.from(rec.values()[2]), Buffer.from(bytes));
    assert.deepEqual(rec.sequences(), [1, 2, 3]);
    assert.equal(rec.discontinuities.length, 0);
  });

  test('publishing to a topic nobody subscribes to succeeds (topic-client.ts)', async () => {
    await publishOk(topics, cache, randomUUID(), 'value');
  });

  test('a subscription starts with the latest items, and every subscriber gets each one in order', async () => {
    await publishOk(topics, cache, 'order', 'before');
    const a = await subscribe(topics, cache, 'order');
    const b = await subscribe(topics, cache, 'order');
    const n = 100;
    for (let i = 0; i < n; i++) await publishOk(topics, cache, 'order', `m${i}`);
    for (const {rec} of [a, b]) {
      await waitFor(`${n} items`, () => rec.items.length >= n);
      assert.deepEqual(rec.values(), Array.from({length: n}, (_, i) => `m${i}`));
      assert.deepEqual(rec.sequences(), Array.from({length: n}, (_, i) => i + 2));
    }
  });

  test('concurrent publishers: each item once, in sequence order', async () => {
    const {rec} = await subscribe(topics, cache, 'concurrent');
    const publishers = [topicClient(server), topicClient(server), topicClient(server)];
    await Promise.all(
      publishers.map((p, w) => (async () => {
        for (let i = 0; i < 20; i++) await publishOk(p, cache, 'concurrent', `w${w}-${i}`);
      })()),
    );
    await waitFor('60 items', () => rec.items.length >= 60);
    assert.deepEqual(rec.sequences(), Array.from({length: 60}, (_, i) => i + 1));
    assert.equal(new Set(rec.values()).size, 60, 'duplicate values');
  });

  test('heartbeats: one at once (subscribe() resolves on it), then one per idle interval', async () => {
    const {rec} = await subscribe(topics, cache, 'idle');
    assert.ok(rec.heartbeats >= 1, `heartbeats right after subscribe() = ${rec.heartbeats}, want the first`);
    await waitFor('five heartbeats', () => rec.heartbeats >= 5);
    assert.equal(rec.items.length, 0);
    assert.equal(rec.connectionLost, 0);
  });

  test('unsubscribe ends the subscription and nothing more arrives (topic-client.ts "should not receive messages when unsubscribed")', async () => {
    const {sub, rec} = await subscribe(topics, cache, 'unsub');
    await publishOk(topics, cache, 'unsub', 'before');
    await waitFor('the first item', () => rec.items.length === 1);
    sub.unsubscribe();
    assert.equal(sub.isSubscribed, false);
    await waitFor('onSubscriptionEnd', () => rec.ended === 1);
    await publishOk(topics, cache, 'unsub', 'after');
    await sleep(QUIET_MS);
    assert.deepEqual(rec.values(), ['before']);
    assert.equal(rec.errors.length, 0);
  });

  test('flushing the cache resets its topics: the subscriber reconnects and hears of a new sequence page', async () => {
    const flushed = await newCache(cacheClient, 'flushed');
    const {rec} = await subscribe(topics, flushed, 't');
    await publishOk(topics, flushed, 't', 'old');
    await waitFor('the first item', () => rec.items.length === 1);
    const resp = await cacheClient.flushCache(flushed);
    assert.ok(resp instanceof CacheFlush.Success, `flushCache = ${show(resp)}`);
    await waitFor('a discontinuity after the reconnect', () => rec.discontinuities.length === 1);
    const d = rec.discontinuities[0];
    assert.equal(d.lastSequenceNumber(), 1, String(d));
    assert.equal(d.newSequenceNumber(), 0, String(d));
    assert.ok(d.newSequencePage() > 0, String(d));
    await publishOk(topics, flushed, 't', 'new');
    await waitFor('the item after the reset', () => rec.items.length === 2);
    assert.deepEqual(rec.values(), ['old', 'new']);
    assert.deepEqual(rec.sequences(), [1, 1], 'the reset topic counts from 1 again');
    assert.ok(rec.connectionLost >= 1);
    assert.equal(rec.errors.length, 0);
  });

  test('deleting the cache ends the subscription with CACHE_NOT_FOUND (topic-client.ts "should unsubscribe automatically if the cache is deleted")', async () => {
    const doomed = await newCache(cacheClient, 'doomed');
    const {sub, rec} = await subscribe(topics, doomed, 't');
    const resp = await cacheClient.deleteCache(doomed);
    assert.ok(resp instanceof DeleteCache.Success, `deleteCache = ${show(resp)}`);
    await waitFor('onError', () => rec.errors.length === 1);
    assert.equal(rec.errors[0].error.errorCode(), MomentoErrorCode.CACHE_NOT_FOUND_ERROR, show(rec.errors[0].error));
    assert.equal(rec.errors[0].subscribed, false);
    assert.equal(sub.isSubscribed, false);
    assert.equal(rec.items.length, 0);
  });

  test('errors: unknown cache (topic-client.ts), and names the server refuses', async () => {
    const missing = randomUUID();
    const pub = await topics.publish(missing, 'topic', 'value');
    expectError(pub, TopicPublish.Error, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, 'publish(unknown cache)');
    assert.ok(pub.message().includes('A cache with the specified name does not exist.'), pub.message());
    const sub = await topics.subscribe(missing, 'topic', recorder().options);
    expectError(sub, TopicSubscribe.Error, MomentoErrorCode.CACHE_NOT_FOUND_ERROR, 'subscribe(unknown cache)');

    const long = 'n'.repeat(256);
    for (const [c, t, what] of [
      [cache, long, 'a 256-byte topic name'],
      [long, 't', 'a 256-byte cache name'],
      [cache, ' ', 'a blank topic name'],
    ]) {
      expectError(await topics.publish(c, t, 'v'), TopicPublish.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `publish(${what})`);
      expectError(await topics.subscribe(c, t, recorder().options), TopicSubscribe.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, `subscribe(${what})`);
    }
    // Empty names never leave the SDK.
    expectError(await topics.publish('', 't', 'v'), TopicPublish.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'publish(empty cache name)');
    expectError(await topics.subscribe(cache, '', recorder().options), TopicSubscribe.Error, MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'subscribe(empty topic)');
  });
});

/**
 * A TopicClient whose subscription streams the server cuts after `limit`
 * messages each (test-admin injection, as the SDKs' own tests do), and
 * that waits firstDelayMs before its first resubscribe, then 50 ms.
 */
function cuttingClient(server, limit, firstDelayMs = 500) {
  let resubscribes = 0;
  const configuration = topicConfig().withSubscriptionRetryStrategy({
    determineWhenToResubscribe: () => (resubscribes++ === 0 ? firstDelayMs : 50),
  });
  return topicClient(server, {
    configuration,
    middlewares: [
      metadataMiddleware({
        'request-id': randomUUID(),
        'stream-error-rpcs': 'topic-subscribe',
        'stream-error': 'unavailable',
        'stream-error-message-limit': limit,
      }),
    ],
  });
}

// The servers of these suites send heartbeats only every 10 s, so that the
// injected cuts fall where the tests expect them: between items, not
// between heartbeats.
describe('resuming after a cut stream', () => {
  let server;
  let cacheClient;
  let topics;
  useServer(['--enable-test-admin', '--topic-heartbeat-interval', '10s'], (s, c) => {
    server = s;
    cacheClient = c;
    topics = topicClient(server);
  });

  test('resume: with the stream cut every 6 messages, the SDK resubscribes where it was and loses and repeats nothing', async () => {
    const cache = await newCache(cacheClient, 'resume');
    const {sub, rec} = await subscribe(cuttingClient(server, 6), cache, 'resume');
    const n = 20;
    for (let i = 0; i < n; i++) {
      await publishOk(topics, cache, 'resume', `r${i}`);
      await sleep(20);
    }
    await waitFor(`${n} items across reconnects`, () => rec.items.length >= n, 20_000);
    await sleep(QUIET_MS);
    sub.unsubscribe();
    assert.deepEqual(rec.values(), Array.from({length: n}, (_, i) => `r${i}`));
    assert.deepEqual(rec.sequences(), Array.from({length: n}, (_, i) => i + 1));
    assert.ok(rec.connectionLost >= 1, `connection lost ${rec.connectionLost} times, want the cuts seen`);
    assert.equal(rec.discontinuities.length, 0, `discontinuities: ${rec.discontinuities.join(', ')}`);
    assert.equal(rec.errors.length, 0);
  });
});

describe('discontinuity', () => {
  let server;
  let cacheClient;
  let topics;
  useServer(['--enable-test-admin', '--topic-heartbeat-interval', '10s', '--topic-retention', '2'], (s, c) => {
    server = s;
    cacheClient = c;
    topics = topicClient(server);
  });

  test('a subscriber that misses more than the topic retains gets a discontinuity, then the retained items', async () => {
    const cache = await newCache(cacheClient, 'gap');
    // The stream is cut after its first item (the heartbeat, then the
    // item); four more are published while the SDK waits 1.5 s to
    // resubscribe, and only the last two are retained.
    const {sub, rec} = await subscribe(cuttingClient(server, 2, 1500), cache, 't');
    await publishOk(topics, cache, 't', 'i1');
    await waitFor('item 1', () => rec.items.length === 1);
    for (let i = 2; i <= 5; i++) await publishOk(topics, cache, 't', `i${i}`);
    await waitFor('items 4 and 5 after the gap', () => rec.items.length >= 3, 20_000);
    sub.unsubscribe();
    assert.equal(rec.discontinuities.length, 1, `discontinuities: ${rec.discontinuities.join(', ')}`);
    const d = rec.discontinuities[0];
    assert.equal(d.lastSequenceNumber(), 1, String(d));
    assert.equal(d.newSequenceNumber(), 3, String(d));
    assert.ok(d.newSequencePage() > 0, String(d));
    assert.deepEqual(rec.values(), ['i1', 'i4', 'i5']);
    assert.deepEqual(rec.sequences(), [1, 4, 5]);
    assert.equal(rec.errors.length, 0);
  });
});

describe('limits', () => {
  let server;
  let cacheClient;
  let topics;
  useServer(['--topic-max-subscriptions', '2', '--topic-publish-rate', '3', '--topic-max-message-size', '1KiB'], (s, c) => {
    server = s;
    cacheClient = c;
    topics = topicClient(server);
  });

  test('listCaches reports the topic limits the server enforces', async () => {
    const cache = await newCache(cacheClient, 'listed');
    const resp = await cacheClient.listCaches();
    assert.ok(resp instanceof ListCaches.Success, show(resp));
    const info = resp.getCaches().find(c => c.getName() === cache);
    assert.deepEqual(info.getTopicLimits(), {maxPublishRate: 3, maxSubscriptionCount: 2, maxPublishMessageSizeKb: 1});
  });

  test('subscriptions per cache: one too many is "Topic subscriptions limit exceeded"; unsubscribing frees a place', async () => {
    const cache = await newCache(cacheClient, 'subs');
    const first = await subscribe(topics, cache, 'a');
    await subscribe(topics, cache, 'b');
    const third = await topics.subscribe(cache, 'c', recorder().options);
    expectError(third, TopicSubscribe.Error, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'third subscribe');
    assert.ok(third.toString().includes('Topic subscriptions limit exceeded for this account'), third.toString());
    // Another cache has its own count.
    const other = await newCache(cacheClient, 'subs-other');
    await subscribe(topics, other, 'a');

    first.sub.unsubscribe();
    let again;
    await waitFor('a place after unsubscribing', async () => {
      again = await topics.subscribe(cache, 'c', recorder().options);
      return again instanceof TopicSubscribe.Subscription;
    });
    open.add(again);
  });

  test('publish rate: a burst beyond 3 a second is "Request rate limit exceeded"', async () => {
    const cache = await newCache(cacheClient, 'rate'); // a cache of its own: a full bucket of 3
    const burst = await Promise.all(Array.from({length: 8}, (_, i) => topics.publish(cache, 't', `p${i}`)));
    const refused = burst.filter(r => !(r instanceof TopicPublish.Success));
    assert.ok(burst.length - refused.length >= 3, `${burst.length - refused.length} of 8 accepted, want the burst of 3`);
    assert.ok(refused.length >= 1, 'all 8 publishes of a burst accepted at 3 a second');
    for (const r of refused) {
      expectError(r, TopicPublish.Error, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'a publish beyond the rate');
      assert.ok(r.toString().includes('Request rate limit exceeded for this account'), r.toString());
    }
    await sleep(500); // a third of a second refills one publish
    await publishOk(topics, cache, 't', 'later');
  });

  test('message size: a value over --topic-max-message-size is "Item size limit exceeded"', async () => {
    const cache = await newCache(cacheClient, 'size');
    await publishOk(topics, cache, 't', 'a'.repeat(1024));
    const resp = await topics.publish(cache, 't', new Uint8Array(1025));
    expectError(resp, TopicPublish.Error, MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'publish(1025 bytes)');
    assert.ok(resp.toString().includes('Item size limit exceeded for this account'), resp.toString());
  });
});

describe('auth', () => {
  let server;
  let dir;
  let keys;
  const cache = uniqueCacheName('secured');
  const otherCache = uniqueCacheName('secured-other');
  before(async () => {
    dir = await makeTempDir();
    const secretFile = await writeSecret(dir);
    server = await startServer([
      '--topic-heartbeat-interval', HEARTBEAT,
      '--auth-secret-file', secretFile,
      '--create-cache', cache,
      '--create-cache', otherCache,
    ]);
    const endpoint = server.addr;
    keys = {
      readonly: await createToken({secretFile, role: 'readonly', endpoint}),
      readwrite: await createToken({secretFile, role: 'readwrite', endpoint}),
      otherCache: await createToken({secretFile, role: 'superuser', caches: [otherCache], endpoint}),
    };
  });
  after(async () => {
    await server?.stop();
    if (dir) await removeDir(dir);
  });

  test('without a key nothing of the service is reachable', async () => {
    const anonymous = topicClient(server);
    expectError(await anonymous.publish(cache, 't', 'v'), TopicPublish.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'publish without a key');
    expectError(await anonymous.subscribe(cache, 't', recorder().options), TopicSubscribe.Error, MomentoErrorCode.AUTHENTICATION_ERROR, 'subscribe without a key');
  });

  test('subscribe needs a read role, publish a write role, both for the cache the request names', async () => {
    const readonly = topicClient(server, {apiKey: keys.readonly});
    const readwrite = topicClient(server, {apiKey: keys.readwrite});
    const scoped = topicClient(server, {apiKey: keys.otherCache});

    const {rec} = await subscribe(readonly, cache, 't');
    expectError(await readonly.publish(cache, 't', 'v'), TopicPublish.Error, MomentoErrorCode.PERMISSION_ERROR, 'publish with a read-only key');
    await publishOk(readwrite, cache, 't', 'v');
    await waitFor('the item', () => rec.items.length === 1);

    expectError(await scoped.publish(cache, 't', 'v'), TopicPublish.Error, MomentoErrorCode.PERMISSION_ERROR, 'publish with a key for another cache');
    expectError(await scoped.subscribe(cache, 't', recorder().options), TopicSubscribe.Error, MomentoErrorCode.PERMISSION_ERROR, 'subscribe with a key for another cache');
    await subscribe(scoped, otherCache, 't');
    await publishOk(scoped, otherCache, 't', 'v');
    await sleep(QUIET_MS);
    assert.equal(rec.items.length, 1, 'the refused publish reached the subscriber');
  });
});
