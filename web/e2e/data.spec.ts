// The data browser on pagila: every number and name below is pagila's own (checked against the
// API with curl: film has 1,000 rows, 223 of them rated PG-13; the last titles by name are ZORRO
// ARK, ZOOLANDER FICTION, ZHIVAGO CORE; language 1 is English; rental has 16,044 rows).
import { test, expect, screenshot } from './fixtures';
import type { Page } from '@playwright/test';

function pagila(dumps: Record<string, { id: string }>) {
  return dumps['pagila.pg18.custom.dump'].id;
}

function grid(page: Page, table: string) {
  return page.getByRole('table', { name: `Rows of ${table}` });
}

/** The data rows in view (the first row is the header). */
function dataRow(page: Page, table: string, index: number) {
  return grid(page, table).getByRole('row').nth(index + 1);
}

test('film sorted by title descending, filtered by rating with suggestions and counts', async ({ page, dumps }, testInfo) => {
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.film`);
  await expect(dataRow(page, 'public.film', 0)).toContainText('ACADEMY DINOSAUR');
  await expect(page.getByText('rows in the table (estimate)')).toContainText('1,000');

  // Ascending, then descending: the URL says so and the last titles come first.
  await page.getByRole('button', { name: 'Sort by title' }).click();
  await expect(page).toHaveURL(/sort=title(&|$)/);
  await page.getByRole('button', { name: 'Sort by title' }).click();
  await expect(page).toHaveURL(/sort=title&desc=1/);
  await expect(dataRow(page, 'public.film', 0)).toContainText('ZORRO ARK');
  await expect(dataRow(page, 'public.film', 1)).toContainText('ZOOLANDER FICTION');
  await expect(dataRow(page, 'public.film', 2)).toContainText('ZHIVAGO CORE');
  await expect(page.getByRole('button', { name: 'Sort by title' }).locator('xpath=ancestor::th')).toHaveAttribute('aria-sort', 'descending');

  // The rating filter suggests pagila's five ratings, from the column's statistics.
  const rating = page.getByLabel('Value for rating');
  await rating.focus();
  const listId = await rating.getAttribute('list');
  const suggestions = page.locator(`datalist[id="${listId}"] option`);
  await expect(suggestions).toHaveCount(5);
  expect((await suggestions.evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value))).sort()).toEqual(
    ['G', 'NC-17', 'PG', 'PG-13', 'R'],
  );

  await rating.fill('PG-13');
  await rating.press('Enter');
  await expect(page).toHaveURL(/f\.rating=eq%3APG-13/);
  // Still by title descending: the last PG-13 titles.
  await expect(dataRow(page, 'public.film', 0)).toContainText('WYOMING STORM');
  await expect(dataRow(page, 'public.film', 1)).toContainText('WRONG BEHAVIOR');
  await expect(dataRow(page, 'public.film', 2)).toContainText('WORLD LEATHERNECKS');
  await expect(page.getByText('rows in the table (estimate)')).toContainText('1,000');
  await page.getByRole('button', { name: 'Count exactly' }).click();
  await expect(page.getByText('match the filters (exact)')).toContainText('223');
  await expect(page).toHaveURL(/count=exact/);

  // The page's own SQL, with the filter as a parameter.
  await page.getByText('SQL of this page').click();
  await expect(page.locator('.data-sql pre')).toContainText('WHERE t."rating" = CAST($1 AS mpaa_rating)');
  await expect(page.getByRole('list', { name: 'Parameters' })).toContainText('PG-13');

  // Each row opens the relationship explorer on its primary key.
  await expect(page.getByRole('link', { name: 'Relationships of film_id = 994', exact: true })).toHaveAttribute(
    'href',
    /view=relationships&table=public\.film&k\.film_id=994/,
  );
  await page.getByText('SQL of this page').click();
  // Focusing the rating filter scrolled the grid sideways: show it from its first column.
  await page.getByRole('region', { name: 'Rows of public.film, scrollable' }).evaluate((element) => element.scrollTo({ left: 0 }));
  await screenshot(page, testInfo, 'data-browser');

  // Reload: the URL alone brings back the same view.
  await page.reload();
  await expect(dataRow(page, 'public.film', 0)).toContainText('WYOMING STORM');
  await expect(page.getByText('match the filters (exact)')).toContainText('223');
});

test('NULL is drawn apart and an array opens in the JSON viewer', async ({ page, dumps }) => {
  // The first four addresses have no address2 (NULL), and the empty string is not NULL.
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.address&f.address2=isNull&count=exact`);
  await expect(page.getByText('match the filters (exact)')).toContainText('4');
  const first = dataRow(page, 'public.address', 0);
  await expect(first).toContainText('47 MySakila Drive');
  await expect(first.locator('.null')).toHaveText('NULL');

  // film.special_features is text[], sent as a JSON array: film 1 has two.
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.film&f.film_id=eq:1`);
  await dataRow(page, 'public.film', 0).getByRole('button', { name: 'Open special_features in the JSON viewer' }).click();
  const viewer = page.getByRole('dialog', { name: 'JSON of special_features' });
  await expect(viewer).toContainText('"Deleted Scenes"');
  await expect(viewer).toContainText('"Behind the Scenes"');
  await expect(viewer).toContainText('2 items');
  await page.keyboard.press('Escape');
  await expect(viewer).toBeHidden();
});

test("a film's language_id opens the language row, and the breadcrumb goes back", async ({ page, dumps }) => {
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.film&sort=title&desc=1`);
  const zorro = dataRow(page, 'public.film', 0);
  await expect(zorro).toContainText('ZORRO ARK');
  await zorro.getByRole('link', { name: '1', exact: true }).click();

  await expect(page).toHaveURL(/table=public\.language&f\.language_id=eq%3A1/);
  await expect(dataRow(page, 'public.language', 0)).toContainText('English');
  await expect(grid(page, 'public.language').getByRole('row')).toHaveCount(2);
  const trail = page.getByRole('navigation', { name: 'Followed foreign keys' });
  await expect(trail.getByRole('link', { name: 'public.film' })).toBeVisible();
  await expect(trail).toContainText('public.language (language_id = 1)');

  await trail.getByRole('link', { name: 'public.film' }).click();
  await expect(page).toHaveURL(/table=public\.film&sort=title&desc=1/);
  await expect(dataRow(page, 'public.film', 0)).toContainText('ZORRO ARK');
  await expect(trail).toBeHidden();

  // Back walks the same way.
  await page.goBack();
  await expect(dataRow(page, 'public.language', 0)).toContainText('English');
});

