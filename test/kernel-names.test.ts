// One name per kernel: the kernel table (src/kernels/signatures.ts) against the real builds. Every
// backend that loads here has a method per kernel of its build; each WebAssembly build and the
// Node-API addon(s) export exactly the table's names, the table's split variants and a few named
// helpers; native/*.h declares kd_<name>, native/cuda/kernels.h kdc_<name>, and the CUDA
// __global__ kernels are <name>_k or <name>_<variant>_k. No build exports a camelCase spelling
// of a kernel. The checks are plain functions, shown to catch planted mismatches on fixtures.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAvailableBackends } from '../src/backends/index.js';
import { addonPath } from '../src/backends/native/loader.js';
import { OP_CASES } from '../src/kernels/cases.js';
import { referenceKernels } from '../src/kernels/reference.js';
import { KERNELS, KERNEL_NAMES, type Build, type KernelSpec } from '../src/kernels/signatures.js';

const root = join(import.meta.dirname, '..');

// ---- the checks ------------------------------------------------------------------------------

/** V8's own list of a module's exports (WebAssembly.Module.exports; @types/node does not declare it). */
const moduleExportNames = (bytes: Uint8Array): string[] =>
  (WebAssembly.Module as unknown as { exports(m: WebAssembly.Module): { name: string }[] }).exports(new WebAssembly.Module(bytes)).map((e) => e.name);

/** The table's kernels that `build` implements. */
const kernelsOf = (build: Build) => KERNELS.filter((k) => (k.builds as readonly Build[]).includes(build));
/** Names a build's exports must hold besides the kernels: the kernels' split variants. */
const variantsOf = (build: Build, key: 'wasm' | 'node' | 'cpp') =>
  kernelsOf(build).flatMap((k) => ('variants' in k ? ((k.variants as Record<string, readonly string[] | undefined>)[key] ?? []) : []));

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** Kernel names and their variants' names, without the C++ prefixes kd_ / kdc_. */
const unprefixed = (name: string) => name.replace(/^kdc?_/, '');
const KERNEL_LIKE = new Set([
  ...KERNEL_NAMES,
  ...(KERNELS as readonly KernelSpec[]).flatMap((k) => (k.variants ? [...(k.variants.wasm ?? []), ...(k.variants.node ?? []), ...(k.variants.cpp ?? []).map(unprefixed)] : [])),
]);

/** The camelCase spellings of kernel names among `names` (biasAdd for bias_add, softmaxT, kd_kdLoss, ...). */
function camelCaseKernels(names: Iterable<string>): string[] {
  return [...names].filter((n) => n !== snake(n) && (KERNEL_LIKE.has(snake(n)) || KERNEL_LIKE.has(unprefixed(snake(n)))));
}

/** What is wrong with an export list: required names missing, names neither required nor allowed, camelCase kernel names. */
function exportProblems(what: string, exported: readonly string[], required: readonly string[], allowed: readonly string[] = []): string[] {
  const have = new Set(exported), ok = new Set([...required, ...allowed]);
  return [
    ...required.filter((n) => !have.has(n)).map((n) => `${what}: no export ${n}`),
    ...camelCaseKernels(exported).map((n) => `${what}: exports the camelCase name ${n} (the kernel is ${snake(n)})`),
    ...exported.filter((n) => !ok.has(n) && !camelCaseKernels([n]).length).map((n) => `${what}: exports ${n}, which is neither a kernel of the table nor an allowed helper`),
  ];
}

/** Function-valued members of an object and its prototypes (not Object.prototype's). */
function methods(obj: object): Set<string> {
  const out = new Set<string>();
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor' && typeof Object.getOwnPropertyDescriptor(o, k)?.value === 'function') out.add(k);
  }
  return out;
}

/**
 * What is wrong with a backend: a kernel of its build without a method, a snake_case method that
 * is no kernel of the table (kernels are snake_case; other members are single words or camelCase),
 * a camelCase spelling of a kernel.
 */
