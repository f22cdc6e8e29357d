/** The scenario editor at `#/scenarios/:id`: a React Flow canvas with the graph, the
 * element palette, the settings of the selected element, the scenario's own settings,
 * save / activate / stop, problems shown on the elements, and live counts above them. */
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type Edge,
  type IsValidConnection,
} from "@xyflow/react";
import { ApiError, get, patch, post } from "../api";
import { ConfirmDialog } from "../components/Dialog";
import { links } from "../router";
import { StatsPanel } from "../stats/StatsPanel";
import { TaskList } from "../stats/TaskList";
import { Inspector } from "./Inspector";
import { FIELDS_LIST, NodeChoices, type NodeChoice } from "./SchemaForm";
import { layout, NODE_HEIGHT, NODE_WIDTH } from "./layout";
import { DRAG_TYPE, Palette } from "./Palette";
import { AboutSection, SettingsDialog, StopDialog, type Meta } from "./ScenarioDialogs";
import {
  EditorContext,
  nodeTypes,
  type DanglingEdge,
  type EditorContextValue,
  type ScenarioFlowNode,
  type ScenarioNodeData,
} from "./ScenarioNode";
import { formatCount, StatsStore, type NodeCounts } from "./statsStore";
import {
  DEFAULT_CAPTURE_ID,
  type ApiEdge,
  type ApiNode,
  type NodeKind,
  type PeriodStats,
  type Problem,
  type RealtimeStats,
  type Scenario,
  type ScenarioStatus,
} from "./types";
import "./editor.css";

const POLL_MS = 2000;
const NO_PROBLEMS: Problem[] = [];
const MAX_TRIGGERS = 10;

const PORT_COLOURS: Record<string, string> = { yes: "#12b76a", no: "#f04438", error: "#f79009", next: "#667085" };

function edgeOf(e: ApiEdge): Edge {
  const colour = PORT_COLOURS[e.port] ?? PORT_COLOURS.next;
  return {
    id: `${e.source}:${e.port}->${e.target}`,
    source: e.source,
    sourceHandle: e.port,
    target: e.target,
    targetHandle: "in",
    type: "smoothstep",
    className: `ed-edge ed-edge-${e.port}`,
    style: { stroke: colour, strokeWidth: 2, strokeDasharray: e.port === "error" ? "6 4" : undefined },
    markerEnd: { type: MarkerType.ArrowClosed, color: colour },
  };
}

function nodeOf(n: ApiNode): ScenarioFlowNode {
  return {
    id: n.id,
    type: "scenario",
    position: n.position ? { x: n.position[0], y: n.position[1] } : { x: 0, y: 0 },
    deletable: n.id !== DEFAULT_CAPTURE_ID,
    data: { kind: n.kind, name: n.name, settings: n.settings ?? {} },
  };
}

function graphOf(nodes: ScenarioFlowNode[], edges: Edge[]): { nodes: ApiNode[]; edges: ApiEdge[] } {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      kind: n.data.kind,
      name: n.data.name,
      settings: n.data.settings,
      position: [Math.round(n.position.x), Math.round(n.position.y)],
    })),
    edges: edges.map((e) => ({ source: e.source, port: e.sourceHandle ?? "next", target: e.target })),
  };
}

function metaOf(s: Scenario): Meta {
  return {
    name: s.name,
    description: s.description,
    tags: s.tags,
    groups: s.groups,
    attributes: s.attributes,
    reentry: s.reentry,
    database_id: s.database_id,
  };
}

