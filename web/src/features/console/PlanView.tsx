// A plan as `EXPLAIN (FORMAT JSON)` gives it, drawn as a tree of collapsible nodes (the node,
// what it reads, its cost and rows, and with ANALYZE the real time and rows), and as JSON.

/** The keys of one plan node this view reads; the JSON below shows the rest. */
interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  Alias?: string;
  'Index Name'?: string;
  'Startup Cost'?: number;
  'Total Cost'?: number;
  'Plan Rows'?: number;
  'Actual Total Time'?: number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Filter?: string;
  'Index Cond'?: string;
  'Hash Cond'?: string;
  'Join Type'?: string;
  Plans?: PlanNode[];
}
interface PlanRoot {
  Plan?: PlanNode;
  'Planning Time'?: number;
  'Execution Time'?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

export function PlanView({ plan }: { plan: unknown }) {
  const roots = (Array.isArray(plan) ? plan : [plan]).filter(isRecord) as PlanRoot[];
  return (
    <div className="plan-view">
      {roots.map((root, index) => (
        <div key={index}>
          {root.Plan && (
            <ul className="plan-tree" aria-label="Query plan">
              <PlanNodeItem node={root.Plan} />
            </ul>
          )}
          {(root['Planning Time'] !== undefined || root['Execution Time'] !== undefined) && (
            <p className="muted">
              {root['Planning Time'] !== undefined && `Planning ${root['Planning Time'].toFixed(3)} ms. `}
              {root['Execution Time'] !== undefined && `Execution ${root['Execution Time'].toFixed(3)} ms.`}
            </p>
          )}
        </div>
      ))}
      <details>
        <summary>Plan as JSON</summary>
        <pre className="plan-json">{JSON.stringify(plan, null, 2)}</pre>
      </details>
    </div>
  );
}

function PlanNodeItem({ node }: { node: PlanNode }) {
  const target = [
    node['Join Type'] && `${node['Join Type']} join`,
    node['Relation Name'] && `on ${node['Relation Name']}${node.Alias && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : ''}`,
    node['Index Name'] && `using ${node['Index Name']}`,
  ]
    .filter(Boolean)
    .join(' ');
  const condition = node['Index Cond'] ?? node['Hash Cond'] ?? node.Filter;
  const summary = (
    <>
      <strong>{node['Node Type'] ?? 'Node'}</strong> {target}{' '}
      <span className="muted">
        (cost {node['Startup Cost']}..{node['Total Cost']}, rows {node['Plan Rows']}
        {node['Actual Total Time'] !== undefined &&
          `; actual ${node['Actual Total Time']} ms, rows ${node['Actual Rows']}, loops ${node['Actual Loops']}`}
        )
      </span>
      {condition && <div className="plan-condition mono">{condition}</div>}
    </>
  );
  if (!node.Plans?.length) {
    return <li>{summary}</li>;
  }
  return (
    <li>
      <details open>
        <summary>{summary}</summary>
        <ul>
          {node.Plans.map((child, index) => (
            <PlanNodeItem key={index} node={child} />
          ))}
        </ul>
      </details>
    </li>
  );
}
