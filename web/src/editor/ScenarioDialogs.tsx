/** The scenario's own settings (profile database, re-entry mode, "Clear all profiles"),
 * the "About" section, and the stop dialog. */
import { useEffect, useId, useState } from "react";
import { get, post } from "../api";
import { ActionDialog, ConfirmDialog } from "../components/Dialog";
import { ReentryChoice } from "../components/ReentryChoice";
import type { Attribute, Database, ReentryMode } from "./types";

export type Meta = {
  name: string;
  description: string;
  tags: string[];
  groups: string[];
  attributes: Record<string, string>;
  reentry: ReentryMode;
  database_id: number;
};

const list = (text: string): string[] =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

export function SettingsDialog({
  scenarioId,
  meta,
  active,
  onApply,
  onCleared,
  onClose,
}: {
  scenarioId: number;
  meta: Meta;
  active: boolean;
  onApply: (patch: Partial<Meta>) => void;
  onCleared: (removed: number) => void;
  onClose: () => void;
}) {
  const [databases, setDatabases] = useState<Database[] | null>(null);
  const [databaseId, setDatabaseId] = useState(meta.database_id);
  const [reentry, setReentry] = useState<ReentryMode>(meta.reentry);
  const [confirmClear, setConfirmClear] = useState(false);
  const dbId = useId();
  useEffect(() => {
    get<Database[]>("/databases")
      .then(setDatabases)
      .catch(() => setDatabases([]));
  }, []);
  return (
    <>
      <ActionDialog
        title="Scenario settings"
        actionLabel="Apply"
        width={560}
        onClose={onClose}
        onAction={() => {
          onApply({ database_id: databaseId, reentry });
          onClose();
        }}
      >
        <div className="ed-field">
          <label htmlFor={dbId}>Profile database</label>
          <select
            id={dbId}
            value={databaseId}
            disabled={active}
            onChange={(e) => setDatabaseId(Number(e.target.value))}
          >
            {(databases ?? []).every((d) => d.id !== databaseId) && <option value={databaseId}>Database #{databaseId}</option>}
            {(databases ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
          {active ? (
            <small className="ed-hint">Stop the scenario to change its profile database.</small>
          ) : (
            <small className="ed-hint">It can change only while no profiles are in the scenario.</small>
          )}
        </div>
        <ReentryChoice value={reentry} onChange={setReentry} />
        <div className="ed-clear">
          <button type="button" className="danger" onClick={() => setConfirmClear(true)}>
            Clear all profiles
          </button>
          <small className="ed-hint">Takes every profile now in the scenario out of it.</small>
        </div>
      </ActionDialog>
      {confirmClear && (
        <ConfirmDialog
          title="Clear all profiles?"
          message="Every profile now in the scenario leaves it and will not continue it."
          confirmLabel="Clear all profiles"
          danger
          onClose={() => setConfirmClear(false)}
          onConfirm={async () => {
            const result = await post<{ removed: number }>(`/scenarios/${scenarioId}/clear`);
            setConfirmClear(false);
            onCleared(result.removed);
          }}
        />
      )}
    </>
  );
}

export function StopDialog({
  inside,
  onStop,
  onClose,
}: {
  inside: number | null;
  onStop: (keep: boolean) => Promise<void>;
  onClose: () => void;
}) {
  const [keep, setKeep] = useState(false);
  return (
    <ActionDialog title="Stop the scenario?" actionLabel="Stop" danger onClose={onClose} onAction={() => onStop(keep)}>
      <p className="confirm-message">
        {inside ? `${inside.toLocaleString("en-US")} profiles are in the scenario now. ` : ""}
        By default every profile leaves the scenario when it stops.
      </p>
      <label className="checkbox">
        <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.target.checked)} />
        Keep profiles in the scenario: they wake up on activation
      </label>
    </ActionDialog>
  );
}

export function AboutSection({ meta, onChange }: { meta: Meta; onChange: (patch: Partial<Meta>) => void }) {
  const [attributes, setAttributes] = useState<Attribute[]>([]);
  const [tags, setTags] = useState(meta.tags.join(", "));
  const [groups, setGroups] = useState(meta.groups.join(", "));
  const ids = { description: useId(), tags: useId(), groups: useId() };
  useEffect(() => {
    get<Attribute[]>("/scenario-attributes")
      .then(setAttributes)
      .catch(() => setAttributes([]));
  }, []);
  return (
    <section className="ed-about" aria-label="About">
      <div className="ed-field ed-about-description">
        <label htmlFor={ids.description}>Description</label>
        <textarea
          id={ids.description}
          rows={3}
          value={meta.description}
          onChange={(e) => onChange({ description: e.target.value })}
        />
      </div>
      <div className="ed-about-side">
        <div className="ed-field">
          <label htmlFor={ids.tags}>Tags</label>
          <input
            id={ids.tags}
            value={tags}
            placeholder="welcome, onboarding"
            onChange={(e) => {
              setTags(e.target.value);
              onChange({ tags: list(e.target.value) });
            }}
          />
        </div>
        <div className="ed-field">
          <label htmlFor={ids.groups}>Groups</label>
          <input
            id={ids.groups}
            value={groups}
            placeholder="none: visible to everyone"
            onChange={(e) => {
              setGroups(e.target.value);
              onChange({ groups: list(e.target.value) });
            }}
          />
        </div>
        {attributes.map((a) => (
          <AttributeField
            key={a.name}
            attribute={a}
            value={meta.attributes[a.name] ?? ""}
            onChange={(v) => {
              const next = { ...meta.attributes };
              if (v) next[a.name] = v;
              else delete next[a.name];
              onChange({ attributes: next });
            }}
          />
        ))}
      </div>
    </section>
  );
}

function AttributeField({ attribute, value, onChange }: { attribute: Attribute; value: string; onChange: (v: string) => void }) {
  const id = useId();
  return (
    <div className="ed-field">
      <label htmlFor={id}>
        {attribute.name}
        {attribute.required && <span className="ed-required">*</span>}
      </label>
      {attribute.choices ? (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">—</option>
          {attribute.choices.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      ) : (
        <input id={id} value={value} onChange={(e) => onChange(e.target.value)} />
      )}
    </div>
  );
}
