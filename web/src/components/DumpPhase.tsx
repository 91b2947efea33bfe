import type { DumpInfo } from '../api/client';

/** A dump's phase; while restoring, how far along it is. */
export function DumpPhase({ dump }: { dump: DumpInfo }) {
  return (
    <span className={`phase phase-${dump.phase.toLowerCase()}`} title={dump.message ?? undefined}>
      {dump.phase}
    </span>
  );
}
