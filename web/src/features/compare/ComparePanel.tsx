import type { DumpViewProps } from '../../pages/DumpPage';

export function ComparePanel({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      ComparePanel of {dumpId}/{database}: not built yet.
    </p>
  );
}
