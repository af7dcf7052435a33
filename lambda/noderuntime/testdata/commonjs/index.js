// CommonJS handlers (no package.json: .js loads through require).
// Each export is one behaviour; _HANDLER=index.<name>.
'use strict';

let invocations = 0;

// echo returns the event and what the context says, as seen by the handler.
exports.echo = async (event, context) => {
  invocations++;
  console.log('echo', JSON.stringify(event));
  return {
    event,
    invocations,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    clientContext: context.clientContext,
    identity: context.identity,
    remainingTimeInMillis: context.getRemainingTimeInMillis(),
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    traceId: process.env._X_AMZN_TRACE_ID,
  };
};

// sync returns a value without a promise: Lambda ignores it and responds
// null once the event loop is empty.
exports.sync = function (event) {
  return { ignored: true, event };
};

// callback answers through the callback after a short timer; with the default
// callbackWaitsForEmptyEventLoop the answer waits for the event loop to empty.
exports.callback = function (event, context, callback) {
  setTimeout(() => callback(null, { via: 'callback', event }), 10);
};

// callbackPendingTimer calls back at once but leaves a 300 ms timer pending:
// the response is posted only after the timer has run (it then says so).
let timerRan = false;
exports.callbackPendingTimer = function (event, context, callback) {
  timerRan = false;
  setTimeout(() => {
    timerRan = true;
  }, 300);
  callback(null, { get timerRan() { return timerRan; } });
};

// callbackNoWait does the same with callbackWaitsForEmptyEventLoop = false:
// the response is posted at once, before the timer runs.
exports.callbackNoWait = function (event, context, callback) {
  context.callbackWaitsForEmptyEventLoop = false;
  timerRan = false;
  setTimeout(() => {
    timerRan = true;
  }, 300);
  callback(null, { timerRan });
};

// callbackError fails through the callback with an Error.
exports.callbackError = function (event, context, callback) {
  callback(new TypeError('bad input'));
};

// callbackString fails through the callback with a string: errorType "string".
exports.callbackString = function (event, context, callback) {
  callback('plain string failure');
};

// contextSucceed and contextFail use the legacy context methods.
exports.contextSucceed = function (event, context) {
  context.succeed({ via: 'succeed' });
};
exports.contextFail = function (event, context) {
  context.fail(new Error('failed via context.fail'));
};

// throws throws synchronously.
exports.throws = function () {
  throw new Error('sync boom');
};

// rejects is an async handler whose promise rejects with a custom error.
class ValidationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ValidationError';
  }
}
exports.rejects = async () => {
  throw new ValidationError('async boom');
};

// rejectsUndefined rejects with undefined: {"errorType":"string","errorMessage":"handled"}.
exports.rejectsUndefined = () => Promise.reject(undefined);

// neverSettles is an async handler whose promise never settles:
// Runtime.NodeJsExit once the event loop is empty.
exports.neverSettles = async () => new Promise(() => {});

// circular returns a value JSON cannot encode: "Unable to stringify response body".
exports.circular = async () => {
  const value = {};
  value.self = value;
  return value;
};

// uncaught throws from a timer while the invocation runs: the invocation
// fails with that error and the process exits 129.
exports.uncaught = async () => {
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 5);
  return new Promise(() => {});
};

// unhandledRejection leaves a rejected promise unhandled: the invocation
// fails with Runtime.UnhandledPromiseRejection and the process exits 128.
exports.unhandledRejection = async () => {
  Promise.reject(new Error('nobody handles me'));
  return new Promise((resolve) => setTimeout(resolve, 1000));
};

// logs writes through every console method, including a multi-line message.
exports.logs = async () => {
  console.log('log %s %d', 'formatted', 42);
  console.info('info', { a: 1 });
  console.warn('warn');
  console.error('error', new Error('logged error'));
  console.debug('debug');
  console.trace('trace');
  console.log('line one\nline two');
  return 'logged';
};

// counter counts invocations of this environment: global state persists.
let count = 0;
exports.counter = async () => ++count;

// notAFunction is exported but is not a function: Runtime.HandlerNotFound.
exports.notAFunction = 42;

// nested handlers: _HANDLER=index.nested.deeper.handler
exports.nested = { deeper: { handler: async () => 'nested' } };
