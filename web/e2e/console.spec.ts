// The SQL console on pagila: rental has 16,044 rows; the console runs only queries, as the
// sandbox's read-only reader, and the server's own words come through when it refuses.
import { test, expect, screenshot } from './fixtures';

const SQL_PATH = (id: string, database: string) => `/api/v1/dumps/${id}/databases/${database}/sql`;

test('a query runs with Ctrl+Enter, its rows in the grid, and the URL keeps it', async ({ page, dumps }, testInfo) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=console`);
  const editor = page.getByRole('textbox', { name: 'SQL' });
  await editor.fill('select count(*) from rental');
  await editor.press('Control+Enter');
  const result = page.getByRole('table', { name: 'Query result' });
  await expect(result.getByRole('row').nth(1)).toHaveText('16044');
  await expect(page.getByRole('status').filter({ hasText: '1 row in' })).toBeVisible();
  await expect(page).toHaveURL(/sql=select\+count%28\*%29\+from\+rental/);

  await page.reload();
  await expect(editor).toHaveValue('select count(*) from rental');
  await expect(result.getByRole('row').nth(1)).toHaveText('16044');

  // A JSON value opens in the viewer.
  await editor.fill("select jsonb_build_object('title', title, 'features', special_features) as doc from film where film_id = 1");
  await page.getByRole('button', { name: 'Run' }).click();
  await result.getByRole('button', { name: 'Open doc in the JSON viewer' }).click();
  const viewer = page.getByRole('dialog', { name: 'JSON of doc' });
  await expect(viewer).toContainText('"title": "ACADEMY DINOSAUR"');
  await expect(viewer).toContainText('"Behind the Scenes"');
  await viewer.getByRole('button', { name: 'Close' }).click();

  await editor.fill(
    'select film_id, title, rating, length, original_language_id, special_features\nfrom film\norder by film_id\nlimit 12',
  );
  await editor.press('Control+Enter');
  await expect(result.getByRole('row')).toHaveCount(13);
  await expect(result.getByRole('row').nth(1)).toContainText('ACADEMY DINOSAUR');
  await expect(result.getByRole('row').nth(12)).toContainText('ALASKA PHANTOM');
  await expect(result.getByRole('row').nth(1).locator('.null')).toHaveText('NULL');
  await screenshot(page, testInfo, 'sql-console');

  // Back returns to the previous query and its answer.
  await page.goBack();
  await expect(editor).toHaveValue(/jsonb_build_object/);
});

test('EXPLAIN shows the plan as a tree', async ({ page, dumps }) => {
  const pagila = dumps['pagila.pg18.custom.dump'];
  await page.goto(`/dumps/${pagila.id}?view=console`);
  await page.getByRole('textbox', { name: 'SQL' }).fill('select count(*) from rental');
  await page.getByRole('combobox', { name: 'Mode', exact: true }).selectOption('plan');
  await page.getByRole('button', { name: 'Run' }).click();
  const plan = page.getByRole('list', { name: 'Query plan' });
  await expect(plan).toContainText('Aggregate');
  await expect(plan).toContainText('Seq Scan on rental');
  await expect(plan).toContainText('rows 16044');
  await expect(page).toHaveURL(/explain=plan/);
});

test.describe(() => {
  test.use({ expectedFailures: [{ status: 400, url: /\/sql$/ }] });

  test('a DELETE is refused in the server words', async ({ page, dumps, request }) => {
    const pagila = dumps['pagila.pg18.custom.dump'];
    let refusals = 0;
    page.on('response', (response) => {
      if (response.status() === 400 && response.url().endsWith('/sql')) refusals += 1;
    });

    const refusal = await request.post(SQL_PATH(pagila.id, pagila.databases[0].sandbox), { data: { sql: 'DELETE FROM film' } });
    expect(refusal.status()).toBe(400);
    const detail = ((await refusal.json()) as { detail: string }).detail;
    expect(detail).toContain('returns no rows');

    await page.goto(`/dumps/${pagila.id}?view=console`);
    await page.getByRole('textbox', { name: 'SQL' }).fill('DELETE FROM film');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect(page.getByRole('alert')).toHaveText(detail);
    await expect(page.getByRole('table', { name: 'Query result' })).toHaveCount(0);

    // A write hidden in a query reaches PostgreSQL, which refuses the reader role.
    await page.getByRole('textbox', { name: 'SQL' }).fill('with gone as (delete from film returning film_id) select count(*) from gone');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect(page.getByRole('alert')).toHaveText('permission denied for table film');

    // The film table is still whole.
    const count = await request.post(SQL_PATH(pagila.id, pagila.databases[0].sandbox), { data: { sql: 'select count(*) as n from film' } });
    expect(((await count.json()) as { rows: { n: number }[] }).rows[0].n).toBe(1000);
    expect(refusals).toBe(2);
  });
});
