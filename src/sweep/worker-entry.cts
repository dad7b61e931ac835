// The sweep worker's entry for piscina, in CommonJS (for the reason in src/step/worker-entry.cts:
// no require() of an ES module, which can race with piscina's import() fallback on Node 20.19+).

type Run = (task: unknown) => Promise<unknown>;
let worker: Promise<Run> | undefined;

export = async function run(task: unknown): Promise<unknown> {
  worker ??= import('./worker.js').then((m) => m.default as Run);
  return (await worker)(task);
};
