// The seed's first experiment, in plain JavaScript: state at module level
// survives from one invocation to the next in the same execution environment,
// but a setInterval timer only ticks while the environment is not frozen.
//
// Each invocation reports two clocks, both in whole seconds since this module
// was loaded:
//   calculated — from Date.now(), the wall clock, which never stops;
//   background — how often the 1 s interval has fired.
// On AWS Lambda, and under `thaw lambda`, background stays far behind
// calculated, because between invocations the process gets no CPU.

const startTime = Date.now();
let numSecondsElapsed = 0;

setInterval(() => {
  numSecondsElapsed += 1;
}, 1000);

export const handler = async () => {
  const calculated = Math.floor((Date.now() - startTime) / 1000);
  const background = numSecondsElapsed;
  console.log(`Calculated: ${calculated} seconds, Background Task: ${background} seconds`);
  return { calculated, background };
};
