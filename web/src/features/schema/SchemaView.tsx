import { useCallback } from 'react';
import { useSchemaGraph } from '../../api/queries';
import { ErrorMessage } from '../../components/ErrorMessage';
import type { DumpViewProps } from '../../pages/DumpPage';
import { parseTableKey, useUrlState } from '../../url';
import { TableDetail } from './TableDetail';
import { TableList } from './TableList';
import './schema.css';

/** The Tables view: the schema explorer (URL `q`) beside the selected table (URL `table`). */
export function SchemaView({ dumpId, database }: DumpViewProps) {
  const graph = useSchemaGraph(dumpId, database);
  const [params, setParams] = useUrlState();
  const query = params.get('q') ?? '';
  const selectedKey = params.get('table');

  const hrefWith = useCallback(
    (changes: Record<string, string | null>) => {
      const next = new URLSearchParams(params);
      for (const [name, value] of Object.entries(changes)) {
        if (value === null) next.delete(name);
        else next.set(name, value);
      }
      return `?${next}`;
    },
    [params],
  );
  const hrefFor = useCallback((key: string) => hrefWith({ table: key }), [hrefWith]);
  // Each keystroke replaces the history entry: back should leave the search, not undo a letter.
  const onQueryChange = useCallback((text: string) => setParams({ q: text }, { replace: true }), [setParams]);

  if (graph.error) return <ErrorMessage error={graph.error} />;
  if (!graph.data) return <p className="muted">Loading the schema…</p>;
  const selected = parseTableKey(selectedKey);
  const table = selected && graph.data.tables.find((candidate) => candidate.schema === selected.schema && candidate.name === selected.name);

  return (
    <div className="schema-view">
      <TableList
        tables={graph.data.tables}
        query={query}
        onQueryChange={onQueryChange}
        selected={selectedKey}
        hrefFor={hrefFor}
      />
      <div className="schema-detail">
        {table ? (
          <TableDetail table={table} graph={graph.data} hrefWith={hrefWith} />
        ) : selectedKey ? (
          <p className="error" role="alert">
            There is no table {selectedKey} in this database.
          </p>
        ) : (
          <div className="schema-summary">
            <p>
              {graph.data.tables.length} tables, {graph.data.views.length} views, {graph.data.sequences.length} sequences,{' '}
              {graph.data.functions.length} functions in {graph.data.schemas.length} schemas.
            </p>
            <p className="muted">Choose a table to see its columns, keys and indexes.</p>
          </div>
        )}
      </div>
    </div>
  );
}