test('scrolling rental loads the next keyset pages', async ({ page, dumps }) => {
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.rental`);
  await expect(page.getByText('rows in the table (estimate)')).toContainText('16,044');
  await expect(page.getByText(/^200 loaded/)).toBeVisible();
  const scroller = page.getByRole('region', { name: 'Rows of public.rental, scrollable' });
  for (const loaded of ['400', '600']) {
    await scroller.evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
    await expect(page.getByText(new RegExp(`^${loaded} loaded`))).toBeVisible();
  }
  // In key order, the 600th loaded row is rental 601 (pagila has no rental 321).
  await scroller.evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
  await expect(page.getByRole('link', { name: 'Relationships of rental_id = 601', exact: true })).toBeVisible();

  // "Next page" starts the view at the first page's cursor, in the URL: rentals from 201 on.
  await scroller.evaluate((element) => element.scrollTo({ top: 0 }));
  await page.getByRole('button', { name: 'Next page' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(page.getByText(/^200 loaded/)).toBeVisible();
  await expect(dataRow(page, 'public.rental', 0).getByRole('link', { name: 'Relationships of rental_id = 201', exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'First page' }).click();
  await expect(dataRow(page, 'public.rental', 0).getByRole('link', { name: 'Relationships of rental_id = 1', exact: true })).toBeVisible();
});

test('the loaded rows copy as CSV', async ({ page, dumps, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`/dumps/${pagila(dumps)}?view=data&table=public.language`);
  await expect(dataRow(page, 'public.language', 5)).toContainText('German');
  await page.getByRole('button', { name: 'Copy as CSV' }).click();
  await expect(page.getByText('Copied 6 rows as CSV.')).toBeVisible();
  const csv = await page.evaluate(() => navigator.clipboard.readText());
  expect(csv.split('\r\n')).toEqual([
    'language_id,name,last_update',
    '1,English             ,2006-02-15T10:02:19',
    '2,Italian             ,2006-02-15T10:02:19',
    '3,Japanese            ,2006-02-15T10:02:19',
    '4,Mandarin            ,2006-02-15T10:02:19',
    '5,French              ,2006-02-15T10:02:19',
    '6,German              ,2006-02-15T10:02:19',
    '',
  ]);
});