/** Lay out with dagre the nodes without a stored position (all of them when `all`). */
function placed(nodes: ScenarioFlowNode[], edges: Edge[], unplaced: Set<string> | "all"): ScenarioFlowNode[] {
  if (unplaced !== "all" && unplaced.size === 0) return nodes;
  const positions = layout({
    nodes: nodes.map((n) => ({ id: n.id, width: n.measured?.width, height: n.measured?.height })),
    edges: edges.map((e) => ({ source: e.source, target: e.target, port: e.sourceHandle ?? "next" })),
  });
  let dx = 0;
  let dy = 0;
  if (unplaced !== "all" && unplaced.size < nodes.length) {
    // Keep the placed ones where they are; put the laid-out rest below them.
    const kept = nodes.filter((n) => !unplaced.has(n.id));
    dy = Math.max(...kept.map((n) => n.position.y)) + NODE_HEIGHT * 2;
    dx = Math.min(...kept.map((n) => n.position.x));
  }
  return nodes.map((n) => {
    if (unplaced !== "all" && !unplaced.has(n.id)) return n;
    const p = positions.get(n.id)!;
    return { ...n, position: { x: p.x + dx, y: p.y + dy } };
  });
}

function problemsEqual(a: Problem[] | undefined, b: Problem[]): boolean {
  const left = a ?? [];
  if (left.length !== b.length) return false;
  return left.every((p, i) => p.message === b[i].message && p.code === b[i].code);
}

/** Attach the problems to their nodes, keeping the objects of unchanged nodes (memo). */
function withProblems(nodes: ScenarioFlowNode[], problems: Problem[]): ScenarioFlowNode[] {
  const byNode = new Map<string, Problem[]>();
  for (const p of problems) {
    if (p.node_id) byNode.set(p.node_id, [...(byNode.get(p.node_id) ?? []), p]);
  }
  return nodes.map((n) => {
    const mine = byNode.get(n.id) ?? [];
    if (problemsEqual(n.data.problems, mine)) return n;
    return { ...n, data: { ...n.data, problems: mine.length ? mine : undefined } };
  });
}

/** Edges whose other end is missing (an imported file naming a node that is not there):
 * React Flow cannot draw them, so each is put on the node it still touches, which draws
 * a red stub with a delete button. Unchanged nodes keep their objects (memo). */
function withDangling(nodes: ScenarioFlowNode[], edges: Edge[]): ScenarioFlowNode[] {
  const ids = new Set(nodes.map((n) => n.id));
  const byNode = new Map<string, DanglingEdge[]>();
  const add = (nodeId: string, d: DanglingEdge) => byNode.set(nodeId, [...(byNode.get(nodeId) ?? []), d]);
  for (const e of edges) {
    const port = e.sourceHandle ?? "next";
    if (ids.has(e.source) && !ids.has(e.target)) add(e.source, { edgeId: e.id, side: "out", port, missing: e.target });
    else if (!ids.has(e.source) && ids.has(e.target)) add(e.target, { edgeId: e.id, side: "in", port, missing: e.source });
  }
  if (byNode.size === 0 && !nodes.some((n) => n.data.dangling)) return nodes;
  return nodes.map((n) => {
    const mine = byNode.get(n.id);
    if (!mine && !n.data.dangling) return n;
    if (mine && n.data.dangling && JSON.stringify(mine) === JSON.stringify(n.data.dangling)) return n;
    return { ...n, data: { ...n.data, dangling: mine } };
  });
}

type Box = { x: number; y: number; width: number; height: number };

/** Room kept free around an element: its counts sit above it, its port labels beside it. */
const GAP_X = 40;
const GAP_Y = 44;

/** The free top-left position nearest to `wanted` where a new element overlaps none of
 * `taken` (searched outwards on a fine grid, nearest first). */
export function freeSpot(wanted: { x: number; y: number }, taken: Box[], size = { width: NODE_WIDTH, height: NODE_HEIGHT }) {
  const clear = (x: number, y: number) =>
    taken.every(
      (b) =>
        x + size.width + GAP_X <= b.x ||
        b.x + b.width + GAP_X <= x ||
        y + size.height + GAP_Y <= b.y ||
        b.y + b.height + GAP_Y <= y,
    );
  const step = 20;
  for (let ring = 0; ring <= 150; ring++) {
    const candidates: { x: number; y: number; d: number }[] = [];
    for (let i = -ring; i <= ring; i++) {
      for (let j = -ring; j <= ring; j++) {
        if (Math.max(Math.abs(i), Math.abs(j)) !== ring) continue;
        candidates.push({ x: wanted.x + i * step, y: wanted.y + j * step, d: i * i + j * j });
      }
    }
    candidates.sort((a, b) => a.d - b.d);
    const found = candidates.find((c) => clear(c.x, c.y));
    if (found) return { x: found.x, y: found.y };
  }
  return wanted;
}

