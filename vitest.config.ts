import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native code runs in forked processes so a crash fails one test file, not the whole run.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
