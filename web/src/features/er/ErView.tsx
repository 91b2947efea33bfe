import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Background, Controls, MiniMap, ReactFlow, useStore, type NodeMouseHandler, type NodeTypes } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { api, unwrap } from '../../api/client';
import { useSchemaGraph } from '../../api/queries';
import { ErrorMessage } from '../../components/ErrorMessage';
import { TableOptions } from '../../components/TableOptions';
import type { DumpViewProps } from '../../pages/DumpPage';
import { parseTableKey, tableKey, useUrlState } from '../../url';
import { exportDiagram, type ImageFormat } from './exportImage';
import { layoutDiagram, type TableFlowNode } from './layout';
import { TableNode } from './TableNode';
import { zoomedOut } from './zoom';
import './er.css';

const nodeTypes: NodeTypes = { table: TableNode };
const DEPTHS = [1, 2, 3] as const;
type Scope = 'table' | 'schema' | 'all';
/** A whole large schema starts zoomed far out: React Flow's default minimum (0.5) cannot fit it. */
const MIN_ZOOM = 0.005;
/** Culled nodes are never measured: fit to the sizes layout gave them. */
const FIT_OPTIONS = { includeHiddenNodes: true };
/** The minimap draws every node on each frame: past this many tables it costs more than it helps. */
const MINIMAP_LIMIT = 300;

/** What the URL asks the ER view for (`scope`, `schema`, `table`, `depth`). */
function useDiagramRequest(defaultSchema: string | undefined) {
  const [params, setParams] = useUrlState();
  const table = parseTableKey(params.get('table'));
  const scopeParam = params.get('scope');
  const scope: Scope = scopeParam === 'table' || scopeParam === 'schema' || scopeParam === 'all' ? scopeParam : table ? 'table' : 'schema';
  const depth = Math.min(3, Math.max(1, Number(params.get('depth')) || 1));
  const schema = params.get('schema') ?? table?.schema ?? defaultSchema;
  return { params, setParams, table, scope, depth, schema };
}

