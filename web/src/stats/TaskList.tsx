/** The profiles waiting in one node (opened from the count above it): a link to each
 * profile's card, the exact time it leaves, its API content, and taking profiles out. */
import { useCallback, useEffect, useState } from "react";
import { del, get } from "../api";
import { links } from "../router";
import { ConfirmDialog } from "../components/Dialog";
import { ErrorBanner, EmptyState, Loading } from "../components/Feedback";
import { TaskStateBadge } from "../components/StatusBadge";
import { DownloadIcon, TrashIcon } from "../components/Icons";
import { downloadJson, errorMessage, formatCount, formatDateTime } from "../components/format";
import type { Profile, ScenarioDetail, WaitingPage, WaitingTask } from "../components/types";

const PAGE_SIZE = 20;

export interface TaskListProps {
  scenarioId: number;
  nodeId: string;
  nodeName: string;
  onClose: () => void;
  /** Called after profiles were taken out of the scenario (to refresh counts). */
  onChanged?: () => void;
}

function leaves(task: WaitingTask): string {
  if (task.leaves_at) return formatDateTime(task.leaves_at);
  if (task.state === "frozen") return "when the scenario is activated";
  return "when the answer arrives";
}

export function TaskList({ scenarioId, nodeId, nodeName, onClose, onChanged }: TaskListProps) {
  const [databaseId, setDatabaseId] = useState<number | null>(null);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<WaitingPage | null>(null);
  const [keys, setKeys] = useState<Record<number, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ task: WaitingTask } | { all: true } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    get<ScenarioDetail>(`/scenarios/${scenarioId}`)
      .then((s) => setDatabaseId(s.database_id))
      .catch((err) => setError(errorMessage(err)));
  }, [scenarioId]);

  const load = useCallback(async () => {
    try {
      const next = await get<WaitingPage>(
        `/scenarios/${scenarioId}/nodes/${encodeURIComponent(nodeId)}/tasks?limit=${PAGE_SIZE}&offset=${offset}`,
      );
      setPage(next);
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [scenarioId, nodeId, offset]);

  useEffect(() => {
    void load();
  }, [load]);

  // The match key (e-mail, external id…) names a profile better than its number.
  useEffect(() => {
    if (!page || databaseId === null) return;
    const missing = [...new Set(page.tasks.map((t) => t.profile_id))].filter((id) => !(id in keys));
    if (missing.length === 0) return;
    let cancelled = false;
    Promise.all(
      missing.map((id) =>
        get<Profile>(`/databases/${databaseId}/profiles/${id}`)
          .then((p) => [id, p.match_key] as const)
          .catch(() => [id, `Profile #${id}`] as const),
      ),
    ).then((found) => {
      if (!cancelled) setKeys((k) => ({ ...k, ...Object.fromEntries(found) }));
    });
    return () => {
      cancelled = true;
    };
  }, [page, databaseId, keys]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !confirm) onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose, confirm]);

  const download = async (task: WaitingTask) => {
    try {
      const content = await get<unknown>(`/scenarios/${scenarioId}/tasks/${task.task_id}/api-content`);
      downloadJson(content, `task-${task.task_id}-api-content.json`);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const removed = async (message: string) => {
    setNotice(message);
    setConfirm(null);
    if (page && offset > 0 && page.tasks.length === 1) setOffset(Math.max(0, offset - PAGE_SIZE));
    else await load();
    onChanged?.();
  };

  const total = page?.total ?? 0;
  const last = Math.min(offset + PAGE_SIZE, total);

  return (
    <div
      className="drawer-backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <aside className="drawer tasklist" role="dialog" aria-modal="true" aria-label={`Profiles in ${nodeName}`}>
        <header className="drawer-header">
          <div>
            <h2>Profiles in “{nodeName}”</h2>
            <p className="muted">
              {page ? `${formatCount(total)} ${total === 1 ? "profile is" : "profiles are"} in this element now` : "\u00a0"}
            </p>
          </div>
          <button type="button" className="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {error && <ErrorBanner message={error} onRetry={() => void load()} />}
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <div className="drawer-body">
          {!page && !error && <Loading />}
          {page && total === 0 && <EmptyState title="No profiles in this element now." />}
          {page && page.tasks.length > 0 && (
            <table className="table tasklist-table">
              <thead>
                <tr>
                  <th>Profile</th>
                  <th>State</th>
                  <th>Leaves the element</th>
                  <th>API content</th>
                  <th aria-label="Remove" />
                </tr>
              </thead>
              <tbody>
                {page.tasks.map((task) => {
                  const name = keys[task.profile_id] ?? `Profile #${task.profile_id}`;
                  return (
                    <tr key={task.task_id} data-task-id={task.task_id}>
                      <td>
                        {databaseId !== null ? (
                          <a href={links.profile(databaseId, task.profile_id)} onClick={onClose}>
                            {name}
                          </a>
                        ) : (
                          name
                        )}
                        <div className="muted small">entered {formatDateTime(task.entered_at)}</div>
                      </td>
                      <td>
                        <TaskStateBadge state={task.state} />
                      </td>
                      <td className="nowrap">{leaves(task)}</td>
                      <td>
                        {task.has_api_content ? (
                          <button type="button" className="link with-icon" onClick={() => void download(task)}>
                            <DownloadIcon /> Download
                          </button>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td>
                        <button
                          type="button"
                          className="icon danger"
                          aria-label={`Remove ${name} from the scenario`}
                          title="Remove from the scenario"
                          onClick={() => setConfirm({ task })}
                        >
                          <TrashIcon />
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
        <footer className="drawer-footer">
          {page && total > PAGE_SIZE && (
            <div className="pager">
              <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
                <span aria-hidden="true">‹</span> Previous
              </button>
              <span>
                {offset + 1}–{last} of {formatCount(total)}
              </span>
              <button type="button" disabled={last >= total} onClick={() => setOffset(offset + PAGE_SIZE)}>
                Next <span aria-hidden="true">›</span>
              </button>
            </div>
          )}
          <span className="spacer" />
          <button type="button" className="danger" disabled={!page || total === 0} onClick={() => setConfirm({ all: true })}>
            Remove these profiles from the scenario
          </button>
        </footer>
      </aside>
      {confirm && "task" in confirm && (
        <ConfirmDialog
          title="Remove the profile from the scenario?"
          message={
            <>
              <b>{keys[confirm.task.profile_id] ?? `Profile #${confirm.task.profile_id}`}</b> leaves the scenario now and
              will not continue it.
            </>
          }
          confirmLabel="Remove"
          danger
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await del(`/scenarios/${scenarioId}/tasks/${confirm.task.task_id}`);
            await removed("The profile was removed from the scenario.");
          }}
        />
      )}
      {confirm && "all" in confirm && (
        <ConfirmDialog
          title="Remove these profiles from the scenario?"
          message={`All ${formatCount(total)} profiles in “${nodeName}” leave the scenario now.`}
          confirmLabel="Remove all"
          danger
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            const result = await del<{ removed: number }>(
              `/scenarios/${scenarioId}/nodes/${encodeURIComponent(nodeId)}/tasks`,
            );
            setOffset(0);
            await removed(`${formatCount(result.removed)} ${result.removed === 1 ? "profile was" : "profiles were"} removed from the scenario.`);
          }}
        />
      )}
    </div>
  );
}
