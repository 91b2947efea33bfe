const COUNT = new Intl.NumberFormat('en-US');

/** A count with thousands separators, the same in every browser locale. */
export function formatCount(value: number): string {
  return COUNT.format(value);
}

/** Bytes in binary units, as PostgreSQL's pg_size_pretty rounds them (e.g. `928 kB`). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  // pg_size_pretty steps up a unit only past 10 × 1024 of the smaller one.
  while (Math.abs(value) >= 10 * 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatCount(Math.round(value))} ${units[unit]}`;
}
