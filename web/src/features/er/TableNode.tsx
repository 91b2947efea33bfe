import { memo } from 'react';
import { Handle, Position, useStore, type NodeProps } from '@xyflow/react';
import { HEADER_HEIGHT, type TableFlowNode } from './layout';
import { zoomedOut } from './zoom';
const handleStyle = { top: HEADER_HEIGHT / 2 };

/** One table: its name and its columns, key columns marked. Re-renders only when its own data,
 *  its selection or the zoomed-out state changes. */
export const TableNode = memo(function TableNode({ data, selected }: NodeProps<TableFlowNode>) {
  const compact = useStore(zoomedOut);
  const { table } = data;
  return (
    <div className={`er-node${selected ? ' selected' : ''}${compact ? ' compact' : ''}`}>
      <Handle type="target" position={Position.Left} isConnectable={false} style={handleStyle} />
      <div className="er-node-header" title={table.id}>
        <span className="er-node-schema">{table.schema}.</span>
        <strong>{table.name}</strong>
      </div>
      {compact ? (
        <div className="er-node-summary">{table.columns.length} columns</div>
      ) : (
        <ul className="er-node-columns">
          {table.columns.map((column) => (
            <li key={column.name}>
              <span className="er-key">
                {column.primaryKey && <abbr title="primary key">PK</abbr>}
                {column.foreignKey && <abbr title="foreign key">FK</abbr>}
              </span>
              <span className={column.primaryKey ? 'er-column primary' : 'er-column'}>{column.name}</span>
              <span className="er-type">{column.dataType}</span>
            </li>
          ))}
        </ul>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} style={handleStyle} />
    </div>
  );
});