/** The ER diagram view: a table and its neighbours, a schema, or everything. */
export function ErView({ dumpId, database }: DumpViewProps) {
  const graph = useSchemaGraph(dumpId, database);
  const schemaNames = useMemo(() => graph.data?.schemas.map((schema) => schema.name) ?? [], [graph.data]);
  const defaultSchema = schemaNames.includes('public') ? 'public' : schemaNames[0];
  const { params, setParams, table, scope, depth, schema } = useDiagramRequest(defaultSchema);
  const selectedKey = table ? tableKey(table.schema, table.name) : null;

  const query = useMemo(() => {
    if (scope === 'table') return table ? { schema: table.schema, table: table.name, depth } : null;
    if (scope === 'schema') return schema ? { schema } : null;
    return {};
  }, [scope, table, depth, schema]);

  const diagram = useQuery({
    queryKey: ['er', dumpId, database, query],
    queryFn: async () => {
      const answer = await unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/er', {
          params: { path: { id: dumpId, database }, query: { ...query, format: 'json' } },
        }),
      );
      // The operation also answers Mermaid text, so its type allows a string.
      if (typeof answer === 'string') throw new Error('The server sent text where a JSON diagram was asked for.');
      return answer;
    },
    enabled: query !== null,
    staleTime: Infinity,
  });
  // Layout once per diagram: selection and zoom never lay it out again.
  const layout = useMemo(() => (diagram.data ? layoutDiagram(diagram.data) : null), [diagram.data]);
  const nodes = useMemo(
    () => layout?.nodes.map((node) => (node.id === selectedKey ? { ...node, selected: true } : node)) ?? [],
    [layout, selectedKey],
  );

  const onNodeClick: NodeMouseHandler<TableFlowNode> = useCallback(
    (_, node) => setParams({ table: node.id, schema: null }),
    [setParams],
  );

  const ids = useId();
  const canvas = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<{ text: string; error?: boolean } | null>(null);
  // Culling draws only what is on screen; an export must draw everything first.
  const [exporting, setExporting] = useState<ImageFormat | null>(null);
  const fileName = query === null ? 'er' : scope === 'table' ? `er-${selectedKey}-depth${depth}` : scope === 'schema' ? `er-${schema}` : 'er-all';
  useEffect(() => {
    if (!exporting || !layout) return;
    let cancelled = false;
    // Two frames: one for React to commit every node, one for the browser to lay them out.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        const viewport = canvas.current?.querySelector<HTMLElement>('.react-flow__viewport');
        if (cancelled || !viewport) return;
        exportDiagram(viewport, layout.nodes, exporting, fileName)
          .then(() => setStatus({ text: `Saved ${fileName}.${exporting}` }))
          .catch((error: unknown) => setStatus({ text: `Could not export the image: ${String(error)}`, error: true }))
          .finally(() => setExporting(null));
      }),
    );
    return () => {
      cancelled = true;
    };
  }, [exporting, layout, fileName]);

  const copyMermaid = async () => {
    if (query === null) return;
    try {
      const text = await unwrap(
        api.GET('/api/v1/dumps/{id}/databases/{database}/er', {
          params: { path: { id: dumpId, database }, query: { ...query, format: 'mermaid' } },
          parseAs: 'text',
        }),
      );
      await navigator.clipboard.writeText(text);
      setStatus({ text: 'Mermaid copied to the clipboard' });
    } catch (error) {
      setStatus({ text: `Could not copy Mermaid: ${error instanceof Error ? error.message : String(error)}`, error: true });
    }
  };

  if (graph.error) return <ErrorMessage error={graph.error} />;
  const tables = graph.data?.tables ?? [];

  return (
    <div className="er-view">
      <div className="er-toolbar">
        <span className="er-field">
          <label htmlFor={`${ids}-scope`}>Show</label>
          <select id={`${ids}-scope`} value={scope} onChange={(event) => setParams({ scope: event.target.value })}>
            <option value="table">A table and its neighbours</option>
            <option value="schema">A whole schema</option>
            <option value="all">Every schema</option>
          </select>
        </span>
        {scope === 'table' && (
          <>
            <span className="er-field">
              <label htmlFor={`${ids}-table`}>Table</label>
              <select
                id={`${ids}-table`}
                value={selectedKey ?? ''}
                onChange={(event) => setParams({ table: event.target.value || null, schema: null })}
              >
                {!selectedKey && <option value="">Choose a table…</option>}
                <TableOptions tables={tables} />
              </select>
            </span>
            <span className="er-field">
              <label htmlFor={`${ids}-depth`}>Depth</label>
              <select id={`${ids}-depth`} value={depth} onChange={(event) => setParams({ depth: event.target.value })}>
                {DEPTHS.map((value) => (
                  <option key={value} value={value}>
                    {value}
                  </option>
                ))}
              </select>
            </span>
          </>
        )}
        {scope === 'schema' && (
          <span className="er-field">
            <label htmlFor={`${ids}-schema`}>Schema</label>
            <select id={`${ids}-schema`} value={schema ?? ''} onChange={(event) => setParams({ schema: event.target.value })}>
              {schemaNames.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </span>
        )}
        <div className="spacer" />
        {layout && (
          <span className="muted" aria-live="polite">
            {layout.nodes.length} tables, {layout.edges.length} foreign keys
          </span>
        )}
        <button type="button" disabled={!layout || !!exporting} onClick={() => setExporting('svg')}>
          Export SVG
        </button>
        <button type="button" disabled={!layout || !!exporting} onClick={() => setExporting('png')}>
          Export PNG
        </button>
        <button type="button" disabled={query === null} onClick={copyMermaid}>
          Copy Mermaid
        </button>
      </div>
      {status && (
        <p className={status.error ? 'error' : 'muted'} role={status.error ? 'alert' : 'status'}>
          {status.text}
        </p>
      )}
      {diagram.error && <ErrorMessage error={diagram.error} />}
      {query === null && <p className="muted">Choose a table to see it with its neighbours.</p>}
      {query !== null && !layout && !diagram.error && <p className="muted">Loading the diagram…</p>}
      {layout && (
        <div className="er-canvas" ref={canvas}>
          <ReactFlow
            // A new diagram starts fitted to the screen.
            key={JSON.stringify(query)}
            nodes={nodes}
            edges={layout.edges}
            nodeTypes={nodeTypes}
            onNodeClick={onNodeClick}
            fitView
            fitViewOptions={FIT_OPTIONS}
            minZoom={MIN_ZOOM}
            maxZoom={2}
            onlyRenderVisibleElements={params.get('culling') !== 'off' && !exporting}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            edgesFocusable={false}
            proOptions={{ hideAttribution: true }}
            aria-label="ER diagram"
          >
            <ZoomedOutDetail />
            <Controls showInteractive={false} fitViewOptions={FIT_OPTIONS} />
            {layout.nodes.length <= MINIMAP_LIMIT && <MiniMap pannable zoomable ariaLabel="Overview" />}
          </ReactFlow>
        </div>
      )}
    </div>
  );
}

/** What only helps close up: the dotted background (at a low zoom its pattern has thousands of
 *  tiles to paint each frame) and the edge labels (hidden by CSS through a class on the flow). */
function ZoomedOutDetail() {
  const compact = useStore(zoomedOut);
  const flow = useStore((state) => state.domNode);
  useEffect(() => {
    flow?.classList.toggle('er-zoomed-out', compact);
  }, [flow, compact]);
  return compact ? null : <Background />;
}
