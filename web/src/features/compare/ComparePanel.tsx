// Compares this database (A) with another (B): of another dump, another database of this dump,
// or a dump uploaded here. What is compared lives in the URL: `other`, `otherDb`, `cmp`
// (schema|data), `cmpTable` and `cmpOffset`.
import { useId } from 'react';
import { useDumps } from '../../api/queries';
import { DumpPhase } from '../../components/DumpPhase';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Tabs } from '../../components/Tabs';
import { UploadDropzone } from '../../components/UploadDropzone';
import type { DumpViewProps } from '../../pages/DumpPage';
import { useUrlState } from '../../url';
import { DataDiffView } from './DataDiffView';
import { SchemaDiffView } from './SchemaDiffView';
import '../relationships/relationships.css';
import './compare.css';

/** The two databases a comparison reads: A is the page's, B the chosen one. */
export interface ComparedPair {
  dumpId: string;
  database: string;
  other: string;
  otherDatabase: string;
}

const MODES = [
  { id: 'schema', label: 'Schema changes' },
  { id: 'data', label: 'Row changes' },
] as const;

export function ComparePanel({ dumpId, database }: DumpViewProps) {
  const [params, setParams] = useUrlState();
  const dumps = useDumps();
  const pickerId = useId();
  const otherId = params.get('other');
  const other = dumps.data?.find((dump) => dump.id === otherId);
  const otherDatabases = other?.databases ?? [];
  // Against this dump, another of its databases by default: a database against itself is empty.
  const otherDatabase =
    params.get('otherDb') ??
    (otherDatabases.find((candidate) => otherId !== dumpId || candidate.sandbox !== database) ?? otherDatabases[0])?.sandbox;
  const mode = params.get('cmp') === 'data' ? 'data' : 'schema';
  const thisDump = dumps.data?.find((dump) => dump.id === dumpId);
  const nameOf = (sandbox: string, databases: typeof otherDatabases) =>
    databases.find((candidate) => candidate.sandbox === sandbox)?.name ?? sandbox;

  if (dumps.error) return <ErrorMessage error={dumps.error} />;
  const choices = (dumps.data ?? []).filter((dump) => dump.phase === 'Ready' || dump.id === otherId);
  const ready = other?.phase === 'Ready' && !!otherDatabase;
  const pair: ComparedPair | null = ready && otherId ? { dumpId, database, other: otherId, otherDatabase } : null;

  return (
    <div className="compare">
      <form className="compare-picker" aria-label="The other side (B)" onSubmit={(event) => event.preventDefault()}>
        <label htmlFor={`${pickerId}-dump`}>Compare with</label>
        <select
          id={`${pickerId}-dump`}
          value={otherId ?? ''}
          onChange={(event) => setParams({ other: event.target.value, otherDb: null, cmpTable: null, cmpOffset: null })}
        >
          <option value="" disabled>
            Choose a dump…
          </option>
          {choices.map((dump) => (
            <option key={dump.id} value={dump.id}>
              {dump.id === dumpId ? `${dump.name} (this dump)` : dump.name}
            </option>
          ))}
        </select>
        {otherDatabases.length > 1 && otherDatabase && (
          <label>
            Its database{' '}
            <select value={otherDatabase} onChange={(event) => setParams({ otherDb: event.target.value, cmpTable: null, cmpOffset: null })}>
              {otherDatabases.map((candidate) => (
                <option key={candidate.sandbox} value={candidate.sandbox}>
                  {candidate.name ?? candidate.sandbox}
                </option>
              ))}
            </select>
          </label>
        )}
      </form>
      <details className="compare-upload">
        <summary>…or upload another dump to compare with</summary>
        <UploadDropzone
          onUploaded={(uploadedId) => setParams({ other: uploadedId, otherDb: null, cmpTable: null, cmpOffset: null })}
        />
      </details>
      {otherId && dumps.data && !other && <p className="error">There is no dump {otherId} to compare with.</p>}
      {other && other.phase !== 'Ready' && (
        <p>
          {other.name} is not ready yet: <DumpPhase dump={other} />
        </p>
      )}
      {!otherId && <p className="muted">Choose a dump (or another database of this one) to see what differs.</p>}
      {pair && other && (
        <>
          <p className="compare-sides">
            <span className="cmp-side-label">A</span> {thisDump?.name ?? dumpId} / {nameOf(database, thisDump?.databases ?? [])}
            <span aria-hidden="true"> → </span>
            <span className="cmp-side-label">B</span> {other.name} / {nameOf(pair.otherDatabase, otherDatabases)}
          </p>
          <Tabs tabs={MODES} selected={mode} onSelect={(next) => setParams({ cmp: next })} label="Comparison" className="compare-tabs" />
          <div role="tabpanel" aria-label={MODES.find((candidate) => candidate.id === mode)?.label}>
            {mode === 'schema' ? <SchemaDiffView pair={pair} /> : <DataDiffView pair={pair} />}
          </div>
        </>
      )}
    </div>
  );
}
