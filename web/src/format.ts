const COUNT = new Intl.NumberFormat('en-US');

/** A count with thousands separators, the same in every browser locale. */
export function formatCount(value: number): string {
  return COUNT.format(value);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count as people read it, in binary units with one decimal: 708485 → "691.9 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
