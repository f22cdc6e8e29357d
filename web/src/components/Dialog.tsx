/** A modal dialog: a titled box over a dimmed page; Escape or the backdrop closes it. */
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";
import { errorMessage } from "./format";

export interface DialogProps {
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Buttons at the bottom right (e.g. Cancel + a primary action). */
  footer?: ReactNode;
  /** Width in pixels (default 480). */
  width?: number;
}

export function Dialog({ title, onClose, children, footer, width = 480 }: DialogProps) {
  const titleId = useId();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  useEffect(() => {
    const first = box.current?.querySelector<HTMLElement>(
      "input:not([type=hidden]), select, textarea, button.primary",
    );
    first?.focus();
  }, []);
  return (
    <div
      className="dialog-backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        ref={box}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        style={{ width }}
      >
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        {footer && <footer className="dialog-footer">{footer}</footer>}
      </div>
    </div>
  );
}

export interface ConfirmDialogProps {
  title: string;
  message: ReactNode;
  /** The confirming button's label, e.g. "Remove". */
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}

/** "Are you sure?": runs `onConfirm`, shows its error if it throws, closes when it succeeds. */
export function ConfirmDialog({ title, message, confirmLabel, danger, onConfirm, onClose }: ConfirmDialogProps) {
  return (
    <ActionDialog title={title} actionLabel={confirmLabel} danger={danger} onAction={onConfirm} onClose={onClose}>
      <div className="confirm-message">{message}</div>
    </ActionDialog>
  );
}

export interface ActionDialogProps {
  title: string;
  children: ReactNode;
  actionLabel: string;
  danger?: boolean;
  /** False disables the action button (e.g. until a choice is made). */
  canAct?: boolean;
  /** Runs on submit; throwing shows the error's message in the dialog. */
  onAction: () => Promise<void> | void;
  onClose: () => void;
  width?: number;
}

/** A dialog around a form: Cancel + an action button, busy while it runs, errors shown inside. */
export function ActionDialog({
  title,
  children,
  actionLabel,
  danger,
  canAct = true,
  onAction,
  onClose,
  width,
}: ActionDialogProps) {
  const formId = useId();
  const [busy, setBusy] = useStateSafe(false);
  const [error, setError] = useStateSafe<string | null>(null);
  return (
    <Dialog
      title={title}
      onClose={onClose}
      width={width}
      footer={
        <>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form={formId} className={danger ? "danger solid" : "primary"} disabled={busy || !canAct}>
            {actionLabel}
          </button>
        </>
      }
    >
      <form
        id={formId}
        className="dialog-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy || !canAct) return;
          setBusy(true);
          setError(null);
          try {
            await onAction();
          } catch (err) {
            setError(errorMessage(err));
            setBusy(false);
            return;
          }
          setBusy(false);
        }}
      >
        {children}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </Dialog>
  );
}

/** useState whose setter is ignored after unmount (dialogs close while a request finishes). */
function useStateSafe<T>(initial: T): [T, (value: T) => void] {
  const [value, setValue] = useState(initial);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const set = useCallback((v: T) => {
    if (mounted.current) setValue(v);
  }, []);
  return [value, set];
}
