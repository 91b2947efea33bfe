import { test, expect, screenshot } from './fixtures';
import type { Page } from '@playwright/test';

/** A row of a table by the texts of its cells, in order. */
async function cellTexts(page: Page, table: string) {
  return page.getByRole('table', { name: table }).locator('tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim() ?? '')),
  );
}

test('a film: its referencing rows with their real counts, the blocked delete, the risk and the language', async ({ page, dumps, context }, testInfo) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`/dumps/${pagila.id}?view=relationships&table=public.film&k.film_id=1`);
  await expect(page.getByRole('heading', { name: 'public.film film_id = 1' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'The row of public.film' })).toContainText('ACADEMY DINOSAUR');

  const inbound = page.getByRole('region', { name: 'Referenced by (3 foreign keys)' });
  await expect(inbound.getByRole('region', { name: 'public.film_actor' })).toContainText('10 referencing rows (showing 5)');
  await expect(inbound.getByRole('region', { name: 'public.film_category' })).toContainText('1 referencing row');
  await expect(inbound.getByRole('region', { name: 'public.inventory' })).toContainText('8 referencing rows (showing 5)');
  await expect(inbound.getByRole('region', { name: 'public.film_category' }).getByRole('table')).toContainText('6');

  await expect(page.getByRole('status').filter({ hasText: 'The delete would fail' })).toBeVisible();
  expect((await cellTexts(page, 'Delete chain')).map((row) => [row[0], row[1], row[4], row[5]])).toEqual([
    ['1', 'public.film_actor', 'RESTRICT', '10'],
    ['1', 'public.film_category', 'RESTRICT', '1'],
    ['1', 'public.inventory', 'RESTRICT', '8'],
  ]);
  expect(await cellTexts(page, 'Rows affected per table')).toEqual([['public.film', '1', '0']]);

  const badge = page.getByLabel('Risk critical, score 90 of 100');
  await expect(badge).toHaveClass(/risk-critical/);
  await expect(page.getByRole('list', { name: 'Risk reasons' }).getByRole('listitem')).toHaveText([
    '+30 the delete fails: 10 rows of public.film_actor reference it through film_actor_film_id_fkey (RESTRICT)',
    '+30 the delete fails: 1 rows of public.film_category reference it through film_category_film_id_fkey (RESTRICT)',
    '+30 the delete fails: 8 rows of public.inventory reference it through inventory_film_id_fkey (RESTRICT)',
  ]);

  const outbound = page.getByRole('region', { name: 'References (2 foreign keys)' });
  await expect(outbound.getByRole('table', { name: 'Row of public.language it references' })).toContainText('English');
  await expect(outbound).toContainText('the key is NULL: it points nowhere');

  // The DELETE statement copies as the API wrote it.
  const deletion = page.getByRole('region', { name: 'What DELETE would do' });
  await deletion.getByText('SQL', { exact: true }).first().click();
  await deletion.getByRole('button', { name: 'Copy the DELETE statement' }).click();
  await expect(deletion.getByRole('button', { name: 'Copy the DELETE statement' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
    'DELETE FROM ONLY "public"."film" AS t WHERE t."film_id" = CAST($1 AS integer)',
  );
  await screenshot(page, testInfo, 'relationships');

  // A referencing row opens its own explanation, as a new history entry.
  await inbound.getByRole('region', { name: 'public.film_actor' }).getByRole('cell', { name: '10', exact: true }).click();
  await expect(page).toHaveURL(/table=public\.film_actor&k\.actor_id=10&k\.film_id=1/);
  await expect(page.getByRole('heading', { name: 'public.film_actor actor_id = 10, film_id = 1' })).toBeVisible();
  const references = page.getByRole('region', { name: 'References (2 foreign keys)' });
  await expect(references.getByRole('table', { name: 'Row of public.actor it references' })).toContainText('GABLE');
  await expect(page.getByLabel('Risk low, score 0 of 100')).toBeVisible();
  // …and the referenced actor by keyboard, through its link.
  await references.getByRole('link', { name: 'Explore public.actor actor_id = 10' }).press('Enter');
  await expect(page.getByRole('heading', { name: 'public.actor actor_id = 10' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'public.film_actor' })).toContainText('22 referencing rows');
  await page.goBack();
  await page.goBack();
  await expect(page.getByRole('heading', { name: 'public.film film_id = 1' })).toBeVisible();
});

test('a customer: the real counts of its rentals and payments, each partition of payment on its own', async ({ page, dumps }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=relationships&table=public.customer&k.customer_id=1`);
  await expect(page.getByRole('table', { name: 'The row of public.customer' })).toContainText('MARY.SMITH@sakilacustomer.org');
  const inbound = page.getByRole('region', { name: 'Referenced by (8 foreign keys)' });
  await expect(inbound.getByRole('region', { name: 'public.rental' })).toContainText('32 referencing rows');
  await expect(inbound.getByRole('region', { name: 'public.payment', exact: true })).toContainText('0 referencing rows');
  for (const [partition, count] of [['01', 2], ['02', 7], ['03', 11], ['04', 12]] as const) {
    await expect(inbound.getByRole('region', { name: `public.payment_p2007_${partition}` })).toContainText(`${count} referencing rows`);
  }
  await expect(page.getByLabel('Risk critical, score 100 of 100')).toBeVisible();
  await expect(page.getByRole('list', { name: 'Risk reasons' }).getByRole('listitem')).toHaveCount(5);
  await expect(page.getByRole('table', { name: 'Row of public.address it references' })).toContainText('1913 Hanoi Way');
});

test('chinook: an invoice picked through the form shows its invoice lines', async ({ page, dumps }) => {
  const chinook = dumps['chinook.pg18.custom.dump'];
  await page.goto(`/dumps/${chinook.id}?view=relationships`);
  await page.getByLabel('Table').selectOption('public.invoice');
  await page.getByLabel('invoice_id').fill('1');
  await page.getByRole('button', { name: 'Explain row' }).click();
  await expect(page).toHaveURL(/table=public\.invoice&k\.invoice_id=1/);

  const lines = page.getByRole('region', { name: 'public.invoice_line' });
  await expect(lines).toContainText('2 referencing rows');
  expect((await cellTexts(page, 'Rows of public.invoice_line referencing it')).map((row) => row.slice(1))).toEqual([
    ['1', '1', '1', '2', '0.99'],
    ['1', '2', '1', '4', '0.99'],
  ]);
  await expect(page.getByRole('table', { name: 'Row of public.customer it references' })).toContainText('Köhler');
  await expect(page.getByLabel('Risk medium, score 30 of 100')).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'The delete would fail' })).toBeVisible();
});

test.describe(() => {
  test.use({ expectedFailures: [{ status: 404, url: /\/relationships\?/ }] });

  test('a key no row has: the server words, and nothing else drawn', async ({ page, dumps }) => {
    const pagila = dumps['pagila.pg18.custom.dump'];
    await page.goto(`/dumps/${pagila.id}?view=relationships&table=public.film&k.film_id=999999`);
    await expect(page.getByRole('alert')).toHaveText(/film has no row with that key/);
    await expect(page.getByRole('table', { name: 'Delete chain' })).toHaveCount(0);
    await expect(page.getByRole('region', { name: /^Referenced by/ })).toHaveCount(0);
  });
});
