import { useState } from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import type { Table } from '../../api/client';
import { TableList } from './TableList';
import { searchTables } from './searchTables';

function table(schema: string, name: string, columns: [string, string?][], comment?: string): Table {
  return {
    schema,
    name,
    kind: 'table',
    comment: comment ?? null,
    inherits: [],
    columns: columns.map(([column, columnComment]) => ({
      name: column,
      dataType: 'integer',
      nullable: false,
      comment: columnComment ?? null,
    })),
    foreignKeys: [],
    unique: [],
    checks: [],
    exclusions: [],
    indexes: [],
    sizeBytes: 8192,
  };
}

const TABLES = [
  table('public', 'rental', [['rental_id'], ['inventory_id']]),
  table('public', 'payment', [['payment_id'], ['rental_id']]),
  table('public', 'store', [['store_id'], ['manager']], 'Shops that RENTAL customers visit'),
  table('public', 'actor', [['actor_id'], ['note', 'who rented the costume']]),
  table('audit', 'log', [['id']]),
];

describe('searchTables', () => {
  it('matches table names, column names and comments, case-insensitively, saying why', () => {
    const found = searchTables(TABLES, 'Rental');
    expect(found.map(({ table: { name } }) => name)).toEqual(['rental', 'payment', 'store']);
    expect(found[0].reasons).toEqual([]);
    expect(found[1].reasons).toEqual(['column rental_id']);
    expect(found[2].reasons).toEqual(['comment']);
  });

  it('matches column comments and schema-qualified names', () => {
    expect(searchTables(TABLES, 'rented').map(({ reasons }) => reasons)).toEqual([['comment on note']]);
    expect(searchTables(TABLES, 'audit.lo').map(({ table: { name } }) => name)).toEqual(['log']);
  });

  it('keeps every table for a blank query and none for a query nothing contains', () => {
    expect(searchTables(TABLES, '  ')).toHaveLength(TABLES.length);
    expect(searchTables(TABLES, 'zebra')).toEqual([]);
  });
});

function Explorer() {
  const [query, setQuery] = useState('');
  return (
    <MemoryRouter>
      <TableList tables={TABLES} query={query} onQueryChange={setQuery} selected="public.store" hrefFor={(key) => `?table=${key}`} />
    </MemoryRouter>
  );
}

describe('TableList', () => {
  it('groups tables by schema and narrows them as the user types', async () => {
    render(<Explorer />);
    const nav = screen.getByRole('navigation', { name: 'Tables' });
    expect(within(nav).getAllByRole('link')).toHaveLength(5);
    expect(within(screen.getByRole('region', { name: 'Schema audit' })).getByRole('link', { name: 'log' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'store' })).toHaveAttribute('aria-current', 'page');

    await userEvent.type(screen.getByRole('searchbox', { name: /search tables/i }), 'rental');
    expect(within(nav).getAllByRole('link').map((link) => link.textContent)).toEqual(['rental', 'payment', 'store']);
    expect(screen.queryByRole('region', { name: 'Schema audit' })).not.toBeInTheDocument();
    expect(screen.getByText('3 of 5 tables')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'payment' })).toHaveAttribute('href', '/?table=public.payment');
    expect(screen.getByText('column rental_id')).toBeInTheDocument();
  });
});
