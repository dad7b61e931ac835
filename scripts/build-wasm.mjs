// Builds the three AssemblyScript kernel builds (asconfig.json targets scalar, simd, relaxed)
// into build/wasm/{scalar,simd,relaxed}.wasm. Runs in `npm run build:wasm` (and so in prepare).
// Exits non-zero if a build fails: the wasm backends are the fallback of every install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let asc;
try {
  asc = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');
} catch {
  if (['scalar', 'simd', 'relaxed'].every((t) => existsSync(join(root, 'build/wasm', `${t}.wasm`)))) {
    console.log('[distillery] wasm build: assemblyscript not installed; using the prebuilt build/wasm/*.wasm');
    process.exit(0);
  }
  console.error('[distillery] wasm build: assemblyscript is not installed (a dev dependency) and build/wasm/ is missing');
  process.exit(1);
}
mkdirSync(join(root, 'build/wasm'), { recursive: true });
for (const target of ['scalar', 'simd', 'relaxed']) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [asc, 'assembly/index.ts', '--config', 'asconfig.json', '--target', target], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[distillery] wasm build: target ${target} failed (exit ${r.status})`);
    process.exit(1);
  }
  console.log(`[distillery] wasm build: build/wasm/${target}.wasm (${Date.now() - t0} ms)`);
}
