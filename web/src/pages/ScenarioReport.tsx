/** The scenario report: every element with how many profiles entered and left it over the
 * last 7 days and how many are in it now (click a count for the profiles), and the
 * statistics panel. */
import { useCallback, useEffect, useState } from "react";
import { get } from "../api";
import { links } from "../router";
import { ErrorBanner, Loading } from "../components/Feedback";
import { StatusBadge } from "../components/StatusBadge";
import { errorMessage, formatCount, nodeLabel } from "../components/format";
import type { PeriodStats, RealtimeStats, ScenarioDetail } from "../components/types";
import { StatsPanel } from "../stats/StatsPanel";
import { TaskList } from "../stats/TaskList";
import { usePolling } from "../stats/usePolling";

export const reportLink = (id: number) => `#/scenarios/${id}/report`;

export function ScenarioReport({ scenarioId }: { scenarioId: number }) {
  const [scenario, setScenario] = useState<ScenarioDetail | null>(null);
  const [period, setPeriod] = useState<PeriodStats | null>(null);
  const [realtime, setRealtime] = useState<RealtimeStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<{ id: string; name: string } | null>(null);

  useEffect(() => {
    get<ScenarioDetail>(`/scenarios/${scenarioId}`)
      .then(setScenario)
      .catch((err) => setError(errorMessage(err)));
  }, [scenarioId]);

  const refresh = useCallback(async () => {
    try {
      const [p, r] = await Promise.all([
        get<PeriodStats>(`/scenarios/${scenarioId}/stats`),
        get<RealtimeStats>(`/scenarios/${scenarioId}/stats/realtime`),
      ]);
      setPeriod(p);
      setRealtime(r);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [scenarioId]);
  usePolling(refresh, 2000, true, [scenarioId]);

  const inside = new Map((realtime?.nodes ?? []).map((n) => [n.id, n.inside]));
  const counts = new Map((period?.nodes ?? []).map((n) => [n.id, n]));

  return (
    <div className="report-page">
      <div className="page-content report-content">
        <p className="breadcrumbs">
          <a href={links.list()}>Automation scenarios</a> ›
        </p>
        <div className="page-header">
          <h1>{scenario ? `Report: ${scenario.name}` : "Report"}</h1>
          {scenario && <StatusBadge status={scenario.status} />}
          <a className="button" href={links.scenario(scenarioId)}>
            Open in editor
          </a>
        </div>
        {error && <ErrorBanner message={error} />}
        {!scenario && !error && <Loading />}
        {scenario && (
          <div className="card">
            <table className="table report-table">
              <thead>
                <tr>
                  <th>Element</th>
                  <th>Entered (7 days)</th>
                  <th>Left (7 days)</th>
                  <th>Errors (7 days)</th>
                  <th>In it now</th>
                </tr>
              </thead>
              <tbody>
                {scenario.nodes.map((node) => {
                  const c = counts.get(node.id);
                  const now = inside.get(node.id) ?? 0;
                  const name = nodeLabel(node);
                  return (
                    <tr key={node.id} data-node-id={node.id}>
                      <td>
                        <span className="scenario-name">{name}</span>
                        <div className="muted small">
                          {node.kind} · <code>{node.id}</code>
                        </div>
                      </td>
                      <td>{c ? formatCount(c.entered) : "–"}</td>
                      <td>{c ? formatCount(c.exited) : "–"}</td>
                      <td className={c && c.errors > 0 ? "error" : undefined}>{c ? formatCount(c.errors) : "–"}</td>
                      <td>
                        {now > 0 ? (
                          <button
                            type="button"
                            className="count-button"
                            aria-label={`${now} profiles in ${name}`}
                            onClick={() => setOpen({ id: node.id, name })}
                          >
                            {formatCount(now)}
                          </button>
                        ) : (
                          <span className="muted">0</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <StatsPanel scenarioId={scenarioId} />
      {open && (
        <TaskList
          scenarioId={scenarioId}
          nodeId={open.id}
          nodeName={open.name}
          onClose={() => setOpen(null)}
          onChanged={() => void refresh()}
        />
      )}
    </div>
  );
}
