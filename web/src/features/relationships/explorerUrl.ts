// The explorer's part of the URL: `table=S.T` and one `k.<column>=<value>` per key column.
import type { SchemaGraph } from '../../api/client';
import { isRecord } from '../../components/CellValue';

export const KEY_PREFIX = 'k.';

/** The key columns and values the URL names, in its order. */
export function keyFromParams(params: URLSearchParams): [string, string][] {
  return [...params.entries()]
    .filter(([name]) => name.startsWith(KEY_PREFIX) && name.length > KEY_PREFIX.length)
    .map(([name, value]) => [name.slice(KEY_PREFIX.length), value]);
}

/** The query string that explains another row: the current one's key replaced. */
export function explorerSearch(params: URLSearchParams, table: string, key: [string, string][]): string {
  const next = new URLSearchParams(params);
  for (const name of [...next.keys()]) if (name.startsWith(KEY_PREFIX)) next.delete(name);
  next.set('view', 'relationships');
  next.set('table', table);
  for (const [column, value] of key) next.set(KEY_PREFIX + column, value);
  return `?${next.toString()}`;
}

/** The primary-key columns of `schema.table`, or null when it has none. */
export function primaryKeyOf(graph: SchemaGraph | undefined, table: string): string[] | null {
  const found = graph?.tables.find((candidate) => `${candidate.schema}.${candidate.name}` === table);
  return found?.primaryKey?.columns ?? null;
}

/** A row's values of the key columns as URL text, or null when the row lacks one or it is NULL. */
export function keyOfRow(row: unknown, columns: string[]): [string, string][] | null {
  if (!isRecord(row)) return null;
  const key: [string, string][] = [];
  for (const column of columns) {
    const value = row[column];
    if (value === null || value === undefined) return null;
    key.push([column, typeof value === 'object' ? JSON.stringify(value) : String(value)]);
  }
  return key;
}

export function keyText(key: [string, string][]): string {
  return key.map(([column, value]) => `${column} = ${value}`).join(', ');
}
