import type { DumpViewProps } from '../../pages/DumpPage';

export function SchemaView({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      SchemaView of {dumpId}/{database}: not built yet.
    </p>
  );
}
