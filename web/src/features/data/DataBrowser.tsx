// The data browser: a table's rows a keyset page at a time (scrolling loads the next), sorted and
// filtered by the URL, foreign keys as links to the rows they point at with breadcrumbs back.
import { useCallback, useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, unwrap, type Table } from '../../api/client';
import type { paths } from '../../api/schema';
import { useSchemaGraph } from '../../api/queries';
import { ErrorMessage } from '../../components/ErrorMessage';
import { TableOptions } from '../../components/TableOptions';
import { DataGrid, type GridColumn, type GridRow, type GridSort } from '../../components/DataGrid';
import type { DumpViewProps } from '../../pages/DumpPage';
import { parseTableKey, tableKey, useUrlState } from '../../url';
import {
  FILTER_OPS,
  OP_SYMBOLS,
  VALUELESS_OPS,
  dataViewSearch,
  decodeTrail,
  describeView,
  filterParam,
  formatFilter,
  isDataParam,
  readDataView,
  type ColumnFilter,
  type DataView,
  type FilterOp,
} from './dataUrl';
import './DataBrowser.css';

const PAGE_SIZE = 200;
const ROWS_PATH = '/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/rows';
type RowsQuery = NonNullable<paths[typeof ROWS_PATH]['get']['parameters']['query']>;

// The filters are not in the OpenAPI document (their names are the table's columns), and a
// column name may hold anything: URLSearchParams encodes names and values alike.
function serializeQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.toString();
}

function fetchRows(
  path: { id: string; database: string; schema: string; table: string },
  view: DataView,
  options: { after?: string | null; limit: number; exact?: boolean },
) {
  const query: RowsQuery & Record<`f.${string}`, string> = {
    limit: options.limit,
    sort: view.sort ?? undefined,
    desc: view.sort && view.desc ? true : undefined,
    after: options.after ?? undefined,
    count: options.exact ? 'exact' : undefined,
  };
  for (const filter of view.filters) query[`f.${filter.column}`] = formatFilter(filter);
  return unwrap(api.GET(ROWS_PATH, { params: { path, query }, querySerializer: serializeQuery }));
}

/** A value as URL text (the API casts it to the column's type). */
function urlValue(value: unknown): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function DataBrowser({ dumpId, database }: DumpViewProps) {
  const [params, setParams] = useUrlState();
  const graph = useSchemaGraph(dumpId, database);
  const tableName = params.get('table');
  const table = useMemo(() => {
    const key = parseTableKey(tableName);
    return key ? graph.data?.tables.find((candidate) => candidate.schema === key.schema && candidate.name === key.name) : undefined;
  }, [graph.data, tableName]);

  const chooseTable = (key: string) => {
    const changes: Record<string, string | null> = {};
    for (const name of params.keys()) if (isDataParam(name)) changes[name] = null;
    setParams({ ...changes, table: key || null });
  };

  return (
    <section className="data-browser" aria-label="Data browser">
      <label className="data-table-picker">
        Table{' '}
        <select value={table ? tableName ?? '' : ''} onChange={(event) => chooseTable(event.target.value)}>
          <option value="">Choose a table…</option>
          <TableOptions tables={graph.data?.tables ?? []} />
        </select>
      </label>
      <ErrorMessage error={graph.error} />
      {graph.data && tableName && !table && <p className="error">There is no table {tableName} in this database.</p>}
      {table && <TableRows key={tableName} dumpId={dumpId} database={database} table={table} />}
    </section>
  );
}

