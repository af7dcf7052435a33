// The seed's experiment: a background counter that only advances while the
// environment is not frozen. Kept out of the other fixtures because a
// module-level setInterval keeps the event loop busy forever, which would
// hold back every callback-style or synchronous handler.
const startTime = Date.now();
let ticks = 0;
setInterval(() => {
  ticks += 1;
}, 100);

export const handler = async () => {
  await new Promise((resolve) => setTimeout(resolve, 150));
  return { wallMs: Date.now() - startTime, ticks, pid: process.pid };
};
