import { test, expect } from './fixtures';

test('a dump page names its databases and keeps the view in the URL', async ({ page, dumps }) => {
  const cluster = dumps['cluster.pg18.dumpall.sql'];
  await page.goto(`/dumps/${cluster.id}`);
  await expect(page.getByRole('heading', { name: 'cluster.pg18.dumpall.sql' })).toBeVisible();
  const switcher = page.getByLabel('Database');
  for (const database of cluster.databases) {
    await expect(switcher.locator('option', { hasText: database.name! })).toHaveCount(1);
  }
  await page.getByRole('tab', { name: 'SQL console' }).click();
  await expect(page).toHaveURL(/view=console/);
  await page.getByRole('tab', { name: 'SQL console' }).press('ArrowRight');
  await expect(page).toHaveURL(/view=compare/);
  await page.goBack();
  await expect(page.getByRole('tab', { name: 'SQL console' })).toHaveAttribute('aria-selected', 'true');
});

test('dark mode is remembered', async ({ page }) => {
  await page.goto('/');
  const html = page.locator('html');
  const before = await html.getAttribute('data-theme');
  await page.getByRole('button', { name: /Switch to/ }).click();
  await expect(html).not.toHaveAttribute('data-theme', before!);
  const after = await html.getAttribute('data-theme');
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', after!);
});
