import { useEffect } from 'react';
import { Link, useParams } from 'react-router';
import { adoptShareTokenFromLocation } from '../api/credentials';
import { useDump, useSchemaGraph } from '../api/queries';
import { ErrorMessage } from '../components/ErrorMessage';
import { DumpPhase } from '../components/DumpPhase';
import { Tabs } from '../components/Tabs';
import { useUrlState } from '../url';
import { SchemaView } from '../features/schema/SchemaView';
import { ErView } from '../features/er/ErView';
import { DataBrowser } from '../features/data/DataBrowser';
import { RelationshipExplorer } from '../features/relationships/RelationshipExplorer';
import { SqlConsole } from '../features/console/SqlConsole';
import { ComparePanel } from '../features/compare/ComparePanel';

export const VIEWS = [
  { id: 'tables', label: 'Tables' },
  { id: 'er', label: 'ER diagram' },
  { id: 'data', label: 'Data' },
  { id: 'relationships', label: 'Relationships' },
  { id: 'console', label: 'SQL console' },
  { id: 'compare', label: 'Compare' },
] as const;
export type ViewId = (typeof VIEWS)[number]['id'];

/** What every view of a dump is given. The URL holds the rest of its state. */
export interface DumpViewProps {
  dumpId: string;
  /** The sandbox database (`{database}` in the API's paths). */
  database: string;
}

/** One dump: database switcher, the views as tabs, and the view the URL names. */
export function DumpPage() {
  const { id = '' } = useParams();
  useEffect(() => adoptShareTokenFromLocation(id), [id]);
  const dump = useDump(id);
  const [params, setParams] = useUrlState();
  const databases = dump.data?.databases ?? [];
  const database = params.get('db') ?? databases[0]?.sandbox;
  const view = (VIEWS.find((candidate) => candidate.id === params.get('view'))?.id ?? 'tables') as ViewId;
  // Fetched here so switching views does not wait for it again.
  useSchemaGraph(id, dump.data?.phase === 'Ready' ? database : undefined);

  if (dump.error) return <ErrorMessage error={dump.error} />;
  if (!dump.data) return <p className="muted">Loading…</p>;
  const info = dump.data;

  return (
    <section className="dump-page">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/">Dumps</Link> / <span>{info.name}</span>
      </nav>
      <header className="dump-header">
        <h1>{info.name}</h1>
        <DumpPhase dump={info} />
        {databases.length > 1 && (
          <label className="database-switcher">
            Database{' '}
            <select
              value={database}
              onChange={(event) => setParams({ db: event.target.value, table: null })}
            >
              {databases.map((candidate) => (
                <option key={candidate.sandbox} value={candidate.sandbox}>
                  {candidate.name ?? candidate.sandbox}
                </option>
              ))}
            </select>
          </label>
        )}
      </header>
      {info.phase === 'Ready' && database && (
        <>
          <Tabs tabs={VIEWS} selected={view} onSelect={(next) => setParams({ view: next })} label="Views" />
          <div role="tabpanel" className="view" key={database}>
            {view === 'tables' && <SchemaView dumpId={id} database={database} />}
            {view === 'er' && <ErView dumpId={id} database={database} />}
            {view === 'data' && <DataBrowser dumpId={id} database={database} />}
            {view === 'relationships' && <RelationshipExplorer dumpId={id} database={database} />}
            {view === 'console' && <SqlConsole dumpId={id} database={database} />}
            {view === 'compare' && <ComparePanel dumpId={id} database={database} />}
          </div>
        </>
      )}
    </section>
  );
}
