// The topics lab's Node.js function: the official Momento SDK's TopicClient
// (@gomomento/sdk 1.118.1, unmodified), subscribed once during init to
// LAB_TOPIC in LAB_CACHE; the subscription lives as long as the environment,
// frozen with it between invocations.
//
// The subscription's callbacks buffer items as they arrive. Each event
// {"until": N, "wait_ms": W} waits up to W ms for the item with sequence
// number N (0: return at once), then hands over everything buffered. The
// reply lists the items' sequence numbers, the discontinuities, and the
// SDK's onConnectionLost count: the SDK (1.118.1, pubsub-client.js) calls
// it when a stream fails while the connection is not already marked lost,
// then resubscribes; a message on a stream clears the mark. So it counts
// episodes of resubscribing (a lower bound on the SDK's resubscribes, exact
// when the first resubscribe works), which is the lab's count for node-sdk.
//
// Environment (set by `thaw lab topics`): LAB_ENDPOINT, LAB_CACHE, LAB_TOPIC.

import {
  CredentialProvider,
  DefaultMomentoLoggerFactory,
  DefaultMomentoLoggerLevel,
  TopicClient,
  TopicConfigurations,
  TopicSubscribe,
} from '@gomomento/sdk';

const endpoint = process.env.LAB_ENDPOINT ?? '127.0.0.1:8080';
const cacheName = process.env.LAB_CACHE ?? 'lab';
const topic = process.env.LAB_TOPIC ?? 'events';
const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(':')), Number(endpoint.slice(endpoint.lastIndexOf(':') + 1))];

const state = {buffer: [], discontinuities: [], heartbeats: 0, connectionLost: 0, errors: [], last: 0};

const topics = new TopicClient({
  configuration: TopicConfigurations.Default.latest(new DefaultMomentoLoggerFactory(DefaultMomentoLoggerLevel.ERROR)),
  credentialProvider: CredentialProvider.forMomentoLocal({hostname: host, port}),
});

const sub = await topics.subscribe(cacheName, topic, {
  onItem: item => {
    state.last = Math.max(state.last, Number(item.sequenceNumber()));
    state.buffer.push({seq: Number(item.sequenceNumber()), at: performance.now()});
  },
  onHeartbeat: () => state.heartbeats++,
  onDiscontinuity: d => state.discontinuities.push(String(d?.toString?.() ?? d)),
  onConnectionLost: () => {
    state.connectionLost++;
    console.log(JSON.stringify({msg: 'connection lost', at: new Date().toISOString()}));
  },
  onError: e => state.errors.push(String(e?.message?.() ?? e)),
});
if (!(sub instanceof TopicSubscribe.Subscription)) {
  throw new Error(`subscribe(${cacheName}, ${topic}) failed: ${sub}`);
}

export const handler = async (event, context) => {
  const start = performance.now();
  const until = event?.until ?? 0;
  const waitMs = event?.wait_ms ?? 1000;
  while (until > 0 && state.last < until && performance.now() - start < waitMs) {
    await new Promise(resolve => setTimeout(resolve, 5));
  }
  const items = state.buffer.splice(0);
  const reply = {
    request_id: context.awsRequestId,
    items: items.map(i => ({seq: i.seq})),
    first_item_ms: items.length ? Math.max(0, items[0].at - start) : 0,
    discontinuities: state.discontinuities.splice(0),
    resubscribes: state.connectionLost,
    heartbeats: state.heartbeats,
    errors: state.errors.splice(0),
  };
  console.log(JSON.stringify({msg: 'handled', items: items.length, first_item_ms: reply.first_item_ms, resubscribes: state.connectionLost}));
  return reply;
};
