import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { test, expect, screenshot } from './fixtures';
import { FIXTURES } from './global-setup';

interface Expected {
  files: Record<string, { databases: Record<string, string> }>;
  facts: Record<string, { rows_only: Record<string, number> }>;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'EXPECTED.json'), 'utf8')) as Expected;

/** Tables of a fixture file, over all its databases, as EXPECTED.json counts them. */
function tablesOf(file: string): number {
  return Object.values(EXPECTED.files[file].databases).reduce(
    (sum, facts) => sum + Object.keys(EXPECTED.facts[facts].rows_only).length,
    0,
  );
}

/** The home table's row of the dump `id`. */
function dumpRow(page: Page, id: string): Locator {
  return page.getByRole('row').filter({ has: page.locator(`a[href="/dumps/${id}"]`) });
}

/** The cell of `row` under the column headed `header`. */
async function cell(page: Page, row: Locator, header: string): Promise<Locator> {
  const headers = await page.locator('table.dumps thead th').allInnerTexts();
  const index = headers.findIndex((text) => text.trim() === header);
  expect(index, `a column headed ${header}`).toBeGreaterThanOrEqual(0);
  return row.locator('th, td').nth(index);
}

/** Deletes dumps this file uploaded, whatever state a failed test left them in, so the other
 *  tests see the fixture set. */
const uploadedIds: string[] = [];
async function deleteUploads(request: APIRequestContext) {
  for (const id of uploadedIds.splice(0)) {
    const answer = await request.delete(`${process.env.DUMPLENS_URL}/api/v1/dumps/${id}`);
    expect([204, 404]).toContain(answer.status());
  }
}
test.afterEach(async ({ request }) => deleteUploads(request));

test('lists the fixtures with their phase, databases, tables and size, linking to each', async ({ page, dumps }, testInfo) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Dumps' })).toBeVisible();
  const expected = [
    { file: 'pagila.pg18.custom.dump', format: 'custom', databases: '1' },
    { file: 'pagila-v2.pg18.custom.dump', format: 'custom', databases: '1' },
    { file: 'chinook.pg18.custom.dump', format: 'custom', databases: '1' },
    { file: 'cluster.pg18.dumpall.sql', format: 'dumpall', databases: '2' },
  ];
  for (const { file, format, databases } of expected) {
    const row = dumpRow(page, dumps[file].id);
    await expect(row.getByRole('link', { name: file })).toBeVisible();
    await expect(await cell(page, row, 'Phase')).toHaveText('Ready');
    await expect(await cell(page, row, 'Format')).toHaveText(format);
    await expect(await cell(page, row, 'Databases')).toHaveText(databases);
    await expect(await cell(page, row, 'Tables')).toHaveText(String(tablesOf(file)));
    await expect(await cell(page, row, 'Expires')).toHaveText('never');
  }
  // 708,485 bytes / 1024.
  await expect(await cell(page, dumpRow(page, dumps['pagila.pg18.custom.dump'].id), 'Size')).toHaveText('691.9 KiB');
  await screenshot(page, testInfo, 'home');

  await dumpRow(page, dumps['cluster.pg18.dumpall.sql'].id).getByRole('link').click();
  await expect(page).toHaveURL(`/dumps/${dumps['cluster.pg18.dumpall.sql'].id}`);
  await expect(page.getByRole('heading', { name: 'cluster.pg18.dumpall.sql' })).toBeVisible();
});

test('uploads a dump with byte progress, follows its restore to Ready, opens and deletes it', async ({ page }, testInfo) => {
  const file = join(FIXTURES, 'world.pg18.custom.dump');
  const size = statSync(file).size;
  await page.goto('/');
  // Slow the upload down (Chromium's own throttling) so its progress can be seen.
  const devtools = await page.context().newCDPSession(page);
  await devtools.send('Network.enable');
  await devtools.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 40 * 1024,
  });

  await page.getByLabel('choose files').setInputFiles(file);
  const upload = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem').filter({ hasText: 'world.pg18.custom.dump' });
  const bar = upload.getByRole('progressbar', { name: 'Upload of world.pg18.custom.dump' });
  await expect(bar).toHaveAttribute('max', String(size));
  // Part of the file sent, and said so: "X KiB of 85.0 KiB · R KiB/s".
  await expect(upload).toContainText(/\d+(\.\d)? (B|KiB) of 85\.0 KiB · \d+\.\d (KiB|MiB)\/s/);
  const sent = Number(await bar.getAttribute('value'));
  expect(sent).toBeGreaterThan(0);
  expect(sent).toBeLessThanOrEqual(size);
  await screenshot(page, testInfo, 'upload-progress');
  await devtools.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  const open = upload.getByRole('link', { name: 'Open world.pg18.custom.dump' });
  await expect(open).toBeVisible({ timeout: 60_000 });
  const id = (await open.getAttribute('href'))!.replace('/dumps/', '');
  uploadedIds.push(id);
  await expect(upload.getByText('Ready')).toBeVisible();
  // The list shows it too, with what the restore made of it.
  const row = dumpRow(page, id);
  await expect(await cell(page, row, 'Phase')).toHaveText('Ready');
  await expect(await cell(page, row, 'Tables')).toHaveText(String(tablesOf('world.pg18.custom.dump')));
  await expect(await cell(page, row, 'Size')).toHaveText('85.0 KiB');

  await open.click();
  await expect(page.getByRole('heading', { name: 'world.pg18.custom.dump' })).toBeVisible();
  await expect(page.getByRole('tab', { name: 'Tables' })).toBeVisible();

  await page.getByRole('link', { name: 'Dumps', exact: true }).click();
  await dumpRow(page, id).getByRole('button', { name: 'Delete world.pg18.custom.dump' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete world.pg18.custom.dump?' });
  // Cancel (focused first) and Escape keep it.
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(confirm).toBeHidden();
  await dumpRow(page, id).getByRole('button', { name: 'Delete world.pg18.custom.dump' }).click();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toBeHidden();
  await expect(dumpRow(page, id)).toBeVisible();
  await dumpRow(page, id).getByRole('button', { name: 'Delete world.pg18.custom.dump' }).click();
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(dumpRow(page, id)).toHaveCount(0);
  expect((await page.request.get(`/api/v1/dumps/${id}`)).status()).toBe(404);
});

