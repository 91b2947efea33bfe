// Generates the benchmark's 1,000-table dump and starts a `dumplens serve` of its own with it
// (the real binary and its own PostgreSQL 18, as e2e/global-setup.ts does for the fixtures).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeBenchDump } from './generate-dump';

const repo = resolve(import.meta.dirname, '../..');
const DUMP_NAME = 'bench-1000-tables.sql';

export default async function globalSetup() {
  const binary = process.env.DUMPLENS_BIN ?? join(repo, 'target/debug/dumplens');
  const dir = mkdtempSync(join(tmpdir(), 'dumplens-bench-'));
  // The server's PostgreSQL runs as an unprivileged user when this runs as root.
  chmodSync(dir, 0o755);
  const dump = join(dir, DUMP_NAME);
  await writeBenchDump(dump);
  const dataDir = join(dir, 'data');
  const child = spawn(
    binary,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--pg-bindir', realpathSync(join(repo, '.tools/postgres/bin')), dump],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true, env: { ...process.env, DUMPLENS_LOG: process.env.DUMPLENS_LOG ?? 'warn' } },
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

  const deadline = Date.now() + 300_000;
  for (;;) {
    const dumps = (await (await fetch(`${url}/api/v1/dumps`)).json()) as { id: string; phase: string; message?: string }[];
    if (dumps[0]?.phase === 'Failed') throw new Error(`the benchmark dump failed to restore: ${dumps[0].message}`);
    if (dumps[0]?.phase === 'Ready') {
      process.env.DUMPLENS_BENCH_DUMP = dumps[0].id;
      break;
    }
    if (Date.now() > deadline) throw new Error(`the benchmark dump is not Ready after 300 s: ${JSON.stringify(dumps)}`);
    await new Promise((wake) => setTimeout(wake, 500));
  }

  return async () => {
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      process.kill(-child.pid!, 'SIGTERM');
    });
    rmSync(dir, { recursive: true, force: true });
  };
}