function backendProblems(name: string, be: object, build: Build): string[] {
  const ms = methods(be);
  return [
    ...kernelsOf(build).filter((k) => !ms.has(k.name)).map((k) => `${name}: no method ${k.name}`),
    ...[...ms].filter((m) => m.includes('_') && !(KERNEL_NAMES as readonly string[]).includes(m)).map((m) => `${name}: method ${m} looks like a kernel but is not in the table`),
    ...camelCaseKernels(ms).map((m) => `${name}: method ${m} is a camelCase kernel name (the kernel is ${snake(m)})`),
  ];
}

/** Which build a registered backend runs. */
function buildOf(backend: string): Build {
  if (backend === 'js') return 'ts';
  if (backend.startsWith('wasm')) return 'wasm';
  if (backend.startsWith('native')) return 'native';
  if (backend === 'cuda') return 'cuda';
  throw new Error(`backend ${backend}: which build is it? (add it to buildOf)`);
}

/** The names in a WebAssembly binary's export section (read from the bytes: relaxed SIMD builds need not compile here). */
function wasmExportNames(bytes: Uint8Array): string[] {
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error('not a WebAssembly binary');
  let i = 8;
  const leb = () => {
    let r = 0, shift = 0, b: number;
    do { b = bytes[i++]; r += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return r;
  };
  while (i < bytes.length) {
    const id = bytes[i++], size = leb(), end = i + size;
    if (id === 7) {
      const names: string[] = [];
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        names.push(new TextDecoder().decode(bytes.subarray(i, i + len)));
        i += len + 1; // the name, then the export kind
        leb(); // the index
      }
      return names;
    }
    i = end;
  }
  return [];
}

const stripComments = (src: string) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

/** The functions declared in a header's extern "C" blocks. */
function externC(src: string): string[] {
  const out: string[] = [];
  for (const m of stripComments(src).matchAll(/extern\s+"C"\s*\{([^}]*)\}/g)) for (const d of m[1].matchAll(/\b(\w+)\s*\(/g)) out.push(d[1]);
  return out;
}

/** What is wrong with the C++ kernel symbols declared in `files` (name -> text): kd_<name> per kernel of the native build. */
function cppProblems(files: Record<string, string>): string[] {
  const declared = Object.values(files).flatMap(externC);
  const required = [...kernelsOf('native').map((k) => `kd_${k.name}`), ...variantsOf('native', 'cpp')];
  return exportProblems('native/*.h extern "C"', declared, required, ['kd_isa', 'kd_matmul_kernel']);
}

