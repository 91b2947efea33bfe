// Generates the benchmark's 1,000-table dump and starts a `dumplens serve` of its own with it.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDumps } from '../e2e/serve';
import { writeBenchDump } from './generate-dump';

export default async function globalSetup() {
  const dir = mkdtempSync(join(tmpdir(), 'dumplens-bench-'));
  // The server's restore reads it as an unprivileged user when this runs as root.
  chmodSync(dir, 0o755);
  const dump = join(dir, 'bench-1000-tables.sql');
  await writeBenchDump(dump);
  const { url, dumps, stop } = await serveDumps([dump], 300_000);
  process.env.DUMPLENS_URL = url;
  process.env.DUMPLENS_BENCH_DUMP = dumps[0].id;
  return async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
