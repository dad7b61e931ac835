// `npm run test:pack`: the npm pack test alone (test/pack.test.ts), which `npm test` leaves out.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/pack.test.ts'],
    testTimeout: 300_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
