/** Coloured badges for scenario statuses and task states. */

const SCENARIO_LABELS: Record<string, string> = {
  draft: "Draft",
  active: "Active",
  inactive: "Inactive",
  trashed: "In trash",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{SCENARIO_LABELS[status] ?? status}</span>;
}

const TASK_LABELS: Record<string, string> = {
  scheduled: "Waiting",
  awaiting: "Awaiting an answer",
  frozen: "Frozen",
  finished: "Completed",
  failed: "Failed",
  removed: "Removed",
};

export function TaskStateBadge({ state }: { state: string }) {
  return <span className={`badge badge-task-${state}`}>{TASK_LABELS[state] ?? state}</span>;
}

export function Tag({ name, onClick }: { name: string; onClick?: () => void }) {
  if (onClick)
    return (
      <button type="button" className="tag" onClick={onClick} title={`Only scenarios tagged “${name}”`}>
        {name}
      </button>
    );
  return <span className="tag">{name}</span>;
}
