import type { Page } from '@playwright/test';
import { formatBytes, formatCount } from '../src/format';
import { test, expect, screenshot } from './fixtures';

/** The value beside a term of the table's facts (Estimated rows, Size …). */
function fact(page: Page, term: string) {
  return page.getByRole('term').filter({ hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');
}

test('the schema explorer finds tables by table, column and comment names and keeps the search in the URL', async ({ page, dumps }, testInfo) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=tables`);
  const tables = page.getByRole('navigation', { name: 'Tables' });
  await expect(page.getByText('21 tables', { exact: true })).toBeVisible();
  await expect(tables.getByRole('link')).toHaveCount(21);

  await page.getByRole('searchbox', { name: /search tables/i }).fill('rental');
  await expect(page).toHaveURL(/[?&]q=rental/);
  // rental by name; film (rental_duration, rental_rate) and payment with its partitions
  // (rental_id) by their columns.
  const found = [
    'film',
    'payment',
    'payment_p2007_01',
    'payment_p2007_02',
    'payment_p2007_03',
    'payment_p2007_04',
    'payment_p2007_05',
    'payment_p2007_06',
    'rental',
  ];
  await expect(tables.getByRole('link')).toHaveText(found);
  await expect(page.getByText('9 of 21 tables')).toBeVisible();
  await expect(tables.getByRole('listitem').filter({ hasText: 'film' })).toContainText('column rental_duration, column rental_rate');
  await expect(tables.getByRole('link', { name: 'actor' })).toHaveCount(0);

  await tables.getByRole('link', { name: 'rental', exact: true }).click();
  await expect(page).toHaveURL(/[?&]table=public\.rental/);
  await expect(page).toHaveURL(/[?&]q=rental/);
  await expect(page.getByRole('heading', { level: 2, name: 'public.rental' })).toBeVisible();
  await expect(tables.getByRole('link', { name: 'rental', exact: true })).toHaveAttribute('aria-current', 'page');
  await screenshot(page, testInfo, 'schema-explorer');
});

test('the film table shows its columns, primary key, foreign keys, indexes and estimates', async ({ page, dumps, request }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  // The size is the server's (it moves by a page when autovacuum adds a visibility map), in
  // the range film's 1,000 rows and their indexes take.
  const graph = (await (await request.get(`/api/v1/dumps/${pagila.id}/databases/${pagila.databases[0].sandbox}/schema`)).json()) as {
    tables: { schema: string; name: string; sizeBytes: number }[];
  };
  const film = graph.tables.find((table) => table.schema === 'public' && table.name === 'film')!;
  expect(film.sizeBytes).toBeGreaterThan(900 * 1024);
  expect(film.sizeBytes).toBeLessThan(1024 * 1024);
  await page.goto(`/dumps/${pagila.id}?view=tables&table=public.film`);
  await expect(page.getByRole('heading', { level: 2, name: 'public.film' })).toBeVisible();
  await expect(page.locator('.table-kind')).toHaveText('table');

  const columns = page.getByRole('table', { name: 'Columns' });
  await expect(columns.getByRole('rowheader')).toHaveText([
    /^film_id/,
    'title',
    'description',
    'release_year',
    /^language_id/,
    /^original_language_id/,
    'rental_duration',
    'rental_rate',
    'length',
    'replacement_cost',
    'rating',
    'last_update',
    'special_features',
    'fulltext',
  ]);
  const filmId = columns.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /^film_id/ }) });
  await expect(filmId.getByRole('cell')).toHaveText(['integer', 'no', "nextval('film_film_id_seq'::regclass)", '']);
  const rentalRate = columns.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'rental_rate' }) });
  await expect(rentalRate.getByRole('cell')).toHaveText(['numeric(4,2)', 'no', '4.99', '']);
  const description = columns.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'description' }) });
  await expect(description.getByRole('cell').nth(1)).toHaveText('yes');

  await expect(page.getByRole('region', { name: 'Primary key' })).toContainText('film_id (film_pkey)');

  const foreignKeys = page.getByRole('table', { name: 'Foreign keys' });
  await expect(foreignKeys.getByRole('rowheader')).toHaveText(['film_language_id_fkey', 'film_original_language_id_fkey']);
  await expect(foreignKeys.getByRole('row').nth(1).getByRole('cell')).toHaveText(['language_id', 'public.language (language_id)', 'RESTRICT', 'CASCADE']);

  const referencedBy = page.getByRole('region', { name: 'Referenced by' });
  await expect(referencedBy.getByRole('link')).toHaveText(['public.film_actor', 'public.film_category', 'public.inventory']);

  const indexes = page.getByRole('table', { name: 'Indexes' });
  await expect(indexes.getByRole('rowheader')).toHaveCount(5);
  await expect(indexes).toContainText('CREATE INDEX film_fulltext_idx ON public.film USING gist (fulltext)');

  await expect(fact(page, 'Estimated rows')).toHaveText('1,000');
  await expect(fact(page, 'Size')).toHaveText(formatBytes(film.sizeBytes));
  await expect(fact(page, 'Size')).toHaveAttribute('title', `${formatCount(film.sizeBytes)} bytes`);
  await expect(fact(page, 'Columns')).toHaveText('14');

  // A foreign key links to the referenced table.
  await foreignKeys.getByRole('link', { name: 'public.language' }).first().click();
  await expect(page).toHaveURL(/[?&]table=public\.language/);
  await expect(page.getByRole('heading', { level: 2, name: 'public.language' })).toBeVisible();
  await expect(fact(page, 'Estimated rows')).toHaveText('6');

  // And the table opens in the other views.
  await page.getByRole('link', { name: 'Show in ER diagram' }).click();
  await expect(page).toHaveURL(/[?&]view=er/);
  await expect(page).toHaveURL(/[?&]table=public\.language/);
  await page.goBack();
  await page.getByRole('link', { name: 'Open in Data view' }).click();
  await expect(page).toHaveURL(/[?&]view=data/);
  await expect(page).toHaveURL(/[?&]table=public\.language/);
});

test("the dumpall's world database shows its tables and their constraints", async ({ page, dumps }) => {
  const cluster = dumps['cluster.pg18.dumpall.sql'];
  const world = cluster.databases.find((database) => database.name === 'world')!;
  await page.goto(`/dumps/${cluster.id}?view=tables&db=${world.sandbox}`);
  const tables = page.getByRole('navigation', { name: 'Tables' });
  await expect(tables.getByRole('link')).toHaveText(['city', 'country', 'countrylanguage']);
  await tables.getByRole('link', { name: 'country', exact: true }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'public.country' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Check constraints' })).toContainText('country_continent_check');
  await expect(page.getByRole('table', { name: 'Foreign keys' })).toContainText('country_capital_fkey');
  await expect(fact(page, 'Estimated rows')).toHaveText('239');
});

test('a table the database does not have is named as missing', async ({ page, dumps }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=tables&table=public.nosuch`);
  await expect(page.getByRole('alert')).toHaveText('There is no table public.nosuch in this database.');
});
