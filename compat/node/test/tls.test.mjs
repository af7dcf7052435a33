// TLS: a test CA signs a certificate for 127.0.0.1 and localhost, the server
// serves it with --tls-cert/--tls-key, and the SDK (secureConnection: true)
// trusts the CA through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
//
// grpc-js reads that variable once, when it is first loaded, so this file sets
// it before importing the SDK (each test file runs in its own process).

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile, execFileSync} from 'node:child_process';
import {promisify} from 'node:util';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const certDir = mkdtempSync(join(tmpdir(), 'thaw-tls-'));

/** Makes a CA and a server certificate signed by it; returns their paths. */
function makeCertificates(dir) {
  const openssl = args => execFileSync('openssl', args, {cwd: dir, stdio: ['ignore', 'ignore', 'pipe']});
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=thaw compat test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  return {ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key')};
}

const files = makeCertificates(certDir);
process.env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = files.ca;

const {CacheClient, CacheGet, CacheSet, CreateCache, CredentialProvider} = await import('@gomomento/sdk');
const {laptopConfig, localClient, show, startServer, uniqueCacheName, uniqueKey} = await import('./harness.mjs');

let server;
const clients = [];
const cache = uniqueCacheName('tls');

before(async () => {
  server = await startServer(['--tls-cert', files.cert, '--tls-key', files.key, '--create-cache', cache]);
});

after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  rmSync(certDir, {recursive: true, force: true});
});

/** A client that reaches the server over TLS at `host`. */
async function tlsClient(host, eagerConnectTimeout) {
  const endpoint = `${host}:${server.port}`;
  const c = await CacheClient.create({
    configuration: laptopConfig(),
    credentialProvider: CredentialProvider.forMomentoLocal({
      endpointOverrides: {cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: true},
    }),
    defaultTtlSeconds: 60,
    ...(eagerConnectTimeout === undefined ? {} : {eagerConnectTimeout}),
  });
  clients.push(c);
  return c;
}

function expect(resp, Cls, what) {
  assert.ok(resp instanceof Cls, `${what} = ${show(resp)}, want ${Cls.name}`);
}

for (const host of ['127.0.0.1', 'localhost']) {
  test(`a TLS client for ${host} trusting the test CA can create, set and get`, async () => {
    const c = await tlsClient(host);
    const name = uniqueCacheName('tls');
    expect(await c.createCache(name), CreateCache.Success, `createCache(${name}) over TLS`);
    const key = uniqueKey();
    expect(await c.set(cache, key, 'secret'), CacheSet.Success, `set(${key}) over TLS`);
    const got = await c.get(cache, key);
    expect(got, CacheGet.Hit, `get(${key}) over TLS`);
    assert.equal(got.valueString(), 'secret');
  });
}

test('a plaintext client cannot talk to the TLS port', async () => {
  // A short deadline: the SDK closes a failed channel on a timer of twice it.
  const c = await localClient(server, {eagerConnectTimeout: 0, configuration: laptopConfig().withClientTimeoutMillis(1_000)});
  clients.push(c);
  const got = await c.get(cache, 'k');
  assert.ok(got instanceof CacheGet.Error, `plaintext get = ${show(got)}, want an error`);
});

test('a TLS client that does not trust the test CA is refused', async () => {
  // Run in a child process without GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, so that
  // grpc-js there knows only the system roots.
  const script = `
    import {CacheClient, CredentialProvider, Configurations, DefaultMomentoLoggerFactory, DefaultMomentoLoggerLevel} from '@gomomento/sdk';
    const endpoint = '127.0.0.1:${server.port}';
    const c = await CacheClient.create({
      configuration: Configurations.Laptop.v1(new DefaultMomentoLoggerFactory(DefaultMomentoLoggerLevel.ERROR)).withClientTimeoutMillis(1000),
      credentialProvider: CredentialProvider.forMomentoLocal({endpointOverrides: {cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: true}}),
      defaultTtlSeconds: 60,
      eagerConnectTimeout: 0,
    });
    const r = await c.get('${cache}', 'k');
    console.log(JSON.stringify({type: r.type, code: r.errorCode?.(), message: r.message?.()}));
    process.exit(0);
  `;
  const env = {...process.env};
  delete env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH;
  const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const {stdout} = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {cwd: packageDir, env, timeout: 30_000});
  const result = JSON.parse(stdout.trim().split('\n').pop());
  assert.equal(result.type, 'Error', `get without trusting the CA = ${JSON.stringify(result)}, want an error`);
  assert.match(result.message ?? '', /certificate/i, `get without trusting the CA failed for another reason: ${result.message}`);
});
