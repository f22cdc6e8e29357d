/** The statistics panel at the bottom of the editor: period counts (default the last 7 days,
 * as the server's clock sees them) and real-time counts of the profiles inside now. Both
 * refresh every 2 seconds while the panel is open. */
import { useState } from "react";
import { get } from "../api";
import type { PeriodStats, RealtimeStats } from "../components/types";
import { errorMessage, formatCount, nodeLabel } from "../components/format";
import { TaskList } from "./TaskList";
import { usePolling } from "./usePolling";
import "./stats.css";

const REFRESH_MS = 2000;

type Mode = "period" | "realtime";

function Metric({ label, value, hint, tone }: { label: string; value: number | null; hint?: string; tone?: string }) {
  return (
    <div className={`stats-metric${tone ? ` stats-metric-${tone}` : ""}`} role="group" aria-label={label}>
      <span className="stats-metric-label">{label}</span>
      <span className="stats-metric-value">{value === null ? "–" : formatCount(value)}</span>
      {hint && <span className="stats-metric-hint">{hint}</span>}
    </div>
  );
}

export function StatsPanel({ scenarioId }: { scenarioId: number }) {
  const [open, setOpen] = useState(true);
  const [mode, setMode] = useState<Mode>("period");
  // Until the user picks dates, the server's default period (its last 7 days) is shown.
  const [range, setRange] = useState<{ from: string; to: string } | null>(null);
  const [chosen, setChosen] = useState(false);
  const [period, setPeriod] = useState<PeriodStats | null>(null);
  const [realtime, setRealtime] = useState<RealtimeStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [openNode, setOpenNode] = useState<{ id: string; name: string } | null>(null);
  const [bump, setBump] = useState(0);

  usePolling(
    async () => {
      try {
        if (mode === "period") {
          const query = chosen && range ? `?date_from=${range.from}&date_to=${range.to}` : "";
          const stats = await get<PeriodStats>(`/scenarios/${scenarioId}/stats${query}`);
          setPeriod(stats);
          if (!chosen) setRange({ from: stats.date_from, to: stats.date_to });
        } else {
          setRealtime(await get<RealtimeStats>(`/scenarios/${scenarioId}/stats/realtime`));
        }
        setError(null);
      } catch (err) {
        setError(errorMessage(err));
      }
    },
    REFRESH_MS,
    open,
    [scenarioId, mode, chosen, range?.from, range?.to, bump],
  );

  const pick = (which: "from" | "to", value: string) => {
    if (!value || !range) return;
    setChosen(true);
    setRange({ ...range, [which]: value });
  };

  const busyNodes = (realtime?.nodes ?? []).filter((n) => n.inside > 0);

  return (
    <section className={`stats-panel${open ? " stats-open" : ""}`} aria-label="Scenario statistics">
      <header className="stats-header">
        <button
          type="button"
          className="stats-toggle"
          aria-expanded={open}
          onClick={() => setOpen((o) => !o)}
          title={open ? "Hide the statistics" : "Show the statistics"}
        >
          <span className="stats-chevron">{open ? "▾" : "▸"}</span> Statistics
        </button>
        {open && (
          <div className="stats-tabs" role="tablist">
            <button
              type="button"
              role="tab"
              aria-selected={mode === "period"}
              className={mode === "period" ? "stats-tab stats-tab-active" : "stats-tab"}
              onClick={() => setMode("period")}
            >
              Period
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={mode === "realtime"}
              className={mode === "realtime" ? "stats-tab stats-tab-active" : "stats-tab"}
              onClick={() => setMode("realtime")}
            >
              Real time
            </button>
          </div>
        )}
        {open && mode === "period" && range && (
          <div className="stats-range">
            <label>
              From
              <input type="date" aria-label="From" value={range.from} max={range.to} onChange={(e) => pick("from", e.target.value)} />
            </label>
            <label>
              To
              <input type="date" aria-label="To" value={range.to} min={range.from} onChange={(e) => pick("to", e.target.value)} />
            </label>
            {chosen && (
              <button
                type="button"
                className="link"
                onClick={() => {
                  setChosen(false);
                }}
              >
                Last 7 days
              </button>
            )}
          </div>
        )}
        {open && mode === "realtime" && <span className="stats-live">● Live, refreshed every 2 s</span>}
      </header>
      {open && (
        <div className="stats-body">
          {error && (
            <p className="stats-error" role="alert">
              {error}
            </p>
          )}
          {mode === "period" && (
            <div className="stats-metrics">
              <Metric label="Entered" value={period?.entered ?? null} hint="profiles included in the scenario" />
              <Metric label="Completed" value={period?.completed ?? null} hint="went through to the end or an Exit" tone="ok" />
              <Metric
                label="Errors"
                value={period?.errors ?? null}
                hint={period ? `${formatCount(period.failed)} failed · ${formatCount(period.removed)} removed` : undefined}
                tone={period && period.errors > 0 ? "bad" : undefined}
              />
            </div>
          )}
          {mode === "realtime" && (
            <div className="stats-metrics">
              <Metric label="In the scenario now" value={realtime?.inside ?? null} hint="entered and not yet completed" />
              <div className="stats-nodes">
                {realtime && busyNodes.length === 0 && <span className="stats-muted">No profiles are waiting in any element.</span>}
                {busyNodes.map((n) => (
                  <button
                    key={n.id}
                    type="button"
                    className="stats-node"
                    title={`${n.id}: show the profiles in it`}
                    onClick={() => setOpenNode({ id: n.id, name: nodeLabel(n) })}
                  >
                    <span className="stats-node-name">{nodeLabel(n)}</span>
                    <span className="stats-node-count">{formatCount(n.inside)}</span>
                  </button>
                ))}
              </div>
            </div>
          )}
        </div>
      )}
      {openNode && (
        <TaskList
          scenarioId={scenarioId}
          nodeId={openNode.id}
          nodeName={openNode.name}
          onClose={() => setOpenNode(null)}
          onChanged={() => setBump((b) => b + 1)}
        />
      )}
    </section>
  );
}
