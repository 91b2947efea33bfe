import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { setApiToken, setShareToken } from '../api/credentials';

type Needed = { kind: 'api' } | { kind: 'share'; dumpId: string };

/** Which credential a failed query asks for: 401 is an API token; 403 on a dump is its share
 *  token (a Private dump's data needs it even with an API token). */
function neededBy(error: unknown, queryKey: readonly unknown[]): Needed | null {
  if (!(error instanceof ApiError)) return null;
  if (error.status === 401) return { kind: 'api' };
  if (error.status === 403 && queryKey[0] === 'dump' && typeof queryKey[1] === 'string') {
    return { kind: 'share', dumpId: queryKey[1] };
  }
  return null;
}

/** Asks for the token the server wants when a query is refused, keeps it, and asks again. */
export function TokenPrompt() {
  const queries = useQueryClient();
  const [needed, setNeeded] = useState<Needed | null>(null);
  const [token, setToken] = useState('');

  useEffect(
    () =>
      queries.getQueryCache().subscribe((event) => {
        if (event.type !== 'updated' || event.action.type !== 'error') return;
        const wanted = neededBy(event.action.error, event.query.queryKey);
        if (wanted) setNeeded(wanted);
      }),
    [queries],
  );

  if (!needed) return null;
  const label = needed.kind === 'api' ? 'API token' : 'Share token of this dump';
  return (
    <form
      className="token-prompt"
      aria-label="Credentials"
      onSubmit={(event) => {
        event.preventDefault();
        if (needed.kind === 'api') setApiToken(token.trim());
        else setShareToken(needed.dumpId, token.trim());
        setToken('');
        setNeeded(null);
        void queries.invalidateQueries();
      }}
    >
      <p>
        {needed.kind === 'api'
          ? 'This server needs an API token.'
          : 'This dump is private: it opens with its share token (or a link that carries it).'}
      </p>
      <label>
        {label} <input type="password" value={token} onChange={(event) => setToken(event.target.value)} required />
      </label>{' '}
      <button type="submit" className="primary">
        Use it
      </button>
    </form>
  );
}
