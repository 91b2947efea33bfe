// A plain pg_dump-style script of a large schema for the UI benchmark: 1,000 tables linked by
// foreign keys in a tree with cross links (so the ER layout has real work), and one table of
// 20,000 rows for the data grid. It is restored by `dumplens serve` like any plain dump.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const BENCH_TABLES = 1000;
export const BENCH_BIG_TABLE = 'big_rows';
export const BENCH_BIG_ROWS = 20_000;

const name = (index: number) => `t${String(index).padStart(4, '0')}`;

/** Table i references its parent in a ternary tree, and every fourth one a second, earlier table. */
export function benchForeignKeys(index: number): { column: string; references: number }[] {
  if (index === 0) return [];
  const keys = [{ column: 'parent_id', references: Math.floor((index - 1) / 3) }];
  if (index % 4 === 0) keys.push({ column: 'other_id', references: (index * 7919) % index });
  return keys;
}

export async function writeBenchDump(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`--
-- PostgreSQL database dump
--

-- Dumped from database version 18.0
-- Dumped by pg_dump version 18.0

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';
SET default_table_access_method = heap;

`);
  for (let i = 0; i < BENCH_TABLES; i++) {
    const keys = benchForeignKeys(i);
    const extra = i % 5; // 0-4 more columns, so nodes differ in height
    const columns = [
      '    id integer NOT NULL',
      ...keys.map((key) => `    ${key.column} integer${key.column === 'parent_id' ? ' NOT NULL' : ''}`),
      '    name text NOT NULL',
      '    created_at timestamp with time zone DEFAULT now() NOT NULL',
      ...Array.from({ length: extra }, (_, n) => `    attribute_${n + 1} numeric(12,2)`),
    ];
    await write(`--\n-- Name: ${name(i)}; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE public.${name(i)} (\n${columns.join(',\n')}\n);\n\n`);
    if (i % 10 === 0) await write(`COMMENT ON TABLE public.${name(i)} IS 'Benchmark table number ${i}';\n\n`);
  }
  await write(`CREATE TABLE public.${BENCH_BIG_TABLE} (
    id integer NOT NULL,
    t_id integer NOT NULL,
    label text NOT NULL,
    amount numeric(12,2),
    created_at timestamp with time zone NOT NULL
);

`);
  // A row in each tree table, so every foreign key holds.
  for (let i = 0; i < BENCH_TABLES; i++) {
    const keys = benchForeignKeys(i);
    await write(`COPY public.${name(i)} (id, ${keys.map((key) => `${key.column}, `).join('')}name, created_at) FROM stdin;\n`);
    await write(`1\t${keys.map(() => '1\t').join('')}row of ${name(i)}\t2025-01-01 00:00:00+00\n\\.\n\n`);
  }
  await write(`COPY public.${BENCH_BIG_TABLE} (id, t_id, label, amount, created_at) FROM stdin;\n`);
  const lines: string[] = [];
  for (let id = 1; id <= BENCH_BIG_ROWS; id++) {
    const day = String(1 + (id % 28)).padStart(2, '0');
    lines.push(`${id}\t1\tlabel ${id}\t${(id * 37) % 10000}.${String(id % 100).padStart(2, '0')}\t2025-02-${day} 12:00:00+00\n`);
    if (lines.length === 1000) await write(lines.splice(0).join(''));
  }
  await write(`${lines.join('')}\\.\n\n`);
  for (let i = 0; i < BENCH_TABLES; i++) {
    await write(`ALTER TABLE ONLY public.${name(i)}\n    ADD CONSTRAINT ${name(i)}_pkey PRIMARY KEY (id);\n\n`);
  }
  await write(`ALTER TABLE ONLY public.${BENCH_BIG_TABLE}\n    ADD CONSTRAINT ${BENCH_BIG_TABLE}_pkey PRIMARY KEY (id);\n\n`);
  for (let i = 0; i < BENCH_TABLES; i++) {
    for (const key of benchForeignKeys(i)) {
      await write(
        `ALTER TABLE ONLY public.${name(i)}\n    ADD CONSTRAINT ${name(i)}_${key.column}_fkey FOREIGN KEY (${key.column}) REFERENCES public.${name(key.references)}(id);\n\n`,
      );
    }
  }
  await write(`ALTER TABLE ONLY public.${BENCH_BIG_TABLE}\n    ADD CONSTRAINT ${BENCH_BIG_TABLE}_t_id_fkey FOREIGN KEY (t_id) REFERENCES public.t0000(id);\n\n--\n-- PostgreSQL database dump complete\n--\n\n`);
  out.end();
  await once(out, 'finish');
}
