// The data-parallel worker's entry for piscina, in CommonJS. Piscina loads a task file with
// require() first and falls back to import() when that fails; on Node 20.19+ require() of an
// ES module can race with that fallback (both in flight for the same graph in one worker), and
// the race aborts the whole process ("FATAL ERROR: v8::Module::IsGraphAsync ..."), seen once
// in CI. Requiring this CommonJS file is plain, and it loads the ES module worker (worker.ts)
// through one cached import(), so no require(esm) happens at all.

type Run = (task: unknown) => Promise<unknown>;
let worker: Promise<Run> | undefined;

export = async function run(task: unknown): Promise<unknown> {
  worker ??= import('./worker.js').then((m) => m.default as Run);
  return (await worker)(task);
};
