// The lifecycle test function for the nodejs runtime; python/lifecycle.py is
// the same in Python. The event says what it does, as for the Go test
// function: {"action": "echo" | "sleep" | "fail" | "crash" | "alloc" | "log"
// | "async", ...}.
let invocations = 0;
const hoard = [];

export const handler = async (event, context) => {
  invocations++;
  const reply = {
    pid: process.pid,
    invocations,
    request_id: context.awsRequestId,
    remaining_ms: context.getRemainingTimeInMillis(),
  };
  switch (event.action ?? 'echo') {
    case 'echo':
      console.log(`echo ${event.text}`);
      return { ...reply, echo: event.text };
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      return reply;
    case 'fail':
      throw new Error(`failing on purpose: ${event.text}`);
    case 'crash':
      console.log('crashing on purpose');
      process.exit(3);
      break;
    case 'alloc':
      for (let i = 0; i < event.mb; i++) {
        hoard.push(Buffer.alloc(1 << 20, 1));
      }
      return reply;
    case 'log':
      console.warn(event.text);
      return reply;
    case 'async':
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { ...reply, async: true };
    default:
      throw new Error(`unknown action ${event.action}`);
  }
};
