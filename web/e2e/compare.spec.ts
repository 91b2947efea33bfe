import { test, expect, screenshot } from './fixtures';
import type { Locator } from '@playwright/test';

/** The rows of a table as the texts of their cells. */
function cellTexts(table: Locator) {
  return table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim() ?? '')),
  );
}

test('pagila against pagila-v2: the schema changes, the rows changed per table and the added actors', async ({ page, dumps, context, request }, testInfo) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  const v2 = dumps['pagila-v2.pg18.custom.dump'];
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`/dumps/${pagila.id}?view=compare`);
  await page.getByLabel('Compare with').selectOption({ label: 'pagila-v2.pg18.custom.dump' });
  await expect(page).toHaveURL(new RegExp(`other=${v2.id}`));

  // Schema: what EXPECTED.json lists, grouped by kind.
  const schema = page.getByRole('tabpanel', { name: 'Schema changes' });
  await expect(schema.getByRole('status')).toHaveText('10 objects differ: 8 added, 1 removed, 1 changed.');
  const columns = schema.getByRole('region', { name: 'Columns' });
  await expect(columns.getByRole('listitem').filter({ hasText: 'public.film.streaming_url' })).toContainText('added');
  await expect(columns.getByRole('listitem').filter({ hasText: 'public.film.streaming_url' })).toContainText(
    'ALTER TABLE "public"."film" ADD COLUMN "streaming_url" text;',
  );
  expect(await cellTexts(columns.getByRole('table', { name: 'Differences of public.staff.email' }))).toEqual([
    ['type', 'character varying(50)', 'character varying(100)'],
  ]);
  const indexes = schema.getByRole('region', { name: 'Indexes' });
  await expect(indexes.getByRole('listitem')).toHaveText([/^removed public\.idx_actor_last_name/, /^added public\.idx_customer_email/]);
  await expect(schema.getByRole('region', { name: 'Foreign keys' }).getByRole('listitem').filter({ hasText: 'review_film_id_fkey' })).toContainText(
    'ON DELETE CASCADE',
  );
  await expect(schema.getByRole('region', { name: 'Tables' })).toContainText('public.review');

  // The whole migration script, copied exactly as the API writes it.
  const script = await (
    await request.get(`/api/v1/dumps/${pagila.id}/databases/${pagila.databases[0].sandbox}/diff/${v2.id}/${v2.databases[0].sandbox}/schema?format=sql`)
  ).text();
  expect(script).toContain('CREATE INDEX idx_customer_email');
  await expect(schema.getByLabel('Migration script', { exact: true })).toHaveText(script);
  await schema.getByRole('button', { name: 'Copy the migration script' }).click();
  await expect(schema.getByRole('button', { name: 'Copy the migration script' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(script);

  // Data: the real row counts per changed table.
  await page.getByRole('tab', { name: 'Row changes' }).click();
  await expect(page).toHaveURL(/cmp=data/);
  const data = page.getByRole('tabpanel', { name: 'Row changes' });
  await expect(data.getByRole('status')).toHaveText('5 of the 21 tables both sides have differ.');
  const summary = data.getByRole('table', { name: 'Row changes per table' });
  await expect(summary).toBeVisible();
  expect((await cellTexts(summary)).map((row) => row.slice(0, 7))).toEqual([
    ['public.actor', 'actor_id', '200', '202', '2', '0', '0'],
    ['public.customer', 'customer_id', '599', '599', '0', '0', '3'],
    ['public.film_actor', 'actor_id, film_id', '5462', '5461', '0', '1', '0'],
    ['public.payment_p2007_04', 'none (rows as a multiset)', '6754', '6753', '0', '1', '0'],
    ['public.rental', 'rental_id', '16044', '16044', '0', '0', '1'],
  ]);
  await expect(data).toContainText('Only in B (all rows added): public.review');

  // The actor rows: the two added ones, with their values from B.
  await summary.getByRole('button', { name: 'public.actor' }).click();
  await expect(page).toHaveURL(/cmpTable=public\.actor/);
  const actors = data.getByRole('table', { name: 'Changed rows of public.actor' });
  await expect(actors.locator('tbody tr.row-added')).toHaveCount(2);
  expect((await cellTexts(actors)).map((row) => row.slice(0, 5))).toEqual([
    ['added', 'B', '201', 'ADA', 'LOVELACE'],
    ['added', 'B', '202', 'ALAN', 'TURING'],
  ]);
  await expect(data.getByRole('navigation', { name: 'Pages of changed rows' })).toContainText('Changes 1–2 of 2');

  // A changed customer: both versions, only the changed cells highlighted.
  await summary.getByRole('button', { name: 'public.customer' }).click();
  const customers = data.getByRole('table', { name: 'Changed rows of public.customer' });
  await expect(customers.locator('tbody tr')).toHaveCount(6);
  const customerA = customers.locator('tbody tr.row-changed-a').first();
  const customerB = customers.locator('tbody tr.row-changed-b').first();
  await expect(customerA.locator('td.cell-changed')).toHaveText(['ELIZABETH.BROWN@sakilacustomer.org', '2006-02-15T09:57:20']);
  await expect(customerB.locator('td.cell-changed')).toHaveText(['elizabeth.brown@sakilacustomer.org.changed', /^\d{4}-/]);
  await expect(customerB.getByRole('cell', { name: 'ELIZABETH', exact: true })).not.toHaveClass(/cell-changed/);
  await screenshot(page, testInfo, 'compare');

  // The removed film_actor row (actor 1 in film 1), from A.
  await summary.getByRole('button', { name: 'public.film_actor' }).click();
  const filmActors = data.getByRole('table', { name: 'Changed rows of public.film_actor' });
  await expect(filmActors.locator('tbody tr')).toHaveClass(['row-removed']);
  expect((await cellTexts(filmActors)).map((row) => row.slice(0, 4))).toEqual([['removed', 'A', '1', '1']]);
});

test('the page of changed rows is in the URL: an offset skips changes, Previous goes back', async ({ page, dumps }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  const v2 = dumps['pagila-v2.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=compare&other=${v2.id}&cmp=data&cmpTable=public.customer&cmpOffset=2`);
  const customers = page.getByRole('table', { name: 'Changed rows of public.customer' });
  await expect(customers.locator('tbody tr')).toHaveCount(2);
  await expect(customers.locator('tbody tr').first()).toContainText('AUSTIN.CINTRON@sakilacustomer.org');
  const pager = page.getByRole('navigation', { name: 'Pages of changed rows' });
  await expect(pager).toContainText('Changes 3–3 of 3');
  await expect(pager.getByRole('button', { name: 'Next' })).toBeDisabled();
  await pager.getByRole('button', { name: 'Previous' }).click();
  await expect(page).not.toHaveURL(/cmpOffset/);
  await expect(pager).toContainText('Changes 1–3 of 3');
  await expect(customers.locator('tbody tr')).toHaveCount(6);
});

test('two databases of one dump: chinook against world of the same pg_dumpall', async ({ page, dumps }) => {
  const cluster = dumps['cluster.pg18.dumpall.sql'];
  const chinook = cluster.databases.find((database) => database.name === 'chinook')!;
  const world = cluster.databases.find((database) => database.name === 'world')!;
  await page.goto(`/dumps/${cluster.id}?db=${chinook.sandbox}&view=compare`);
  await page.getByLabel('Compare with').selectOption({ label: 'cluster.pg18.dumpall.sql (this dump)' });
  await page.getByLabel('Its database').selectOption({ label: 'world' });
  await expect(page).toHaveURL(new RegExp(`other=${cluster.id}&otherDb=${world.sandbox}`));
  const tables = page.getByRole('tabpanel', { name: 'Schema changes' }).getByRole('region', { name: 'Tables' });
  await expect(tables.getByRole('listitem').filter({ hasText: 'public.countrylanguage' })).toContainText(/^added/);
  await expect(tables.getByRole('listitem').filter({ hasText: 'public.invoice_line' })).toContainText(/^removed/);
});
