/** The four re-entry modes as radio buttons, in the product's wording (create dialog and settings). */
import { REENTRY_LABELS, type ReentryMode } from "./types";

export function ReentryChoice({
  value,
  onChange,
}: {
  value: ReentryMode;
  onChange: (mode: ReentryMode) => void;
}) {
  return (
    <fieldset className="radio-list">
      <legend>Re-entry mode</legend>
      {(Object.keys(REENTRY_LABELS) as ReentryMode[]).map((mode) => (
        <label key={mode}>
          <input
            type="radio"
            name="reentry"
            value={mode}
            checked={value === mode}
            onChange={() => onChange(mode)}
          />
          {REENTRY_LABELS[mode]}
        </label>
      ))}
    </fieldset>
  );
}