function TableRows({ dumpId, database, table }: DumpViewProps & { table: Table }) {
  const [params, setParams] = useUrlState();
  const view = useMemo(() => readDataView(params), [params]);
  const trail = useMemo(() => decodeTrail(params.get('trail')), [params]);
  const startAfter = params.get('after');
  const exactRequested = params.get('count') === 'exact';
  const path = { id: dumpId, database, schema: table.schema, table: table.name };
  const viewKey = [dumpId, database, view.table, view.sort, view.desc, view.filters.map((filter) => [filter.column, formatFilter(filter)])];

  const pages = useInfiniteQuery({
    queryKey: ['rows', ...viewKey, startAfter],
    queryFn: ({ pageParam }) => fetchRows(path, view, { after: pageParam, limit: PAGE_SIZE }),
    initialPageParam: startAfter,
    getNextPageParam: (page) => page.next ?? undefined,
  });
  const exact = useQuery({
    queryKey: ['rows-count', ...viewKey],
    queryFn: () => fetchRows(path, view, { limit: 1, exact: true }),
    enabled: exactRequested,
  });

  const first = pages.data?.pages[0];
  const columns: GridColumn[] = first?.columns ?? table.columns;
  const rows = useMemo(() => pages.data?.pages.flatMap((page) => page.rows as GridRow[]) ?? [], [pages.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = pages;
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const sort: GridSort | null = view.sort ? { column: view.sort, desc: view.desc } : null;
  const onSort = (next: GridSort | null) =>
    setParams({ sort: next?.column ?? null, desc: next?.desc ? '1' : null, after: null });
  const applyFilter = (column: string, filter: Pick<ColumnFilter, 'op' | 'value'> | null) =>
    setParams({ [filterParam(column)]: filter ? formatFilter(filter) : null, after: null });

  // Each column in a foreign key links to the row it points at (the first key it is part of).
  const foreignKeyOf = useMemo(() => {
    const byColumn = new Map<string, Table['foreignKeys'][number]>();
    for (const key of table.foreignKeys) for (const column of key.columns) if (!byColumn.has(column)) byColumn.set(column, key);
    return byColumn;
  }, [table.foreignKeys]);

  const renderCell = (column: GridColumn, value: unknown, row: GridRow) => {
    const key = foreignKeyOf.get(column.name);
    if (!key || value === null || value === undefined) return undefined;
    const values = key.columns.map((name) => row[name]);
    if (values.some((part) => part === null || part === undefined)) return undefined;
    const target: DataView = {
      table: tableKey(key.references.schema, key.references.name),
      sort: null,
      desc: false,
      filters: key.referencedColumns.map((name, index) => ({ column: name, op: 'eq', value: urlValue(values[index]) })),
    };
    return (
      <Link to={dataViewSearch(params, target, [...trail, view])} title={`Open ${describeView(target)}`}>
        {urlValue(value)}
      </Link>
    );
  };

  const primaryKey = table.primaryKey?.columns;
  const rowAction = primaryKey?.length
    ? (row: GridRow) => {
        const explorer = new URLSearchParams();
        const db = params.get('db');
        if (db) explorer.set('db', db);
        explorer.set('view', 'relationships');
        explorer.set('table', view.table);
        for (const column of primaryKey) explorer.set(`k.${column}`, urlValue(row[column]));
        const keyText = primaryKey.map((column) => `${column} = ${urlValue(row[column])}`).join(', ');
        return (
          <Link to={`?${explorer.toString()}`} className="data-row-action" aria-label={`Relationships of ${keyText}`} title={`Relationships of ${keyText}`}>
            ⤷
          </Link>
        );
      }
    : undefined;

  return (
    <>
      <Breadcrumbs trail={trail} current={view} />
      <div className="data-summary">
        <span>
          {first?.estimatedTotal != null && (
            <>
              <strong>{first.estimatedTotal.toLocaleString('en-US')}</strong> rows in the table (estimate)
            </>
          )}
        </span>
        {exactRequested ? (
          <span>
            {exact.data?.exactTotal != null ? (
              <>
                <strong>{exact.data.exactTotal.toLocaleString('en-US')}</strong> {view.filters.length ? 'match the filters' : 'rows'} (exact)
              </>
            ) : exact.error ? (
              <ErrorMessage error={exact.error} />
            ) : (
              <span className="muted">Counting…</span>
            )}
          </span>
        ) : (
          <button type="button" onClick={() => setParams({ count: 'exact' }, { replace: true })}>
            Count exactly
          </button>
        )}
        <span className="muted">
          {rows.length.toLocaleString('en-US')} loaded{hasNextPage ? ', more on scrolling' : ''}
          {first ? `; ordered by ${first.orderBy.join(', ')}` : ''}
        </span>
        <span className="spacer" />
        <button type="button" disabled={!startAfter} onClick={() => setParams({ after: null })}>
          First page
        </button>
        <button type="button" disabled={!first?.next} onClick={() => setParams({ after: first?.next ?? null })}>
          Next page
        </button>
        {view.filters.length > 0 && (
          <button
            type="button"
            onClick={() => setParams({ ...Object.fromEntries(view.filters.map((filter) => [filterParam(filter.column), null])), after: null })}
          >
            Clear filters
          </button>
        )}
      </div>
      <ErrorMessage error={pages.error} />
      <DataGrid
        label={`Rows of ${view.table}`}
        columns={columns}
        rows={rows}
        exportName={view.table}
        sort={sort}
        onSort={onSort}
        renderHeaderExtra={(column) => {
          const active = view.filters.find((filter) => filter.column === column.name) ?? null;
          return (
            <ColumnFilterInput
              // A new URL (Back, a cleared filter) starts the input afresh.
              key={active ? formatFilter(active) : ''}
              dumpId={dumpId}
              database={database}
              table={table}
              column={column.name}
              active={active}
              onApply={(filter) => applyFilter(column.name, filter)}
            />
          );
        }}
        renderCell={renderCell}
        rowAction={rowAction}
        onNearEnd={loadMore}
        footer={
          pages.isPending ? (
            <p className="muted data-grid-empty">Loading…</p>
          ) : hasNextPage ? (
            <p className="data-grid-empty">
              <button type="button" onClick={loadMore} disabled={isFetchingNextPage}>
                {isFetchingNextPage ? 'Loading more…' : 'Load more'}
              </button>
            </p>
          ) : null
        }
      />
      {first && (
        <details className="data-sql">
          <summary>SQL of this page</summary>
          <pre>{first.sql}</pre>
          {first.params.length > 0 && (
            <ol className="data-sql-params" aria-label="Parameters">
              {first.params.map((value, index) => (
                <li key={index}>
                  <code>${index + 1}</code> = {value === null ? <span className="null">NULL</span> : <code>{value}</code>}
                </li>
              ))}
            </ol>
          )}
        </details>
      )}
    </>
  );
}

function Breadcrumbs({ trail, current }: { trail: DataView[]; current: DataView }) {
  const [params] = useUrlState();
  if (!trail.length) return null;
  return (
    <nav className="breadcrumbs data-trail" aria-label="Followed foreign keys">
      <ol>
        {trail.map((view, index) => (
          <li key={index}>
            <Link to={dataViewSearch(params, view, trail.slice(0, index))}>{describeView(view)}</Link>
          </li>
        ))}
        <li aria-current="page">{describeView(current)}</li>
      </ol>
    </nav>
  );
}

function useDebounced<T>(value: T, milliseconds: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), milliseconds);
    return () => clearTimeout(timer);
  }, [value, milliseconds]);
  return settled;
}

