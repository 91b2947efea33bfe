// Credentials the UI sends. An API token (Kubernetes mode, or `serve --token-file`) is kept in
// localStorage; a dump's share token arrives in a link's fragment (`#share=…`, which browsers
// never send to servers or write to their logs) and is kept for the tab's session.

const API_TOKEN_KEY = 'dumplens.apiToken';
const SHARE_PREFIX = 'dumplens.share.';

export function apiToken(): string | null {
  return localStorage.getItem(API_TOKEN_KEY);
}

export function setApiToken(token: string | null) {
  if (token) localStorage.setItem(API_TOKEN_KEY, token);
  else localStorage.removeItem(API_TOKEN_KEY);
}

export function shareToken(dumpId: string): string | null {
  return sessionStorage.getItem(SHARE_PREFIX + dumpId);
}

export function setShareToken(dumpId: string, token: string) {
  sessionStorage.setItem(SHARE_PREFIX + dumpId, token);
}

/** Takes a share token out of the page's fragment (`#share=TOKEN`) for the dump `dumpId`. */
export function adoptShareTokenFromLocation(dumpId: string) {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get('share');
  if (!token) return;
  setShareToken(dumpId, token);
  fragment.delete('share');
  const rest = fragment.toString();
  history.replaceState(history.state, '', window.location.pathname + window.location.search + (rest ? `#${rest}` : ''));
}

/** The headers for a request about the dumps `dumpIds` (a diff is about two). */
export function credentialHeaders(dumpIds: (string | undefined)[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const token = apiToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const shares = dumpIds
    .filter((id): id is string => !!id)
    .map(shareToken)
    .filter((share): share is string => !!share);
  if (shares.length) headers['X-Share-Token'] = shares.join(',');
  return headers;
}
