// The data browser's state in the URL, in the API's own syntax: `sort`, `desc=1`, `after`,
// `count=exact` and one `f.<column>=<op>:<value>` per filtered column, so the query string of a
// page can be handed to the rows endpoint as it is. `trail` keeps the tables a foreign-key click
// came from, for the breadcrumbs.

export const FILTER_OPS = ['eq', 'ne', 'in', 'lt', 'le', 'gt', 'ge', 'isNull', 'notNull', 'contains', 'startsWith'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** Operators that take no value. */
export const VALUELESS_OPS: ReadonlySet<FilterOp> = new Set(['isNull', 'notNull']);

export interface ColumnFilter {
  column: string;
  op: FilterOp;
  value: string;
}

/** What one view of a table shows: enough to reproduce it from a link. */
export interface DataView {
  table: string;
  sort: string | null;
  desc: boolean;
  filters: ColumnFilter[];
}

const FILTER_PREFIX = 'f.';

function isFilterOp(text: string): text is FilterOp {
  return (FILTER_OPS as readonly string[]).includes(text);
}

/** `eq:PG-13` → eq, "PG-13"; `isNull` (with or without the colon) → isNull, "". Only the first
 *  colon separates: values may contain colons (times, URLs). */
export function parseFilter(column: string, text: string): ColumnFilter | null {
  const colon = text.indexOf(':');
  const op = colon < 0 ? text : text.slice(0, colon);
  if (!isFilterOp(op)) return null;
  const value = colon < 0 ? '' : text.slice(colon + 1);
  return { column, op, value: VALUELESS_OPS.has(op) ? '' : value };
}

export function formatFilter(filter: Pick<ColumnFilter, 'op' | 'value'>): string {
  return VALUELESS_OPS.has(filter.op) ? filter.op : `${filter.op}:${filter.value}`;
}

export function filterParam(column: string): string {
  return FILTER_PREFIX + column;
}

/** The filters of a query string, in the order the URL lists them (unknown operators dropped). */
export function readFilters(params: URLSearchParams): ColumnFilter[] {
  const filters: ColumnFilter[] = [];
  for (const [key, text] of params) {
    if (!key.startsWith(FILTER_PREFIX) || key.length === FILTER_PREFIX.length) continue;
    const filter = parseFilter(key.slice(FILTER_PREFIX.length), text);
    if (filter) filters.push(filter);
  }
  return filters;
}

export function readDataView(params: URLSearchParams): DataView {
  return {
    table: params.get('table') ?? '',
    sort: params.get('sort') || null,
    desc: params.get('desc') === '1',
    filters: readFilters(params),
  };
}

/** The query parameters that write a view (table, sort, desc, filters). */
export function dataViewParams(view: DataView): URLSearchParams {
  const params = new URLSearchParams({ table: view.table });
  if (view.sort) params.set('sort', view.sort);
  if (view.sort && view.desc) params.set('desc', '1');
  for (const filter of view.filters) params.append(filterParam(filter.column), formatFilter(filter));
  return params;
}

// Each trail entry is a view's own query string; `|` never occurs in one (URLSearchParams
// percent-encodes it), so it separates them.
const TRAIL_SEPARATOR = '|';

export function encodeTrail(trail: DataView[]): string {
  return trail.map((view) => dataViewParams(view).toString()).join(TRAIL_SEPARATOR);
}

export function decodeTrail(text: string | null): DataView[] {
  if (!text) return [];
  return text
    .split(TRAIL_SEPARATOR)
    .map((entry) => readDataView(new URLSearchParams(entry)))
    .filter((view) => view.table !== '');
}

/** The query parameters the data browser owns; everything else in the URL (db, the shell's)
 *  survives moving to another table. */
export function isDataParam(key: string): boolean {
  return ['table', 'sort', 'desc', 'after', 'count', 'trail'].includes(key) || key.startsWith(FILTER_PREFIX);
}

/** The search string of the data view `view` with `trail` behind it, keeping `current`'s other
 *  parameters (db). */
export function dataViewSearch(current: URLSearchParams, view: DataView, trail: DataView[]): string {
  const next = new URLSearchParams();
  for (const [key, value] of current) if (!isDataParam(key) && key !== 'view') next.append(key, value);
  next.set('view', 'data');
  for (const [key, value] of dataViewParams(view)) next.append(key, value);
  if (trail.length) next.set('trail', encodeTrail(trail));
  return `?${next.toString()}`;
}

/** A short description of a view for breadcrumbs: `public.film (rating = PG-13)`. */
export function describeView(view: DataView): string {
  const filters = view.filters.map((filter) =>
    VALUELESS_OPS.has(filter.op) ? `${filter.column} ${filter.op}` : `${filter.column} ${OP_SYMBOLS[filter.op]} ${filter.value}`,
  );
  return filters.length ? `${view.table} (${filters.join(', ')})` : view.table;
}

export const OP_SYMBOLS: Record<FilterOp, string> = {
  eq: '=',
  ne: '≠',
  in: 'in',
  lt: '<',
  le: '≤',
  gt: '>',
  ge: '≥',
  isNull: 'is null',
  notNull: 'not null',
  contains: 'contains',
  startsWith: 'starts with',
};