/** One column's filter: an operator and a value, with the column's common values as
 *  suggestions (asked for once the input has focus). Enter or picking a suggestion applies it. */
function ColumnFilterInput({
  dumpId,
  database,
  table,
  column,
  active,
  onApply,
}: DumpViewProps & {
  table: Table;
  column: string;
  active: ColumnFilter | null;
  onApply: (filter: Pick<ColumnFilter, 'op' | 'value'> | null) => void;
}) {
  const [op, setOp] = useState<FilterOp>(active?.op ?? 'eq');
  const [value, setValue] = useState(active?.value ?? '');
  const [wanted, setWanted] = useState(false);
  const prefix = useDebounced(value, 200);
  const listId = useId();
  const suggestions = useQuery({
    queryKey: ['suggestions', dumpId, database, table.schema, table.name, column, prefix],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/columns/{column}/suggestions', {
          params: {
            path: { id: dumpId, database, schema: table.schema, table: table.name, column },
            query: { prefix: prefix || undefined, limit: 20 },
          },
        }),
      ),
    enabled: wanted && !VALUELESS_OPS.has(op),
    staleTime: Infinity,
    placeholderData: (previous) => previous,
  });
  const valueless = VALUELESS_OPS.has(op);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(valueless || value !== '' ? { op, value } : null);
  };

  return (
    <form className="data-filter" onSubmit={submit} role="search" aria-label={`Filter ${column}`}>
      <select
        aria-label={`Operator for ${column}`}
        value={op}
        onChange={(event) => {
          const next = event.target.value as FilterOp;
          setOp(next);
          if (VALUELESS_OPS.has(next)) onApply({ op: next, value: '' });
        }}
      >
        {FILTER_OPS.map((candidate) => (
          <option key={candidate} value={candidate} title={candidate}>
            {OP_SYMBOLS[candidate]}
          </option>
        ))}
      </select>
      {!valueless && (
        <input
          type="search"
          aria-label={`Value for ${column}`}
          list={listId}
          value={value}
          placeholder={active ? '' : 'filter'}
          onFocus={() => setWanted(true)}
          onChange={(event) => {
            setValue(event.target.value);
            // Picking from the datalist replaces the whole text: apply it at once.
            const input = event.nativeEvent as InputEvent;
            if (
              input.inputType === 'insertReplacementText' &&
              suggestions.data?.values.some((suggestion) => suggestion.value === event.target.value)
            ) {
              onApply({ op, value: event.target.value });
            }
            if (event.target.value === '' && active) onApply(null);
          }}
        />
      )}
      {active && valueless && (
        <button type="button" className="ghost" aria-label={`Remove the filter on ${column}`} onClick={() => onApply(null)}>
          ×
        </button>
      )}
      <datalist id={listId}>
        {suggestions.data?.values.map((suggestion) => (
          <option key={suggestion.value} value={suggestion.value}>
            {`${(suggestion.frequency * 100).toFixed(1)}%`}
          </option>
        ))}
      </datalist>
    </form>
  );
}
