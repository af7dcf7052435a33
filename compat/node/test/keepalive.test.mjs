// Keepalive: the Laptop v1 configuration pings every 5 s, idle or not. A
// server must acknowledge those pings and must not answer them with GOAWAY
// too_many_pings (grpc-go's default enforcement policy does).
//
// The client runs in a child process with grpc-js tracing on, and the test
// reads the trace. The idle period must be long enough for a misconfigured
// server to show itself: grpc-go's default policy tolerates two strikes and
// sends its GOAWAY at about the fourth ping on a connection, some 20 s after
// the connection opens, so a 12 s idle period passes even against it (checked
// against a stock grpc-go server). KEEPALIVE_IDLE_MS overrides the default.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {startServer, uniqueCacheName} from './harness.mjs';

const IDLE_MS = Number(process.env.KEEPALIVE_IDLE_MS ?? 24_000);
const here = dirname(fileURLToPath(import.meta.url));

let server;
const cache = uniqueCacheName('keepalive');

before(async () => {
  server = await startServer(['--create-cache', cache]);
});

after(async () => {
  await server?.stop();
});

function runChild(args, env, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(here, 'fixtures', 'keepalive_client.mjs'), ...args], {
      cwd: join(here, '..'),
      env: {...process.env, ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({code, signal, stdout, stderr});
    });
  });
}

function count(text, pattern) {
  return (text.match(new RegExp(pattern, 'g')) ?? []).length;
}

test(`a Laptop v1 client idle for ${IDLE_MS / 1000} s keeps working, its pings acknowledged, with no GOAWAY`, async () => {
  const run = await runChild(
    [server.host, String(server.port), cache, String(IDLE_MS)],
    {GRPC_TRACE: 'keepalive,transport', GRPC_VERBOSITY: 'DEBUG'},
    IDLE_MS + 60_000,
  );
  const tail = run.stderr.slice(-4000);
  assert.equal(run.code, 0, `client exited with ${run.code ?? run.signal}; stderr tail:\n${tail}`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop());
  assert.equal(result.setBefore, 'Success', `set before idling: ${result.setBefore}`);
  assert.equal(result.getAfter, 'still here', `get after idling: ${result.getAfter}`);

  // Only the trace up to the client's own close matters.
  const closing = run.stderr.indexOf('=== closing');
  const trace = closing >= 0 ? run.stderr.slice(0, closing) : run.stderr;
  const idleStart = trace.indexOf('=== idle start');
  const idleEnd = trace.indexOf('=== idle end');
  assert.ok(idleStart >= 0 && idleEnd > idleStart, `trace lacks the idle markers; stderr tail:\n${tail}`);
  const idle = trace.slice(idleStart, idleEnd);

  assert.equal(count(trace, 'too_many_pings'), 0, `server answered pings with too_many_pings:\n${trace.split('\n').filter(l => /too_many_pings|GOAWAY/.test(l)).join('\n')}`);
  assert.equal(count(trace, 'GOAWAY'), 0, `server sent GOAWAY:\n${trace.split('\n').filter(l => /GOAWAY/.test(l)).join('\n')}`);
  assert.equal(count(trace, 'Ping timeout passed without response'), 0, 'a ping went unanswered');

  const sent = count(idle, 'Sending ping');
  const acked = count(idle, 'Received ping response');
  // Seven channels (six data, one control) each ping every ~5 s; ask for far
  // fewer than that so a slow machine still passes.
  assert.ok(sent >= 2, `only ${sent} pings sent while idle; is the trace format different? stderr tail:\n${tail}`);
  assert.ok(acked >= 2, `only ${acked} of ${sent} pings acknowledged while idle`);
  assert.ok(acked >= sent - 7, `${acked} of ${sent} pings acknowledged while idle (at most one in flight per channel may be pending)`);
});
