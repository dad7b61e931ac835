// Builds the native addon (build/native/Release/distillery.node, and distillery_cuda.node when
// DISTILLERY_CUDA=AUTO|ON finds nvcc) with cmake-js. Runs as the npm `install` script.
// Tolerant by default: a failed build prints why and exits 0, so `npm install` works on a
// machine with no compiler or cmake (the WASM/JS backends are used). Strict with --strict or
// DISTILLERY_NATIVE_STRICT=1 (`npm run build:native`): a failed build exits non-zero.
// Always `cmake-js rebuild` (a plain `compile` ignores changed flags such as DISTILLERY_CUDA).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict') || process.env.DISTILLERY_NATIVE_STRICT === '1';
const log = (m) => console.log(`[distillery] native build: ${m}`);

function fail(reason) {
  if (strict) {
    console.error(`[distillery] native build failed: ${reason}`);
    process.exit(1);
  }
  log(`skipped (${reason}); the WASM/JS backends will be used. Run \`npm run build:native\` to retry and see errors.`);
  process.exit(0);
}

if (process.env.DISTILLERY_SKIP_NATIVE === '1') fail('DISTILLERY_SKIP_NATIVE=1');
if (!existsSync(join(root, 'CMakeLists.txt'))) fail('no CMakeLists.txt in the package');

let cmakeJs;
try {
  cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed');
}
const cmake = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
if (cmake.error || cmake.status !== 0) fail('cmake was not found on PATH');

log(`cmake-js rebuild (DISTILLERY_CUDA=${process.env.DISTILLERY_CUDA || 'OFF'})`);
const r = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--directory', root, '--out', join(root, 'build', 'native')], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
if (r.error) fail(`cmake-js could not run: ${r.error.message}`);
if (r.status !== 0) fail(`cmake-js exited with status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}`);
if (!existsSync(join(root, 'build', 'native', 'Release', 'distillery.node'))) fail('the build finished but build/native/Release/distillery.node is missing');
log('built build/native/Release/distillery.node');
