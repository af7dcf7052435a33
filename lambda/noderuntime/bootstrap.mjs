// thaw's Node.js runtime: the program `thaw lambda --runtime nodejs` starts as
// `node bootstrap.mjs` to run an unmodified Lambda handler. Plain JavaScript,
// Node >= 18, no dependencies. It speaks the Runtime API 2018-06-01 at
// http://$AWS_LAMBDA_RUNTIME_API.
//
// It aims to behave like the Node runtime of AWS Lambda (whose runtime client,
// aws-lambda-ric, is a native addon). The behaviours below follow that
// client's public source; where this file differs it says so.
//
// Loading (_HANDLER = "[dir/]module.path.to.fn", LAMBDA_TASK_ROOT):
//   - a handler containing ".." is Runtime.MalformedHandlerName, and so is a
//     name without a dot ("Bad handler");
//   - the module is tried as: the extensionless file; "module.js" through
//     require() unless the nearest package.json (stopping at node_modules)
//     says "type": "module"; "module.js" through import() if it does;
//     "module.mjs" through import(); "module.cjs" through require(); finally
//     require.resolve(module) from the task root (NODE_PATH, node_modules);
//   - a SyntaxError while loading becomes Runtime.UserCodeSyntaxError, a
//     MODULE_NOT_FOUND (CommonJS) becomes Runtime.ImportModuleError, with the
//     original error's "Name: message" as message. As on Lambda, an ES module
//     importing a missing package (ERR_MODULE_NOT_FOUND) is reported as the
//     plain Error it is;
//   - the handler is found by walking the dotted path; a missing or
//     non-function value is Runtime.HandlerNotFound;
//   - any init failure is logged as "Uncaught Exception", POSTed to
//     /runtime/init/error with Lambda-Runtime-Function-Error-Type set to its
//     errorType, and the process exits 129.
//
// Invoking: the handler is called as handler(event, context, callback).
//   - A returned promise (async handler) completes the invocation when it
//     settles: fulfilled -> response, rejected -> error. Nothing waits for
//     the event loop.
//   - callback(err, result): an error is posted at once; a result is posted
//     at once if context.callbackWaitsForEmptyEventLoop is false, otherwise
//     (the default) when the event loop has become empty (Node's
//     'beforeExit'). So a pending setInterval keeps a callback-style
//     invocation open until it times out, exactly as on Lambda.
//   - context.done/succeed/fail post at once. Only the first of callback,
//     done, succeed and fail counts.
//   - A handler that neither returns a promise nor calls back completes when
//     the event loop is empty: with null as its response, also when it
//     returned a value (Lambda ignores the return value of a non-async
//     function), or with Runtime.NodeJsExit if it is an async function whose
//     promise never settled.
//   - A thrown error is posted as the invocation's error.
//   - The response body is JSON.stringify(result), "null" for undefined; if
//     that throws (cycles, BigInt) the invocation fails with
//     "Unable to stringify response body".
//
// Errors are posted as {"errorType", "errorMessage", "trace"} (the lines of
// err.stack); a thrown non-Error value gives errorType = typeof value and an
// empty trace, and a promise rejected with undefined or null gives
// {"errorType": "string", "errorMessage": "handled"} as on Lambda. They are
// also logged as "Invoke Error" at ERROR level. The official client posts
// invocation errors without a Lambda-Runtime-Function-Error-Type header (it
// sends it only with init errors); this bootstrap sends it with both, holding
// the same value as errorType, because the Runtime API documents it and
// emulators use it.
//
// The context has awsRequestId, invokedFunctionArn, functionName,
// functionVersion, memoryLimitInMB (a string, from the environment),
// logGroupName, logStreamName, clientContext and identity (parsed JSON
// headers, undefined when absent), tenantId, getRemainingTimeInMillis()
// (Lambda-Runtime-Deadline-Ms minus now), callbackWaitsForEmptyEventLoop and
// done/succeed/fail. process.env._X_AMZN_TRACE_ID is set from
// Lambda-Runtime-Trace-Id for each invocation, and removed when it is absent.
//
// Logging: console.log/info (INFO), warn, error, debug, trace (TRACE, no
// stack) and fatal all write through one formatter:
//   "<ISO time>\t<request id>\t<LEVEL>\t<util.format(args)>\n"
// to stdout, for every level. Newlines inside a record are written as '\r',
// as the official client does on stdout, so one call is one line. The request
// id is "undefined" until the first event arrives and then stays the id of
// the latest event until the next one arrives (the official client never
// clears it). AWS_LAMBDA_LOG_FORMAT=JSON switches to JSON records
// {timestamp, level, requestId, message, ...}; AWS_LAMBDA_LOG_LEVEL drops
// records below that level. If _LAMBDA_TELEMETRY_LOG_FD holds an open file
// descriptor, records are written there instead, framed as on Lambda: a
// big-endian 16-byte header (uint32 0xa55a0003 for text or 0xa55a0002 for
// JSON, OR the level bits; uint32 length; uint64 time in microseconds) and the
// record, with its newlines kept.
//
// Crashes: an uncaught exception or unhandled rejection is logged ("Uncaught
// Exception", "Unhandled Promise Rejection"; a rejection is wrapped as
// Runtime.UnhandledPromiseRejection) and, while an invocation is in progress,
// posted as its error over a fresh connection; during init it is posted as an
// init error. Then the process exits, 129 for an exception and 128 for a
// rejection, and the emulator starts a new environment. When no invocation is
// in progress (its result was already posted) nothing is posted; the
// official client would post to the finished invocation and have it refused.
//
// The Runtime API client uses Node's http module with one keep-alive agent
// (keepAlive, maxSockets 1), so every request reuses one connection, and no
// timeout anywhere: the process is frozen inside GET /next between
// invocations and must not give up on it. A request that fails with
// ECONNRESET on a reused connection (closed by the server while idle) is
// retried once on a new one. A failing Runtime API is fatal: the process
// says why on stderr and exits 1.
//
// Not supported: response streaming (awslambda.streamifyResponse), the X-Ray
// error cause header, the Node 24 warning for callback handlers.

