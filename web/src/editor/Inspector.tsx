/** The settings panel of the selected element: its name and a form built from the
 * kind's settings schema. */
import { memo, useId } from "react";
import { SchemaObject } from "./SchemaForm";
import type { ScenarioNodeData } from "./ScenarioNode";
import { DEFAULT_CAPTURE_ID, type NodeKind, type Problem, type Settings } from "./types";

type Props = {
  scenarioId: number;
  nodeId: string;
  data: ScenarioNodeData;
  kind: NodeKind | undefined;
  problems: Problem[];
  onChange: (nodeId: string, patch: Partial<ScenarioNodeData>) => void;
  onDelete: (nodeId: string) => void;
  onClose: () => void;
};

function InspectorView({ scenarioId, nodeId, data, kind, problems, onChange, onDelete, onClose }: Props) {
  const nameId = useId();
  const isDefault = nodeId === DEFAULT_CAPTURE_ID;
  const schema = kind?.settings_schema ?? {};
  const hasSettings = Object.keys(schema.properties ?? {}).length > 0;
  return (
    <aside className="ed-inspector" aria-label="Element settings" data-testid="inspector">
      <header className="ed-inspector-header">
        <div>
          <div className={`ed-inspector-kind ed-group-${kind?.group ?? "operator"}`}>{kind?.title ?? data.kind}</div>
          <div className="ed-inspector-id">
            ID <code>{nodeId}</code>
          </div>
        </div>
        <button type="button" className="icon" aria-label="Close the settings" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="ed-inspector-body">
        <div className="ed-field">
          <label htmlFor={nameId}>Name</label>
          <input id={nameId} type="text" value={data.name} maxLength={200} onChange={(e) => onChange(nodeId, { name: e.target.value })} />
        </div>
        {isDefault && (
          <p className="ed-note">
            Built into every scenario; it cannot be removed. Profiles enter here when they are sent to the scenario
            through the API, added by hand, sent from a dynamic segment or by a jump from another scenario.
          </p>
        )}
        {isDefault && (
          <div className="ed-note">
            Through the API:
            <pre className="ed-code">{`POST ${window.location.origin}/scenarios/${scenarioId}/engage
{"profile_id": 123, "api_content": {…}}`}</pre>
          </div>
        )}
        {problems.length > 0 && (
          <ul className="ed-inspector-problems" aria-label="Problems of this element">
            {problems.map((p, i) => (
              <li key={i}>{p.message}</li>
            ))}
          </ul>
        )}
        {hasSettings && (
          <div className="ed-settings-form">
            <SchemaObject
              schema={schema}
              root={schema}
              value={data.settings}
              onChange={(settings: Settings) => onChange(nodeId, { settings })}
            />
          </div>
        )}
      </div>
      {!isDefault && (
        <footer className="ed-inspector-footer">
          <button type="button" className="danger" onClick={() => onDelete(nodeId)}>
            Delete element
          </button>
        </footer>
      )}
    </aside>
  );
}

export const Inspector = memo(InspectorView);
