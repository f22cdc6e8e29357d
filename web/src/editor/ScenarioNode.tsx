/** One element on the canvas: coloured by group, title, settings summary, problems,
 * live counts above it, an input on the left and labelled outputs on the right. */
import { createContext, memo, useContext } from "react";
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { formatCount, type StatsStore, useNodeCounts } from "./statsStore";
import { summarize } from "./summary";
import type { NodeKind, Problem, Settings } from "./types";
import { DEFAULT_CAPTURE_ID } from "./types";

/** An edge of this node whose other end is missing: drawn as a red stub to delete. */
export type DanglingEdge = { edgeId: string; side: "in" | "out"; port: string; missing: string };

export type ScenarioNodeData = {
  kind: string;
  name: string;
  settings: Settings;
  problems?: Problem[];
  dangling?: DanglingEdge[];
};

export type ScenarioFlowNode = Node<ScenarioNodeData, "scenario">;

export type EditorContextValue = {
  kinds: Map<string, NodeKind>;
  stats: StatsStore;
  openTasks: (nodeId: string) => void;
  deleteEdge: (edgeId: string) => void;
};

export const EditorContext = createContext<EditorContextValue | null>(null);

const PORT_LABEL: Record<string, string> = { next: "next", yes: "yes", no: "no", error: "error" };

/** Renders so far, for tests and benchmarks/ui.py: a poll must re-render only the counts
 * that changed, never the elements themselves. */
export const renders = { nodes: 0, counts: 0 };
(window as unknown as { scenariaEditorRenders: typeof renders }).scenariaEditorRenders = renders;

function Counts({ nodeId, name }: { nodeId: string; name: string }) {
  const ctx = useContext(EditorContext)!;
  renders.counts++;
  const counts = useNodeCounts(ctx.stats, nodeId);
  if (!counts) return null;
  return (
    <div className="ed-counts" data-testid={`counts-${nodeId}`}>
      <span className="ed-count" title="Entered in the period" data-testid={`entered-${nodeId}`}>
        in {formatCount(counts.entered)}
      </span>
      <span className="ed-count" title="Exited in the period" data-testid={`exited-${nodeId}`}>
        out {formatCount(counts.exited)}
      </span>
      {counts.errors > 0 && (
        <span className="ed-count ed-count-errors" title="Errors in the period" data-testid={`errors-${nodeId}`}>
          ⚠ {formatCount(counts.errors)}
        </span>
      )}
      {counts.inside > 0 && (
        <button
          type="button"
          className="ed-inside nodrag"
          data-testid={`inside-${nodeId}`}
          aria-label={`${formatCount(counts.inside)} inside ${name} now: show them`}
          title="Profiles in this element now: click to see them"
          onClick={(e) => {
            e.stopPropagation();
            ctx.openTasks(nodeId);
          }}
        >
          {formatCount(counts.inside)}
        </button>
      )}
    </div>
  );
}

function ScenarioNodeView({ id, data, selected }: NodeProps<ScenarioFlowNode>) {
  const ctx = useContext(EditorContext)!;
  renders.nodes++;
  const kind = ctx.kinds.get(data.kind);
  const group = kind?.group ?? "operator";
  const outputs = kind?.outputs ?? ["next"];
  const isStart = group === "trigger";
  const problems = data.problems ?? [];
  const classes = ["ed-node", `ed-group-${group}`];
  if (selected) classes.push("ed-selected");
  if (problems.length || data.dangling?.length) classes.push("ed-has-problems");
  if (id === DEFAULT_CAPTURE_ID) classes.push("ed-default");
  const title = data.name || kind?.title || data.kind;
  return (
    <div
      className={classes.join(" ")}
      data-testid={`node-${id}`}
      data-kind={data.kind}
      aria-label={title}
      style={{ minHeight: Math.max(64, outputs.length * 26 + 16) }}
    >
      <Counts nodeId={id} name={title} />
      {!isStart && (
        <Handle type="target" position={Position.Left} id="in" className="ed-handle ed-handle-in" data-testid={`in-${id}`} />
      )}
      <div className="ed-node-kind">{kind?.title ?? data.kind}</div>
      <div className="ed-node-title">{title}</div>
      <div className="ed-node-summary">{summarize(data.kind, data.settings)}</div>
      {problems.length > 0 && (
        <ul className="ed-node-problems" data-testid={`problems-${id}`}>
          {problems.map((p, i) => (
            <li key={i}>{p.message}</li>
          ))}
        </ul>
      )}
      {(data.dangling ?? []).map((d) => {
        const at = outputs.indexOf(d.port);
        const top = d.side === "in" ? "50%" : at >= 0 ? `${((at + 1) / (outputs.length + 1)) * 100}%` : "100%";
        const what = d.side === "out" ? `to the missing element ${d.missing}` : `from the missing element ${d.missing}`;
        return (
          <div
            key={d.edgeId}
            className={`ed-dangling ed-dangling-${d.side} nodrag`}
            style={{ top }}
            data-testid={`dangling-${id}-${d.side}-${d.port}`}
            title={`This connection goes ${what}: delete it, then save.`}
          >
            <span className="ed-dangling-line" aria-hidden="true" />
            <span className="ed-dangling-text">{d.side === "out" ? `→ ${d.missing}?` : `${d.missing}? →`}</span>
            <button
              type="button"
              className="ed-dangling-delete nodrag"
              aria-label={`Delete the connection ${what}`}
              onClick={(e) => {
                e.stopPropagation();
                ctx.deleteEdge(d.edgeId);
              }}
            >
              ×
            </button>
          </div>
        );
      })}
      {outputs.map((port, i) => {
        const top = `${((i + 1) / (outputs.length + 1)) * 100}%`;
        return (
          <div key={port}>
            <Handle
              type="source"
              position={Position.Right}
              id={port}
              className={`ed-handle ed-port-${port}`}
              style={{ top }}
              data-testid={`out-${id}-${port}`}
              aria-label={`${title}: ${port} output`}
            />
            <span className={`ed-port-label ed-port-label-${port}`} style={{ top }}>
              {PORT_LABEL[port] ?? port}
            </span>
          </div>
        );
      })}
    </div>
  );
}

export const ScenarioNode = memo(ScenarioNodeView);
export const nodeTypes = { scenario: ScenarioNode };
