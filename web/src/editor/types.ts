/** Shapes of the API answers the editor reads (see src/scenaria/api/schemas). */
import type { ReentryMode } from "../components/types";

export type { ReentryMode };

export type Group = "trigger" | "channel" | "operator" | "action";

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
};

export type NodeKind = {
  kind: string;
  title: string;
  group: Group;
  outputs: string[];
  branches: string[];
  waits: boolean;
  settings_schema: JsonSchema;
};

export type Settings = Record<string, unknown>;

export type ApiNode = {
  id: string;
  kind: string;
  name: string;
  settings: Settings;
  position: [number, number] | null;
};

export type ApiEdge = { source: string; port: string; target: string };

export type Problem = {
  node_id: string | null;
  code: string;
  message: string;
  blocks_save: boolean;
};

export type ScenarioStatus = "draft" | "active" | "inactive" | "trashed";

export type Scenario = {
  id: number;
  database_id: number;
  name: string;
  description: string;
  tags: string[];
  groups: string[];
  attributes: Record<string, string>;
  reentry: ReentryMode;
  status: ScenarioStatus;
  version: number;
  nodes: ApiNode[];
  edges: ApiEdge[];
  problems: Problem[];
};

export type Database = { id: number; name: string };

export type Attribute = { name: string; required: boolean; choices: string[] | null };

export type PeriodStats = {
  date_from: string;
  date_to: string;
  nodes: { id: string; entered: number; exited: number; errors: number }[];
};

export type RealtimeStats = { inside: number; nodes: { id: string; inside: number }[] };

export const DEFAULT_CAPTURE_ID = "default";

export const GROUPS: { group: Group; label: string }[] = [
  { group: "trigger", label: "Triggers" },
  { group: "channel", label: "Channels" },
  { group: "operator", label: "Operators" },
  { group: "action", label: "Actions" },
];
export const DEFAULT_CAPTURE_KIND = "default_capture";
