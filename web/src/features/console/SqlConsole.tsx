// The SQL console: one read-only query as the sandbox's reader, its rows in the shared grid or its
// plan as a tree. The query that ran is in the URL (`sql`, `explain`, `maxRows`), so a link runs
// it again and Back returns to the previous one.
import { useState, type KeyboardEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/ErrorMessage';
import { DataGrid, type GridRow } from '../../components/DataGrid';
import type { DumpViewProps } from '../../pages/DumpPage';
import { useUrlState } from '../../url';
import { PlanView } from './PlanView';
import './SqlConsole.css';

type Explain = Schemas['Explain'];
const EXPLAIN_MODES: { id: Explain; label: string }[] = [
  { id: 'no', label: 'Run the query' },
  { id: 'plan', label: 'EXPLAIN (the plan)' },
  { id: 'analyze', label: 'EXPLAIN ANALYZE (runs it)' },
];
const DEFAULT_MAX_ROWS = 1000;

function readExplain(text: string | null): Explain {
  return EXPLAIN_MODES.find((mode) => mode.id === text)?.id ?? 'no';
}

export function SqlConsole({ dumpId, database }: DumpViewProps) {
  const [params, setParams] = useUrlState();
  const sql = params.get('sql') ?? '';
  const explain = readExplain(params.get('explain'));
  const maxRows = Number(params.get('maxRows')) || DEFAULT_MAX_ROWS;
  const [draft, setDraft] = useState(sql);
  const [draftExplain, setDraftExplain] = useState<Explain>(explain);
  const [draftMaxRows, setDraftMaxRows] = useState(maxRows);
  // A query the URL changes to (a link, Back) replaces what is in the editor.
  const [shown, setShown] = useState({ sql, explain, maxRows });
  if (shown.sql !== sql || shown.explain !== explain || shown.maxRows !== maxRows) {
    setShown({ sql, explain, maxRows });
    setDraft(sql);
    setDraftExplain(explain);
    setDraftMaxRows(maxRows);
  }

  const result = useQuery({
    queryKey: ['console', dumpId, database, sql, explain, maxRows],
    queryFn: () =>
      unwrap(
        api.POST('/api/v1/dumps/{id}/databases/{database}/sql', {
          params: { path: { id: dumpId, database } },
          body: { sql, explain, maxRows },
        }),
      ),
    enabled: sql.trim() !== '',
    staleTime: Infinity,
    gcTime: 0,
  });

  const run = () => {
    if (!draft.trim()) return;
    const unchanged = draft === sql && draftExplain === explain && draftMaxRows === maxRows;
    if (unchanged) void result.refetch();
    else
      setParams({
        sql: draft,
        explain: draftExplain === 'no' ? null : draftExplain,
        maxRows: draftMaxRows === DEFAULT_MAX_ROWS ? null : String(draftMaxRows),
      });
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  };

  const answer = result.data;
  return (
    <section className="sql-console" aria-label="SQL console">
      <form
        className="sql-form"
        onSubmit={(event) => {
          event.preventDefault();
          run();
        }}
      >
        <label htmlFor="sql-text" className="muted">
          One read-only query, run as the sandbox's reader role (10 s at most). Ctrl+Enter (⌘+Enter) runs it.
        </label>
        <textarea
          id="sql-text"
          aria-label="SQL"
          className="mono"
          rows={8}
          spellCheck={false}
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
          placeholder="SELECT * FROM …"
        />
        <div className="sql-controls">
          <label>
            Mode{' '}
            <select aria-label="Mode" value={draftExplain} onChange={(event) => setDraftExplain(event.target.value as Explain)}>
              {EXPLAIN_MODES.map((mode) => (
                <option key={mode.id} value={mode.id}>
                  {mode.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Rows at most{' '}
            <input
              aria-label="Rows at most"
              type="number"
              min={1}
              max={10000}
              value={draftMaxRows}
              onChange={(event) => setDraftMaxRows(Math.min(10000, Math.max(1, Number(event.target.value) || 1)))}
            />
          </label>
          <button type="submit" className="primary" disabled={!draft.trim() || result.isFetching}>
            {result.isFetching ? 'Running…' : 'Run'}
          </button>
        </div>
      </form>
      <ErrorMessage error={result.error} />
      {answer && !result.error && (
        <>
          <p className="muted" role="status">
            {answer.plan != null
              ? `Plan in ${answer.milliseconds.toFixed(1)} ms.`
              : `${answer.rows.length.toLocaleString('en-US')} ${answer.rows.length === 1 ? 'row' : 'rows'} in ${answer.milliseconds.toFixed(1)} ms${
                  answer.truncated ? ` — cut at ${maxRows.toLocaleString('en-US')} rows (the query returned more)` : ''
                }.`}
          </p>
          {answer.plan != null ? (
            <PlanView plan={answer.plan} />
          ) : (
            <DataGrid label="Query result" columns={answer.columns} rows={answer.rows as GridRow[]} exportName="query" />
          )}
        </>
      )}
    </section>
  );
}
