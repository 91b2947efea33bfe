import { HEADER_HEIGHT, NODE_WIDTH, ROW_HEIGHT, layoutDiagram, nodeHeight, type Diagram, type DiagramTable } from './layout';

function table(name: string, columns: [string, 'pk' | 'fk' | 'pkfk' | ''][]): DiagramTable {
  return {
    id: `public.${name}`,
    schema: 'public',
    name,
    rowEstimate: 10,
    columns: columns.map(([column, key]) => ({
      name: column,
      dataType: 'integer',
      primaryKey: key.startsWith('pk'),
      foreignKey: key.endsWith('fk'),
      nullable: key === '',
    })),
  };
}

function edge(from: string, to: string, column: string, optional = false): Diagram['edges'][number] {
  return {
    name: `${from}_${column}_fkey`,
    from: `public.${from}`,
    to: `public.${to}`,
    columns: [column],
    referencedColumns: [column],
    onDelete: 'RESTRICT',
    optional,
  };
}

// The shape of pagila's film at depth 1, as the API returns it.
const FILM: Diagram = {
  nodes: [
    table('film', [['film_id', 'pk'], ['title', ''], ['language_id', 'fk'], ['original_language_id', 'fk']]),
    table('language', [['language_id', 'pk'], ['name', '']]),
    table('film_actor', [['actor_id', 'pkfk'], ['film_id', 'pkfk']]),
    table('inventory', [['inventory_id', 'pk'], ['film_id', 'fk'], ['store_id', '']]),
  ],
  edges: [
    edge('film', 'language', 'language_id'),
    edge('film', 'language', 'original_language_id', true),
    edge('film_actor', 'film', 'film_id'),
    edge('inventory', 'film', 'film_id'),
    // A neighbour beyond the requested depth: not in nodes, so not drawn.
    edge('film_actor', 'actor', 'actor_id'),
  ],
};

describe('layoutDiagram', () => {
  const { nodes, edges } = layoutDiagram(FILM);
  const byId = Object.fromEntries(nodes.map((node) => [node.id, node]));

  it('makes one sized table node per table, carrying its columns', () => {
    expect(nodes.map((node) => node.id)).toEqual(['public.film', 'public.language', 'public.film_actor', 'public.inventory']);
    expect(byId['public.film'].type).toBe('table');
    expect(byId['public.film'].width).toBe(NODE_WIDTH);
    expect(byId['public.film'].height).toBe(nodeHeight(FILM.nodes[0]));
    expect(nodeHeight(FILM.nodes[0])).toBeGreaterThanOrEqual(HEADER_HEIGHT + 4 * ROW_HEIGHT);
    expect(byId['public.film'].data.table.columns.filter((column) => column.primaryKey).map((column) => column.name)).toEqual(['film_id']);
    expect(byId['public.film'].ariaLabel).toBe('Table public.film');
    // Static handles let edges be drawn to nodes React Flow has not rendered.
    expect(byId['public.film'].handles?.map((handle) => handle.type)).toEqual(['target', 'source']);
  });

  it('makes one labelled edge per foreign key between drawn tables, dashed when optional', () => {
    expect(edges.map((flowEdge) => [flowEdge.source, flowEdge.target, flowEdge.label])).toEqual([
      ['public.film', 'public.language', 'language_id'],
      ['public.film', 'public.language', 'original_language_id'],
      ['public.film_actor', 'public.film', 'film_id'],
      ['public.inventory', 'public.film', 'film_id'],
    ]);
    expect(new Set(edges.map((flowEdge) => flowEdge.id)).size).toBe(edges.length);
    expect(edges[1].className).toBe('er-edge optional dashed');
    expect(edges[0].className).toBe('er-edge');
  });

  it('places referencing tables left of the tables they reference, without overlaps', () => {
    const x = (id: string) => byId[`public.${id}`].position.x;
    expect(x('film_actor')).toBeLessThan(x('film'));
    expect(x('inventory')).toBeLessThan(x('film'));
    expect(x('film')).toBeLessThan(x('language'));
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const apart =
          a.position.x + a.width! <= b.position.x ||
          b.position.x + b.width! <= a.position.x ||
          a.position.y + a.height! <= b.position.y ||
          b.position.y + b.height! <= a.position.y;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
    }
  });

  it('lays out a thousand tables with their foreign keys', () => {
    const many: Diagram = { nodes: [], edges: [] };
    for (let i = 0; i < 1000; i++) many.nodes.push(table(`t${i}`, [['id', 'pk'], ['parent_id', 'fk'], ['name', '']]));
    for (let i = 1; i < 1000; i++) many.edges.push(edge(`t${i}`, `t${Math.floor((i - 1) / 3)}`, 'parent_id'));
    const result = layoutDiagram(many);
    expect(result.nodes).toHaveLength(1000);
    expect(result.edges).toHaveLength(999);
    // No dashes on a large diagram: dashing long paths is what made panning it slow.
    many.edges[0].optional = true;
    expect(layoutDiagram(many).edges[0].className).toBe('er-edge optional');
    expect(result.nodes.every((node) => Number.isFinite(node.position.x) && Number.isFinite(node.position.y))).toBe(true);
  });
});
