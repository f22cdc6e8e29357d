/** Runs `load` now and every `intervalMs` while `enabled`, without overlapping calls. */
import { useEffect, useRef } from "react";

export function usePolling(load: () => Promise<void>, intervalMs: number, enabled: boolean, deps: unknown[]): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        await latest.current();
      } finally {
        if (!stopped) timer = window.setTimeout(tick, intervalMs);
      }
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
    // `load` is read through a ref: only `deps` restart the polling.
  }, [enabled, intervalMs, ...deps]);
}
