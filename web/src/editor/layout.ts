/** Auto-layout with dagre, left to right, the way profiles flow through the scenario. */
import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 80;

export type LayoutInput = {
  nodes: { id: string; width?: number; height?: number }[];
  edges: { source: string; target: string; port?: string }[];
};

const PORT_ORDER: Record<string, number> = { yes: 0, next: 1, no: 2, error: 3 };

/** Top-left positions by node id. */
export function layout({ nodes, edges }: LayoutInput): Map<string, { x: number; y: number }> {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 36, ranksep: 64, marginx: 20, marginy: 30 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    g.setNode(n.id, { width: n.width ?? NODE_WIDTH, height: (n.height ?? NODE_HEIGHT) + 24 });
  }
  const ids = new Set(nodes.map((n) => n.id));
  // yes above no: dagre keeps insertion order within a rank as a hint.
  const sorted = [...edges].sort(
    (a, b) => (PORT_ORDER[a.port ?? "next"] ?? 9) - (PORT_ORDER[b.port ?? "next"] ?? 9),
  );
  sorted.forEach((e, i) => {
    if (ids.has(e.source) && ids.has(e.target)) g.setEdge(e.source, e.target, {}, `e${i}`);
  });
  dagre.layout(g);
  const out = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const p = g.node(n.id);
    out.set(n.id, {
      x: Math.round(p.x - (n.width ?? NODE_WIDTH) / 2),
      y: Math.round(p.y - (n.height ?? NODE_HEIGHT) / 2),
    });
  }
  return out;
}
