/** Loading, error and empty states, the same everywhere. */
import type { ReactNode } from "react";

export function ErrorBanner({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div className="error-banner" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what = "Loading…" }: { what?: string }) {
  return <div className="loading">{what}</div>;
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** A transient message at the bottom of the screen (e.g. "Scenario cloned"). */
export function Toast({ message, onDone }: { message: string; onDone: () => void }) {
  return (
    <div className="toast" role="status" onAnimationEnd={onDone}>
      {message}
    </div>
  );
}
