import { statSync } from 'node:fs';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { test, expect, screenshot, type DumpSummary } from './fixtures';

/** The table ids the API puts in a diagram, to hold the page to the server's own answer. */
async function diagramTables(request: APIRequestContext, dump: DumpSummary, query: string): Promise<string[]> {
  const answer = await request.get(`${process.env.DUMPLENS_URL}/api/v1/dumps/${dump.id}/databases/${dump.databases[0].sandbox}/er?${query}`);
  expect(answer.ok()).toBe(true);
  const diagram = (await answer.json()) as { nodes: { id: string }[] };
  return diagram.nodes.map((node) => node.id).sort();
}

function tableNodes(page: Page): Locator {
  return page.getByRole('group', { name: /^Table / });
}

async function shownTables(page: Page): Promise<string[]> {
  const labels = await tableNodes(page).evaluateAll((nodes) => nodes.map((node) => node.getAttribute('aria-label')!));
  return labels.map((label) => label.replace(/^Table /, '')).sort();
}

/** Whether every table node lies inside the diagram's canvas. */
async function allNodesInView(page: Page): Promise<boolean> {
  const canvas = (await page.getByRole('application').boundingBox())!;
  for (const node of await tableNodes(page).all()) {
    const box = (await node.boundingBox())!;
    if (box.x < canvas.x - 1 || box.y < canvas.y - 1 || box.x + box.width > canvas.x + canvas.width + 1 || box.y + box.height > canvas.y + canvas.height + 1) {
      return false;
    }
  }
  return true;
}

test('film at depth 1 shows its neighbours, fits the screen, and the depth follows the URL', async ({ page, dumps, request }, testInfo) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  const depth1 = await diagramTables(request, pagila, 'schema=public&table=film&depth=1');
  expect(depth1).toEqual(['public.film', 'public.film_actor', 'public.film_category', 'public.inventory', 'public.language']);

  await page.goto(`/dumps/${pagila.id}?view=tables&table=public.film`);
  await page.getByRole('link', { name: 'Show in ER diagram' }).click();
  await expect(page).toHaveURL(/[?&]view=er/);
  await expect(tableNodes(page)).toHaveCount(5);
  expect(await shownTables(page)).toEqual(depth1);
  await expect(page.getByText('5 tables, 5 foreign keys')).toBeVisible();
  const film = page.getByRole('group', { name: 'Table public.film' });
  // Its columns, the key ones marked.
  await expect(film.getByRole('listitem').first()).toHaveText(/PK\s*film_id\s*integer/);
  await expect(film.getByRole('listitem').filter({ hasText: 'original_language_id' })).toContainText('FK');
  await expect(page.getByRole('img', { name: /^Foreign key film_language_id_fkey: public.film \(language_id\) references public.language/ })).toHaveCount(1);
  await expect.poll(() => allNodesInView(page)).toBe(true);

  // Dragged aside, part of the diagram leaves the screen; Fit View brings all of it back.
  const canvas = (await page.getByRole('application').boundingBox())!;
  await page.mouse.move(canvas.x + 8, canvas.y + 8);
  await page.mouse.down();
  await page.mouse.move(canvas.x + canvas.width * 0.7, canvas.y + canvas.height * 0.7, { steps: 10 });
  await page.mouse.up();
  await expect.poll(() => allNodesInView(page)).toBe(false);
  await page.getByRole('button', { name: 'Fit View' }).click();
  await expect.poll(() => allNodesInView(page)).toBe(true);

  const depth2 = await diagramTables(request, pagila, 'schema=public&table=film&depth=2');
  expect(depth2).toHaveLength(9);
  await page.getByLabel('Depth').selectOption('2');
  await expect(page).toHaveURL(/[?&]depth=2/);
  await expect(tableNodes(page)).toHaveCount(9);
  expect(await shownTables(page)).toEqual(depth2);
  await screenshot(page, testInfo, 'er-diagram');

  // Clicking a table makes it the diagram's centre.
  await page.getByRole('group', { name: 'Table public.language' }).click();
  await expect(page).toHaveURL(/[?&]table=public\.language/);
  await expect(page.getByLabel('Table', { exact: true })).toHaveValue('public.language');
  // The new diagram is fetched and drawn after the URL changes: wait for it.
  const languageDepth2 = await diagramTables(request, pagila, 'schema=public&table=language&depth=2');
  await expect.poll(() => shownTables(page)).toEqual(languageDepth2);
});

test('the diagram exports as PNG and SVG files and copies as Mermaid', async ({ page, context, dumps }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`/dumps/${pagila.id}?view=er&table=public.film&depth=1`);
  await expect(tableNodes(page)).toHaveCount(5);

  for (const format of ['PNG', 'SVG']) {
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: `Export ${format}` }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe(`er-public.film-depth1.${format.toLowerCase()}`);
    expect(statSync(await file.path()).size).toBeGreaterThan(1000);
    await expect(page.getByRole('status')).toHaveText(`Saved er-public.film-depth1.${format.toLowerCase()}`);
  }

  await page.getByRole('button', { name: 'Copy Mermaid' }).click();
  await expect(page.getByRole('status')).toHaveText('Mermaid copied to the clipboard');
  const mermaid = await page.evaluate(() => navigator.clipboard.readText());
  expect(mermaid).toMatch(/^erDiagram/);
  expect(mermaid).toContain('t1["public.film"]');
  expect(mermaid).toContain('integer film_id PK');
});

test('the whole pagila schema shows every table and foreign key', async ({ page, dumps, request }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  const everything = await diagramTables(request, pagila, 'schema=public');
  expect(everything).toHaveLength(21);
  await page.goto(`/dumps/${pagila.id}?view=er`);
  await expect(page.getByLabel('Show')).toHaveValue('schema');
  await expect(page.getByLabel('Schema')).toHaveValue('public');
  // 40 foreign keys, as EXPECTED.json counts them.
  await expect(page.getByText('21 tables, 40 foreign keys')).toBeVisible();
  await expect(tableNodes(page)).toHaveCount(21);
  expect(await shownTables(page)).toEqual(everything);
  await expect.poll(() => allNodesInView(page)).toBe(true);
  await page.getByLabel('Show').selectOption('table');
  await expect(page).toHaveURL(/[?&]scope=table/);
  await expect(page.getByText('Choose a table to see it with its neighbours.')).toBeVisible();
});
