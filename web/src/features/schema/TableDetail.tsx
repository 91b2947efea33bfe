import { Link } from 'react-router';
import type { Schemas, SchemaGraph, Table } from '../../api/client';
import { tableKey } from '../../url';
import { formatBytes, formatCount } from '../../format';

type Constraint = Schemas['Constraint'];

export interface TableDetailProps {
  table: Table;
  graph: SchemaGraph;
  /** The URL's query string (with `?`) after applying `changes`. */
  hrefWith: (changes: Record<string, string | null>) => string;
}

const KIND_LABELS: Record<string, string> = {
  table: 'table',
  partitioned: 'partitioned table',
  foreign: 'foreign table',
};

/** Everything the schema graph knows about one table. */
export function TableDetail({ table, graph, hrefWith }: TableDetailProps) {
  const key = tableKey(table.schema, table.name);
  const linkToTable = (schema: string, name: string) => hrefWith({ table: tableKey(schema, name) });
  const primaryColumns = new Set(table.primaryKey?.columns ?? []);
  const foreignColumns = new Set(table.foreignKeys.flatMap((fk) => fk.columns));
  // Keys declared elsewhere that point here: the other half of the relationships.
  const referencedBy = graph.tables.flatMap((other) =>
    other.foreignKeys
      .filter((fk) => !fk.inherited && fk.references.schema === table.schema && fk.references.name === table.name)
      .map((fk) => ({ from: other, fk })),
  );
  const partitions = graph.tables.filter(
    (other) => other.partitionOf?.schema === table.schema && other.partitionOf.name === table.name,
  );
  const triggers = graph.triggers.filter((trigger) => trigger.schema === table.schema && trigger.table === table.name);

  return (
    <article className="table-detail" aria-labelledby="table-detail-title">
      <header className="table-detail-header">
        <h2 id="table-detail-title">
          <span className="muted">{table.schema}.</span>
          {table.name}
        </h2>
        <span className="table-kind">{KIND_LABELS[table.kind] ?? table.kind}</span>
        <div className="spacer" />
        <Link className="button-link" to={hrefWith({ view: 'data', table: key })}>
          Open in Data view
        </Link>
        <Link className="button-link" to={hrefWith({ view: 'er', table: key, scope: 'table' })}>
          Show in ER diagram
        </Link>
      </header>
      {table.comment && <p className="table-comment">{table.comment}</p>}
      <dl className="table-facts">
        <div>
          <dt>Estimated rows</dt>
          <dd>{table.rowEstimate == null ? <span className="null">not analysed</span> : formatCount(table.rowEstimate)}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd title={`${formatCount(table.sizeBytes)} bytes`}>{formatBytes(table.sizeBytes)}</dd>
        </div>
        <div>
          <dt>Columns</dt>
          <dd>{table.columns.length}</dd>
        </div>
        {table.partitionOf && (
          <div>
            <dt>Partition of</dt>
            <dd>
              <Link to={linkToTable(table.partitionOf.schema, table.partitionOf.name)}>
                {tableKey(table.partitionOf.schema, table.partitionOf.name)}
              </Link>
            </dd>
          </div>
        )}
        {table.inherits.length > 0 && (
          <div>
            <dt>Inherits</dt>
            <dd>
              {table.inherits.map((parent, index) => (
                <span key={tableKey(parent.schema, parent.name)}>
                  {index > 0 && ', '}
                  <Link to={linkToTable(parent.schema, parent.name)}>{tableKey(parent.schema, parent.name)}</Link>
                </span>
              ))}
            </dd>
          </div>
        )}
      </dl>

      <section aria-labelledby="columns-title">
        <h3 id="columns-title">Columns</h3>
        <table className="plain table-columns" aria-labelledby="columns-title">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Nullable</th>
              <th scope="col">Default</th>
              <th scope="col">Comment</th>
            </tr>
          </thead>
          <tbody>
            {table.columns.map((column) => (
              <tr key={column.name}>
                <th scope="row" className="mono">
                  {column.name}
                  {primaryColumns.has(column.name) && <abbr className="key-badge" title="primary key">PK</abbr>}
                  {foreignColumns.has(column.name) && <abbr className="key-badge" title="foreign key">FK</abbr>}
                </th>
                <td className="mono">{column.dataType}</td>
                <td>{column.nullable ? 'yes' : 'no'}</td>
                <td className="mono">
                  {column.generated
                    ? `generated: ${column.generated}`
                    : column.identity
                      ? `identity (${column.identity})`
                      : (column.default ?? <span className="null">none</span>)}
                </td>
                <td>{column.comment ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="primary-key-title">
        <h3 id="primary-key-title">Primary key</h3>
        {table.primaryKey ? (
          <p>
            <span className="mono">{table.primaryKey.columns.join(', ')}</span>{' '}
            <span className="muted">({table.primaryKey.name})</span>
          </p>
        ) : (
          <p className="muted">None.</p>
        )}
      </section>

      <section aria-labelledby="foreign-keys-title">
        <h3 id="foreign-keys-title">Foreign keys</h3>
        {table.foreignKeys.length ? (
          <table className="plain" aria-labelledby="foreign-keys-title">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Columns</th>
                <th scope="col">References</th>
                <th scope="col">On delete</th>
                <th scope="col">On update</th>
              </tr>
            </thead>
            <tbody>
              {table.foreignKeys.map((fk) => (
                <tr key={fk.name}>
                  <th scope="row" className="mono">{fk.name}</th>
                  <td className="mono">{fk.columns.join(', ')}</td>
                  <td className="mono">
                    <Link to={linkToTable(fk.references.schema, fk.references.name)}>
                      {tableKey(fk.references.schema, fk.references.name)}
                    </Link>{' '}
                    ({fk.referencedColumns.join(', ')})
                  </td>
                  <td>{fk.onDelete}</td>
                  <td>{fk.onUpdate}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">None.</p>
        )}
      </section>

      <section aria-labelledby="referenced-by-title">
        <h3 id="referenced-by-title">Referenced by</h3>
        {referencedBy.length ? (
          <ul className="plain-list">
            {referencedBy.map(({ from, fk }) => (
              <li key={`${tableKey(from.schema, from.name)}:${fk.name}`}>
                <Link to={linkToTable(from.schema, from.name)}>{tableKey(from.schema, from.name)}</Link>{' '}
                <span className="mono">({fk.columns.join(', ')})</span> <span className="muted">{fk.name}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No foreign key points here.</p>
        )}
      </section>

      <ConstraintSection title="Unique constraints" id="unique-title" constraints={table.unique} />
      <ConstraintSection title="Check constraints" id="checks-title" constraints={table.checks} />
      <ConstraintSection title="Exclusion constraints" id="exclusions-title" constraints={table.exclusions} />

      <section aria-labelledby="indexes-title">
        <h3 id="indexes-title">Indexes</h3>
        {table.indexes.length ? (
          <table className="plain" aria-labelledby="indexes-title">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Columns</th>
                <th scope="col">Definition</th>
              </tr>
            </thead>
            <tbody>
              {table.indexes.map((index) => (
                <tr key={index.name}>
                  <th scope="row" className="mono">
                    {index.name}
                    {index.primary ? (
                      <abbr className="key-badge" title="primary key">PK</abbr>
                    ) : (
                      index.unique && <span className="key-badge">unique</span>
                    )}
                  </th>
                  <td className="mono">{index.columns.join(', ')}</td>
                  <td className="mono">{index.definition}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">None.</p>
        )}
      </section>

      {partitions.length > 0 && (
        <section aria-labelledby="partitions-title">
          <h3 id="partitions-title">Partitions</h3>
          <ul className="plain-list">
            {partitions.map((partition) => (
              <li key={partition.name}>
                <Link to={linkToTable(partition.schema, partition.name)}>{tableKey(partition.schema, partition.name)}</Link>
              </li>
            ))}
          </ul>
        </section>
      )}

      {triggers.length > 0 && (
        <section aria-labelledby="triggers-title">
          <h3 id="triggers-title">Triggers</h3>
          <ul className="plain-list">
            {triggers.map((trigger) => (
              <li key={trigger.name} className="mono">
                {trigger.definition}
              </li>
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}

function ConstraintSection({ title, id, constraints }: { title: string; id: string; constraints: Constraint[] }) {
  return (
    <section aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      {constraints.length ? (
        <ul className="plain-list">
          {constraints.map((constraint) => (
            <li key={constraint.name}>
              <span className="mono">{constraint.name}</span>: <code>{constraint.definition}</code>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">None.</p>
      )}
    </section>
  );
}
