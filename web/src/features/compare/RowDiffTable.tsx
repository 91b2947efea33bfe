import type { Schemas } from '../../api/client';
import { CellValue, isRecord } from '../../components/CellValue';

/** The changed rows of one table: an added row as it is in B, a removed one as it was in A, a
 *  changed one in both versions with exactly the cells that differ highlighted. */
export function RowDiffTable({ columns, changes, label }: { columns: string[]; changes: Schemas['RowChange'][]; label: string }) {
  return (
    <div className="rel-rows-scroll">
      <table className="plain cmp-row-diff" aria-label={label}>
        <thead>
          <tr>
            <th>Change</th>
            <th>Side</th>
            {columns.map((column) => (
              <th key={column}>{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {changes.map((change, index) =>
            change.change === 'changed' ? (
              <ChangedRows key={index} columns={columns} change={change} />
            ) : (
              <tr key={index} className={`row-${change.change}`}>
                <td>
                  <ChangeBadge change={change.change} />
                </td>
                <td>{change.change === 'added' ? 'B' : 'A'}</td>
                <Cells columns={columns} row={change.change === 'added' ? change.b : change.a} changed={[]} />
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

function ChangedRows({ columns, change }: { columns: string[]; change: Schemas['RowChange'] }) {
  return (
    <>
      <tr className="row-changed row-changed-a">
        <td rowSpan={2}>
          <ChangeBadge change="changed" />
          <div className="muted">{change.columns.join(', ')}</div>
        </td>
        <td>A</td>
        <Cells columns={columns} row={change.a} changed={change.columns} />
      </tr>
      <tr className="row-changed row-changed-b">
        <td>B</td>
        <Cells columns={columns} row={change.b} changed={change.columns} />
      </tr>
    </>
  );
}

function Cells({ columns, row, changed }: { columns: string[]; row: unknown; changed: string[] }) {
  const record = isRecord(row) ? row : {};
  return (
    <>
      {columns.map((column) => (
        <td key={column} className={changed.includes(column) ? 'cell-changed' : undefined}>
          <CellValue value={record[column]} />
        </td>
      ))}
    </>
  );
}

/** added / removed / changed / renamed, as a coloured badge. */
export function ChangeBadge({ change }: { change: string }) {
  return <span className={`cmp-change-badge cmp-change-${change}`}>{change}</span>;
}
