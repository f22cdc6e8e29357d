/** "+ Element": the node kinds grouped as Triggers / Channels / Operators / Actions. Drag
 * one onto the canvas, or click it to drop it in the middle of the view. */
import { memo } from "react";
import { GROUPS, DEFAULT_CAPTURE_KIND, type NodeKind } from "./types";

export const DRAG_TYPE = "application/x-scenaria-kind";

function PaletteView({ kinds, onAdd }: { kinds: NodeKind[]; onAdd: (kind: string) => void }) {
  return (
    <aside className="ed-palette" aria-label="Elements">
      <h2>+ Element</h2>
      <p className="ed-palette-hint">Drag onto the canvas, or click.</p>
      {GROUPS.map(({ group, label }) => {
        const items = kinds.filter((k) => k.group === group && k.kind !== DEFAULT_CAPTURE_KIND);
        if (!items.length) return null;
        return (
          <section key={group} className={`ed-palette-group ed-group-${group}`} aria-label={label}>
            <h3>{label}</h3>
            {items.map((k) => (
              <div
                key={k.kind}
                className="ed-palette-item"
                role="button"
                tabIndex={0}
                draggable
                data-testid={`palette-${k.kind}`}
                aria-label={`Add ${k.title}`}
                title={`Drag “${k.title}” onto the canvas, or click to add it`}
                onDragStart={(e) => {
                  e.dataTransfer.setData(DRAG_TYPE, k.kind);
                  e.dataTransfer.setData("text/plain", k.kind);
                  e.dataTransfer.effectAllowed = "move";
                }}
                onClick={() => onAdd(k.kind)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    onAdd(k.kind);
                  }
                }}
              >
                <span className="ed-palette-dot" aria-hidden="true" />
                {k.title}
              </div>
            ))}
          </section>
        );
      })}
    </aside>
  );
}

export const Palette = memo(PaletteView);
