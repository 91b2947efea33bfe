import { render, screen, within } from '@testing-library/react';
import type { Schemas } from '../../api/client';
import { RowDiffTable } from './RowDiffTable';

const columns = ['customer_id', 'first_name', 'email', 'last_update'];

const changed: Schemas['RowChange'] = {
  change: 'changed',
  key: { customer_id: 5 },
  columns: ['email', 'last_update'],
  a: { customer_id: 5, first_name: 'ELIZABETH', email: 'ELIZABETH.BROWN@sakilacustomer.org', last_update: '2006-02-15T09:57:20' },
  b: { customer_id: 5, first_name: 'ELIZABETH', email: 'elizabeth.brown@sakilacustomer.org.changed', last_update: '2026-12-04T15:05:46' },
};

function highlighted(row: HTMLElement): string[] {
  return within(row)
    .getAllByRole('cell')
    .filter((cell) => cell.classList.contains('cell-changed'))
    .map((cell) => cell.textContent ?? '');
}

describe('RowDiffTable', () => {
  it('shows both versions of a changed row and highlights exactly its changed cells', () => {
    render(<RowDiffTable columns={columns} changes={[changed]} label="Changed rows" />);
    const [, rowA, rowB] = screen.getAllByRole('row');
    expect(rowA).toHaveClass('row-changed');
    expect(rowB).toHaveClass('row-changed');
    expect(highlighted(rowA)).toEqual(['ELIZABETH.BROWN@sakilacustomer.org', '2006-02-15T09:57:20']);
    expect(highlighted(rowB)).toEqual(['elizabeth.brown@sakilacustomer.org.changed', '2026-12-04T15:05:46']);
    expect(within(rowA).getByRole('cell', { name: 'ELIZABETH' })).not.toHaveClass('cell-changed');
    expect(within(rowB).getByRole('cell', { name: '5' })).not.toHaveClass('cell-changed');
  });

  it('shows an added row from B and a removed row from A, NULL as NULL, no cell highlighted', () => {
    render(
      <RowDiffTable
        columns={columns}
        changes={[
          { change: 'added', key: { customer_id: 600 }, columns: [], a: null, b: { customer_id: 600, first_name: 'ADA', email: null, last_update: 'x' } },
          { change: 'removed', key: { customer_id: 7 }, columns: [], a: { customer_id: 7, first_name: 'MARIA', email: 'm@x', last_update: 'y' }, b: null },
        ]}
        label="Changed rows"
      />,
    );
    const [, added, removed] = screen.getAllByRole('row');
    expect(added).toHaveClass('row-added');
    expect(within(added).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['added', 'B', '600', 'ADA', 'NULL', 'x']);
    expect(removed).toHaveClass('row-removed');
    expect(within(removed).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['removed', 'A', '7', 'MARIA', 'm@x', 'y']);
    expect(highlighted(added)).toEqual([]);
    expect(highlighted(removed)).toEqual([]);
  });
});
