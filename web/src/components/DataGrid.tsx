// The grid the data browser and the SQL console share: @tanstack/react-table for the columns,
// @tanstack/react-virtual so only the rows in view are in the DOM (tens of thousands of rows
// scroll without long frames), NULL drawn apart from text, JSON values opened in a viewer, and
// the loaded rows copied or downloaded as CSV or JSON.
import { memo, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type Column,
  type ColumnDef,
  type ColumnSizingState,
  type SortingState,
  type Table,
} from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { formatBytes } from '../format';
import './DataGrid.css';

export interface GridColumn {
  name: string;
  dataType: string;
}
export type GridRow = Record<string, unknown>;
export interface GridSort {
  column: string;
  desc: boolean;
}

export interface DataGridProps {
  /** The grid's accessible name. */
  label: string;
  columns: GridColumn[];
  rows: GridRow[];
  /** The base of downloaded files' names. */
  exportName: string;
  /** Given: the rows come sorted from elsewhere (the server) and header clicks report the new
   *  order through onSort. Absent: the grid sorts the rows itself. */
  sort?: GridSort | null;
  onSort?: (sort: GridSort | null) => void;
  /** Drawn under a column's name (the data browser's filters). */
  renderHeaderExtra?: (column: GridColumn) => ReactNode;
  /** A cell's content instead of the plain value (foreign-key links); undefined keeps the value. */
  renderCell?: (column: GridColumn, value: unknown, row: GridRow) => ReactNode | undefined;
  /** Drawn in a first column of every row (the relationship explorer's link). */
  rowAction?: (row: GridRow) => ReactNode;
  /** Called when the last rows come into view (to load more). */
  onNearEnd?: () => void;
  /** Drawn after the rows (a "loading more" line). */
  footer?: ReactNode;
}

const ROW_HEIGHT = 30;
/** How close to the last loaded row scrolling asks for more. */
const NEAR_END_ROWS = 40;
// No identifier PostgreSQL allows contains NUL, so no real column can take this id.
const ACTIONS_COLUMN = '\u0000actions';

/** A value the API cut because it is over 4 KiB: its first characters and its real size. */
export interface TruncatedValue {
  truncated: string;
  bytes: number;
}

export function isTruncated(value: unknown): value is TruncatedValue {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const candidate = value as Partial<TruncatedValue>;
  return keys.length === 2 && typeof candidate.truncated === 'string' && typeof candidate.bytes === 'number';
}

/** A value's text as a CSV field or a cell shows it; objects and arrays (JSON, arrays) as JSON. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isTruncated(value)) return value.truncated;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** RFC 4180 CSV of the rows: a field with a comma, quote or line break is quoted (quotes
 *  doubled); NULL is an empty field and the empty string `""`, as PostgreSQL's COPY writes them. */
