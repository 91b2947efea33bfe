import type { DumpViewProps } from '../../pages/DumpPage';

export function SqlConsole({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      SqlConsole of {dumpId}/{database}: not built yet.
    </p>
  );
}
