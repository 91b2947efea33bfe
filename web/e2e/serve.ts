// One `dumplens serve` (the real binary, its own PostgreSQL 18) for a Playwright run: started
// with the given dump files, ready once every one of them is, stopped by the returned function.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PlaywrightTestOptions, PlaywrightWorkerOptions } from '@playwright/test';

export const REPO = resolve(import.meta.dirname, '../..');

/** The Chromium every run drives: Debian's (Playwright's own download cannot run on the machines
 *  this project is built on), headless, without the sandbox root cannot have. */
export const CHROMIUM: Pick<PlaywrightTestOptions & PlaywrightWorkerOptions, 'browserName' | 'launchOptions' | 'viewport'> = {
  browserName: 'chromium',
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  },
  viewport: { width: 1400, height: 900 },
};

export interface ServedDump {
  id: string;
  name: string;
  phase: string;
  message?: string;
}

export async function serveDumps(files: string[], readyWithinMs: number) {
  const binary = process.env.DUMPLENS_BIN ?? join(REPO, 'target/debug/dumplens');
  // The server's PostgreSQL runs as an unprivileged user when this runs as root: its data
  // directory must be reachable by that user.
  const dataDir = mkdtempSync(join(tmpdir(), 'dumplens-serve-'));
  chmodSync(dataDir, 0o755);
  const child = spawn(
    binary,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--pg-bindir', realpathSync(join(REPO, '.tools/postgres/bin')), ...files],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
      env: { ...process.env, DUMPLENS_LOG: process.env.DUMPLENS_LOG ?? 'warn' },
    },
  );
  const stop = async () => {
    await new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      process.kill(-child.pid!, 'SIGTERM');
    });
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`dumplens serve exited (${code}) before it was ready`)));
      createInterface({ input: child.stdout! }).once('line', (line) => {
        const match = /^PgDumpLens is ready at (\S+)/.exec(line);
        if (match) resolveUrl(match[1].replace(/\/$/, ''));
        else reject(new Error(`unexpected first line from dumplens serve: ${line}`));
      });
    });

    const deadline = Date.now() + readyWithinMs;
    for (;;) {
      const dumps = (await (await fetch(`${url}/api/v1/dumps`)).json()) as ServedDump[];
      const failed = dumps.find((dump) => dump.phase === 'Failed');
      if (failed) throw new Error(`${failed.name} failed to restore: ${failed.message}`);
      if (dumps.length === files.length && dumps.every((dump) => dump.phase === 'Ready')) return { url, dumps, stop };
      if (Date.now() > deadline) throw new Error(`the dumps are not Ready after ${readyWithinMs / 1000} s: ${JSON.stringify(dumps)}`);
      await new Promise((wake) => setTimeout(wake, 500));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}
