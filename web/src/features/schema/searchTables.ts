// The schema explorer's filter: one text matched against the names and comments a reader would
// look for a table by.
import type { Table } from '../../api/client';

export interface TableMatch {
  table: Table;
  /** Why the table matched when its own name did not, e.g. `column rental_id`. */
  reasons: string[];
}

/** The tables whose name, comment, column names or column comments contain `query`
 *  (case-insensitive), in their original order; every table when the query is blank. */
export function searchTables(tables: readonly Table[], query: string): TableMatch[] {
  const needle = query.trim().toLowerCase();
  if (!needle) return tables.map((table) => ({ table, reasons: [] }));
  const contains = (text: string | null | undefined) => !!text && text.toLowerCase().includes(needle);
  const matches: TableMatch[] = [];
  for (const table of tables) {
    const reasons: string[] = [];
    const byName = contains(table.name) || contains(`${table.schema}.${table.name}`);
    if (contains(table.comment)) reasons.push('comment');
    for (const column of table.columns) {
      if (contains(column.name)) reasons.push(`column ${column.name}`);
      else if (contains(column.comment)) reasons.push(`comment on ${column.name}`);
    }
    if (byName || reasons.length) matches.push({ table, reasons: byName ? [] : reasons });
  }
  return matches;
}

/** Tables grouped by schema, schemas in the order they first appear. */
export function groupBySchema<T extends { table: Table }>(items: readonly T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.table.schema);
    if (group) group.push(item);
    else groups.set(item.table.schema, [item]);
  }
  return [...groups];
}
