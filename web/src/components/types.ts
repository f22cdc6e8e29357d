/** Shapes of the API answers the pages use (see /openapi.json).
 * Re-entry labels are the product documentation's own wording. */

export type ScenarioStatus = "draft" | "active" | "inactive" | "trashed";
export type ReentryMode = "once_ever" | "not_while_active" | "restart" | "parallel";

export const REENTRY_LABELS: Record<ReentryMode, string> = {
  once_ever: "Disable reentry for the customer profile",
  not_while_active: "Disable reentry for already engaged customer profiles",
  restart: "Discard existent task for customer profile on reentry",
  parallel: "Process each profile entry in the scenario separately",
};

export interface ScenarioSummary {
  id: number;
  database_id: number;
  name: string;
  status: ScenarioStatus;
  reentry: ReentryMode;
  tags: string[];
  groups: string[];
  valid: boolean;
  inside: number;
  updated_at: string;
}

export interface ScenarioNode {
  id: string;
  kind: string;
  name: string;
  settings: Record<string, unknown>;
  position: [number, number] | null;
}

export interface ScenarioDetail {
  id: number;
  database_id: number;
  name: string;
  description: string;
  tags: string[];
  status: ScenarioStatus;
  reentry: ReentryMode;
  version: number;
  nodes: ScenarioNode[];
  edges: { source: string; port: string; target: string }[];
}

export interface Database {
  id: number;
  name: string;
  fields: Record<string, string>;
  all_fields: Record<string, string>;
  match_field: string;
  profiles: number | null;
}

export interface Segment {
  id: number;
  database_id: number;
  name: string;
  kind: "static" | "dynamic";
}

export interface Profile {
  id: number;
  database_id: number;
  match_key: string;
  fields: Record<string, unknown>;
  subscriptions: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export interface ProfileEvent {
  id: number;
  type: string;
  at: string;
  data: Record<string, unknown> | null;
  task_id: number | null;
  node_id: string | null;
  outbox_key: string | null;
}

export interface Visit {
  node_id: string;
  entered_at: string;
  left_at: string;
  port: string;
}

export interface Interaction {
  task_id: number;
  scenario_id: number;
  scenario_name: string | null;
  state: string;
  entered_at: string;
  current_node: string | null;
  path: Visit[];
  ended_at: string | null;
  exit_node: string | null;
  end_reason: string | null;
  data: Record<string, unknown>;
}

export interface ProfileCardData extends Profile {
  events: ProfileEvent[];
  interactions: Interaction[];
}

export interface PeriodStats {
  date_from: string;
  date_to: string;
  entered: number;
  completed: number;
  failed: number;
  removed: number;
  errors: number;
  nodes: { id: string; kind: string; name: string; entered: number; exited: number; errors: number }[];
}

export interface RealtimeStats {
  inside: number;
  nodes: { id: string; kind: string; name: string; inside: number }[];
}

export interface WaitingTask {
  task_id: number;
  profile_id: number;
  state: string;
  entered_at: string;
  node_entered_at: string;
  leaves_at: string | null;
  has_api_content: boolean;
}

export interface WaitingPage {
  total: number;
  limit: number;
  offset: number;
  tasks: WaitingTask[];
}
