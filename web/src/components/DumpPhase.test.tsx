import { render, screen } from '@testing-library/react';
import type { DumpInfo } from '../api/client';
import { DumpPhase, restoreFraction, restoreProgress } from './DumpPhase';

const dump = (overrides: Partial<DumpInfo>): DumpInfo => ({
  id: 'd1',
  name: 'pagila.pg18.custom.dump',
  phase: 'Restoring',
  databases: [],
  ...overrides,
});

describe('DumpPhase', () => {
  it('shows a restore’s progress and the table being loaded', () => {
    render(
      <DumpPhase
        dump={dump({
          progress: { bytesDone: 0, bytesTotal: 0, itemsDone: 51, itemsTotal: 204, current: 'public.rental', event: 'progress' },
        })}
      />,
    );
    expect(screen.getByText('Restoring')).toBeInTheDocument();
    const bar = screen.getByRole('progressbar', { name: 'Restore of pagila.pg18.custom.dump' });
    expect(bar).toHaveAttribute('value', '0.25');
    expect(screen.getByText('25 % · loading public.rental')).toBeInTheDocument();
  });

  it('measures a script by bytes read, and caps a TOC count that runs past its total', () => {
    expect(restoreFraction(restoreProgress({ bytesDone: 300, bytesTotal: 600, itemsDone: 7, itemsTotal: null })!)).toBe(0.5);
    expect(restoreFraction(restoreProgress({ bytesDone: 0, bytesTotal: 0, itemsDone: 336, itemsTotal: 204 })!)).toBe(1);
    expect(restoreFraction(restoreProgress({ itemsDone: 3 })!)).toBeNull();
    expect(restoreProgress(null)).toBeNull();
  });

  it('shows an indeterminate bar when nothing says how far', () => {
    render(<DumpPhase dump={dump({ phase: 'Restoring', progress: { itemsDone: 3, current: null } })} />);
    expect(screen.getByRole('progressbar')).not.toHaveAttribute('value');
  });

  it('shows no bar once Ready, though the last progress event is still there', () => {
    render(
      <DumpPhase dump={dump({ phase: 'Ready', progress: { itemsDone: 336, itemsTotal: 204, bytesDone: 0, bytesTotal: 0 } })} />,
    );
    expect(screen.getByText('Ready')).toBeInTheDocument();
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  it('says why a restore failed, in the server’s words', () => {
    render(<DumpPhase dump={dump({ phase: 'Failed', message: 'line 1: ERROR: syntax error at or near "hello"' })} />);
    expect(screen.getByText('Failed')).toBeInTheDocument();
    expect(screen.getByText('line 1: ERROR: syntax error at or near "hello"')).toHaveClass('error');
  });
});
