// The layer order of DESIGN.md ("data flows top to bottom; nothing below imports from above"),
// checked on every relative import and re-export under src/:
//   cli → sweep → train → step → compress → distill → io → data → optim → nn → backends → kernels
// src/index.ts (the package's API) sits on top, src/errors.ts (the error classes every layer
// throws) at the bottom. io and data share a level in DESIGN.md; here io sits just above data
// (a model or logits file may name a dataset; no reader of data needs io). sweep (distill sweep's
// search, successive halving, Pareto front and pick rule) is not in DESIGN.md: it sits between
// the CLI and the trainer it drives.
// The same scan is shown to catch a planted upward import in a fixture tree.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'layer-order', 'src');
export const ORDER = ['index.ts', 'cli', 'sweep', 'train', 'step', 'compress', 'distill', 'io', 'data', 'optim', 'nn', 'backends', 'kernels', 'errors.ts'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : /\.c?ts$/.test(p) ? [p] : [];
  });
}

/** Relative module specifiers of `import … from`, `export … from` and `import('…')`. */
export function relativeImports(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\s)(?:import|export)\b[^'"`;]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) out.push(m[1] ?? m[2]);
  return out;
}

/** Every import under `root` that goes upward in ORDER (or leaves it), and how many imports were seen. */
export function upwardImports(root: string): { violations: string[]; unplaced: string[]; edges: number } {
  const layerOf = (file: string) => relative(root, file).split('/')[0];
  const violations: string[] = [], unplaced: string[] = [];
  let edges = 0;
  for (const f of tsFiles(root)) {
    if (!ORDER.includes(layerOf(f))) unplaced.push(relative(root, f));
    for (const spec of relativeImports(readFileSync(f, 'utf8'))) {
      const target = resolve(dirname(f), spec).replace(/\.c?js$/, '.ts');
      edges++;
      const from = ORDER.indexOf(layerOf(f)), to = ORDER.indexOf(layerOf(target));
      if (to < 0 || to < from) violations.push(`${relative(root, f)} imports ${relative(root, target)}`);
    }
  }
  return { violations, unplaced, edges };
}

describe('import layer order (DESIGN.md)', () => {
  it('the real tree: every entry of src/ has a place, and nothing imports upward', () => {
    const { violations, unplaced, edges } = upwardImports(SRC);
    expect(edges).toBeGreaterThan(100); // the scan sees the imports at all
    expect(unplaced).toEqual([]);
    expect(violations).toEqual([]);
  });

  it('a planted upward import (nn importing optim) in a fixture tree is caught, and only it', () => {
    const { violations, unplaced, edges } = upwardImports(FIXTURE);
    expect(edges).toBe(3);
    expect(unplaced).toEqual([]);
    expect(violations).toEqual(['nn/dense.ts imports optim/sgd.ts']);
  });

  it('the import scan finds the forms the sources use', () => {
    const src = "import { a } from '../nn/x.js';\nimport type { B } from './y.js';\nexport * from '../nn/hints.js';\nexport { c } from \"./z.js\";\nconst m = await import('../cli/w.js');\nimport { readFileSync } from 'node:fs';\n";
    expect(relativeImports(src)).toEqual(['../nn/x.js', './y.js', '../nn/hints.js', './z.js', '../cli/w.js']);
  });

  it('one training step: outside src/nn, only src/step/step.ts runs a backward pass', () => {
    const callers = tsFiles(SRC).filter((f) => !relative(SRC, f).startsWith('nn/') && /\.backward\(/.test(readFileSync(f, 'utf8')));
    expect(callers.map((f) => relative(SRC, f))).toEqual(['step/step.ts']);
  });

  it('the re-export shims are gone: objectives and hints live in src/distill/ only', () => {
    const files = tsFiles(SRC).map((f) => relative(SRC, f));
    for (const gone of ['distill/losses.ts', 'nn/hints.ts', 'nn/objectives.ts']) expect(files).not.toContain(gone);
    const reexports = tsFiles(SRC).filter((f) => !f.endsWith('index.ts') && /^export \* from/m.test(readFileSync(f, 'utf8')));
    expect(reexports.map((f) => relative(SRC, f))).toEqual([]);
  });
});
