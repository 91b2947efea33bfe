import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataGrid, isTruncated, rowsToCsv, rowsToJson, sortRows, type GridColumn, type GridRow } from './DataGrid';

const columns: GridColumn[] = [
  { name: 'id', dataType: 'integer' },
  { name: 'note', dataType: 'text' },
  { name: 'doc', dataType: 'jsonb' },
];
const rows: GridRow[] = [
  { id: 1, note: 'plain', doc: { tags: ['a', 'b'], nested: { deep: true } } },
  { id: 2, note: null, doc: null },
  { id: 3, note: 'say "hi", then\nleave', doc: [] },
  { id: 4, note: '', doc: { truncated: '{"long": "aaa', bytes: 9000 } },
];

beforeAll(() => {
  // jsdom lays nothing out: give the grid's scroller a size so the virtualizer draws rows, and
  // the dialog the modal call browsers have.
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 });
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
});
afterEach(() => vi.restoreAllMocks());

function renderGrid() {
  return render(<DataGrid label="Test rows" columns={columns} rows={rows} exportName="test" />);
}

describe('DataGrid', () => {
  it('draws NULL apart from text and from the empty string', () => {
    renderGrid();
    const second = screen.getAllByRole('row')[2];
    const nulls = within(second).getAllByText('NULL');
    expect(nulls).toHaveLength(2);
    for (const cell of nulls) expect(cell).toHaveClass('null');
    // The empty string of row 4 is not NULL.
    const fourth = screen.getAllByRole('row')[4];
    expect(within(fourth).queryByText('NULL')).toBeNull();
  });

  it('opens a JSON value in a viewer, pretty-printed and collapsible', async () => {
    renderGrid();
    await userEvent.click(screen.getAllByRole('button', { name: 'Open doc in the JSON viewer' })[0]);
    const dialog = screen.getByRole('dialog', { name: 'JSON of doc' });
    expect(dialog).toHaveTextContent('"tags": [');
    expect(dialog).toHaveTextContent('"deep": true');
    const nested = within(dialog).getByText('"nested":').closest('details')!;
    expect(nested).toHaveAttribute('open');
    await userEvent.click(within(nested).getAllByText('"nested":')[0]);
    expect(nested).not.toHaveAttribute('open');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('says the size of a value the server cut', () => {
    renderGrid();
    expect(isTruncated(rows[3].doc)).toBe(true);
    expect(isTruncated({ truncated: 'x', bytes: 1, more: 1 })).toBe(false);
    expect(screen.getByText('… (8.8 KiB)')).toBeInTheDocument();
  });

  it('sorts by a header click when no one else sorts', async () => {
    renderGrid();
    await userEvent.click(screen.getByRole('button', { name: 'Sort by id' }));
    await userEvent.click(screen.getByRole('button', { name: 'Sort by id' }));
    expect(screen.getByRole('button', { name: 'Sort by id' }).closest('th')).toHaveAttribute('aria-sort', 'descending');
    expect(within(screen.getAllByRole('row')[1]).getAllByRole('cell')[0]).toHaveTextContent('4');
  });

  it('copies the rows as CSV through the clipboard', async () => {
    const user = userEvent.setup();
    renderGrid();
    await user.click(screen.getByRole('button', { name: 'Copy as CSV' }));
    expect(await navigator.clipboard.readText()).toBe(rowsToCsv(columns, rows));
    expect(screen.getByRole('status')).toHaveTextContent('Copied 4 rows as CSV.');
  });
});

describe('rowsToCsv', () => {
  it('quotes commas, quotes and line breaks; NULL is empty and the empty string ""', () => {
    expect(rowsToCsv(columns, rows)).toBe(
      [
        'id,note,doc',
        '1,plain,"{""tags"":[""a"",""b""],""nested"":{""deep"":true}}"',
        '2,,',
        '3,"say ""hi"", then\nleave",[]',
        '4,"","{""long"": ""aaa"',
        '',
      ].join('\r\n'),
    );
  });
});

describe('rowsToJson', () => {
  it('keeps the columns in order, NULL as null, JSON as JSON', () => {
    const text = rowsToJson(columns, [{ doc: { a: 1 }, note: 'x, "y"\n', id: 7 }, { id: 8 }]);
    expect(JSON.parse(text)).toEqual([
      { id: 7, note: 'x, "y"\n', doc: { a: 1 } },
      { id: 8, note: null, doc: null },
    ]);
    expect(Object.keys(JSON.parse(text)[0])).toEqual(['id', 'note', 'doc']);
  });
});

describe('sortRows', () => {
  it('sorts numbers as numbers and text naturally, NULL last either way', () => {
    const ids = (sorted: GridRow[]) => sorted.map((row) => row.id);
    expect(ids(sortRows(rows, { id: 'note', desc: false }))).toEqual([4, 1, 3, 2]);
    expect(ids(sortRows(rows, { id: 'note', desc: true }))).toEqual([3, 1, 4, 2]);
    expect(ids(sortRows([{ id: 10 }, { id: 9 }, { id: 100 }], { id: 'id', desc: false }))).toEqual([9, 10, 100]);
    expect(sortRows(rows, undefined)).toBe(rows);
  });
});
