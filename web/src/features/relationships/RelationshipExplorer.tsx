import type { DumpViewProps } from '../../pages/DumpPage';

export function RelationshipExplorer({ dumpId, database }: DumpViewProps) {
  return (
    <p className="muted">
      RelationshipExplorer of {dumpId}/{database}: not built yet.
    </p>
  );
}
