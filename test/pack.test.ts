// The published package, as a user gets it: `npm pack`, then `npm install <tarball>` in an empty
// folder (offline from npm's cache), `npx distill demo --epochs 1`, `require('distillery')`,
// `import 'distillery'` and the types from both. Slow (the user's install compiles the native
// addon; the whole file took 35-110 s): run by `npm run test:pack` (vitest.pack.config.ts),
// which .ci/run runs; plain `npm test` leaves it out.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'distillery-pack-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// npm run passes its npm_* settings down (npm_config_local_prefix names this checkout): the
// user's shell has none of them.
const env: NodeJS.ProcessEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), DISTILLERY_CACHE_DIR: join(dir, 'cache') };
function sh(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
}
const say = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

// Install-time lines of npm 11's script policy naming our own package (its `install` script builds
// the native addon): a consumer's project decides that, not the package (README: Install).
const OURS = /^npm warn install-scripts( +(\d+ packages? has install scripts not yet covered by allowScripts:|distillery@\S+ \(install: .*\)|Run `npm install-scripts ls` to review.*))?$/;

describe('npm pack, installed in an empty folder', () => {
  let tarball = '';

  it('packs the build, the sources of the native and WASM builds, LICENSE, README and CHANGELOG; no tests', () => {
    mkdirSync(join(dir, 'pack'));
    // The checkout is built (npm install, pretest); `prepare` would build the same again.
    const r = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', join(dir, 'pack')], ROOT);
    expect(r.status, say(r)).toBe(0);
    const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, 'pack', info.filename);
    const files = info.files.map((f) => f.path);
    for (const f of ['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md', 'bin/distill.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'build/wasm/simd.wasm', 'CMakeLists.txt', 'scripts/build-native.mjs']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|scripts\/parity)\/|^\.npmrc$/.test(f))).toEqual([]);
  }, 60_000);

  it('npm install <tarball>: no warning but the script policy naming distillery; onnxruntime-node not installed', () => {
    mkdirSync(app);
    const t0 = performance.now();
    const r = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
    console.log(`[pack] npm install of the tarball: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.status, say(r)).toBe(0);
    const out = `${r.stdout}\n${r.stderr}`;
    const warnings = out.split('\n').filter((l) => /^npm (warn|error)/i.test(l) && !OURS.test(l.trimEnd()));
    expect(warnings, out).toEqual([]);
    expect(out).not.toMatch(/onnxruntime|Unknown (project|env|user|global|builtin) config|EBADENGINE|deprecated/i);
    expect(existsSync(join(app, 'node_modules', 'onnxruntime-node'))).toBe(false);
    // Where CI requires the native backend, the user's install must have built it too.
    if ((process.env.DISTILLERY_REQUIRE_BACKENDS ?? '').split(',').includes('native')) {
      expect(existsSync(join(app, 'node_modules', 'distillery', 'build', 'native', 'Release', 'distillery.node')), 'the install script built the native addon').toBe(true);
    }
  }, 300_000);

  it('npx distill demo --epochs 1: the table, and no backend noise', () => {
    const r = sh('npx', ['--no', 'distill', 'demo', '--epochs', '1'], app);
    expect(r.status, say(r)).toBe(0);
    expect(r.stdout).toMatch(/^student-distilled +784-32-10 +25,450 +\d+\.\d\d% +\d+ \/ 2000/m);
    expect(r.stderr).toMatch(/teacher: layers 784-256-10 .*, 1 epochs on 8000 samples/);
    expect(r.stderr).not.toMatch(/skipping backend|falling back|warning/i);
    expect(existsSync(join(app, 'distill-demo', 'student-distilled.safetensors'))).toBe(true);
  }, 180_000);

  it('require() and import: the same API, quiet', () => {
    const use = (m: string) => `const m = await d.loadModel('distill-demo/student-distilled.safetensors');
const p = m.predict(new Float32Array(2 * 784));
console.log(${m}, typeof d.train, d.backendNames().length > 0, p.n, p.labels.length, p.probs.length);`;
    writeFileSync(join(app, 'use.cjs'), `const d = require('distillery');\n(async () => {\n${use("'cjs'")}\n})();\n`);
    writeFileSync(join(app, 'use.mjs'), `import * as d from 'distillery';\n${use("'esm'")}\n`);
    for (const [file, kind] of [['use.cjs', 'cjs'], ['use.mjs', 'esm']]) {
      const r = sh(process.execPath, [file], app);
      expect(r.status, say(r)).toBe(0);
      expect(r.stdout.trim()).toBe(`${kind} function true 2 2 20`);
      expect(r.stderr, 'nothing on stderr (no ExperimentalWarning, no backend lines)').toBe('');
    }
    const req = sh(process.execPath, ['-e', "console.log(require('distillery/package.json').version)"], app);
    expect(req.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  }, 60_000);

  it('types from both: an ES module and a CommonJS file type-check against the installed package', () => {
    writeFileSync(join(app, 'types.mts'), "import { loadModel, type Prediction } from 'distillery';\nconst p: Prediction = (await loadModel('m.safetensors')).predict([[1, 2]]);\nexport const n: number = p.n;\n");
    writeFileSync(join(app, 'types.cts'), "import d = require('distillery');\nexport const load: typeof d.loadModel = d.loadModel;\nexport const names: string[] = d.backendNames();\n");
    writeFileSync(join(app, 'bad.mts'), "import { loadModel } from 'distillery';\nexport const wrong: string = loadModel;\n");
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const opts = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types')];
    const ok = sh(process.execPath, [tsc, ...opts, 'types.mts', 'types.cts'], app);
    expect(ok.status, say(ok)).toBe(0);
    // The types are really there (an untyped package would make `wrong` any, or fail with TS7016).
    const bad = sh(process.execPath, [tsc, ...opts, 'bad.mts'], app);
    expect(bad.stdout).toMatch(/bad\.mts\(2,14\): error TS2322: Type '\(path: string/);
  }, 60_000);
});
