// An ES module handler (.mjs, no package.json): _HANDLER=index.handler.
import { setTimeout as sleep } from 'node:timers/promises';

const loadedAt = Date.now();

// Logged during init, before any request id exists.
console.log('esm module loaded');

export const handler = async (event, context) => {
  await sleep(1);
  console.log('esm handler', context.awsRequestId);
  return { module: 'esm', event, requestId: context.awsRequestId, loadedAt };
};

export const nested = { handler: async () => 'esm nested' };
