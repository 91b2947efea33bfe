// Starts one `dumplens serve` with the fixture dumps for the whole run, and stops it at the end.
import { join, resolve } from 'node:path';
import { REPO, serveDumps } from './serve';

export const FIXTURES = process.env.DUMPLENS_FIXTURES ?? resolve(REPO, '../shared/fixtures/dumps');
/** The dumps every test can rely on, by the names the API gives them. */
export const FIXTURE_FILES = [
  'pagila.pg18.custom.dump',
  'pagila-v2.pg18.custom.dump',
  'chinook.pg18.custom.dump',
  'cluster.pg18.dumpall.sql',
];

export default async function globalSetup() {
  const { url, stop } = await serveDumps(
    FIXTURE_FILES.map((file) => join(FIXTURES, file)),
    180_000,
  );
  process.env.DUMPLENS_URL = url;
  return stop;
}
