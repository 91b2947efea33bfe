import { describe, expect, it } from 'vitest';
import {
  dataViewParams,
  dataViewSearch,
  decodeTrail,
  describeView,
  encodeTrail,
  formatFilter,
  parseFilter,
  readDataView,
  type DataView,
} from './dataUrl';

describe('filters in the URL', () => {
  it('reads the API syntax, splitting at the first colon only', () => {
    expect(parseFilter('rating', 'eq:PG-13')).toEqual({ column: 'rating', op: 'eq', value: 'PG-13' });
    expect(parseFilter('last_update', 'ge:2006-02-15 09:45:30')).toEqual({ column: 'last_update', op: 'ge', value: '2006-02-15 09:45:30' });
    expect(parseFilter('address2', 'isNull')).toEqual({ column: 'address2', op: 'isNull', value: '' });
    expect(parseFilter('address2', 'notNull:ignored')).toEqual({ column: 'address2', op: 'notNull', value: '' });
    expect(parseFilter('title', 'like:%A')).toBeNull();
  });

  it('writes what it reads', () => {
    for (const text of ['eq:PG-13', 'in:["G","PG"]', 'contains:a:b', 'isNull', 'startsWith:']) {
      expect(formatFilter(parseFilter('c', text)!)).toBe(text);
    }
  });

  it('reads a view from the query string and writes it back', () => {
    const params = new URLSearchParams('db=x&view=data&table=public.film&sort=title&desc=1&f.rating=eq%3APG-13&f.title=startsWith%3AA%26B&after=abc');
    const view = readDataView(params);
    expect(view).toEqual({
      table: 'public.film',
      sort: 'title',
      desc: true,
      filters: [
        { column: 'rating', op: 'eq', value: 'PG-13' },
        { column: 'title', op: 'startsWith', value: 'A&B' },
      ],
    });
    expect(dataViewParams(view).toString()).toBe('table=public.film&sort=title&desc=1&f.rating=eq%3APG-13&f.title=startsWith%3AA%26B');
  });
});

describe('the trail of followed foreign keys', () => {
  const film: DataView = { table: 'public.film', sort: 'title', desc: true, filters: [{ column: 'rating', op: 'eq', value: 'a|b & c' }] };
  const language: DataView = { table: 'public.language', sort: null, desc: false, filters: [{ column: 'language_id', op: 'eq', value: '1' }] };

  it('survives a round trip, even with the separator in a value', () => {
    expect(decodeTrail(encodeTrail([film, language]))).toEqual([film, language]);
    expect(decodeTrail(null)).toEqual([]);
  });

  it('builds a link that keeps the database and drops the old view', () => {
    const current = new URLSearchParams('db=sandbox&view=data&table=public.film&after=xyz&f.rating=eq:G&count=exact');
    const search = dataViewSearch(current, language, [film]);
    const next = new URLSearchParams(search);
    expect(next.get('db')).toBe('sandbox');
    expect(next.get('view')).toBe('data');
    expect(next.get('table')).toBe('public.language');
    expect(next.get('f.language_id')).toBe('eq:1');
    expect(next.has('f.rating')).toBe(false);
    expect(next.has('after')).toBe(false);
    expect(next.has('count')).toBe(false);
    expect(decodeTrail(next.get('trail'))).toEqual([film]);
  });

  it('describes a view for a breadcrumb', () => {
    expect(describeView(language)).toBe('public.language (language_id = 1)');
    expect(describeView({ table: 'public.address', sort: null, desc: false, filters: [{ column: 'address2', op: 'isNull', value: '' }] })).toBe(
      'public.address (address2 isNull)',
    );
  });
});