import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

const requireUserCode = createRequire(import.meta.url);

const RUNTIME_API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const USER_AGENT = `thaw-nodejs-bootstrap node/${process.versions.node}`;
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
const EXIT_RUNTIME_API_FAILURE = 1;

// ---------------------------------------------------------------------------
// Errors the runtime itself raises. Their names carry the "Runtime." prefix,
// which is what ends up in errorType.

function runtimeErrorClass(shortName) {
  const cls = { [shortName]: class extends Error {} }[shortName];
  cls.prototype.name = `Runtime.${shortName}`;
  return cls;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');

class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. ' +
        'This is most commonly caused by a Promise that was never settled. ' +
        'For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason === undefined ? undefined : safeString(reason));
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// The Runtime API carries errorType in a header, where DEL is not allowed.
function escapeDelete(text) {
  return typeof text === 'string' ? text.replaceAll('\x7F', '%7F') : text;
}

function isErrorLike(value) {
  return (
    value &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name !== '' &&
    value.message !== '' &&
    value.stack !== ''
  );
}

// errorBody is what an invocation or init error looks like on the wire.
function errorBody(err) {
  try {
    if (util.types.isNativeError(err) || isErrorLike(err)) {
      return {
        errorType: escapeDelete(err.name),
        errorMessage: escapeDelete(err.message),
        trace: escapeDelete(err.stack).split('\n'),
      };
    }
    return { errorType: typeof err, errorMessage: err.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function asError(value) {
  return value instanceof Error ? value : new Error(value);
}

// ---------------------------------------------------------------------------
// Logging.

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1, frameBits: 0b00100 },
  DEBUG: { name: 'DEBUG', priority: 2, frameBits: 0b01000 },
  INFO: { name: 'INFO', priority: 3, frameBits: 0b01100 },
  WARN: { name: 'WARN', priority: 4, frameBits: 0b10000 },
  ERROR: { name: 'ERROR', priority: 5, frameBits: 0b10100 },
  FATAL: { name: 'FATAL', priority: 6, frameBits: 0b11000 },
});

const FRAME_TEXT = 0xa55a0003;
const FRAME_JSON = 0xa55a0002;

// The request id lives on the global object under the symbol Lambda's own
// runtime uses, so libraries that read it find it.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');

function textRecord(time, level, params) {
  return `${time}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(...params)}`;
}

// Errors anywhere inside a JSON record are expanded, since JSON.stringify
// would otherwise print them as {}.
function expandErrorsForJSON(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function jsonRecord(time, level, params) {
  const record = { timestamp: time, level: level.name, requestId: globalThis[REQUEST_ID] };
  if (globalThis[TENANT_ID] != null) {
    record.tenantId = globalThis[TENANT_ID];
  }
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, expandErrorsForJSON);
    } catch {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const err = params.find((p) => p instanceof Error);
  if (err) {
    record.errorType = err?.constructor?.name ?? 'UnknownError';
    record.errorMessage = err.message;
    record.stackTrace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

// makeLogWriter returns write(level, params) for the configured format and
// destination.
function makeLogWriter() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const format = json ? jsonRecord : textRecord;
  const fdText = process.env._LAMBDA_TELEMETRY_LOG_FD;
  if (fdText != null) {
    // Not for the function's own child processes.
    delete process.env._LAMBDA_TELEMETRY_LOG_FD;
    const fd = Number.parseInt(fdText, 10);
    const header = Buffer.alloc(16);
    const frameType = json ? FRAME_JSON : FRAME_TEXT;
    return (level, params) => {
      const now = new Date();
      const body = Buffer.from(format(now.toISOString(), level, params) + (json ? '' : '\n'), 'utf8');
      header.writeUInt32BE((frameType | level.frameBits) >>> 0, 0);
      header.writeUInt32BE(body.length, 4);
      header.writeBigUInt64BE(BigInt(now.getTime()) * 1000n, 8);
      fs.writeSync(fd, Buffer.concat([header, body]));
    };
  }
  return (level, params) => {
    const line = format(new Date().toISOString(), level, params).replace(/\n/g, '\r');
    process.stdout.write(line + '\n');
  };
}

// patchConsole routes console.* through the Lambda formatter. Methods below
// AWS_LAMBDA_LOG_LEVEL become no-ops; console.fatal is always kept.
function patchConsole() {
  const write = makeLogWriter();
  const threshold = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const method = (level) =>
    level.priority >= threshold.priority ? (message, ...params) => write(level, [message, ...params]) : () => {};
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = (message, ...params) => write(LEVELS.FATAL, [message, ...params]);
}

// logError logs an error the way Lambda does: in text format a label, a tab
// and the error as one line of JSON; in JSON format the error itself.
function logError(label, err) {
  const error = asError(err);
  if (process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON') {
    console.error(error);
    return;
  }
  let formatted;
  try {
    formatted = JSON.stringify(error, (_key, value) => {
      if (!(value instanceof Error)) {
        return value;
      }
      const expanded = Object.assign(
        { errorType: value.name, errorMessage: value.message, code: value.code },
        value,
      );
      if (typeof value.stack === 'string') {
        expanded.stack = value.stack.split('\n');
      }
      return expanded;
    });
  } catch {
    formatted = JSON.stringify(errorBody(error));
  }
  console.error(label, '\t' + formatted);
}

// diagnose reports a problem of the runtime itself (not of the function) on
// stderr, outside the function's log format.
function diagnose(message) {
  process.stderr.write(`thaw-bootstrap: ${message}\n`);
}

// ---------------------------------------------------------------------------
// Runtime API client.

class RuntimeAPI {
  constructor(address) {
    if (!address) {
      throw new Error('AWS_LAMBDA_RUNTIME_API is not set');
    }
    const url = new URL(`http://${address}`);
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 80);
    // One connection, kept alive and reused, like Lambda's runtime client.
    // No timeout: the process is frozen inside GET /next.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  // next blocks until the next event and returns {headers, body}.
  async next() {
    const res = await this.request('GET', '/invocation/next', {}, undefined, this.agent);
    if (res.status !== 200) {
      throw new Error(`GET /next answered ${res.status}: ${res.body}`);
    }
    return res;
  }

  postResponse(id, body) {
    return this.post(`/invocation/${encodeURIComponent(id)}/response`, body, {}, this.agent);
  }

  postError(id, err, agent = this.agent) {
    const body = errorBody(err);
    return this.post(
      `/invocation/${encodeURIComponent(id)}/error`,
      JSON.stringify(body),
      { [ERROR_TYPE_HEADER]: headerSafe(body.errorType) },
      agent,
    );
  }

  postInitError(err, agent = this.agent) {
    const body = errorBody(err);
    return this.post('/init/error', JSON.stringify(body), { [ERROR_TYPE_HEADER]: headerSafe(body.errorType) }, agent);
  }

  // post sends body and resolves once the API has answered; a refusal (4xx,
  // 5xx) is reported on stderr but does not stop the runtime, as on Lambda.
  async post(pathname, body, headers, agent) {
    const res = await this.request(
      'POST',
      pathname,
      { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers },
      body,
      agent,
    );
    if (res.status < 200 || res.status > 299) {
      diagnose(`POST ${pathname} answered ${res.status}: ${res.body}`);
    }
    return res;
  }

  request(method, pathname, headers, body, agent, retried = false) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          method,
          path: RUNTIME_API_PREFIX + pathname,
          headers: { 'User-Agent': USER_AGENT, ...headers },
          agent,
          // 0 clears any idle timeout the agent may have left on a reused
          // socket (e.g. from a Keep-Alive: timeout=N hint).
          timeout: 0,
        },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        if (!retried && req.reusedSocket && err.code === 'ECONNRESET') {
          resolve(this.request(method, pathname, headers, body, agent, true));
          return;
        }
        reject(err);
      });
      req.end(body);
    });
  }
}

