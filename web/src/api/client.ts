// The typed API client: paths and shapes come from the server's own OpenAPI document
// (web/openapi.json, checked against the server by a Rust test), never written by hand.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { credentialHeaders } from './credentials';

export type Schemas = components['schemas'];
export type DumpInfo = Schemas['DumpInfo'];
export type SchemaGraph = Schemas['SchemaGraph'];
export type Table = Schemas['Table'];
export type Page = Schemas['Page'];

export const api = createClient<paths>({ baseUrl: '' });

api.use({
  onRequest({ request, params }) {
    const path = params.path as { id?: string; other?: string } | undefined;
    for (const [name, value] of Object.entries(credentialHeaders([path?.id, path?.other]))) {
      request.headers.set(name, value);
    }
    return request;
  },
});

/** An answer other than 2xx, worded as the API worded it (an RFC 9457 problem document). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful answer, or an ApiError with the server's own words. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  throw new ApiError(response.status, problemText(error, response));
}

/** What the API said went wrong: a problem document's detail or title, a plain-text body, or
 *  else the status line. */
export function problemText(error: unknown, response: Pick<Response, 'status' | 'statusText'>): string {
  if (error && typeof error === 'object') {
    const problem = error as { detail?: string; title?: string };
    if (problem.detail) return problem.detail;
    if (problem.title) return problem.title;
  }
  if (typeof error === 'string' && error.trim()) return error.trim();
  return `${response.status} ${response.statusText}`.trim();
}
