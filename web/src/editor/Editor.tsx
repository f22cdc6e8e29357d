/** The scenario editor (placeholder: being built). */
import { ReactFlow } from "@xyflow/react";

export function Editor({ scenarioId }: { scenarioId: number }) {
  return (
    <div style={{ height: "80vh" }}>
      <h1>Scenario {scenarioId}</h1>
      <ReactFlow nodes={[]} edges={[]} />
    </div>
  );
}
