// Starts one `dumplens serve` (the real binary, its own PostgreSQL 18) with the fixture dumps,
// waits until every dump is Ready, and stops it when the run ends.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
export const FIXTURES = process.env.DUMPLENS_FIXTURES ?? resolve(repo, '../shared/fixtures/dumps');
/** The dumps every test can rely on, by the names the API gives them. */
export const FIXTURE_FILES = [
  'pagila.pg18.custom.dump',
  'pagila-v2.pg18.custom.dump',
  'chinook.pg18.custom.dump',
  'cluster.pg18.dumpall.sql',
];

export default async function globalSetup() {
  const binary = process.env.DUMPLENS_BIN ?? join(repo, 'target/debug/dumplens');
  // The server's PostgreSQL runs as an unprivileged user when this runs as root: its data
  // directory must be reachable by that user.
  const dataDir = mkdtempSync(join(tmpdir(), 'dumplens-e2e-'));
  chmodSync(dataDir, 0o755);
  const child = spawn(
    binary,
    [
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--pg-bindir',
      realpathSync(join(repo, '.tools/postgres/bin')),
      ...FIXTURE_FILES.map((file) => join(FIXTURES, file)),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
      env: { ...process.env, DUMPLENS_LOG: process.env.DUMPLENS_LOG ?? 'warn' },
    },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once('exit', (code) => reject(new Error(`dumplens serve exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const match = /^PgDumpLens is ready at (\S+)/.exec(line);
      if (match) resolveUrl(match[1].replace(/\/$/, ''));
      else reject(new Error(`unexpected first line from dumplens serve: ${line}`));
    });
  });
  process.env.DUMPLENS_URL = url;

  const deadline = Date.now() + 180_000;
  for (;;) {
    const dumps = (await (await fetch(`${url}/api/v1/dumps`)).json()) as { name: string; phase: string; message?: string }[];
    const failed = dumps.find((dump) => dump.phase === 'Failed');
    if (failed) throw new Error(`fixture ${failed.name} failed to restore: ${failed.message}`);
    if (dumps.length === FIXTURE_FILES.length && dumps.every((dump) => dump.phase === 'Ready')) break;
    if (Date.now() > deadline) throw new Error(`fixtures not Ready after 180 s: ${JSON.stringify(dumps)}`);
    await new Promise((wake) => setTimeout(wake, 500));
  }

  return async () => {
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      process.kill(-child.pid!, 'SIGTERM');
    });
    rmSync(dataDir, { recursive: true, force: true });
  };
}
