// The page's state lives in the URL (dump, database, table, view, filters, sort, cursor), so a
// link shows what its sender saw and back/forward walk through it.
import { useCallback } from 'react';
import { useSearchParams } from 'react-router';

export type UrlUpdate = Record<string, string | null | undefined>;

/** The URL's query parameters, and a setter that merges changes into them (null removes one). */
export function useUrlState(): [URLSearchParams, (changes: UrlUpdate, options?: { replace?: boolean }) => void] {
  const [params, setParams] = useSearchParams();
  const update = useCallback(
    (changes: UrlUpdate, options?: { replace?: boolean }) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value === null || value === undefined || value === '') next.delete(key);
            else next.set(key, value);
          }
          return next;
        },
        { replace: options?.replace },
      );
    },
    [setParams],
  );
  return [params, update];
}

/** `schema.table` as the URL writes a table (schema names may contain dots: split at the first
 *  dot that is not inside double quotes is overkill here; the API's names are unquoted). */
export function tableKey(schema: string, name: string): string {
  return `${schema}.${name}`;
}

export function parseTableKey(key: string | null): { schema: string; name: string } | null {
  if (!key) return null;
  const dot = key.indexOf('.');
  if (dot <= 0 || dot === key.length - 1) return null;
  return { schema: key.slice(0, dot), name: key.slice(dot + 1) };
}
