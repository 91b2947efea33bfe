import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ApiError } from '../api/client';
import { apiToken, shareToken } from '../api/credentials';
import { TokenPrompt } from './TokenPrompt';

function Failing({ queryKey, status }: { queryKey: string[]; status: number }) {
  useQuery({ queryKey, queryFn: () => Promise.reject(new ApiError(status, 'refused')), retry: false });
  return null;
}

function renderWith(queryKey: string[], status: number) {
  const queries = new QueryClient();
  render(
    <QueryClientProvider client={queries}>
      <TokenPrompt />
      <Failing queryKey={queryKey} status={status} />
    </QueryClientProvider>,
  );
}

describe('TokenPrompt', () => {
  beforeEach(() => {
    localStorage.clear();
    sessionStorage.clear();
  });

  it('asks for an API token on 401 and keeps it', async () => {
    renderWith(['dumps'], 401);
    await userEvent.type(await screen.findByLabelText('API token'), 'tok');
    await userEvent.click(screen.getByRole('button', { name: 'Use it' }));
    expect(apiToken()).toBe('tok');
  });

  it('asks for the share token of the dump a 403 is about', async () => {
    renderWith(['dump', 'abc'], 403);
    await userEvent.type(await screen.findByLabelText('Share token of this dump'), 'share');
    await userEvent.click(screen.getByRole('button', { name: 'Use it' }));
    expect(shareToken('abc')).toBe('share');
    expect(apiToken()).toBeNull();
  });

  it('stays away for other errors', async () => {
    renderWith(['dump', 'abc'], 404);
    await new Promise((wake) => setTimeout(wake, 50));
    expect(screen.queryByRole('form')).toBeNull();
  });
});
