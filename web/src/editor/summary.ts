/** A one-line summary of a node's settings, shown on the canvas. */
import type { Settings } from "./types";

const OPS: Record<string, string> = {
  eq: "=",
  ne: "≠",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
  contains: "contains",
  is_set: "is set",
  is_not_set: "is not set",
  set: "=",
  increment: "+=",
  decrement: "−=",
  clear: "cleared",
};

type Rule = Record<string, unknown>;

function rule(r: Rule): string {
  switch (r.type ?? "field") {
    case "subscription":
      return `${r.channel ?? "email"} subscription ${r.status ?? "subscribed"}`;
    case "sent":
      return `${r.channel ?? "sms"} sent ≥ ${r.at_least ?? 1}`;
    case "message":
      return `${r.event ?? "opened"} message of ${r.node ?? "?"}`;
    default: {
      const op = String(r.op ?? "eq");
      const value = op === "is_set" || op === "is_not_set" ? "" : ` ${JSON.stringify(r.value ?? null)}`;
      return `${r.field ?? "?"} ${OPS[op] ?? op}${value}`;
    }
  }
}

function duration(s: Settings): string {
  const parts: string[] = [];
  for (const [key, unit] of [
    ["days", "d"],
    ["hours", "h"],
    ["minutes", "min"],
    ["seconds", "s"],
  ] as const) {
    const v = Number(s[key] ?? 0);
    if (v) parts.push(`${v} ${unit}`);
  }
  return parts.length ? `Wait ${parts.join(" ")}` : "No duration set";
}

export function summarize(kind: string, s: Settings): string {
  switch (kind) {
    case "default_capture":
      return "API, manual adds, segments, jumps";
    case "email":
      return s.subject ? `Subject: ${s.subject}` : "No subject yet";
    case "sms":
      return s.text ? String(s.text) : "No text yet";
    case "pause":
      return duration(s);
    case "condition": {
      const rules = Array.isArray(s.rules) ? (s.rules as Rule[]) : [];
      if (!rules.length) return "No rules yet";
      return rules.map(rule).join(s.match === "any" ? " OR " : " AND ");
    }
    case "update_profile": {
      const ups = Array.isArray(s.updates) ? (s.updates as Rule[]) : [];
      if (!ups.length) return "No updates yet";
      return ups
        .map((u) => {
          const op = String(u.op ?? "set");
          return op === "clear" ? `${u.field} cleared` : `${u.field} ${OPS[op]} ${JSON.stringify(u.value ?? null)}`;
        })
        .join(", ");
    }
    case "promo_code":
      return s.pool ? `Pool: ${s.pool}` : "No pool yet";
    case "api_request":
      return s.url ? `${s.method ?? "POST"} ${s.url}` : "No URL yet";
    case "exit":
      return "The profile leaves the scenario";
    default:
      if (kind.startsWith("trigger_")) return s.on_update ? "New and updated profiles" : "New profiles";
      return Object.entries(s)
        .filter(([, v]) => typeof v === "string" || typeof v === "number")
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
  }
}