function uniqueId(kind: string, taken: Set<string>): string {
  const base = kind.replace(/^trigger_/, "trigger_");
  for (let i = 1; ; i++) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function problemsOf(err: unknown): Problem[] | null {
  if (err instanceof ApiError && err.body && typeof err.body === "object" && "problems" in err.body) {
    const problems = (err.body as { problems: unknown }).problems;
    if (Array.isArray(problems)) return problems as Problem[];
  }
  return null;
}

type Loaded = { kinds: NodeKind[]; scenario: Scenario };

export function Editor({ scenarioId }: { scenarioId: number }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    setLoaded(null);
    setError(null);
    Promise.all([get<NodeKind[]>("/node-kinds"), get<Scenario>(`/scenarios/${scenarioId}`)])
      .then(([kinds, scenario]) => {
        if (!cancelled) setLoaded({ kinds, scenario });
      })
      .catch((err) => {
        if (!cancelled) setError(errorText(err));
      });
    return () => {
      cancelled = true;
    };
  }, [scenarioId]);
  if (error)
    return (
      <div className="ed-failed" role="alert">
        <p>{error}</p>
        <a href={links.list()}>Back to the scenarios</a>
      </div>
    );
  if (!loaded) return <div className="loading">Loading the scenario…</div>;
  return (
    <ReactFlowProvider>
      <EditorCanvas key={scenarioId} scenarioId={scenarioId} kinds={loaded.kinds} initial={loaded.scenario} />
    </ReactFlowProvider>
  );
}

