// The layering of DESIGN.md ("data flows top to bottom; nothing below imports from above"),
// checked on every relative import and re-export under src/. src/index.ts (the package's API)
// sits on top, src/errors.ts (the error classes every layer throws) at the bottom.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const ORDER = ['index.ts', 'cli', 'distill', 'compress', 'io', 'data', 'parallel', 'nn', 'optim', 'backends', 'kernels', 'errors.ts'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : /\.c?ts$/.test(p) ? [p] : [];
  });
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0];

/** Relative module specifiers of `import … from`, `export … from` and `import('…')`. */
export function relativeImports(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\s)(?:import|export)\b[^'"`;]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) out.push(m[1] ?? m[2]);
  return out;
}

describe('layering (DESIGN.md)', () => {
  const files = tsFiles(SRC);

  it('every top-level entry of src/ has a place in the layer order', () => {
    for (const f of files) expect(ORDER, relative(SRC, f)).toContain(layerOf(f));
  });

  it('nothing below imports from above', () => {
    const violations: string[] = [];
    let edges = 0;
    for (const f of files) {
      for (const spec of relativeImports(readFileSync(f, 'utf8'))) {
        const target = resolve(dirname(f), spec).replace(/\.js$/, '.ts');
        edges++;
        if (ORDER.indexOf(layerOf(target)) < ORDER.indexOf(layerOf(f))) violations.push(`${relative(SRC, f)} imports ${relative(SRC, target)}`);
      }
    }
    expect(edges).toBeGreaterThan(100); // the scan sees the imports at all
    expect(violations).toEqual([]);
  });

  it('the import scan finds the forms the sources use', () => {
    const src = "import { a } from '../nn/x.js';\nimport type { B } from './y.js';\nexport * from '../nn/hints.js';\nexport { c } from \"./z.js\";\nconst m = await import('../cli/w.js');\nimport { readFileSync } from 'node:fs';\n";
    expect(relativeImports(src)).toEqual(['../nn/x.js', './y.js', '../nn/hints.js', './z.js', '../cli/w.js']);
  });
});