test('a file that is not a dump ends Failed with the server’s words', async ({ page, request }, testInfo) => {
  // A name of its own: the test may run beside itself (--repeat-each).
  const name = `notes-${randomUUID().slice(0, 8)}.txt`;
  const notes = testInfo.outputPath(name);
  writeFileSync(notes, 'hello, this is not a dump\n');
  await page.goto('/');
  await page.getByLabel('choose files').setInputFiles(notes);
  const upload = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem').filter({ hasText: name });
  await expect(upload.getByText('Failed', { exact: true })).toBeVisible({ timeout: 60_000 });

  const list = (await (await request.get(`${process.env.DUMPLENS_URL}/api/v1/dumps`)).json()) as {
    id: string;
    name: string;
    phase: string;
    message: string;
  }[];
  const failed = list.find((dump) => dump.name === name && dump.phase === 'Failed')!;
  uploadedIds.push(failed.id);
  // The restore's own words: PostgreSQL read the text as SQL.
  expect(failed.message).toContain('syntax error at or near "hello"');
  await expect(upload.getByText(failed.message, { exact: true })).toBeVisible();
  await expect(await cell(page, dumpRow(page, failed.id), 'Phase')).toContainText(failed.message);
});

test.describe(() => {
  // Sent again right after the cancel, the server may still be closing the first request and
  // answer 409 (the page asks again a second later).
  test.use({ expectedFailures: [{ status: 409, url: /\/api\/v1\/uploads\/[^/]+$/ }] });

  test('a cancelled upload goes on from the bytes the server has when the file is sent again', async ({ page }, testInfo) => {
    const file = join(FIXTURES, 'world.pg18.custom.dump');
    const bytes = readFileSync(file);
    const devtools = await page.context().newCDPSession(page);
    await devtools.send('Network.enable');
    const throttle = (uploadThroughput: number) =>
      devtools.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });

    await page.goto('/');
    await throttle(20 * 1024);
    const picker = page.getByLabel('choose files');
    await picker.setInputFiles(file);
    const uploads = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem');
    const first = uploads.filter({ hasText: 'world.pg18.custom.dump' });
    const bar = first.getByRole('progressbar', { name: 'Upload of world.pg18.custom.dump' });
    await expect.poll(async () => Number(await bar.getAttribute('value'))).toBeGreaterThan(20 * 1024);
    await first.getByRole('button', { name: 'Cancel' }).click();
    await expect(first).toContainText('Cancelled: the same file sent again goes on from where this stopped.');

    await throttle(-1);
    const resumed = page.waitForRequest((request) => request.method() === 'PUT');
    await picker.setInputFiles(file);
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec((await (await resumed).headerValue('content-range')) ?? '');
    expect(range, 'the second PUT says where it starts').not.toBeNull();
    expect(Number(range![1])).toBeGreaterThan(0);
    expect(range!.slice(2).map(Number)).toEqual([bytes.length - 1, bytes.length]);

    const second = uploads.filter({ hasText: 'world.pg18.custom.dump' }).filter({ hasNotText: 'Cancelled' });
    const open = second.getByRole('link', { name: 'Open world.pg18.custom.dump' });
    await expect(open).toBeVisible({ timeout: 60_000 });
    uploadedIds.push((await open.getAttribute('href'))!.replace('/dumps/', ''));
    // The server's file is the local one, byte for byte.
    await expect(second.locator('code')).toHaveText(createHash('sha256').update(bytes).digest('hex'));
    await screenshot(page, testInfo, 'upload-resumed');
  });
});
