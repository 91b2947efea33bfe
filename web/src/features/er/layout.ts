// The API's ER diagram as React Flow nodes and edges, placed by dagre. Pure, so it runs once per
// diagram (memoized by the caller) and is tested without a browser.
import dagre from '@dagrejs/dagre';
import { MarkerType, Position, type Edge, type Node } from '@xyflow/react';
import type { Schemas } from '../../api/client';

export type Diagram = Schemas['Diagram'];
export type DiagramTable = Schemas['Node'];

export interface TableNodeData extends Record<string, unknown> {
  table: DiagramTable;
}
export type TableFlowNode = Node<TableNodeData, 'table'>;

/** Node geometry, shared with TableNode's CSS so culling and edges use the real sizes. */
export const NODE_WIDTH = 260;
export const HEADER_HEIGHT = 32;
export const ROW_HEIGHT = 20;
const PADDING = 8;
/** Past this many tables dagre's cheaper ranking and ordering keep layout well under a second. */
const LARGE_GRAPH = 300;

export function nodeHeight(table: DiagramTable): number {
  return HEADER_HEIGHT + table.columns.length * ROW_HEIGHT + PADDING;
}

export interface FlowGraph {
  nodes: TableFlowNode[];
  edges: Edge[];
}

/** Places the diagram's tables left to right, each referencing table before the table it
 *  references, with one labelled edge per foreign key. */
export function layoutDiagram(diagram: Diagram): FlowGraph {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  const large = diagram.nodes.length > LARGE_GRAPH;
  graph.setGraph({
    rankdir: 'LR',
    nodesep: 24,
    ranksep: 90,
    marginx: 20,
    marginy: 20,
    ranker: large ? 'longest-path' : 'network-simplex',
  });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const table of diagram.nodes) graph.setNode(table.id, { width: NODE_WIDTH, height: nodeHeight(table) });
  const known = new Set(diagram.nodes.map((table) => table.id));
  const edges = diagram.edges.filter((edge) => known.has(edge.from) && known.has(edge.to));
  for (const edge of edges) graph.setEdge(edge.from, edge.to, {}, edge.name);
  dagre.layout(graph, { disableOptimalOrderHeuristic: large });

  const nodes: TableFlowNode[] = diagram.nodes.map((table) => {
    const { x, y } = graph.node(table.id);
    const height = nodeHeight(table);
    return {
      id: table.id,
      type: 'table',
      // dagre gives centres, React Flow wants top-left corners.
      position: { x: x - NODE_WIDTH / 2, y: y - height / 2 },
      width: NODE_WIDTH,
      height,
      // Known sizes and handles let React Flow cull and draw edges of nodes it never rendered.
      handles: [
        { type: 'target', position: Position.Left, x: 0, y: HEADER_HEIGHT / 2, width: 1, height: 1 },
        { type: 'source', position: Position.Right, x: NODE_WIDTH - 1, y: HEADER_HEIGHT / 2, width: 1, height: 1 },
      ],
      ariaLabel: `Table ${table.id}`,
      data: { table },
    };
  });
  const flowEdges: Edge[] = edges.map((edge) => ({
    id: `${edge.from}:${edge.name}`,
    source: edge.from,
    target: edge.to,
    label: edge.columns.join(', '),
    ariaLabel: `Foreign key ${edge.name}: ${edge.from} (${edge.columns.join(', ')}) references ${edge.to} (${edge.referencedColumns.join(', ')})`,
    markerEnd: { type: MarkerType.ArrowClosed },
    // Dashes mark an optional key, but Skia dashes a path one dash at a time: a long edge of a
    // large diagram seen close up took seconds a frame (the UI benchmark, `npm run bench`).
    className: ['er-edge', edge.optional && 'optional', edge.optional && !large && 'dashed'].filter(Boolean).join(' '),
  }));
  return { nodes, edges: flowEdges };
}
