// ESLint (flat config): typescript-eslint's recommended rules on src/ and test/, ESLint's on the
// plain scripts (bin/, scripts/, bench/). `npm run lint`; `npm test` runs it first.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Build outputs, dependencies, caches; assembly/ is AssemblyScript (compiled by asc, not tsc).
  { ignores: ['dist/', 'build/', 'node_modules/', '.cache/', '.vitest-tmp/', 'assembly/', 'test/fixtures/', '.gpu/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      // `_` and `_name` mark a binding kept on purpose (an argument of an interface, a skipped element).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['**/*.cts', '**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
);