/** What is wrong with native/cuda/kernels.h (kdc_<name> per kernel of the cuda build) and kernels.cu's __global__ names. */
function cudaProblems(header: string, cu: string): string[] {
  const declared = [...stripComments(header).matchAll(/\b(kdc_\w+)\s*\(/g)].map((m) => m[1]);
  const problems = exportProblems('native/cuda/kernels.h', declared, kernelsOf('cuda').map((k) => `kdc_${k.name}`));
  for (const [, g] of stripComments(cu).matchAll(/__global__\s+void\s+(\w+)\s*\(/g)) {
    if (!KERNEL_NAMES.some((k) => g === `${k}_k` || (g.startsWith(`${k}_`) && g.endsWith('_k')))) problems.push(`native/cuda/kernels.cu: __global__ ${g} is not named <kernel>_k or <kernel>_<variant>_k`);
  }
  return problems;
}

const WASM_HELPERS = ['heap_base', 'memory'];
const ADDON_HELPERS = ['addressMod', 'zero', 'isa', 'probe'];
const CUDA_ADDON_HELPERS = ['addressMod', 'zero', 'probe', 'allocManaged', 'deviceInfo'];

// ---- the table -------------------------------------------------------------------------------

describe('the kernel table', () => {
  it('lists every kernel once, by a snake_case name', () => {
    expect(new Set(KERNEL_NAMES).size).toBe(KERNEL_NAMES.length);
    for (const n of KERNEL_NAMES) expect(n).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    expect(Object.keys(OP_CASES)).toEqual([...KERNEL_NAMES]);
  });

  it("names each kernel's arguments as the TS reference does, in its order", () => {
    for (const k of KERNELS) {
      const src = referenceKernels[k.name].toString();
      const params = src.slice(src.indexOf('(') + 1, src.indexOf(')')).split(',').map((p) => p.trim().split(/[\s:=]/)[0]).filter(Boolean);
      expect(k.args.map((a) => a.split(':')[0]), k.name).toEqual(params);
    }
  });

  it('says which kernels return a loss: those whose cases check one', () => {
    for (const k of KERNELS) expect('returns' in k, k.name).toBe(OP_CASES[k.name].conformance().some((c) => c.lossTol !== undefined));
  });
});

// ---- the checks catch planted mismatches -------------------------------------------------------

describe('the checks catch planted mismatches (fixtures, not the tree)', () => {
  const wasmGood = [...KERNEL_NAMES, ...variantsOf('wasm', 'wasm'), 'heap_base'];

  it('an export list: a missing kernel, a camelCase name, an unknown export', () => {
    expect(exportProblems('fixture', wasmGood, [...KERNEL_NAMES, ...variantsOf('wasm', 'wasm')], WASM_HELPERS)).toEqual([]);
    const bad = wasmGood.filter((n) => n !== 'bias_add').concat(['biasAdd', 'softmax_tt']);
    expect(exportProblems('fixture', bad, [...KERNEL_NAMES, ...variantsOf('wasm', 'wasm')], WASM_HELPERS)).toEqual([
      'fixture: no export bias_add',
      'fixture: exports the camelCase name biasAdd (the kernel is bias_add)',
      'fixture: exports softmax_tt, which is neither a kernel of the table nor an allowed helper',
    ]);
  });

  it('a backend: a kernel without a method, a snake_case method outside the table, a camelCase method', () => {
    const good = { ...referenceKernels, alloc() {}, allocInt32() {}, free() {}, dispose() {} };
    expect(backendProblems('fixture', good, 'ts')).toEqual([]);
    const { cross_entropy: _, ...rest } = referenceKernels;
    const bad = { ...rest, crossEntropy: referenceKernels.cross_entropy, log_softmax: referenceKernels.log_softmax_t, alloc() {} };
    expect(backendProblems('fixture', bad, 'ts')).toEqual([
      'fixture: no method cross_entropy',
      'fixture: method log_softmax looks like a kernel but is not in the table',
      'fixture: method crossEntropy is a camelCase kernel name (the kernel is cross_entropy)',
    ]);
  });

  it('a WebAssembly export section, read from the bytes', () => {
    // (module (func) (export "relu" (func 0)) (export "biasAdd" (func 0)))
    const bytes = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
      0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
      0x07, 0x12, 0x02, 0x04, ...Buffer.from('relu'), 0x00, 0x00, 0x07, ...Buffer.from('biasAdd'), 0x00, 0x00,
      0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code section: an empty body
    ]);
    expect(moduleExportNames(bytes)).toEqual(['relu', 'biasAdd']);
    expect(wasmExportNames(bytes)).toEqual(['relu', 'biasAdd']);
    expect(exportProblems('fixture.wasm', wasmExportNames(bytes), ['relu'])).toEqual(['fixture.wasm: exports the camelCase name biasAdd (the kernel is bias_add)']);
  });

  it('C++ headers: a kernel not declared as kd_<name>, a camelCase symbol, an unknown one', () => {
    const decls = (names: string[]) => `extern "C" {\n${names.map((n) => `// ${n}: a shape comment\nvoid ${n}(float* out, int64_t n);`).join('\n')}\n}\n`;
    const required = [...kernelsOf('native').map((k) => `kd_${k.name}`), ...variantsOf('native', 'cpp')];
    expect(cppProblems({ 'a.h': decls(required), 'b.h': 'extern "C" {\nconst char* kd_isa();\n}\n' })).toEqual([]);
    const planted = {
      'a.h': decls(required.filter((n) => n !== 'kd_bias_add' && n !== 'kd_kd_loss')) + 'void kd_mse_fast(float* out);  // outside extern "C": not a C symbol\n',
      'b.h': '/* kd_old(float* x); */\nextern "C" {\nvoid kd_biasAdd(float* y);\ndouble kd_kd_loss_v2(float* dS);\nvoid kd_kdLoss(float* dS);\n}\n',
    };
    expect(cppProblems(planted)).toEqual([
      'native/*.h extern "C": no export kd_bias_add',
      'native/*.h extern "C": no export kd_kd_loss',
      'native/*.h extern "C": exports the camelCase name kd_biasAdd (the kernel is kd_bias_add)',
      'native/*.h extern "C": exports the camelCase name kd_kdLoss (the kernel is kd_kd_loss)',
      'native/*.h extern "C": exports kd_kd_loss_v2, which is neither a kernel of the table nor an allowed helper',
    ]);
  });

  it('CUDA: a kernel not declared as kdc_<name>, a __global__ named after no kernel', () => {
    const header = 'void kdc_matmul(float* C);\n// kdc_relu(\nvoid kdc_reluFwd(float* out);\n';
    const cu = '__global__ void matmul_tiled_k(float* C) {}\n__global__ void relu_k(float* o) {}\n__global__ void scale_k(float* o) {}\n';
    const problems = cudaProblems(header, cu);
    expect(problems).toContain('native/cuda/kernels.h: no export kdc_relu');
    expect(problems).toContain('native/cuda/kernels.h: exports kdc_reluFwd, which is neither a kernel of the table nor an allowed helper');
    expect(cudaProblems('void kdc_softmaxT(float* out);\n', '')).toContain('native/cuda/kernels.h: exports the camelCase name kdc_softmaxT (the kernel is kdc_softmax_t)');
    expect(problems).toContain('native/cuda/kernels.cu: __global__ scale_k is not named <kernel>_k or <kernel>_<variant>_k');
    expect(problems.some((p) => /matmul_tiled_k|relu_k /.test(p))).toBe(false);
  });
});

