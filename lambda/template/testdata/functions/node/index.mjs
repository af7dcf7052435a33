// The Node.js function of the template tests: says who it is and what its
// environment holds.
export const handler = async (event, context) => ({
  runtime: `node${process.versions.node.split('.')[0]}`,
  function: context.functionName,
  memory: context.memoryLimitInMB,
  stage: process.env.STAGE,
  shared: process.env.SHARED,
  event,
});
