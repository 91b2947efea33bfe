// Explains one row: what references it, what it references, what deleting it would do and how
// risky that is. The row is named by the URL (`table`, `k.<column>`), so every row is a link.
import { useId, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas, type SchemaGraph } from '../../api/client';
import { useSchemaGraph } from '../../api/queries';
import { ErrorMessage } from '../../components/ErrorMessage';
import { TableOptions } from '../../components/TableOptions';
import type { DumpViewProps } from '../../pages/DumpPage';
import { parseTableKey, tableKey, useUrlState, type UrlUpdate } from '../../url';
import { CellValue, columnsOf } from '../../components/CellValue';
import { SqlBlock } from '../../components/CopyButton';
import { explorerSearch, keyFromParams, keyOfRow, keyText, KEY_PREFIX, primaryKeyOf } from './explorerUrl';
import { RiskSummary } from './RiskSummary';
import './relationships.css';

/** Sample rows asked for per referencing foreign key. */
const SAMPLES = 5;

export function RelationshipExplorer({ dumpId, database }: DumpViewProps) {
  const [params] = useUrlState();
  const table = parseTableKey(params.get('table'));
  const key = keyFromParams(params);
  const graph = useSchemaGraph(dumpId, database);
  if (!table || key.length === 0) return <RowPicker graph={graph.data} graphError={graph.error} />;
  return <RowExplanation dumpId={dumpId} database={database} table={table} rowKey={key} graph={graph.data} />;
}

/** Choose a table with a primary key and type the key of one of its rows. */
function RowPicker({ graph, graphError }: { graph: SchemaGraph | undefined; graphError: Error | null }) {
  const [params, setParams] = useUrlState();
  const [table, setTable] = useState(params.get('table') ?? '');
  const [values, setValues] = useState<Record<string, string>>({});
  if (graphError) return <ErrorMessage error={graphError} />;
  if (!graph) return <p className="muted">Loading tables…</p>;
  const tables = graph.tables
    .filter((candidate) => candidate.primaryKey)
    .sort((a, b) => tableKey(a.schema, a.name).localeCompare(tableKey(b.schema, b.name)));
  const known = tables.some((candidate) => tableKey(candidate.schema, candidate.name) === table);
  const columns = primaryKeyOf(graph, table) ?? [];

  function submit(event: FormEvent) {
    event.preventDefault();
    const changes: UrlUpdate = { table };
    for (const name of params.keys()) if (name.startsWith(KEY_PREFIX)) changes[name] = null;
    for (const column of columns) changes[KEY_PREFIX + column] = values[column] ?? '';
    setParams(changes);
  }

  return (
    <form className="rel-row-picker" onSubmit={submit} aria-label="Choose a row">
      <p className="muted">Pick a table and the primary key of one of its rows to see what references it and what deleting it would do.</p>
      <label>
        Table{' '}
        <select
          value={known ? table : ''}
          onChange={(event) => {
            setTable(event.target.value);
            setValues({});
          }}
          required
        >
          <option value="" disabled>
            Choose a table…
          </option>
          <TableOptions tables={tables} />
        </select>
      </label>
      {columns.map((column) => (
        <label key={column}>
          {column}{' '}
          <input
            value={values[column] ?? ''}
            onChange={(event) => setValues({ ...values, [column]: event.target.value })}
            required
          />
        </label>
      ))}
      <button type="submit" className="primary" disabled={columns.length === 0}>
        Explain row
      </button>
    </form>
  );
}

interface RowExplanationProps extends DumpViewProps {
  table: { schema: string; name: string };
  rowKey: [string, string][];
  graph: SchemaGraph | undefined;
}

