import { tableKey } from '../url';

/** The `<option>`s of a table picker: every table as `schema.name`, the value the URL keeps. */
export function TableOptions({ tables }: { tables: readonly { schema: string; name: string }[] }) {
  return tables.map((table) => {
    const key = tableKey(table.schema, table.name);
    return (
      <option key={key} value={key}>
        {key}
      </option>
    );
  });
}
