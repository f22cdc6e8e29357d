/** Formatting helpers shared by the pages: dates in the browser's locale, readable errors. */
import { ApiError } from "../api";

/** Date and time with seconds, in the browser's locale and time zone. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** A readable message for anything a request or handler threw. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A number with thousands separators in the browser's locale. */
export function formatCount(n: number): string {
  return n.toLocaleString();
}

/** Triggers the download of `data` as a pretty-printed JSON file named `filename`. */
export function downloadJson(data: unknown, filename: string): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A node's readable name: its own, or for the built-in default capture its title. */
export function nodeLabel(node: { id: string; kind: string; name: string }): string {
  if (node.name) return node.name;
  if (node.kind === "default_capture") return "Default profile capture";
  return node.id;
}

/** Date and time to the minute, in the browser's locale (for lists). */
export function formatShortDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