function EditorCanvas({ scenarioId, kinds, initial }: { scenarioId: number; kinds: NodeKind[]; initial: Scenario }) {
  const flow = useReactFlow<ScenarioFlowNode, Edge>();
  const kindMap = useMemo(() => new Map(kinds.map((k) => [k.kind, k])), [kinds]);

  const start = useMemo(() => {
    const edges = initial.edges.map(edgeOf);
    const raw = initial.nodes.map(nodeOf);
    const unplaced = new Set(initial.nodes.filter((n) => !n.position).map((n) => n.id));
    const nodes = withProblems(placed(raw, edges, unplaced.size === raw.length ? "all" : unplaced), initial.problems);
    return { nodes, edges };
  }, [initial]);

  const [nodes, setNodes, onNodesChange] = useNodesState<ScenarioFlowNode>(start.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(start.edges);
  const [meta, setMeta] = useState<Meta>(() => metaOf(initial));
  const [status, setStatus] = useState<ScenarioStatus>(initial.status);
  const [problems, setProblems] = useState<Problem[]>(initial.problems);
  const [saved, setSaved] = useState(() => JSON.stringify({ ...metaOf(initial), ...graphOf(start.nodes, start.edges) }));
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; tone: "ok" | "bad" } | null>(null);
  const [showAbout, setShowAbout] = useState(false);
  const [showSettings, setShowSettings] = useState(false);
  const [showStop, setShowStop] = useState(false);
  const [tasksOf, setTasksOf] = useState<string | null>(null);
  const [periodDays, setPeriodDays] = useState(7);
  // Read when the stop dialog opens; a ref, so that a poll re-renders nothing here.
  const insideTotal = useRef<number | null>(null);
  const [confirmRemoval, setConfirmRemoval] = useState<{ profiles: number; elements: number } | null>(null);
  const savedIds = useRef(new Set(initial.nodes.map((n) => n.id)));
  const canvas = useRef<HTMLDivElement>(null);

  // -- live statistics: polled into an external store, only changed nodes re-render ----------
  const stats = useMemo(() => new StatsStore(), []);
  const lastDay = useRef<string | null>(null);
  const refreshStats = useCallback(async () => {
    let query = "";
    if (periodDays !== 7 && lastDay.current) {
      const to = new Date(`${lastDay.current}T00:00:00Z`);
      const from = new Date(to.getTime() - (periodDays - 1) * 86_400_000);
      query = `?date_from=${from.toISOString().slice(0, 10)}&date_to=${lastDay.current}`;
    }
    const started = performance.now();
    const [period, realtime] = await Promise.all([
      get<PeriodStats>(`/scenarios/${scenarioId}/stats${query}`),
      get<RealtimeStats>(`/scenarios/${scenarioId}/stats/realtime`),
    ]);
    const fetched = performance.now();
    if (!query) lastDay.current = period.date_to;
    const counts = new Map<string, NodeCounts>();
    for (const n of period.nodes) counts.set(n.id, { entered: n.entered, exited: n.exited, errors: n.errors, inside: 0 });
    for (const n of realtime.nodes) {
      const c = counts.get(n.id);
      if (c) c.inside = n.inside;
    }
    const changed = stats.update(counts);
    insideTotal.current = realtime.inside;
    // For benchmarks/ui.py: a poll's cost, fetch included, then applying it up to the next frame.
    window.requestAnimationFrame(() => {
      const painted = performance.now();
      performance.measure("scenaria:poll", { start: started, end: painted, detail: { changed } });
      performance.measure("scenaria:poll-apply", { start: fetched, end: painted, detail: { changed } });
    });
  }, [scenarioId, periodDays, stats]);
  useEffect(() => {
    let stopped = false;
    let running = false;
    const tick = async () => {
      if (running || stopped || document.hidden) return;
      running = true;
      try {
        await refreshStats();
      } catch {
        // A failed poll keeps the last numbers; the next one retries.
      } finally {
        running = false;
      }
    };
    void tick();
    const timer = window.setInterval(() => void tick(), POLL_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [refreshStats]);

  const openTasks = useCallback((nodeId: string) => setTasksOf(nodeId), []);
  const deleteEdge = useCallback((edgeId: string) => setEdges((es) => es.filter((e) => e.id !== edgeId)), [setEdges]);
  const context = useMemo<EditorContextValue>(
    () => ({ kinds: kindMap, stats, openTasks, deleteEdge }),
    [kindMap, stats, openTasks, deleteEdge],
  );
  const [fieldNames, setFieldNames] = useState<string[]>([]);
  useEffect(() => {
    get<{ all_fields: Record<string, string> }>(`/databases/${meta.database_id}`)
      .then((d) => setFieldNames(Object.keys(d.all_fields)))
      .catch(() => setFieldNames([]));
  }, [meta.database_id]);

  // -- editing ----------------------------------------------------------------------------------
  const current = useMemo(() => JSON.stringify({ ...meta, ...graphOf(nodes, edges) }), [meta, nodes, edges]);
  const dirty = current !== saved;

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const addNode = useCallback(
    (kind: string, at?: { x: number; y: number }) => {
      const info = kindMap.get(kind);
      if (info?.group === "trigger") {
        const triggers = flow
          .getNodes()
          .filter((n) => n.id !== DEFAULT_CAPTURE_ID && kindMap.get(n.data.kind)?.group === "trigger").length;
        if (triggers >= MAX_TRIGGERS) {
          setMessage({ text: `A scenario has at most ${MAX_TRIGGERS} triggers.`, tone: "bad" });
          return;
        }
      }
      let position = at;
      if (!position) {
        const box = canvas.current?.getBoundingClientRect();
        const centre = box
          ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 })
          : { x: 0, y: 0 };
        position = { x: centre.x - NODE_WIDTH / 2, y: centre.y - NODE_HEIGHT / 2 };
      }
      setNodes((ns) => {
        const taken = new Set(ns.map((n) => n.id));
        const id = uniqueId(kind, taken);
        // A click puts it at the free spot nearest the middle of the view, never on another
        // element; a drop goes where the user let go.
        const p = at
          ? at
          : freeSpot(
              position!,
              ns.map((n) => ({
                x: n.position.x,
                y: n.position.y,
                width: n.measured?.width ?? NODE_WIDTH,
                height: n.measured?.height ?? NODE_HEIGHT,
              })),
            );
        const node: ScenarioFlowNode = {
          id,
          type: "scenario",
          position: p,
          selected: true,
          data: { kind, name: info?.title ?? kind, settings: {} },
        };
        return [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node];
      });
      setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
    },
    [flow, kindMap, setNodes, setEdges],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      e.preventDefault();
      const kind = e.dataTransfer.getData(DRAG_TYPE) || e.dataTransfer.getData("text/plain");
      if (!kind || !kindMap.has(kind)) return;
      const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      addNode(kind, { x: p.x - NODE_WIDTH / 2, y: p.y - 30 });
    },
    [flow, kindMap, addNode],
  );

  const isValidConnection = useCallback<IsValidConnection<Edge>>(
    (c) => {
      if (c.source === c.target) return false;
      const target = nodes.find((n) => n.id === c.target);
      return Boolean(target && kindMap.get(target.data.kind)?.group !== "trigger");
    },
    [nodes, kindMap],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      const port = c.sourceHandle ?? "next";
      // One edge per output: a new connection from the same output replaces the old one.
      setEdges((es) => [
        ...es.filter((e) => !(e.source === c.source && (e.sourceHandle ?? "next") === port)),
        edgeOf({ source: c.source, port, target: c.target }),
      ]);
    },
    [setEdges],
  );

  const updateNode = useCallback(
    (id: string, change: Partial<ScenarioNodeData>) => {
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...change } } : n)));
    },
    [setNodes],
  );
  const deleteNode = useCallback(
    (id: string) => {
      if (id === DEFAULT_CAPTURE_ID) return;
      void flow.deleteElements({ nodes: [{ id }] });
    },
    [flow],
  );
  const deselect = useCallback(() => {
    setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
  }, [setNodes]);

  const autoLayout = useCallback(() => {
    setNodes((ns) => placed(ns, edges, "all"));
    window.requestAnimationFrame(() => void flow.fitView({ padding: 0.15, duration: 250 }));
  }, [edges, flow, setNodes]);

  const focusNode = useCallback(
    (id: string) => {
      // A problem of a missing element is shown on the element its connection reaches.
      const node = flow.getNode(id) ?? flow.getNodes().find((n) => n.data.dangling?.some((d) => d.missing === id));
      if (!node) return;
      id = node.id;
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, selected: true } : n.selected ? { ...n, selected: false } : n)));
      void flow.setCenter(node.position.x + NODE_WIDTH / 2, node.position.y + NODE_HEIGHT / 2, { zoom: Math.max(flow.getZoom(), 0.9), duration: 250 });
    },
    [flow, setNodes],
  );

  // -- saving and running -------------------------------------------------------------------
  const showProblems = useCallback(
    (list: Problem[]) => {
      setProblems(list);
      // Attribute values are set in the About section: open it when one is missing or wrong.
      if (list.some((p) => p.code.endsWith("_attribute"))) setShowAbout(true);
      setNodes((ns) => withProblems(ns, list));
    },
    [setNodes],
  );

  const save = useCallback(async (force = false): Promise<boolean> => {
    const body = { ...meta, ...graphOf(nodes, edges) };
    // Removing an element takes the profiles waiting in it out of the scenario: ask first.
    const kept = new Set(nodes.map((n) => n.id));
    const removed = [...savedIds.current].filter((id) => !kept.has(id));
    const leaving = removed.reduce((sum, id) => sum + (stats.get(id)?.inside ?? 0), 0);
    if (leaving > 0 && !force) {
      setConfirmRemoval({ profiles: leaving, elements: removed.length });
      return false;
    }
    setBusy(true);
    try {
      const result = await patch<Scenario>(`/scenarios/${scenarioId}`, body);
      setSaved(JSON.stringify(body));
      savedIds.current = new Set(result.nodes.map((n) => n.id));
      setStatus(result.status);
      showProblems(result.problems);
      // The server adds what the scenario must have (the default capture) if it was missing.
      const known = new Set(nodes.map((n) => n.id));
      const added = result.nodes.filter((n) => !known.has(n.id));
      if (added.length) setNodes((ns) => withProblems([...ns, ...added.map(nodeOf)], result.problems));
      setMessage(
        result.problems.length
          ? { text: `Saved. ${result.problems.length} problem(s) must be fixed before activation.`, tone: "bad" }
          : { text: "Saved.", tone: "ok" },
      );
      return true;
    } catch (err) {
      const list = problemsOf(err);
      if (list) showProblems(list);
      setMessage({ text: list ? `Not saved: ${errorText(err)}` : errorText(err), tone: "bad" });
      return false;
    } finally {
      setBusy(false);
    }
  }, [meta, nodes, edges, scenarioId, showProblems, setNodes, stats]);

  const activate = useCallback(async () => {
    if (dirty && !(await save())) return;
    setBusy(true);
    try {
      const result = await post<{ woken: number }>(`/scenarios/${scenarioId}/activate`);
      setStatus("active");
      showProblems([]);
      setMessage({
        text: result.woken ? `Activated; ${result.woken} kept profile(s) woke up.` : "Activated: the scenario captures profiles.",
        tone: "ok",
      });
    } catch (err) {
      const list = problemsOf(err);
      if (list) showProblems(list);
      setMessage({ text: errorText(err), tone: "bad" });
    } finally {
      setBusy(false);
    }
  }, [dirty, save, scenarioId, showProblems]);

  const stop = useCallback(
    async (keep: boolean) => {
      const result = await post<{ tasks: number }>(`/scenarios/${scenarioId}/stop`, { keep_profiles: keep });
      setStatus("inactive");
      setShowStop(false);
      setMessage({
        text: keep
          ? `Stopped; ${result.tasks} profile(s) kept in the scenario wake up on activation.`
          : `Stopped; ${result.tasks} profile(s) left the scenario.`,
        tone: "ok",
      });
      void refreshStats().catch(() => undefined);
    },
    [scenarioId, refreshStats],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        void save();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [save]);

  // Only names and kinds matter here, so moving an element does not rebuild the list.
  const choicesKey = nodes.map((n) => `${n.id}\u0000${n.data.kind}\u0000${n.data.name}`).join("\u0001");
  const nodeChoices = useMemo<NodeChoice[]>(
    () =>
      choicesKey
        .split("\u0001")
        .filter(Boolean)
        .map((row) => {
          const [id, kind, name] = row.split("\u0000");
          return { id, kind, name };
        }),
    [choicesKey],
  );
  const selected = useMemo(() => {
    const chosen = nodes.filter((n) => n.selected);
    return chosen.length === 1 ? chosen[0] : null;
  }, [nodes]);
  // The settings panel takes the right of the canvas: pan so the element it edits stays in
  // view, and pan back by as much when the panel closes, so the canvas is where it was.
  const selectedId = selected?.id ?? null;
  const shifted = useRef({ dx: 0, dy: 0 });
  useEffect(() => {
    const pan = (dx: number, dy: number) => {
      const view = flow.getViewport();
      void flow.setViewport({ x: view.x + dx, y: view.y + dy, zoom: view.zoom });
    };
    if (!selectedId) {
      const { dx, dy } = shifted.current;
      shifted.current = { dx: 0, dy: 0 };
      if (dx !== 0 || dy !== 0) pan(-dx, -dy);
      return;
    }
    const frame = window.requestAnimationFrame(() => {
      const node = flow.getNode(selectedId);
      const box = canvas.current?.getBoundingClientRect();
      if (!node || !box) return;
      const margin = 24;
      const top = 30; // the counts above the element
      const width = node.measured?.width ?? NODE_WIDTH;
      const height = node.measured?.height ?? NODE_HEIGHT;
      const a = flow.flowToScreenPosition(node.position);
      const b = flow.flowToScreenPosition({ x: node.position.x + width, y: node.position.y + height });
      // A stub of a connection to a missing element sticks out beside the element.
      const stub = (side: "in" | "out") => (node.data.dangling?.some((d) => d.side === side) ? 150 : 0);
      let dx = 0;
      let dy = 0;
      if (b.x + stub("out") > box.right - margin) dx = box.right - margin - b.x - stub("out");
      if (a.x - stub("in") + dx < box.left + margin) dx = box.left + margin - a.x + stub("in");
      if (b.y > box.bottom - margin) dy = box.bottom - margin - b.y;
      if (a.y + dy < box.top + top) dy = box.top + top - a.y;
      if (dx === 0 && dy === 0) return;
      shifted.current = { dx: shifted.current.dx + dx, dy: shifted.current.dy + dy };
      pan(dx, dy);
    });
    return () => window.cancelAnimationFrame(frame);
  }, [selectedId, flow]);
  const shownNodes = useMemo(() => withDangling(nodes, edges), [nodes, edges]);
  const nameOf = (id: string | null) => {
    if (!id) return "the scenario";
    const n = nodes.find((x) => x.id === id);
    return n ? n.data.name || n.id : id;
  };
  const tasksNode = tasksOf ? nodes.find((n) => n.id === tasksOf) : undefined;

  return (
    <EditorContext.Provider value={context}>
      <div className="ed-root">
        <datalist id={FIELDS_LIST}>
          {fieldNames.map((f) => (
            <option key={f} value={f} />
          ))}
        </datalist>
        <header className="ed-toolbar">
          <a
            href={links.list()}
            className="ed-back"
            aria-label="Back to the scenarios"
            onClick={(e) => {
              if (dirty && !window.confirm("Leave the editor without saving your changes?")) e.preventDefault();
            }}
          >
            ←
          </a>
          <input
            className="ed-name"
            aria-label="Scenario name"
            value={meta.name}
            maxLength={200}
            onChange={(e) => setMeta((m) => ({ ...m, name: e.target.value }))}
          />
          <span className={`badge badge-${status}`} data-testid="scenario-status">
            {status}
          </span>
          <span className={dirty ? "ed-dirty" : "ed-clean"} data-testid="save-state" role="status">
            {dirty ? "● Unsaved changes" : "All changes saved"}
          </span>
          <span className="spacer" />
          <label className="ed-period">
            Counts for
            <select aria-label="Counts for" value={periodDays} onChange={(e) => setPeriodDays(Number(e.target.value))}>
              <option value={1}>today</option>
              <option value={7}>the last 7 days</option>
              <option value={30}>the last 30 days</option>
              <option value={90}>the last 90 days</option>
              <option value={365}>the last year</option>
            </select>
          </label>
          <button type="button" aria-pressed={showAbout} onClick={() => setShowAbout((v) => !v)}>
            About
          </button>
          <button type="button" onClick={() => setShowSettings(true)}>
            Scenario settings
          </button>
          <button type="button" onClick={autoLayout}>
            Auto-layout
          </button>
          <button type="button" className="primary" disabled={busy || status === "trashed"} onClick={() => void save()}>
            Save
          </button>
          {status === "active" ? (
            <button type="button" className="danger" disabled={busy} onClick={() => setShowStop(true)}>
              Stop
            </button>
          ) : (
            <button type="button" className="ed-activate" disabled={busy || status === "trashed"} onClick={() => void activate()}>
              Activate
            </button>
          )}
        </header>
        {status === "trashed" && (
          <p className="ed-trashed" role="alert">
            This scenario is in the trash: restore it from the scenario list to edit or run it.
          </p>
        )}
        {showAbout && <AboutSection meta={meta} onChange={(p) => setMeta((m) => ({ ...m, ...p }))} />}
        {(message || problems.length > 0) && (
          <div className="ed-messages">
            {message && (
              <p className={`ed-message ed-message-${message.tone}`} role={message.tone === "bad" ? "alert" : "status"}>
                {message.text}
                <button type="button" className="icon" aria-label="Dismiss" onClick={() => setMessage(null)}>
                  ×
                </button>
              </p>
            )}
            {problems.length > 0 && (
              <ul className="ed-problems" aria-label="Problems" data-testid="problems">
                {problems.map((p, i) => (
                  <li key={i} className={p.blocks_save ? "ed-problem-blocking" : undefined}>
                    {p.node_id ? (
                      <button type="button" className="link" onClick={() => focusNode(p.node_id!)}>
                        {nameOf(p.node_id)}
                      </button>
                    ) : (
                      <b>Scenario</b>
                    )}
                    : {p.message}
                    {p.blocks_save && <span className="ed-blocks"> (cannot be saved)</span>}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div className="ed-body">
          <Palette kinds={kinds} onAdd={addNode} />
          <div className="ed-canvas" ref={canvas} onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
            <ReactFlow<ScenarioFlowNode, Edge>
              nodes={shownNodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              isValidConnection={isValidConnection}
              deleteKeyCode={["Delete", "Backspace"]}
              fitView
              fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
              minZoom={0.1}
              maxZoom={2}
              connectionRadius={30}
              onlyRenderVisibleElements={nodes.length > 150}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={20} />
              <Controls />
              <MiniMap pannable zoomable style={{ width: 160, height: 110 }} nodeColor={(n) => `var(--ed-${kindMap.get((n.data as ScenarioNodeData).kind)?.group ?? "operator"})`} />
            </ReactFlow>
          </div>
          {selected && (
            <NodeChoices.Provider value={nodeChoices}>
              <Inspector
                key={selected.id}
                scenarioId={scenarioId}
                nodeId={selected.id}
                data={selected.data}
                kind={kindMap.get(selected.data.kind)}
                problems={selected.data.problems ?? NO_PROBLEMS}
                onChange={updateNode}
                onDelete={deleteNode}
                onClose={deselect}
              />
            </NodeChoices.Provider>
          )}
        </div>
        <StatsPanel scenarioId={scenarioId} />
        {showSettings && (
          <SettingsDialog
            scenarioId={scenarioId}
            meta={meta}
            active={status === "active"}
            onApply={(p) => setMeta((m) => ({ ...m, ...p }))}
            onCleared={(removed) => {
              setMessage({ text: `${removed} profile(s) were taken out of the scenario.`, tone: "ok" });
              void refreshStats().catch(() => undefined);
            }}
            onClose={() => setShowSettings(false)}
          />
        )}
        {confirmRemoval && (
          <ConfirmDialog
            title="Remove elements with profiles in them?"
            message={`${formatCount(confirmRemoval.profiles)} profile(s) are in the ${confirmRemoval.elements === 1 ? "element" : "elements"} you removed; saving takes them out of the scenario.`}
            confirmLabel="Save and take them out"
            danger
            onClose={() => setConfirmRemoval(null)}
            onConfirm={async () => {
              setConfirmRemoval(null);
              await save(true);
            }}
          />
        )}
        {showStop && <StopDialog inside={insideTotal.current} onStop={stop} onClose={() => setShowStop(false)} />}
        {tasksOf && (
          <TaskList
            scenarioId={scenarioId}
            nodeId={tasksOf}
            nodeName={tasksNode ? tasksNode.data.name || tasksNode.id : tasksOf}
            onClose={() => setTasksOf(null)}
            onChanged={() => void refreshStats().catch(() => undefined)}
          />
        )}
      </div>
    </EditorContext.Provider>
  );
}
