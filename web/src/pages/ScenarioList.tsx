/** The scenario list: status, profiles inside now and tags of every scenario, filters by
 * status and tag, the trash, creating a scenario and each row's actions menu. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { get, post } from "../api";
import { links, navigate } from "../router";
import { ActionDialog } from "../components/Dialog";
import { EmptyState, ErrorBanner, Loading, Toast } from "../components/Feedback";
import { Menu, type MenuItem } from "../components/Menu";
import { ReentryChoice } from "../components/ReentryChoice";
import { StatusBadge, Tag } from "../components/StatusBadge";
import { errorMessage, formatCount, formatShortDateTime } from "../components/format";
import {
  REENTRY_LABELS,
  type Database,
  type ReentryMode,
  type ScenarioSummary,
  type Segment,
} from "../components/types";
import { reportLink } from "./ScenarioReport";

type View = "all" | "active" | "inactive" | "draft" | "trashed";

const VIEWS: { view: View; label: string }[] = [
  { view: "all", label: "All" },
  { view: "active", label: "Active" },
  { view: "inactive", label: "Inactive" },
  { view: "draft", label: "Drafts" },
  { view: "trashed", label: "Trash" },
];

const REFRESH_MS = 5000;

type Pending =
  | { kind: "create" }
  | { kind: "stop"; scenario: ScenarioSummary }
  | { kind: "segment"; scenario: ScenarioSummary };

export function ScenarioList() {
  const [view, setView] = useState<View>("all");
  const [tag, setTag] = useState<string>("");
  const [rows, setRows] = useState<ScenarioSummary[] | null>(null);
  const [databases, setDatabases] = useState<Database[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [toast, setToast] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const query = view === "all" ? "" : `?status=${view}`;
      setRows(await get<ScenarioSummary[]>(`/scenarios${query}`));
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [view]);

  useEffect(() => {
    setRows(null);
    void load();
    const timer = window.setInterval(() => void load(), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  useEffect(() => {
    get<Database[]>("/databases")
      .then(setDatabases)
      .catch(() => setDatabases([]));
  }, []);

  const databaseName = useMemo(() => new Map(databases.map((d) => [d.id, d.name])), [databases]);
  const tags = useMemo(() => [...new Set((rows ?? []).flatMap((r) => r.tags))].sort(), [rows]);
  // The most recently changed first.
  const shown = (rows ?? [])
    .filter((r) => !tag || r.tags.includes(tag))
    .sort((a, b) => b.updated_at.localeCompare(a.updated_at) || b.id - a.id);

  /** Runs an action, shows `done` (or the API's refusal) and reloads the list. */
  const act = async (action: () => Promise<string>) => {
    try {
      setToast(await action());
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
    await load();
  };

  const menu = (s: ScenarioSummary): MenuItem[] => {
    if (s.status === "trashed")
      return [
        {
          label: "Restore from trash",
          onSelect: () =>
            void act(async () => {
              await post(`/scenarios/${s.id}/restore`);
              return `“${s.name}” was restored; it is inactive.`;
            }),
        },
        { label: "Open report", onSelect: () => navigate(reportLink(s.id)) },
      ];
    const active = s.status === "active";
    return [
      active
        ? { label: "Stop", onSelect: () => setPending({ kind: "stop", scenario: s }) }
        : {
            label: "Activate",
            disabled: !s.valid,
            title: s.valid ? undefined : "Fix the scenario's problems in the editor first",
            onSelect: () =>
              void act(async () => {
                const result = await post<{ woken: number }>(`/scenarios/${s.id}/activate`);
                return result.woken > 0
                  ? `“${s.name}” is active; ${formatCount(result.woken)} kept profiles woke up.`
                  : `“${s.name}” is active.`;
              }),
          },
      {
        label: "Send a dynamic segment",
        disabled: !active,
        title: active ? undefined : "Only an active scenario takes profiles",
        onSelect: () => setPending({ kind: "segment", scenario: s }),
      },
      {
        label: "Clone",
        onSelect: () =>
          void act(async () => {
            const copy = await post<{ name: string }>(`/scenarios/${s.id}/clone`);
            return `Cloned as “${copy.name}”.`;
          }),
      },
      { label: "Open report", onSelect: () => navigate(reportLink(s.id)) },
      { label: "Open in editor", onSelect: () => navigate(links.scenario(s.id)) },
      {
        label: "Move to trash",
        danger: true,
        disabled: active,
        title: active ? "Stop the scenario first: only inactive scenarios can go to the trash" : undefined,
        onSelect: () =>
          void act(async () => {
            await post(`/scenarios/${s.id}/trash`);
            return `“${s.name}” was moved to the trash.`;
          }),
      },
    ];
  };

  return (
    <div className="page-content">
      <div className="page-header">
        <h1>Automation scenarios</h1>
        <button type="button" className="primary" onClick={() => setPending({ kind: "create" })}>
          + Create
        </button>
      </div>
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Status">
          {VIEWS.map((v) => (
            <button key={v.view} type="button" aria-pressed={view === v.view} onClick={() => setView(v.view)}>
              {v.label}
            </button>
          ))}
        </div>
        <label className="inline">
          <select aria-label="Tag" value={tag} onChange={(e) => setTag(e.target.value)}>
            <option value="">All tags</option>
            {[...new Set([...tags, ...(tag ? [tag] : [])])].map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {tag && (
          <span className="filter-chip">
            tag: {tag}
            <button type="button" aria-label="Clear the tag filter" onClick={() => setTag("")}>
              ×
            </button>
          </span>
        )}
      </div>
      {error && <ErrorBanner message={error} onRetry={() => void load()} />}
      {rows === null && !error && <Loading />}
      {rows !== null && shown.length === 0 && (
        <EmptyState
          title={
            view === "trashed"
              ? "The trash is empty."
              : rows.length === 0 && view === "all"
                ? "No scenarios yet — create one"
                : "No scenarios match these filters."
          }
        >
          {view === "all" && rows.length === 0 && (
            <button type="button" className="primary" onClick={() => setPending({ kind: "create" })}>
              + Create a scenario
            </button>
          )}
        </EmptyState>
      )}
      {shown.length > 0 && (
        <div className="card">
          <table className="table scenario-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Profiles inside now</th>
                <th>Tags</th>
                <th>Updated</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <tr key={s.id} data-scenario-id={s.id}>
                  <td>
                    <a className="scenario-name" href={links.scenario(s.id)}>
                      {s.name}
                    </a>
                    <div className="muted small">
                      {databaseName.get(s.database_id) ?? `Database #${s.database_id}`} · {REENTRY_LABELS[s.reentry]}
                    </div>
                  </td>
                  <td>
                    <StatusBadge status={s.status} />
                    {!s.valid && s.status !== "trashed" && (
                      <div className="muted small" title="Problems block its activation; open it in the editor">
                        needs fixing
                      </div>
                    )}
                  </td>
                  <td>
                    <span className={`inside-count${s.inside === 0 ? " zero" : ""}`} aria-label="Profiles inside now">
                      {formatCount(s.inside)}
                    </span>
                  </td>
                  <td>
                    {s.tags.map((t) => (
                      <Tag key={t} name={t} onClick={() => setTag(t)} />
                    ))}
                  </td>
                  <td className="muted small nowrap">{formatShortDateTime(s.updated_at)}</td>
                  <td className="row-actions">
                    <Menu label={`Actions for ${s.name}`} items={menu(s)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pending?.kind === "create" && <CreateDialog databases={databases} onClose={() => setPending(null)} />}
      {pending?.kind === "stop" && (
        <StopDialog
          scenario={pending.scenario}
          onClose={() => setPending(null)}
          onDone={(message) => {
            setPending(null);
            setToast(message);
            void load();
          }}
        />
      )}
      {pending?.kind === "segment" && (
        <SendSegmentDialog
          scenario={pending.scenario}
          onClose={() => setPending(null)}
          onDone={(message) => {
            setPending(null);
            setToast(message);
            void load();
          }}
        />
      )}
      {toast && <Toast key={toast} message={toast} onDone={() => setToast(null)} />}
    </div>
  );
}

function CreateDialog({ databases, onClose }: { databases: Database[]; onClose: () => void }) {
  const [name, setName] = useState("");
  const [databaseId, setDatabaseId] = useState<number | null>(databases[0]?.id ?? null);
  const [reentry, setReentry] = useState<ReentryMode>("once_ever");
  useEffect(() => {
    if (databaseId === null && databases.length > 0) setDatabaseId(databases[0].id);
  }, [databases, databaseId]);
  return (
    <ActionDialog
      title="New scenario"
      actionLabel="Continue"
      canAct={name.trim() !== "" && databaseId !== null}
      width={560}
      onClose={onClose}
      onAction={async () => {
        const created = await post<{ id: number }>("/scenarios", {
          name: name.trim(),
          database_id: databaseId,
          reentry,
        });
        onClose();
        navigate(links.scenario(created.id));
      }}
    >
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Welcome series" maxLength={200} />
      </label>
      <label>
        Profile database
        <select
          value={databaseId ?? ""}
          onChange={(e) => setDatabaseId(Number(e.target.value))}
          disabled={databases.length === 0}
        >
          {databases.length === 0 && <option value="">No profile databases yet</option>}
          {databases.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      </label>
      {databases.length === 0 && (
        <p className="muted small">Create a profile database first (POST /databases), then come back.</p>
      )}
      <ReentryChoice value={reentry} onChange={setReentry} />
      <p className="muted small">You can change the database and the re-entry mode later in the editor.</p>
    </ActionDialog>
  );
}

function StopDialog({
  scenario,
  onClose,
  onDone,
}: {
  scenario: ScenarioSummary;
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  const [keep, setKeep] = useState(false);
  return (
    <ActionDialog
      title={`Stop “${scenario.name}”?`}
      actionLabel="Stop"
      danger
      onClose={onClose}
      onAction={async () => {
        const result = await post<{ tasks: number; keep_profiles: boolean }>(`/scenarios/${scenario.id}/stop`, {
          keep_profiles: keep,
        });
        const n = formatCount(result.tasks);
        onDone(
          result.keep_profiles
            ? `“${scenario.name}” stopped; ${n} profiles are kept and wake up on activation.`
            : `“${scenario.name}” stopped; ${n} profiles left the scenario.`,
        );
      }}
    >
      <p className="confirm-message">
        {scenario.inside > 0
          ? `${formatCount(scenario.inside)} ${scenario.inside === 1 ? "profile is" : "profiles are"} in the scenario now. By default they all leave it when it stops.`
          : "The scenario stops capturing profiles."}
      </p>
      <label className="checkbox">
        <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.target.checked)} />
        Keep profiles in the scenario: they wake up on activation
      </label>
    </ActionDialog>
  );
}

function SendSegmentDialog({
  scenario,
  onClose,
  onDone,
}: {
  scenario: ScenarioSummary;
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  const [segments, setSegments] = useState<Segment[] | null>(null);
  const [segmentId, setSegmentId] = useState<number | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  useEffect(() => {
    get<{ items: Segment[] }>(`/segments?database_id=${scenario.database_id}&kind=dynamic`)
      .then((r) => {
        setSegments(r.items);
        if (r.items.length > 0) setSegmentId(r.items[0].id);
      })
      .catch((err) => setLoadError(errorMessage(err)));
  }, [scenario.database_id]);
  return (
    <ActionDialog
      title={`Send a dynamic segment to “${scenario.name}”`}
      actionLabel="Send"
      canAct={segmentId !== null}
      onClose={onClose}
      onAction={async () => {
        const r = await post<{ processed: number; captured: number; refused: Record<string, number> }>(
          `/scenarios/${scenario.id}/send-segment`,
          { segment_id: segmentId },
        );
        const refused = Object.values(r.refused).reduce((a, b) => a + b, 0);
        onDone(
          `${formatCount(r.captured)} of ${formatCount(r.processed)} profiles entered the scenario` +
            (refused > 0 ? `; ${formatCount(refused)} refused by the re-entry mode.` : "."),
        );
      }}
    >
      {loadError && <p className="form-error">{loadError}</p>}
      {segments === null && !loadError && <p className="muted">Loading segments…</p>}
      {segments !== null && segments.length === 0 && (
        <p className="muted">No dynamic segments use this scenario's profile database.</p>
      )}
      {segments !== null && segments.length > 0 && (
        <label>
          Segment
          <select value={segmentId ?? ""} onChange={(e) => setSegmentId(Number(e.target.value))}>
            {segments.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <p className="muted small">Every profile of the segment is offered to the scenario's default capture.</p>
    </ActionDialog>
  );
}
