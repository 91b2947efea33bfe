import { defineConfig } from '@playwright/test';
import { CHROMIUM } from '../e2e/serve';

// The UI benchmark: its own server with a generated 1,000-table dump (bench/global-setup.ts),
// one worker so measurements do not compete for the CPU, the same Chromium as the e2e tests.
export default defineConfig({
  testDir: '.',
  testMatch: /.*\.bench\.ts/,
  globalSetup: './global-setup.ts',
  outputDir: '../test-results/bench',
  timeout: 300_000,
  expect: { timeout: 60_000 },
  workers: 1,
  reporter: [['list']],
  use: CHROMIUM,
});