// headerSafe makes text a valid HTTP header value.
function headerSafe(text) {
  return String(text ?? '').replace(/[^\t\x20-\x7E]/g, (c) => encodeURIComponent(c));
}

// ---------------------------------------------------------------------------
// Loading the handler.

function nearestPackageIsModule(dir) {
  for (;;) {
    if (dir.endsWith(`${path.sep}node_modules`)) {
      return false;
    }
    const pkgPath = path.join(dir, 'package.json');
    if (fs.existsSync(pkgPath)) {
      try {
        return JSON.parse(fs.readFileSync(pkgPath, 'utf8'))?.type === 'module';
      } catch (err) {
        console.warn(`${pkgPath} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return false;
    }
    dir = parent;
  }
}

function requireIfExists(file) {
  return fs.existsSync(file) ? requireUserCode(file) : undefined;
}

async function importIfExists(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

async function loadModule(taskRoot, moduleDir, moduleName) {
  const base = path.resolve(taskRoot, moduleDir, moduleName);
  const extensionless = requireIfExists(base);
  if (extensionless) {
    return extensionless;
  }
  const isModule = fs.existsSync(`${base}.js`) && nearestPackageIsModule(path.dirname(`${base}.js`));
  if (!isModule) {
    const commonJS = requireIfExists(`${base}.js`);
    if (commonJS) {
      return commonJS;
    }
  }
  const loaded =
    (isModule && (await importIfExists(`${base}.js`))) ||
    (await importIfExists(`${base}.mjs`)) ||
    requireIfExists(`${base}.cjs`);
  if (loaded) {
    return loaded;
  }
  // Last, Node's own resolution from the task root: node_modules, NODE_PATH.
  return requireUserCode(
    requireUserCode.resolve(moduleName, { paths: [taskRoot, path.resolve(taskRoot, moduleDir)] }),
  );
}

async function loadHandler(taskRoot, fullName) {
  if (typeof fullName !== 'string' || fullName.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullName}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const baseName = path.basename(fullName);
  const moduleDir = fullName.slice(0, fullName.length - baseName.length);
  const match = /^([^.]*)\.(.*)$/.exec(baseName);
  if (!match) {
    throw new MalformedHandlerName('Bad handler');
  }
  const [, moduleName, propertyPath] = match;

  let userModule;
  try {
    userModule = await loadModule(taskRoot, moduleDir, moduleName);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new UserCodeSyntaxError(err);
    }
    if (err?.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(err);
    }
    throw err;
  }

  const handler = propertyPath.split('.').reduce((value, key) => value && value[key], userModule);
  if (!handler) {
    throw new HandlerNotFound(`${fullName} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullName} is not a function`);
  }
  return handler;
}

function isAsyncFunction(fn) {
  try {
    return fn.constructor?.name === 'AsyncFunction';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// The invocation loop.

const api = new RuntimeAPI(process.env.AWS_LAMBDA_RUNTIME_API);

// initializing holds until the first GET /next: a crash before it is an init
// error.
let initializing = true;
// current is the invocation in progress: {id, reported}. reported turns true
// once its outcome has been handed to the Runtime API.
let current = null;
// onEmptyEventLoop runs when Node's event loop has nothing left to do; it is
// how callback results and handlers that never complete are finished.
let onEmptyEventLoop = null;
// posting is the POST in flight, so that a crash lets it finish.
let posting = Promise.resolve();
let crashing = false;

process.on('beforeExit', () => {
  const run = onEmptyEventLoop;
  onEmptyEventLoop = null;
  if (run) {
    run();
  }
});

process.on('uncaughtException', (err) => {
  logError('Uncaught Exception', err);
  crash(err, EXIT_UNCAUGHT_EXCEPTION);
});

process.on('unhandledRejection', (reason, promise) => {
  const err = new UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', err);
  crash(err, EXIT_UNHANDLED_REJECTION);
});

// crash reports err where it belongs and exits. It uses a connection of its
// own: the shared one may be busy with a GET /next that will not return.
function crash(err, exitCode) {
  if (crashing) {
    return;
  }
  crashing = true;
  const exit = () => process.exit(exitCode);
  let report = Promise.resolve();
  if (initializing) {
    report = api.postInitError(err, false);
  } else if (current && !current.reported) {
    current.reported = true;
    report = api.postError(current.id, err, false);
  }
  Promise.all([posting, report]).then(exit, (postErr) => {
    diagnose(`reporting the crash failed: ${postErr}`);
    exit();
  });
}

function fatal(err) {
  diagnose(`runtime API failure: ${err?.stack ?? err}`);
  process.exit(EXIT_RUNTIME_API_FAILURE);
}

function scheduleNext(handler) {
  setImmediate(() => nextInvocation(handler).catch(fatal));
}

function parseJSONHeader(value, name) {
  if (value === undefined || value === '') {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

async function nextInvocation(handler) {
  initializing = false;
  const { headers, body } = await api.next();
  const id = headers['lambda-runtime-aws-request-id'];
  if (!id) {
    throw new Error('GET /next answered without Lambda-Runtime-Aws-Request-Id');
  }
  const invocation = { id, reported: false };
  current = invocation;
  globalThis[REQUEST_ID] = id;
  globalThis[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];
  if (headers['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }

  const next = () => scheduleNext(handler);
  const send = (promise) => {
    posting = promise;
    promise.then(next, fatal);
  };

  const postResult = (result) => {
    if (invocation.reported) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    let json;
    try {
      json = JSON.stringify(result === undefined ? null : result) ?? 'null';
    } catch {
      postError(new Error('Unable to stringify response body'));
      return;
    }
    invocation.reported = true;
    send(api.postResponse(id, json));
  };

  const postError = (err) => {
    logError('Invoke Error', err);
    if (invocation.reported) {
      return;
    }
    invocation.reported = true;
    send(api.postError(id, err));
  };

  let waitForEmptyEventLoop = true;
  const done = (err, result) => {
    onEmptyEventLoop = null;
    if (err !== undefined && err !== null) {
      postError(err);
    } else {
      postResult(result);
    }
  };
  const callback = (err, result) => {
    onEmptyEventLoop = null;
    if (err !== undefined && err !== null) {
      postError(err);
    } else if (!waitForEmptyEventLoop) {
      postResult(result);
    } else {
      onEmptyEventLoop = () => setImmediate(() => postResult(result));
    }
  };

  // Only the first of callback, done, succeed and fail counts.
  let settled = false;
  const firstOnly =
    (fn) =>
    (...args) => {
      if (!settled) {
        settled = true;
        fn(...args);
      }
    };

  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    done: firstOnly(done),
    succeed: firstOnly((result) => done(null, result)),
    fail: firstOnly((err) => done(err === undefined || err === null ? 'handled' : err, null)),
  };
  const firstCallback = firstOnly(callback);

  // A handler that neither calls back nor returns a promise ends when the
  // event loop is empty.
  const isAsync = isAsyncFunction(handler);
  onEmptyEventLoop = () => {
    if (invocation.reported) {
      return;
    }
    if (isAsync) {
      const err = new NodeJsExit();
      logError('Invoke Error', err);
      invocation.reported = true;
      send(api.postError(id, err));
    } else {
      invocation.reported = true;
      send(api.postResponse(id, 'null'));
    }
  };

  try {
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    Object.assign(context, {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJSONHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJSONHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
    const event = JSON.parse(body);
    const result = handler(event, context, firstCallback);
    if (result && typeof result.then === 'function') {
      result.then(context.succeed, context.fail);
    }
  } catch (err) {
    firstCallback(err);
  }
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER);
  } catch (err) {
    // Lambda's runtime lets the load error escape as an uncaught exception.
    logError('Uncaught Exception', err);
    crash(err, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  scheduleNext(handler);
}

main();