function RowExplanation({ dumpId, database, table, rowKey, graph }: RowExplanationProps) {
  const [, setParams] = useUrlState();
  const explanation = useQuery({
    queryKey: ['relationships', dumpId, database, table.schema, table.name, rowKey],
    queryFn: () => {
      // The key columns are query parameters named by the table's columns, which the typed
      // client cannot know: they travel beside the declared `samples`.
      const query = { samples: SAMPLES, ...Object.fromEntries(rowKey.map(([column, value]) => [KEY_PREFIX + column, value])) };
      return unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/relationships', {
          params: { path: { id: dumpId, database, schema: table.schema, table: table.name }, query },
        }),
      );
    },
  });
  const clearKey = () => {
    const changes: UrlUpdate = {};
    for (const [column] of rowKey) changes[KEY_PREFIX + column] = null;
    setParams(changes);
  };

  return (
    <div className="relationships">
      <header className="relationships-header">
        <h2>
          {tableKey(table.schema, table.name)} <span className="muted">{keyText(rowKey)}</span>
        </h2>
        <button type="button" onClick={clearKey}>
          Choose another row
        </button>
      </header>
      {explanation.error && <ErrorMessage error={explanation.error} />}
      {explanation.isPending && <p className="muted">Loading…</p>}
      {explanation.data && <ExplanationView explanation={explanation.data} graph={graph} />}
    </div>
  );
}

function ExplanationView({ explanation, graph }: { explanation: Schemas['Explanation']; graph: SchemaGraph | undefined }) {
  return (
    <>
      <RowsTable rows={[explanation.row]} label={`The row of ${explanation.table}`} />
      <RiskSummary risk={explanation.risk} />
      <DeleteEffectsView effects={explanation.delete} params={explanation.params} />
      <section aria-labelledby="inbound-heading">
        <h2 id="inbound-heading">Referenced by ({explanation.inbound.length} foreign keys)</h2>
        {explanation.inbound.length === 0 && <p className="muted">No foreign key points at this table.</p>}
        {explanation.inbound.map((inbound) => (
          <InboundView key={inbound.constraint} inbound={inbound} params={explanation.params} graph={graph} />
        ))}
      </section>
      <section aria-labelledby="outbound-heading">
        <h2 id="outbound-heading">References ({explanation.outbound.length} foreign keys)</h2>
        {explanation.outbound.length === 0 && <p className="muted">This table has no foreign keys.</p>}
        {explanation.outbound.map((outbound) => (
          <OutboundView key={outbound.constraint} outbound={outbound} params={explanation.params} graph={graph} />
        ))}
      </section>
    </>
  );
}

