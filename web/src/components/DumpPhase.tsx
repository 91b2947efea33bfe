import type { DumpInfo } from '../api/client';
import './DumpPhase.css';

/** The restore's latest progress event (`DumpInfo.progress`, which the API document leaves
 *  untyped): archives count TOC entries, scripts count bytes read. */
export interface RestoreProgress {
  bytesDone: number;
  bytesTotal: number;
  itemsDone: number;
  itemsTotal: number | null;
  /** The table whose data is being loaded. */
  current: string | null;
}

const SETTLED = new Set(['Ready', 'Failed', 'Expired']);

export function restoreProgress(value: unknown): RestoreProgress | null {
  if (!value || typeof value !== 'object') return null;
  const event = value as Partial<Record<keyof RestoreProgress, unknown>>;
  const count = (field: unknown) => (typeof field === 'number' && Number.isFinite(field) ? field : 0);
  return {
    bytesDone: count(event.bytesDone),
    bytesTotal: count(event.bytesTotal),
    itemsDone: count(event.itemsDone),
    itemsTotal: typeof event.itemsTotal === 'number' ? event.itemsTotal : null,
    current: typeof event.current === 'string' ? event.current : null,
  };
}

/** How far along, 0 to 1, or null when nothing says (a script piped without a size). A TOC
 *  entry count is only an estimate: pg_restore reports more steps than entries, hence the cap. */
export function restoreFraction(progress: RestoreProgress): number | null {
  if (progress.itemsTotal) return Math.min(progress.itemsDone / progress.itemsTotal, 1);
  if (progress.bytesTotal) return Math.min(progress.bytesDone / progress.bytesTotal, 1);
  return null;
}

/** A dump's phase; while restoring, a progress bar and the table being loaded; when it failed,
 *  the server's words. */
export function DumpPhase({ dump }: { dump: DumpInfo }) {
  const progress = SETTLED.has(dump.phase) ? null : restoreProgress(dump.progress);
  const fraction = progress && restoreFraction(progress);
  return (
    <span className="dump-phase">
      <span className={`phase phase-${dump.phase.toLowerCase()}`}>{dump.phase}</span>
      {progress && (
        <>
          <progress
            className="restore-progress"
            aria-label={`Restore of ${dump.name}`}
            max={1}
            // No value: the browser shows an indeterminate bar.
            value={fraction ?? undefined}
          />
          <span className="muted">
            {fraction !== null && `${Math.round(fraction * 100)} %`}
            {progress.current && ` · loading ${progress.current}`}
          </span>
        </>
      )}
      {dump.phase === 'Failed' && dump.message && <span className="error">{dump.message}</span>}
      {dump.phase !== 'Failed' && !progress && dump.message && <span className="muted">{dump.message}</span>}
    </span>
  );
}
