// What every end-to-end test gets: the page at the server global-setup started, failing the
// test on any console error or uncaught exception (but the failed requests a test expects), and
// the fixture dumps by name.
import { test as base, expect, type Page, type TestInfo } from '@playwright/test';
import { copyFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export interface DumpSummary {
  id: string;
  name: string;
  databases: { name?: string | null; sandbox: string }[];
}

/** A response a test provokes on purpose: the browser logs each one as a console error. */
export interface ExpectedFailure {
  status: number;
  url: RegExp;
}

const FAILED_REQUEST = /the server responded with a status of (\d{3})/;

export const test = base.extend<{ dumps: Record<string, DumpSummary>; expectedFailures: ExpectedFailure[] }>({
  baseURL: async ({}, use) => {
    await use(process.env.DUMPLENS_URL);
  },
  expectedFailures: [[], { option: true }],
  page: async ({ page, expectedFailures }, use, testInfo) => {
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const status = Number(FAILED_REQUEST.exec(message.text())?.[1]);
      const url = message.location().url;
      if (expectedFailures.some((expected) => expected.status === status && expected.url.test(url))) return;
      errors.push(`console: ${message.text()} (${url})`);
    });
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    await use(page);
    expect(errors, `errors in the browser during ${testInfo.title}`).toEqual([]);
  },
  /** The fixture dumps by file name (`pagila.pg18.custom.dump` …). */
  dumps: async ({ request }, use) => {
    const list = (await (await request.get(`${process.env.DUMPLENS_URL}/api/v1/dumps`)).json()) as DumpSummary[];
    await use(Object.fromEntries(list.map((dump) => [dump.name, dump])));
  },
});

export { expect };

/** Saves a screenshot with the test's artifacts; with DUMPLENS_DOCS_SCREENSHOTS=1 also as
 *  docs/screenshots/NAME.png, the ones the README shows. */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  if (process.env.DUMPLENS_DOCS_SCREENSHOTS === '1') {
    const docs = resolve(import.meta.dirname, '../../docs/screenshots');
    mkdirSync(docs, { recursive: true });
    copyFileSync(path, resolve(docs, `${name}.png`));
  }
}