function DeleteEffectsView({ effects, params }: { effects: Schemas['DeleteEffects']; params: (string | null)[] }) {
  return (
    <section aria-labelledby="delete-heading" className="rel-delete-effects">
      <h2 id="delete-heading">What DELETE would do</h2>
      <p className={effects.allowed ? 'rel-delete-allowed' : 'rel-delete-blocked'} role="status">
        {effects.allowed
          ? 'The delete would succeed.'
          : 'The delete would fail: rows reference it through a RESTRICT or NO ACTION foreign key.'}
      </p>
      {!effects.complete && (
        <p className="rel-warning">Rows were still cascading when counting stopped: the numbers below are lower bounds.</p>
      )}
      <SqlBlock sql={effects.sql} params={params} label="Copy the DELETE statement" />
      {effects.steps.length > 0 && (
        <table className="plain" aria-label="Delete chain">
          <thead>
            <tr>
              <th>Hop</th>
              <th>Table</th>
              <th>Foreign key</th>
              <th>References</th>
              <th>ON DELETE</th>
              <th className="rel-number">Rows</th>
              <th>SQL</th>
            </tr>
          </thead>
          <tbody>
            {effects.steps.map((step, index) => (
              <tr key={index}>
                <td className="rel-number">{step.depth}</td>
                <td>{step.table}</td>
                <td className="mono">{step.constraint}</td>
                <td>{step.references}</td>
                <td>
                  <ActionBadge action={step.action} />
                </td>
                <td className="rel-number">{step.rows}</td>
                <td>
                  <SqlBlock sql={step.sql} params={params} label={`Copy the SQL counting ${step.table} rows`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <table className="plain" aria-label="Rows affected per table">
        <thead>
          <tr>
            <th>Table</th>
            <th className="rel-number">Deleted</th>
            <th className="rel-number">Updated</th>
          </tr>
        </thead>
        <tbody>
          {effects.tables.map((effect) => (
            <tr key={effect.table}>
              <td>{effect.table}</td>
              <td className="rel-number">{effect.deleted}</td>
              <td className="rel-number">{effect.updated}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** An ON DELETE action, coloured by what it does to the referencing rows. */
function ActionBadge({ action }: { action: string }) {
  const kind = action === 'CASCADE' ? 'cascade' : action.startsWith('SET ') ? 'set' : 'block';
  return <span className={`rel-action-badge rel-action-${kind}`}>{action}</span>;
}

interface ForeignKeyViewProps {
  params: (string | null)[];
  graph: SchemaGraph | undefined;
}

function InboundView({ inbound, params, graph }: ForeignKeyViewProps & { inbound: Schemas['Inbound'] }) {
  const headingId = useId();
  return (
    <section aria-labelledby={headingId} className="rel-foreign-key">
      <h3 id={headingId}>{inbound.table}</h3>
      <p>
        <span className="mono">
          ({inbound.columns.join(', ')}) → ({inbound.referencedColumns.join(', ')})
        </span>{' '}
        through <span className="mono">{inbound.constraint}</span>, ON DELETE <ActionBadge action={inbound.onDelete} />
        {' · '}
        <strong>{inbound.count}</strong> referencing {inbound.count === 1 ? 'row' : 'rows'}
        {inbound.samples.length < inbound.count && <span className="muted"> (showing {inbound.samples.length})</span>}
      </p>
      {inbound.samples.length > 0 && (
        <RowsTable
          rows={inbound.samples}
          label={`Rows of ${inbound.table} referencing it`}
          table={inbound.table}
          keyColumns={primaryKeyOf(graph, inbound.table)}
        />
      )}
      <SqlBlock sql={inbound.sql} params={params} label={`Copy the SQL counting ${inbound.table} rows`} />
    </section>
  );
}

function OutboundView({ outbound, params, graph }: ForeignKeyViewProps & { outbound: Schemas['Outbound'] }) {
  const headingId = useId();
  const points = outbound.row !== null && outbound.row !== undefined;
  return (
    <section aria-labelledby={headingId} className="rel-foreign-key">
      <h3 id={headingId}>{outbound.table}</h3>
      <p>
        <span className="mono">
          ({outbound.columns.join(', ')}) → ({outbound.referencedColumns.join(', ')})
        </span>{' '}
        through <span className="mono">{outbound.constraint}</span>
        {!points && <span className="muted"> · the key is NULL: it points nowhere</span>}
      </p>
      {points && (
        <RowsTable
          rows={[outbound.row]}
          label={`Row of ${outbound.table} it references`}
          table={outbound.table}
          keyColumns={primaryKeyOf(graph, outbound.table)}
        />
      )}
      <SqlBlock sql={outbound.sql} params={params} label={`Copy the SQL reading the ${outbound.table} row`} />
    </section>
  );
}

interface RowsTableProps {
  rows: unknown[];
  label: string;
  /** With its key columns, each row links to the explanation of that row. */
  table?: string;
  keyColumns?: string[] | null;
}

/** Rows as a small table; clicking a row (or its link, by keyboard) explains that row. */
function RowsTable({ rows, label, table, keyColumns }: RowsTableProps) {
  const [params] = useUrlState();
  const navigate = useNavigate();
  const columns = columnsOf(rows);
  const linked = table !== undefined && !!keyColumns;
  return (
    <div className="rel-rows-scroll">
      <table className="plain rel-rows" aria-label={label}>
        <thead>
          <tr>
            {linked && (
              <th>
                <span className="visually-hidden">Explore</span>
              </th>
            )}
            {columns.map((column) => (
              <th key={column}>{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => {
            const key = linked ? keyOfRow(row, keyColumns) : null;
            const search = key && table ? explorerSearch(params, table, key) : null;
            const record = row as Record<string, unknown>;
            return (
              <tr
                key={index}
                className={search ? 'rel-explorable' : undefined}
                onClick={search ? () => navigate({ search }) : undefined}
              >
                {linked && (
                  <td>
                    {search && key && (
                      <Link
                        to={{ search }}
                        aria-label={`Explore ${table} ${keyText(key)}`}
                        onClick={(event) => event.stopPropagation()}
                      >
                        Explore
                      </Link>
                    )}
                  </td>
                )}
                {columns.map((column) => (
                  <td key={column}>
                    <CellValue value={record[column]} />
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
