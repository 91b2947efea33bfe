import { useMemo } from 'react';
import { Link } from 'react-router';
import type { Table } from '../../api/client';
import { tableKey } from '../../url';
import { groupBySchema, searchTables } from './searchTables';

export interface TableListProps {
  tables: readonly Table[];
  query: string;
  onQueryChange: (query: string) => void;
  /** The selected table as `schema.name`. */
  selected: string | null;
  /** Where a table's entry links to (the URL's query string, with `?`). */
  hrefFor: (key: string) => string;
}

/** The explorer's side: a filter box over table, column and comment names, and the tables
 *  that match, grouped by schema. */
export function TableList({ tables, query, onQueryChange, selected, hrefFor }: TableListProps) {
  const matches = useMemo(() => searchTables(tables, query), [tables, query]);
  const groups = useMemo(() => groupBySchema(matches), [matches]);
  return (
    <div className="schema-list">
      <input
        type="search"
        aria-label="Search tables, columns and comments"
        placeholder="Search tables, columns, comments"
        value={query}
        onChange={(event) => onQueryChange(event.target.value)}
      />
      <p className="muted schema-list-count" aria-live="polite">
        {query.trim() ? `${matches.length} of ${tables.length} tables` : `${tables.length} tables`}
      </p>
      <nav aria-label="Tables">
        {groups.map(([schema, items]) => (
          <section key={schema} aria-label={`Schema ${schema}`}>
            <h3>{schema}</h3>
            <ul>
              {items.map(({ table, reasons }) => {
                const key = tableKey(table.schema, table.name);
                return (
                  <li key={key}>
                    <Link to={hrefFor(key)} aria-current={key === selected ? 'page' : undefined}>
                      {table.name}
                    </Link>
                    {reasons.length > 0 && <span className="muted schema-list-reason"> {reasons.join(', ')}</span>}
                  </li>
                );
              })}
            </ul>
          </section>
        ))}
      </nav>
    </div>
  );
}
