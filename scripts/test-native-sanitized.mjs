// The native addon's tests under AddressSanitizer + UndefinedBehaviorSanitizer: builds a debug
// addon with -fsanitize=address,undefined (-fno-sanitize-recover=all) into build/native-asan
// (the normal build/native is left alone), then runs the native kernels' tests against it:
// conformance (every kernel, every case, owned and foreign buffers, -mt splits), the Node-API
// boundary, runtime dispatch and GELU's extreme inputs.
//
// Node itself is not instrumented, so libasan is preloaded (LD_PRELOAD, found with
// `<compiler> -print-file-name=libasan.so`), leak detection is off (V8 and Node keep memory
// until exit by design) and every report goes to a log file: the run fails when any process
// (vitest's workers, the loader's probe child) wrote one, or when a test failed.
//
// usage: node scripts/test-native-sanitized.mjs [--no-build] [vitest files...]
// env: DISTILLERY_SANITIZE (default address,undefined), CXX (the compiler that finds libasan).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'native-asan');
const addon = join(out, 'Release', 'distillery.node');
const sanitize = process.env.DISTILLERY_SANITIZE || 'address,undefined';
const args = process.argv.slice(2);
const build = !args.includes('--no-build');
const files = args.filter((a) => !a.startsWith('--'));
const tests = files.length ? files : ['test/conformance.test.ts', 'test/native-boundary.test.ts', 'test/native-dispatch.test.ts', 'test/gelu-limits.test.ts'];
const log = (m) => console.log(`[distillery] sanitizers: ${m}`);
const fail = (m) => {
  console.error(`[distillery] sanitizers: FAILED: ${m}`);
  process.exit(1);
};

const t0 = Date.now();
if (build) {
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  log(`building ${addon} (-fsanitize=${sanitize})`);
  const r = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--directory', root, '--out', out], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, DISTILLERY_SANITIZE: sanitize, DISTILLERY_CUDA: 'OFF' },
  });
  if (r.status !== 0) fail(`the sanitized build failed (cmake-js exit ${r.status})`);
}
if (!existsSync(addon)) fail(`${addon} is missing (build it: drop --no-build)`);

const preload = [];
if (sanitize.split(',').includes('address')) {
  const cxx = process.env.CXX || 'g++';
  const lib = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim();
  if (!lib || !existsSync(lib)) fail(`libasan.so not found by ${cxx} -print-file-name=libasan.so (install libasan, e.g. the Debian package of your gcc, or set CXX)`);
  preload.push(lib);
}

const logs = mkdtempSync(join(tmpdir(), 'distillery-sanitizers-'));
const required = ['native', ...(Number(spawnSync('nproc', { encoding: 'utf8' }).stdout) >= 2 ? ['native-mt'] : [])];
const env = {
  ...process.env,
  DISTILLERY_NATIVE_ADDON: addon,
  DISTILLERY_REQUIRE_BACKENDS: required.join(','),
  LD_PRELOAD: [...preload, process.env.LD_PRELOAD].filter(Boolean).join(' '),
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:log_path=${join(logs, 'asan')}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${join(logs, 'ubsan')}`,
};
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
log(`running ${tests.join(' ')} against it (backends required: ${required.join(', ')})`);
const r = spawnSync(process.execPath, [vitest, 'run', ...tests], { cwd: root, stdio: 'inherit', env });

const reports = readdirSync(logs).map((f) => join(logs, f));
for (const f of reports) console.error(`---- ${f}\n${readFileSync(f, 'utf8')}`);
rmSync(logs, { recursive: true, force: true });
if (reports.length) fail(`${reports.length} sanitizer report(s) above`);
if (r.status !== 0) fail(`the tests failed (vitest exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
log(`clean: no AddressSanitizer or UBSan report, tests passed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
