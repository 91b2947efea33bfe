import type { DumpViewProps } from '../../pages/DumpPage';

export function ErView({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      ErView of {dumpId}/{database}: not built yet.
    </p>
  );
}