export function rowsToCsv(columns: GridColumn[], rows: GridRow[]): string {
  const field = (value: unknown): string => {
    if (value === null || value === undefined) return '';
    const text = valueText(value);
    return text === '' || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.map((column) => field(column.name)).join(',')];
  for (const row of rows) lines.push(columns.map((column) => field(row[column.name])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** The rows as a JSON array of objects, columns in the grid's order, NULL as null. */
export function rowsToJson(columns: GridColumn[], rows: GridRow[]): string {
  const ordered = rows.map((row) => Object.fromEntries(columns.map((column) => [column.name, row[column.name] ?? null])));
  return JSON.stringify(ordered, null, 2);
}

/** A width that fits the type's usual values. */
function columnWidth(column: GridColumn): number {
  const type = column.dataType.toLowerCase();
  if (/^(int|smallint|bigint|integer|int[248]|oid|year|bool)/.test(type)) return 100;
  if (/^(numeric|real|double|float|money|decimal)/.test(type)) return 110;
  if (type.startsWith('timestamp')) return 190;
  if (type.startsWith('date') || type.startsWith('time')) return 120;
  return 200;
}

/** Numbers as numbers, everything else as text. */
function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return valueText(a).localeCompare(valueText(b), undefined, { numeric: true });
}

/** The rows in the order of a header's sort, NULL last in either direction; the same rows when
 *  there is none. */
export function sortRows(rows: GridRow[], sort: { id: string; desc: boolean } | undefined): GridRow[] {
  if (!sort) return rows;
  const isNull = (value: unknown) => value === null || value === undefined;
  return [...rows].sort((a, b) => {
    const left = a[sort.id];
    const right = b[sort.id];
    if (isNull(left) || isNull(right)) return Number(isNull(left)) - Number(isNull(right));
    return sort.desc ? compareValues(right, left) : compareValues(left, right);
  });
}

export function DataGrid({
  label,
  columns,
  rows,
  exportName,
  sort,
  onSort,
  renderHeaderExtra,
  renderCell,
  rowAction,
  onNearEnd,
  footer,
}: DataGridProps) {
  const [openJson, setOpenJson] = useState<{ column: string; value: unknown } | null>(null);
  const [localSorting, setLocalSorting] = useState<SortingState>([]);
  const sortedElsewhere = sort !== undefined;
  const sorting: SortingState = sortedElsewhere ? (sort ? [{ id: sort.column, desc: sort.desc }] : []) : localSorting;

  const columnDefs = useMemo<ColumnDef<GridRow>[]>(() => {
    const data: ColumnDef<GridRow>[] = columns.map((column) => ({
      id: column.name,
      accessorFn: (row) => row[column.name],
      header: column.name,
      size: columnWidth(column),
      minSize: 50,
      meta: column,
    }));
    if (!rowAction) return data;
    return [{ id: ACTIONS_COLUMN, header: '', size: 40, enableSorting: false, enableResizing: false }, ...data];
  }, [columns, rowAction]);

  const table = useReactTable({
    data: rows,
    columns: columnDefs,
    state: { sorting },
    onSortingChange: (updater) => {
      const next = typeof updater === 'function' ? updater(sorting) : updater;
      if (!sortedElsewhere) return setLocalSorting(next);
      onSort?.(next[0] ? { column: next[0].id, desc: next[0].desc } : null);
    },
    manualSorting: sortedElsewhere,
    enableMultiSort: false,
    sortDescFirst: false,
    columnResizeMode: 'onChange',
    // Required, but never asked for: the grid takes columns, headers, sizing and the sort state
    // from react-table and draws the rows itself. A row model makes an object with its own
    // methods for every row, again for all of them each time a page arrives; at thousands of
    // rows that garbage cost frames while scrolling.
    getCoreRowModel: getCoreRowModel(),
  });

  const shownRows = useMemo(() => (sortedElsewhere ? rows : sortRows(rows, sorting[0])), [rows, sorting, sortedElsewhere]);
  const leafColumns = table.getVisibleLeafColumns();
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: shownRows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const items = virtualizer.getVirtualItems();
  const lastInView = items.length ? items[items.length - 1].index : -1;

  useEffect(() => {
    if (onNearEnd && rows.length > 0 && lastInView >= rows.length - NEAR_END_ROWS) onNearEnd();
  }, [lastInView, rows.length, onNearEnd]);

  const { columnSizing } = table.getState();
  const columnsByName = useMemo(() => new Map(columns.map((candidate) => [candidate.name, candidate])), [columns]);

  return (
    <div className="data-grid">
      <GridExport columns={columns} rows={rows} exportName={exportName} />
      <div className="data-grid-scroll" ref={scroller} tabIndex={0} role="region" aria-label={`${label}, scrollable`}>
        <table role="table" aria-label={label} aria-rowcount={rows.length + 1} style={{ width: table.getTotalSize() }}>
          <GridHeader
            table={table}
            sorting={sorting}
            columnSizing={columnSizing}
            columnsByName={columnsByName}
            renderHeaderExtra={renderHeaderExtra}
          />
          <tbody style={{ height: virtualizer.getTotalSize() }}>
            {items.map((item) => (
              <GridBodyRow
                key={item.index}
                row={shownRows[item.index]}
                columns={leafColumns}
                index={item.index}
                start={item.start}
                columnSizing={columnSizing}
                columnsByName={columnsByName}
                renderCell={renderCell}
                rowAction={rowAction}
                openJson={setOpenJson}
              />
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <p className="muted data-grid-empty">No rows.</p>}
        {footer}
      </div>
      {openJson && <JsonViewer title={openJson.column} value={openJson.value} onClose={() => setOpenJson(null)} />}
    </div>
  );
}

type OpenJson = (open: { column: string; value: unknown }) => void;

// The header and each row are memoized: scrolling re-renders the grid every frame, and only the
// rows that come into view need drawing (the header's filters and the rows still in view not).
const GridHeader = memo(function GridHeader({
  table,
  columnsByName,
  renderHeaderExtra,
}: {
  table: Table<GridRow>;
  /** Given so the header draws again when they change (the table object stays the same). */
  sorting: SortingState;
  columnSizing: ColumnSizingState;
  columnsByName: Map<string, GridColumn>;
  renderHeaderExtra: DataGridProps['renderHeaderExtra'];
}) {
  return (
    <thead>
      {table.getHeaderGroups().map((group) => (
        <tr role="row" key={group.id} aria-rowindex={1}>
          {group.headers.map((header) => {
            const gridColumn = columnsByName.get(header.column.id);
            const sorted = header.column.getIsSorted();
            return (
              <th
                role="columnheader"
                key={header.id}
                style={{ width: header.getSize() }}
                aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}
              >
                {!gridColumn ? (
                  <span className="visually-hidden">Row actions</span>
                ) : (
                  <>
                    <button
                      type="button"
                      className="data-grid-sort"
                      onClick={header.column.getToggleSortingHandler()}
                      title={gridColumn.dataType}
                      aria-label={`Sort by ${header.column.id}`}
                    >
                      <span className="data-grid-name">{flexRender(header.column.columnDef.header, header.getContext())}</span>
                      <span aria-hidden="true">{sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''}</span>
                    </button>
                    <span className="data-grid-type muted">{gridColumn.dataType}</span>
                    {renderHeaderExtra?.(gridColumn)}
                    {header.column.getCanResize() && (
                      <div
                        className="data-grid-resizer"
                        onMouseDown={header.getResizeHandler()}
                        onTouchStart={header.getResizeHandler()}
                        aria-hidden="true"
                      />
                    )}
                  </>
                )}
              </th>
            );
          })}
        </tr>
      ))}
    </thead>
  );
});

const GridBodyRow = memo(function GridBodyRow({
  row,
  columns,
  index,
  start,
  columnsByName,
  renderCell,
  rowAction,
  openJson,
}: {
  row: GridRow;
  /** The visible columns, in order. */
  columns: Column<GridRow>[];
  index: number;
  start: number;
  /** Given so the row draws again when a column is resized. */
  columnSizing: ColumnSizingState;
  columnsByName: Map<string, GridColumn>;
  renderCell: DataGridProps['renderCell'];
  rowAction: DataGridProps['rowAction'];
  openJson: OpenJson;
}) {
  return (
    <tr
      role="row"
      aria-rowindex={index + 2}
      className={index % 2 ? 'data-grid-odd' : undefined}
      style={{ transform: `translateY(${start}px)`, height: ROW_HEIGHT }}
    >
      {columns.map((column) => {
        const gridColumn = columnsByName.get(column.id);
        const value = row[column.id];
        return (
          <td role="cell" key={column.id} style={{ width: column.getSize() }} title={gridColumn ? longText(value) : undefined}>
            {!gridColumn ? rowAction?.(row) : renderValue(gridColumn, value, row, renderCell, openJson)}
          </td>
        );
      })}
    </tr>
  );
});

/** The whole of a text the cell's width may cut, as a tooltip. */
function longText(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 24 ? value : undefined;
}

function renderValue(
  column: GridColumn,
  value: unknown,
  row: GridRow,
  renderCell: DataGridProps['renderCell'],
  openJson: OpenJson,
): ReactNode {
  const custom = renderCell?.(column, value, row);
  if (custom !== undefined) return custom;
  return <CellValue column={column.name} value={value} onOpenJson={openJson} />;
}

/** One value: NULL apart from text, JSON and arrays as a button that opens the viewer, cut values
 *  with their size. */
export function CellValue({
  column,
  value,
  onOpenJson,
}: {
  column: string;
  value: unknown;
  onOpenJson: OpenJson;
}) {
  if (value === null || value === undefined) return <span className="null">NULL</span>;
  if (isTruncated(value)) {
    return (
      <span className="data-grid-truncated" title={`cut by the server: ${formatBytes(value.bytes)} in all`}>
        <span>{value.truncated}</span>
        <span className="muted"> … ({formatBytes(value.bytes)})</span>
      </span>
    );
  }
  if (typeof value === 'object') {
    return (
      <button
        type="button"
        className="data-grid-json"
        onClick={() => onOpenJson({ column, value })}
        aria-label={`Open ${column} in the JSON viewer`}
      >
        {JSON.stringify(value)}
      </button>
    );
  }
  // Plain text without a wrapper: a cell is then one element, and scrolling restyles fewer.
  return String(value);
}

/** Copy and download of the loaded rows. */
function GridExport({ columns, rows, exportName }: { columns: GridColumn[]; rows: GridRow[]; exportName: string }) {
  const [status, setStatus] = useState('');
  const formats = {
    CSV: { text: () => rowsToCsv(columns, rows), type: 'text/csv', extension: 'csv' },
    JSON: { text: () => rowsToJson(columns, rows), type: 'application/json', extension: 'json' },
  };
  const copy = async (format: keyof typeof formats) => {
    try {
      await navigator.clipboard.writeText(formats[format].text());
      setStatus(`Copied ${rows.length} rows as ${format}.`);
    } catch (error) {
      setStatus(`Could not copy: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const download = (format: keyof typeof formats) => {
    const { text, type, extension } = formats[format];
    const url = URL.createObjectURL(new Blob([text()], { type }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${exportName}.${extension}`;
    link.click();
    URL.revokeObjectURL(url);
  };
  return (
    <div className="data-grid-export" role="group" aria-label="Export the loaded rows">
      {(['CSV', 'JSON'] as const).map((format) => (
        <span key={format}>
          <button type="button" onClick={() => void copy(format)} disabled={!columns.length}>
            Copy as {format}
          </button>{' '}
          <button type="button" onClick={() => download(format)} disabled={!columns.length}>
            Download {format}
          </button>
        </span>
      ))}
      <span role="status" className="muted">
        {status}
      </span>
    </div>
  );
}

/** A modal dialog with the value pretty-printed, every object and array collapsible. */
export function JsonViewer({ title, value, onClose }: { title: string; value: unknown; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  return (
    <dialog ref={dialog} className="json-viewer" aria-label={`JSON of ${title}`} onClose={onClose}>
      <header>
        <h2>{title}</h2>
        <span className="muted">{formatBytes(new TextEncoder().encode(JSON.stringify(value)).length)}</span>
        <div className="spacer" />
        <button type="button" onClick={() => void navigator.clipboard.writeText(JSON.stringify(value, null, 2)).catch(() => undefined)}>
          Copy
        </button>
        <button type="button" onClick={() => dialog.current?.close()} autoFocus>
          Close
        </button>
      </header>
      <div className="json-tree mono">
        <JsonNode value={value} />
      </div>
    </dialog>
  );
}

function JsonNode({ name, value, last = true }: { name?: string; value: unknown; last?: boolean }) {
  const key = name !== undefined ? <span className="json-key">{JSON.stringify(name)}: </span> : null;
  const comma = last ? '' : ',';
  if (value !== null && typeof value === 'object') {
    const entries: [string | undefined, unknown][] = Array.isArray(value)
      ? value.map((item) => [undefined, item])
      : Object.entries(value);
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (!entries.length) {
      return (
        <div>
          {key}
          {open}
          {close}
          {comma}
        </div>
      );
    }
    return (
      <details open>
        <summary>
          {key}
          {open}
          <span className="json-count muted">
            {' '}
            {entries.length} {Array.isArray(value) ? 'items' : 'keys'}
          </span>
        </summary>
        <div className="json-children">
          {entries.map(([childName, child], index) => (
            <JsonNode key={index} name={childName} value={child} last={index === entries.length - 1} />
          ))}
        </div>
        <div>
          {close}
          {comma}
        </div>
      </details>
    );
  }
  return (
    <div>
      {key}
      <span className={value === null ? 'null' : `json-${typeof value}`}>{JSON.stringify(value)}</span>
      {comma}
    </div>
  );
}
