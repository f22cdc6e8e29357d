/** The profile card: fields, subscriptions, the latest events, and every pass through a
 * scenario with the path it took and where it left. */
import { useEffect, useState } from "react";
import { get } from "../api";
import { links } from "../router";
import { EmptyState, ErrorBanner, Loading } from "../components/Feedback";
import { TaskStateBadge } from "../components/StatusBadge";
import { errorMessage, formatDateTime, nodeLabel } from "../components/format";
import type { Database, Interaction, ProfileCardData, ProfileEvent, ScenarioDetail } from "../components/types";
import { profilesLink } from "./ProfileLookup";

type Tab = "scenarios" | "events";

const END_REASONS: Record<string, string> = {
  completed: "completed",
  exit_node: "reached an Exit",
  error: "ended by an error",
  scenario_stopped: "the scenario was stopped",
  cleared: "cleared from the scenario",
};

function display(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function displayName(card: ProfileCardData): string {
  const f = card.fields;
  const name = [f.first_name, f.last_name].filter((v) => typeof v === "string" && v).join(" ");
  return name || card.match_key;
}

export function ProfileCard({ databaseId, profileId }: { databaseId: number; profileId: number }) {
  const [card, setCard] = useState<ProfileCardData | null>(null);
  const [database, setDatabase] = useState<Database | null>(null);
  const [nodeNames, setNodeNames] = useState<Record<number, Record<string, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>("scenarios");

  useEffect(() => {
    setCard(null);
    setError(null);
    get<ProfileCardData>(`/databases/${databaseId}/profiles/${profileId}/card`)
      .then(setCard)
      .catch((err) => setError(errorMessage(err)));
    get<Database>(`/databases/${databaseId}`)
      .then(setDatabase)
      .catch(() => setDatabase(null));
  }, [databaseId, profileId]);

  // The path names its nodes by id; the scenarios give them their readable names.
  useEffect(() => {
    if (!card) return;
    const ids = [...new Set(card.interactions.map((i) => i.scenario_id))];
    let cancelled = false;
    Promise.all(
      ids.map((id) =>
        get<ScenarioDetail>(`/scenarios/${id}`)
          .then((s) => [id, Object.fromEntries(s.nodes.map((n) => [n.id, nodeLabel(n)]))] as const)
          .catch(() => [id, {}] as const),
      ),
    ).then((found) => {
      if (!cancelled) setNodeNames(Object.fromEntries(found));
    });
    return () => {
      cancelled = true;
    };
  }, [card]);

  if (error)
    return (
      <div className="page-content">
        <ErrorBanner message={error} />
        <a href={profilesLink()}>Find another profile</a>
      </div>
    );
  if (!card) return <Loading />;

  const fieldNames = database ? Object.keys(database.all_fields) : [];
  for (const name of Object.keys(card.fields)) if (!fieldNames.includes(name)) fieldNames.push(name);
  const channels = [...new Set(["email", "sms", ...Object.keys(card.subscriptions)])];
  const name = displayName(card);

  return (
    <div className="page-content profile-page">
      <p className="breadcrumbs">
        <a href={profilesLink()}>Profiles</a> › {database?.name ?? `Database #${databaseId}`}
      </p>
      <div className="profile-head">
        <div className="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
        </div>
        <div>
          <h1>{name}</h1>
          <p className="muted">
            {card.match_key} · profile #{card.id} · created {formatDateTime(card.created_at)}
          </p>
        </div>
      </div>
      <div className="columns">
        <section className="card" aria-label="Fields">
          <h2 className="section-title">Fields</h2>
          <dl className="fields fields-wide">
            {fieldNames.map((f) => (
              <div key={f} style={{ display: "contents" }}>
                <dt>{f}</dt>
                <dd>{display(card.fields[f])}</dd>
              </div>
            ))}
          </dl>
        </section>
        <section className="card" aria-label="Subscriptions">
          <h2 className="section-title">Subscriptions</h2>
          <dl className="fields subs">
            {channels.map((c) => {
              const status = card.subscriptions[c];
              return (
                <div key={c} style={{ display: "contents" }}>
                  <dt>{c === "sms" ? "SMS" : c === "email" ? "Email" : c}</dt>
                  <dd>
                    {status ? (
                      <span className={`badge badge-sub-${status}`}>{status}</span>
                    ) : (
                      <span className="muted">no subscription</span>
                    )}
                  </dd>
                </div>
              );
            })}
          </dl>
        </section>
      </div>
      <div className="tabs" role="tablist">
        {(
          [
            ["scenarios", "Scenarios", card.interactions.length],
            ["events", "Events", card.events.length],
          ] as [Tab, string, number][]
        ).map(([key, label, count]) => (
          <button key={key} type="button" role="tab" aria-selected={tab === key} onClick={() => setTab(key)}>
            {label}
            <span className="count">{count}</span>
          </button>
        ))}
      </div>
      {tab === "events" && <Events events={card.events} />}
      {tab === "scenarios" && <Interactions items={card.interactions} nodeNames={nodeNames} />}
    </div>
  );
}

function eventDetails(e: ProfileEvent): string {
  const parts: string[] = [];
  if (e.data)
    for (const [key, value] of Object.entries(e.data))
      parts.push(`${key}: ${typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)}`);
  if (e.task_id) parts.push(`task #${e.task_id}`);
  if (e.node_id) parts.push(`element ${e.node_id}`);
  if (e.outbox_key) parts.push(`message ${e.outbox_key}`);
  return parts.join(" · ");
}

function Events({ events }: { events: ProfileEvent[] }) {
  if (events.length === 0) return <EmptyState title="No events yet." />;
  return (
    <div className="card">
      <table className="table events-table">
        <thead>
          <tr>
            <th>Event</th>
            <th>Time</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>
                <b>{e.type}</b>
              </td>
              <td className="nowrap">{formatDateTime(e.at)}</td>
              <td className="event-data">{eventDetails(e) || <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Interactions({ items, nodeNames }: { items: Interaction[]; nodeNames: Record<number, Record<string, string>> }) {
  if (items.length === 0) return <EmptyState title="This profile has not been in any scenario." />;
  return (
    <div className="card">
      <table className="table interactions-table">
        <thead>
          <tr>
            <th>Scenario</th>
            <th>Status</th>
            <th>Entered</th>
            <th>Left</th>
            <th>Path</th>
            <th>Exit</th>
          </tr>
        </thead>
        <tbody>
          {items.map((task) => {
            const names = nodeNames[task.scenario_id] ?? {};
            const label = (id: string) => names[id] ?? id;
            return (
              <tr key={task.task_id} data-task-id={task.task_id}>
                <td>
                  <a className="scenario-name" href={links.scenario(task.scenario_id)}>
                    {task.scenario_name ?? `Scenario #${task.scenario_id}`}
                  </a>
                </td>
                <td>
                  <TaskStateBadge state={task.state} />
                  {task.end_reason && task.end_reason !== "completed" && (
                    <div className="muted small">{END_REASONS[task.end_reason] ?? task.end_reason}</div>
                  )}
                </td>
                <td className="nowrap small">{formatDateTime(task.entered_at)}</td>
                <td className="nowrap small">{task.ended_at ? formatDateTime(task.ended_at) : "still inside"}</td>
                <td>
                  <ol className="path" aria-label="Path">
                    {task.path.map((v, i) => (
                      <li key={i} style={{ display: "contents" }}>
                        {i > 0 && <span className="path-arrow">→</span>}
                        <span className="path-step" title={`${v.node_id}: left by “${v.port}” at ${formatDateTime(v.left_at)}`}>
                          {label(v.node_id)}
                        </span>
                      </li>
                    ))}
                    {task.current_node && (
                      <li style={{ display: "contents" }}>
                        {task.path.length > 0 && <span className="path-arrow">→</span>}
                        <span className="path-step current" title={`${task.current_node}: here now`}>
                          {label(task.current_node)}
                        </span>
                      </li>
                    )}
                  </ol>
                </td>
                <td>
                  {task.exit_node ? (
                    <span className="exit-node" title={`Element ID: ${task.exit_node}`}>
                      {label(task.exit_node)}
                    </span>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
