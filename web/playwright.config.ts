import { defineConfig } from '@playwright/test';
import { CHROMIUM } from './e2e/serve';

// The end-to-end tests drive Debian's Chromium against one `dumplens serve` loaded with the
// fixtures, started by e2e/global-setup.ts.
export default defineConfig({
  testDir: 'e2e',
  testMatch: /.*\.spec\.ts/,
  globalSetup: './e2e/global-setup.ts',
  outputDir: 'test-results',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 2,
  reporter: [['list']],
  use: {
    ...CHROMIUM,
    screenshot: 'on',
    trace: 'retain-on-failure',
  },
});
