// The queries several pages share, so they share one cache entry.
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from './client';

const SETTLED = new Set(['Ready', 'Failed', 'Expired']);

/** One dump, asked again every second while it is on its way to Ready. */
export function useDump(id: string) {
  return useQuery({
    queryKey: ['dump', id],
    queryFn: () => unwrap(api.GET('/api/v1/dumps/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data && SETTLED.has(query.state.data.phase) ? false : 1000),
  });
}

/** Every dump this server serves, refreshed while any is still restoring. */
export function useDumps() {
  return useQuery({
    queryKey: ['dumps'],
    queryFn: () => unwrap(api.GET('/api/v1/dumps')),
    refetchInterval: (query) => (query.state.data?.some((dump) => !SETTLED.has(dump.phase)) ? 1000 : 10_000),
  });
}

/** The schema graph of one restored database; it never changes once restored. */
export function useSchemaGraph(id: string, database: string | undefined) {
  return useQuery({
    queryKey: ['schema', id, database],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/schema', {
          params: { path: { id, database: database! } },
        }),
      ),
    enabled: !!database,
    staleTime: Infinity,
  });
}
