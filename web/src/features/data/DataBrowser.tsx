import type { DumpViewProps } from '../../pages/DumpPage';

export function DataBrowser({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      DataBrowser of {dumpId}/{database}: not built yet.
    </p>
  );
}
