/** One value of a row as JSON gave it: NULL marked as such, arrays and objects as JSON. */
export function CellValue({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="null">NULL</span>;
  if (typeof value === 'object') return <span className="mono">{JSON.stringify(value)}</span>;
  return <>{String(value)}</>;
}

/** The columns of some rows in the order their first row has them. */
export function columnsOf(rows: unknown[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) if (isRecord(row)) for (const column of Object.keys(row)) columns.add(column);
  return [...columns];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
