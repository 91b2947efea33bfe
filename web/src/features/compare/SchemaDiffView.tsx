import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/ErrorMessage';
import { CellValue } from '../../components/CellValue';
import { CopyButton } from '../../components/CopyButton';
import { ChangeBadge } from './RowDiffTable';
import type { ComparedPair } from './ComparePanel';

/** Headings of the object kinds, in the order a reader expects them (the API's own order). */
const KIND_LABELS: Record<Schemas['ObjectKind'], string> = {
  schema: 'Schemas',
  extension: 'Extensions',
  enum: 'Enums',
  domain: 'Domains',
  sequence: 'Sequences',
  function: 'Functions and procedures',
  table: 'Tables',
  column: 'Columns',
  primaryKey: 'Primary keys',
  unique: 'Unique constraints',
  check: 'Check constraints',
  exclusion: 'Exclusion constraints',
  foreignKey: 'Foreign keys',
  index: 'Indexes',
  view: 'Views',
  materializedView: 'Materialized views',
  trigger: 'Triggers',
  policy: 'Row-level security policies',
};
const CHANGE_KINDS: Schemas['SchemaChangeKind'][] = ['added', 'removed', 'changed', 'renamed'];

function pathOf(pair: ComparedPair) {
  return { id: pair.dumpId, database: pair.database, other: pair.other, other_database: pair.otherDatabase };
}

/** Every object that differs, grouped by kind, and the migration script that turns A into B. */
export function SchemaDiffView({ pair }: { pair: ComparedPair }) {
  const path = pathOf(pair);
  const diff = useQuery({
    queryKey: ['schemaDiff', path],
    queryFn: async (): Promise<Schemas['SchemaDiff']> => {
      const answer = await unwrap(api.GET('/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/schema', { params: { path } }));
      // The operation declares both the JSON and the script; without format=sql it is the JSON.
      if (typeof answer === 'string') throw new Error('The server answered the schema diff with text instead of JSON.');
      return answer;
    },
    staleTime: Infinity,
  });
  const script = useQuery({
    queryKey: ['schemaDiffScript', path],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/schema', {
          params: { path, query: { format: 'sql' } },
          parseAs: 'text',
        }),
      ),
    staleTime: Infinity,
  });

  if (diff.error) return <ErrorMessage error={diff.error} />;
  if (!diff.data) return <p className="muted">Comparing the schemas…</p>;
  const changes = diff.data.changes;
  const counts = CHANGE_KINDS.map((kind) => [kind, changes.filter((change) => change.change === kind).length] as const).filter(
    ([, count]) => count > 0,
  );
  const kinds = (Object.keys(KIND_LABELS) as Schemas['ObjectKind'][]).filter((kind) => changes.some((change) => change.kind === kind));

  return (
    <div className="cmp-schema-diff">
      <p role="status">
        {changes.length === 0
          ? 'The schemas are the same.'
          : `${changes.length} ${changes.length === 1 ? 'object differs' : 'objects differ'}: ${counts.map(([kind, count]) => `${count} ${kind}`).join(', ')}.`}
      </p>
      {kinds.map((kind) => {
        const ofKind = changes.filter((change) => change.kind === kind);
        return (
          <section key={kind} aria-label={KIND_LABELS[kind]} className="cmp-change-group">
            <h3>
              {KIND_LABELS[kind]} <span className="muted">({ofKind.length})</span>
            </h3>
            <ul className="cmp-changes">
              {ofKind.map((change) => (
                <SchemaChangeItem key={`${change.change} ${change.name}`} change={change} />
              ))}
            </ul>
          </section>
        );
      })}
      {changes.length > 0 && (
        <section aria-labelledby="migration-heading" className="cmp-migration">
          <h3 id="migration-heading">Migration script (turns A into B)</h3>
          {script.error && <ErrorMessage error={script.error} />}
          {script.data !== undefined && (
            <>
              <CopyButton text={script.data} label="Copy the migration script" />
              <pre aria-label="Migration script">{script.data}</pre>
            </>
          )}
        </section>
      )}
    </div>
  );
}

function SchemaChangeItem({ change }: { change: Schemas['SchemaChange'] }) {
  return (
    <li className="cmp-change">
      <div className="cmp-change-title">
        <ChangeBadge change={change.change} /> <span className="mono">{change.name}</span>
        {change.renamedFrom && (
          <span className="muted">
            {' '}
            (was <span className="mono">{change.renamedFrom}</span>)
          </span>
        )}
      </div>
      {change.differences.length > 0 && (
        <table className="plain" aria-label={`Differences of ${change.name}`}>
          <thead>
            <tr>
              <th>Attribute</th>
              <th>A</th>
              <th>B</th>
            </tr>
          </thead>
          <tbody>
            {change.differences.map((difference) => (
              <tr key={difference.attribute}>
                <td>{difference.attribute}</td>
                <td className="cmp-diff-a">
                  <CellValue value={difference.a} />
                </td>
                <td className="cmp-diff-b">
                  <CellValue value={difference.b} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="cmp-change-sql">
        <pre>{change.sql}</pre>
        <CopyButton text={change.sql} label={`Copy the SQL of ${change.name}`} />
      </div>
    </li>
  );
}
