/** Live counts per node, outside React state: a poll only re-renders the nodes whose
 * numbers changed (each node subscribes to its own entry), never the whole graph. */
import { useSyncExternalStore } from "react";

export type NodeCounts = { entered: number; exited: number; inside: number; errors: number };

export class StatsStore {
  private counts = new Map<string, NodeCounts>();
  private listeners = new Map<string, Set<() => void>>();

  get(nodeId: string): NodeCounts | undefined {
    return this.counts.get(nodeId);
  }

  subscribe(nodeId: string, listener: () => void): () => void {
    let set = this.listeners.get(nodeId);
    if (!set) {
      set = new Set();
      this.listeners.set(nodeId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Replace all counts; notify only the nodes whose numbers differ (returns how many). */
  update(next: Map<string, NodeCounts>): number {
    const changed: string[] = [];
    for (const [id, counts] of next) {
      const old = this.counts.get(id);
      if (
        !old ||
        old.entered !== counts.entered ||
        old.exited !== counts.exited ||
        old.inside !== counts.inside ||
        old.errors !== counts.errors
      ) {
        this.counts.set(id, counts);
        changed.push(id);
      }
    }
    for (const id of [...this.counts.keys()]) {
      if (!next.has(id)) {
        this.counts.delete(id);
        changed.push(id);
      }
    }
    for (const id of changed) this.listeners.get(id)?.forEach((l) => l());
    return changed.length;
  }
}

export function useNodeCounts(store: StatsStore, nodeId: string): NodeCounts | undefined {
  return useSyncExternalStore(
    (listener) => store.subscribe(nodeId, listener),
    () => store.get(nodeId),
  );
}

export const formatCount = (n: number): string => n.toLocaleString("en-US");
