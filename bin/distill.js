#!/usr/bin/env node
// Entry point of the `distill` command: runs the compiled CLI in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error(`error: ${main} is missing; build the package first with \`npm run build\` (npm install does it)`);
  process.exit(3);
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
