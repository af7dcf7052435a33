// The server process itself: the ready file, the metrics listener, and a
// graceful SIGTERM that lets in-flight calls finish.

import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';

import {CacheGet, CacheSet} from '@gomomento/sdk';

import {laptopConfig, localClient, show, startServer, uniqueCacheName, uniqueKey} from './harness.mjs';

const servers = [];
const clients = [];

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map(s => s.stop()));
});

async function start(args) {
  const s = await startServer(args);
  servers.push(s);
  return s;
}

test('the ready file names every listener that was asked for, and only those', async () => {
  const plain = await start([]);
  assert.match(plain.addr, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(plain.port, 0, 'ready file reports port 0');
  assert.equal(plain.adminAddr, '', 'admin_addr without --enable-test-admin');
  assert.equal(plain.metricsAddr, '', 'metrics_addr without --metrics-addr');

  const full = await start(['--enable-test-admin', '--metrics-addr', '127.0.0.1:0']);
  assert.match(full.adminAddr, /^127\.0\.0\.1:[1-9]\d*$/);
  assert.match(full.metricsAddr, /^127\.0\.0\.1:[1-9]\d*$/);
  assert.notEqual(full.adminAddr, full.addr);
});

test('the metrics listener serves Prometheus text', async () => {
  const s = await start(['--metrics-addr', '127.0.0.1:0', '--create-cache', 'm']);
  const c = await localClient(s);
  clients.push(c);
  assert.ok((await c.set('m', 'k', 'v')) instanceof CacheSet.Success);
  const res = await fetch(`http://${s.metricsAddr}/metrics`);
  const body = await res.text();
  assert.equal(res.status, 200, `GET /metrics: HTTP ${res.status}`);
  assert.match(body, /^# (HELP|TYPE) /m, 'GET /metrics is not Prometheus text');
});

test('SIGTERM lets an in-flight call finish and exits 0', async () => {
  const cache = uniqueCacheName('term');
  const s = await start(['--enable-test-admin', '--create-cache', cache]);
  const slow = laptopConfig().addMiddleware({
    shouldLoadLate: true,
    onNewRequest: () => ({
      onRequestMetadata(metadata) {
        const md = metadata._grpcMetadata;
        md.set('request-id', randomUUID());
        md.set('delay-rpcs', 'get');
        md.set('delay-ms', '1500');
        return Promise.resolve(metadata);
      },
      onRequestBody: r => Promise.resolve(r),
      onResponseMetadata: m => Promise.resolve(m),
      onResponseBody: r => Promise.resolve(r),
      onResponseStatus: st => Promise.resolve(st),
    }),
  });
  const c = await localClient(s, {configuration: slow});
  clients.push(c);
  const key = uniqueKey();
  assert.ok((await c.set(cache, key, 'v')) instanceof CacheSet.Success);

  const inFlight = c.get(cache, key);
  await sleep(400); // the get is now sleeping inside the server
  const status = await s.stop();
  const got = await inFlight;
  assert.ok(got instanceof CacheGet.Hit, `get in flight during SIGTERM = ${show(got)}, want Hit`);
  assert.deepEqual(status, {code: 0, signal: null}, `exit status after SIGTERM = ${JSON.stringify(status)}`);
});
