import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/ErrorMessage';
import { parseTableKey, tableKey, useUrlState } from '../../url';
import { RowDiffTable } from './RowDiffTable';
import type { ComparedPair } from './ComparePanel';

/** Changed rows per page of the row diff. */
const PAGE = 50;

function pathOf(pair: ComparedPair) {
  return { id: pair.dumpId, database: pair.database, other: pair.other, other_database: pair.otherDatabase };
}

function changeCount(table: { added: number; removed: number; changed: number }): number {
  return table.added + table.removed + table.changed;
}

/** The row changes of every table both sides have, and the changed rows of the chosen table. */
export function DataDiffView({ pair }: { pair: ComparedPair }) {
  const [params, setParams] = useUrlState();
  const path = pathOf(pair);
  const summary = useQuery({
    queryKey: ['dataDiff', path],
    queryFn: () => unwrap(api.GET('/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/data', { params: { path } })),
    staleTime: Infinity,
  });
  const chosen = params.get('cmpTable');

  if (summary.error) return <ErrorMessage error={summary.error} />;
  if (!summary.data) return <p className="muted">Comparing the rows of every table…</p>;
  const { tables, tablesOnlyInA, tablesOnlyInB } = summary.data;
  const differing = tables.filter((table) => changeCount(table) > 0);
  const same = tables.filter((table) => changeCount(table) === 0);

  return (
    <div className="cmp-data-diff">
      <p role="status">
        {differing.length === 0
          ? `The ${tables.length} tables both sides have hold the same rows.`
          : `${differing.length} of the ${tables.length} tables both sides have differ.`}
      </p>
      {differing.length > 0 && (
        <table className="plain cmp-data-summary" aria-label="Row changes per table">
          <thead>
            <tr>
              <th>Table</th>
              <th>Key</th>
              <th className="rel-number">Rows in A</th>
              <th className="rel-number">Rows in B</th>
              <th className="rel-number">Added</th>
              <th className="rel-number">Removed</th>
              <th className="rel-number">Changed</th>
              <th>Notes</th>
            </tr>
          </thead>
          <tbody>
            {differing.map((table) => {
              const key = tableKey(table.schema, table.table);
              return (
                <tr key={key} className={key === chosen ? 'cmp-chosen' : undefined}>
                  <td>
                    <button
                      type="button"
                      className="cmp-link-button"
                      aria-pressed={key === chosen}
                      onClick={() => setParams({ cmpTable: key, cmpOffset: null })}
                    >
                      {key}
                    </button>
                  </td>
                  <td className="mono">{table.key.length ? table.key.join(', ') : <span className="muted">none (rows as a multiset)</span>}</td>
                  <td className="rel-number">{table.rowsInA}</td>
                  <td className="rel-number">{table.rowsInB}</td>
                  <td className="rel-number cmp-count-added">{table.added}</td>
                  <td className="rel-number cmp-count-removed">{table.removed}</td>
                  <td className="rel-number cmp-count-changed">{table.changed}</td>
                  <td>
                    <TableNotes table={table} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {(tablesOnlyInA.length > 0 || tablesOnlyInB.length > 0) && (
        <ul className="cmp-only-in">
          {tablesOnlyInA.length > 0 && <li>Only in A (all rows removed): {tablesOnlyInA.join(', ')}</li>}
          {tablesOnlyInB.length > 0 && <li>Only in B (all rows added): {tablesOnlyInB.join(', ')}</li>}
        </ul>
      )}
      {same.length > 0 && (
        <details>
          <summary>{same.length} tables without row changes</summary>
          <p className="mono">
            {same.map((table) => tableKey(table.schema, table.table)).join(', ')}
          </p>
        </details>
      )}
      {chosen && <TableRowDiff key={chosen} pair={pair} table={chosen} />}
    </div>
  );
}

function TableNotes({ table }: { table: Schemas['TableSummary'] }) {
  const notes: string[] = [];
  if (!table.complete) notes.push('more differences than counted: the counts are lower bounds');
  if (table.columnsOnlyInA.length) notes.push(`columns only in A: ${table.columnsOnlyInA.join(', ')}`);
  if (table.columnsOnlyInB.length) notes.push(`columns only in B: ${table.columnsOnlyInB.join(', ')}`);
  return <span className="muted">{notes.join('; ')}</span>;
}

/** The changed rows of one table, a page at a time (the page's offset is in the URL). */
function TableRowDiff({ pair, table }: { pair: ComparedPair; table: string }) {
  const [params, setParams] = useUrlState();
  const name = parseTableKey(table);
  const offset = Math.max(0, Number.parseInt(params.get('cmpOffset') ?? '0', 10) || 0);
  const path = { ...pathOf(pair), schema: name?.schema ?? '', table: name?.name ?? '' };
  const rows = useQuery({
    queryKey: ['rowDiff', path, offset],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/tables/{schema}/{table}/rows', {
          params: { path, query: { offset, limit: PAGE } },
        }),
      ),
    enabled: !!name,
    staleTime: Infinity,
    placeholderData: (previous) => previous,
  });

  const headingId = `row-diff-${table}`;
  return (
    <section aria-labelledby={headingId} className="cmp-row-diff-section">
      <h3 id={headingId}>Changed rows of {table}</h3>
      {!name && <p className="error">“{table}” is not a table name (schema.table).</p>}
      {rows.error && <ErrorMessage error={rows.error} />}
      {rows.data && (
        <>
          <p>
            {rows.data.added} added, {rows.data.removed} removed, {rows.data.changed} changed
            {!rows.data.complete && ' (at least)'}
            {rows.data.key.length > 0 ? ` · matched by ${rows.data.key.join(', ')}` : ' · no key: compared as a multiset of rows'}
          </p>
          <RowDiffTable columns={rows.data.comparedColumns} changes={rows.data.changes} label={`Changed rows of ${table}`} />
          <Pager offset={offset} shown={rows.data.changes.length} total={changeCount(rows.data)} onOffset={(next) => setParams({ cmpOffset: next ? String(next) : null })} />
        </>
      )}
      {rows.isPending && name && <p className="muted">Comparing {table}…</p>}
    </section>
  );
}

function Pager({ offset, shown, total, onOffset }: { offset: number; shown: number; total: number; onOffset: (offset: number) => void }) {
  return (
    <nav className="cmp-pager" aria-label="Pages of changed rows">
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - PAGE))}>
        Previous
      </button>
      <span>{shown === 0 ? 'No changes' : `Changes ${offset + 1}–${offset + shown} of ${total}`}</span>
      <button type="button" disabled={offset + shown >= total} onClick={() => onOffset(offset + PAGE)}>
        Next
      </button>
    </nav>
  );
}
