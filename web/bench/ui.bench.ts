// The UI benchmark (issue 8, "Measure"): the ER view of a 1,000-table schema (time to first
// render, frame times while zooming and panning, with React Flow's culling on and off) and
// scrolling 10,000 rows of the data grid. Prints the numbers and, against culling off, their
// ratios; the README's Benchmarks table keeps them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { BENCH_BIG_ROWS, BENCH_BIG_TABLE, BENCH_TABLES } from './generate-dump';

const base = () => process.env.DUMPLENS_URL!;
const dumpId = () => process.env.DUMPLENS_BENCH_DUMP!;

interface FrameStats {
  frames: number;
  p50: number;
  p95: number;
  max: number;
  over50: number;
}

function frameStats(deltas: number[]): FrameStats {
  const sorted = [...deltas].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (value: number) => Math.round(value * 10) / 10;
  return { frames: sorted.length, p50: round(at(0.5)), p95: round(at(0.95)), max: round(sorted.at(-1) ?? 0), over50: sorted.filter((delta) => delta > 50).length };
}

/** Before any script of the page: when the first diagram node appears, and every long task. */
async function instrument(page: Page) {
  await page.addInitScript(() => {
    const probe = window as unknown as { firstNodeAt?: number; longTasks: { start: number; duration: number }[] };
    probe.longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) probe.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
    new MutationObserver((_, observer) => {
      if (document.querySelector('.react-flow__node')) {
        probe.firstNodeAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
}

/** Collects requestAnimationFrame deltas and long tasks while `action` runs. */
async function measureFrames(page: Page, action: () => Promise<void>) {
  await page.evaluate(() => {
    const probe = window as unknown as { frameDeltas: number[]; recording: boolean; longTasks: unknown[] };
    probe.frameDeltas = [];
    probe.recording = true;
    probe.longTasks.length = 0;
    let last = performance.now();
    const tick = (now: number) => {
      probe.frameDeltas.push(now - last);
      last = now;
      if (probe.recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const started = Date.now();
  await action();
  const elapsed = Date.now() - started;
  const { deltas, longTasks } = await page.evaluate(() => {
    const probe = window as unknown as { frameDeltas: number[]; recording: boolean; longTasks: { duration: number }[] };
    probe.recording = false;
    return { deltas: probe.frameDeltas.slice(1), longTasks: probe.longTasks.map((task) => task.duration) };
  });
  return {
    elapsedMs: elapsed,
    ...frameStats(deltas),
    longTasks: longTasks.length,
    longestTaskMs: Math.round(Math.max(0, ...longTasks)),
  };
}

async function viewportZoom(page: Page): Promise<number> {
  return page.locator('.react-flow__viewport').evaluate((element) => new DOMMatrix(getComputedStyle(element).transform).a);
}

/** Zooms in and out at the centre, then drags the diagram aside and back, one event a frame. */
async function zoomAndPan(page: Page) {
  const canvas = (await page.getByRole('application').boundingBox())!;
  const x = canvas.x + canvas.width / 2;
  const y = canvas.y + canvas.height / 2;
  await page.mouse.move(x, y);
  for (const direction of [-1, 1]) {
    for (let i = 0; i < 10; i++) {
      await page.mouse.wheel(0, direction * 120);
      await page.waitForTimeout(40);
    }
  }
  await page.mouse.down();
  for (let i = 1; i <= 60; i++) {
    const step = i <= 30 ? i : 60 - i;
    await page.mouse.move(x - step * 10, y - step * 5);
    await page.waitForTimeout(16);
  }
  await page.mouse.up();
}

/** Fits the diagram, then zooms to about 100 % on the table nearest the centre. */
async function zoomToFullSize(page: Page) {
  await page.getByRole('button', { name: 'Fit View' }).click();
  await page.waitForTimeout(300);
  const canvas = (await page.getByRole('application').boundingBox())!;
  const centre = { x: canvas.x + canvas.width / 2, y: canvas.y + canvas.height / 2 };
  const boxes = await page.locator('.react-flow__node').evaluateAll((nodes) =>
    nodes.map((node) => {
      const box = node.getBoundingClientRect();
      return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    }),
  );
  const target = boxes.reduce((best, box) =>
    Math.hypot(box.x - centre.x, box.y - centre.y) < Math.hypot(best.x - centre.x, best.y - centre.y) ? box : best,
  );
  await page.mouse.move(target.x, target.y);
  for (let i = 0; i < 60 && (await viewportZoom(page)) < 0.9; i++) {
    await page.mouse.wheel(0, -300);
    await page.waitForTimeout(60);
  }
  await page.waitForTimeout(500);
}

type Results = Record<string, unknown>;
const results: Results = {};

type ErResult = {
  firstNodeMsSinceNavigation: number;
  nodesInDomZoomed: number;
  framesFitted: FrameStats;
  framesZoomed: FrameStats;
};

/** Culling on against culling off, side by side: what the README's table shows. */
function summary(on: ErResult, off: ErResult, grid: FrameStats) {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  return [
    `ER first render: ${on.firstNodeMsSinceNavigation} ms with culling, ${off.firstNodeMsSinceNavigation} ms without (${ratio(on.firstNodeMsSinceNavigation, off.firstNodeMsSinceNavigation)}); target < 2000 ms: ${on.firstNodeMsSinceNavigation < 2000 ? 'met' : 'NOT met'}`,
    `ER pan/zoom fitted (all ${BENCH_TABLES} tables on screen): p95 frame ${on.framesFitted.p95} ms with culling, ${off.framesFitted.p95} ms without`,
    `ER pan/zoom close up: ${on.nodesInDomZoomed} tables drawn with culling, ${off.nodesInDomZoomed} without; p95 frame ${on.framesZoomed.p95} ms against ${off.framesZoomed.p95} ms (${ratio(on.framesZoomed.p95, off.framesZoomed.p95)}), longest ${on.framesZoomed.max} ms against ${off.framesZoomed.max} ms`,
    `grid, 10,000 rows at 600 px a frame: p50 ${grid.p50} ms, p95 ${grid.p95} ms, ${grid.over50} of ${grid.frames} frames over 50 ms, longest ${grid.max} ms`,
  ].join('\n');
}

test.afterAll(async ({}, testInfo) => {
  const path = join(testInfo.project.outputDir, 'bench-results.json');
  mkdirSync(testInfo.project.outputDir, { recursive: true });
  writeFileSync(path, JSON.stringify(results, null, 2));
  console.log(`\nUI benchmark results (also in ${path}):\n${JSON.stringify(results, null, 2)}`);
  const on = results['er-culling-on'] as ErResult | undefined;
  const off = results['er-culling-off'] as ErResult | undefined;
  const grid = results['grid-scroll-10000-rows'] as FrameStats | undefined;
  if (on && off && grid) console.log(`\n${summary(on, off, grid)}`);
});

for (const culling of ['on', 'off'] as const) {
  test(`ER view of ${BENCH_TABLES} tables, culling ${culling}`, async ({ page }) => {
    await instrument(page);
    const started = Date.now();
    await page.goto(`${base()}/dumps/${dumpId()}?view=er&scope=schema&schema=public${culling === 'off' ? '&culling=off' : ''}`);
    await expect(page.getByText(`${BENCH_TABLES + 1} tables, `)).toBeVisible();
    await expect(page.locator('.react-flow__node').first()).toBeVisible();
    const wallMs = Date.now() - started;
    const timing = await page.evaluate(() => {
      const probe = window as unknown as { firstNodeAt: number };
      const er = performance.getEntriesByType('resource').find((entry) => entry.name.includes('/er?')) as PerformanceResourceTiming;
      return { firstNodeAt: Math.round(probe.firstNodeAt), erResponseEnd: Math.round(er.responseEnd), erBytes: er.encodedBodySize };
    });
    await page.waitForTimeout(500);
    const rendered = await page.locator('.react-flow__node').count();

    const fitted = await measureFrames(page, () => zoomAndPan(page));
    // Close up: columns and labels are drawn and most of the diagram is off screen.
    await zoomToFullSize(page);
    const zoomedRendered = await page.locator('.react-flow__node').count();
    const zoomed = await measureFrames(page, () => zoomAndPan(page));

    results[`er-culling-${culling}`] = {
      firstNodeMsSinceNavigation: timing.firstNodeAt,
      layoutAndRenderMsAfterResponse: timing.firstNodeAt - timing.erResponseEnd,
      erResponseEndMs: timing.erResponseEnd,
      erResponseBytes: timing.erBytes,
      wallMsUntilVisible: wallMs,
      nodesInDomFitted: rendered,
      framesFitted: fitted,
      zoom: Math.round((await viewportZoom(page)) * 100) / 100,
      nodesInDomZoomed: zoomedRendered,
      framesZoomed: zoomed,
    };
    console.log(`ER culling ${culling}:`, JSON.stringify(results[`er-culling-${culling}`]));
  });
}

test(`data grid: scrolling 10,000 of ${BENCH_BIG_ROWS} rows`, async ({ page }) => {
  await instrument(page);
  await page.goto(`${base()}/dumps/${dumpId()}?view=data&table=public.${BENCH_BIG_TABLE}`);
  const scroller = page.getByRole('region', { name: new RegExp(`^Rows of .*${BENCH_BIG_TABLE}.*, scrollable$`) });
  await expect(scroller.getByRole('row').nth(1)).toBeVisible();
  const frames = await measureFrames(page, () =>
    scroller.evaluate(async (element) => {
      const firstRow = element.querySelector('tbody tr') as HTMLElement;
      const target = 10_000 * firstRow.offsetHeight;
      const nextFrame = () => new Promise((done) => requestAnimationFrame(done));
      const deadline = performance.now() + 120_000;
      // A fast, steady flick: 600 px a frame, waiting at the end while the next page loads.
      while (element.scrollTop + element.clientHeight < target && performance.now() < deadline) {
        element.scrollTop += 600;
        await nextFrame();
      }
    }),
  );
  const rowIndex = await scroller.evaluate((element) => {
    const rows = element.querySelectorAll('tbody tr[aria-rowindex]');
    return Number(rows[rows.length - 1]?.getAttribute('aria-rowindex') ?? 0);
  });
  expect(rowIndex).toBeGreaterThanOrEqual(10_000);
  results['grid-scroll-10000-rows'] = { ...frames, lastRowIndexInDom: rowIndex };
  console.log('grid scroll:', JSON.stringify(results['grid-scroll-10000-rows']));
});