// ---- the real builds -------------------------------------------------------------------------

describe('the builds', async () => {
  const { backends } = await loadAvailableBackends();

  it.each(backends.map((b) => [b.name, b]))('backend %s has exactly a method per kernel of its build', (name, be) => {
    expect(backendProblems(name, be, buildOf(name))).toEqual([]);
  });

  const wasmDir = join(root, 'build', 'wasm');
  const wasmFiles = existsSync(wasmDir) ? readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')) : [];

  it('the WebAssembly builds exist (npm run build:wasm)', () => {
    expect(wasmFiles.sort()).toEqual(['relaxed.wasm', 'scalar.wasm', 'simd.wasm']);
  });

  it.each(wasmFiles)('build/wasm/%s exports each kernel by its name', (file) => {
    const bytes = readFileSync(join(wasmDir, file));
    const names = wasmExportNames(bytes);
    if (file === 'scalar.wasm') expect(names).toEqual(moduleExportNames(bytes));
    expect(exportProblems(file, names, [...kernelsOf('wasm').map((k) => k.name), ...variantsOf('wasm', 'wasm')], WASM_HELPERS)).toEqual([]);
  });

  const require = createRequire(import.meta.url);
  const native = addonPath('native'), cuda = addonPath('cuda');

  it.skipIf(!existsSync(native))('the Node-API addon exports each kernel by its name', () => {
    const names = Object.keys(require(native));
    expect(exportProblems('distillery.node', names, [...kernelsOf('native').map((k) => k.name), ...variantsOf('native', 'node')], ADDON_HELPERS)).toEqual([]);
  });

  it.skipIf(!existsSync(cuda))('the CUDA addon exports each kernel by its name', () => {
    const names = Object.keys(require(cuda));
    expect(exportProblems('distillery_cuda.node', names, kernelsOf('cuda').map((k) => k.name), CUDA_ADDON_HELPERS)).toEqual([]);
  });

  it('native/*.h declares kd_<name> for each kernel, and no other C symbol but kd_isa and kd_matmul_kernel', () => {
    const dir = join(root, 'native');
    const headers = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.h')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    expect(cppProblems(headers)).toEqual([]);
  });

  it('native/cuda/kernels.h declares kdc_<name> for each kernel; the __global__ kernels are <name>_k or <name>_<variant>_k', () => {
    const dir = join(root, 'native', 'cuda');
    expect(cudaProblems(readFileSync(join(dir, 'kernels.h'), 'utf8'), readFileSync(join(dir, 'kernels.cu'), 'utf8'))).toEqual([]);
  });
});
