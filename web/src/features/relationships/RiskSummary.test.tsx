import { render, screen, within } from '@testing-library/react';
import { RiskBadge, RiskSummary } from './RiskSummary';

describe('RiskSummary', () => {
  it('shows the level coloured by its class, the score and every reason with its points', () => {
    render(
      <RiskSummary
        risk={{
          level: 'high',
          score: 70,
          reasons: [
            { points: 30, reason: 'the delete fails: 8 rows of public.inventory reference it' },
            { points: 40, reason: '120 rows deleted by CASCADE' },
          ],
        }}
      />,
    );
    const badge = screen.getByLabelText('Risk high, score 70 of 100');
    expect(badge).toHaveClass('risk-badge', 'risk-high');
    expect(badge).toHaveTextContent('high 70');
    const reasons = within(screen.getByRole('list', { name: 'Risk reasons' })).getAllByRole('listitem');
    expect(reasons.map((item) => item.textContent)).toEqual([
      '+30 the delete fails: 8 rows of public.inventory reference it',
      '+40 120 rows deleted by CASCADE',
    ]);
  });

  it('says so when nothing else is touched', () => {
    render(<RiskSummary risk={{ level: 'low', score: 0, reasons: [] }} />);
    expect(screen.getByLabelText('Risk low, score 0 of 100')).toHaveClass('risk-low');
    expect(screen.queryByRole('list')).toBeNull();
    expect(screen.getByText('Nothing else changes when this row is deleted.')).toBeInTheDocument();
  });

  it('gives every level its own class and an unknown one a neutral class', () => {
    const { rerender } = render(<RiskBadge level="critical" score={90} />);
    expect(screen.getByLabelText(/Risk critical/)).toHaveClass('risk-critical');
    rerender(<RiskBadge level="medium" score={30} />);
    expect(screen.getByLabelText(/Risk medium/)).toHaveClass('risk-medium');
    rerender(<RiskBadge level="extreme" score={100} />);
    expect(screen.getByLabelText(/Risk extreme/)).toHaveClass('risk-unknown');
  });
});
