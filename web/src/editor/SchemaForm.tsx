/** A form built from a node kind's settings JSON Schema (as Pydantic writes it): strings,
 * numbers, booleans, enums, arrays, nested objects, $ref/$defs, anyOf-null and
 * discriminated oneOf unions. Only what the user sets is stored; defaults show as-is. */
import { createContext, useContext, useId } from "react";
import type { JsonSchema } from "./types";

/** The id of the editor's <datalist> of the profile database's fields. */
export const FIELDS_LIST = "ed-profile-fields";
/** String settings that name a profile field get its suggestions. */
const FIELD_NAMES = new Set(["field"]);

/** Elements a setting may refer to (a Condition's message rule names an Email/SMS node). */
export type NodeChoice = { id: string; name: string; kind: string };
export const NodeChoices = createContext<NodeChoice[]>([]);
const NODE_REFERENCES: Record<string, string[]> = { node: ["email", "sms"] };

/** Fields that hold long text (templates, bodies): a textarea. */
const LONG_TEXT = new Set(["html", "text", "body", "template", "description", "message", "content"]);
/** Fields that are one line however long they may be. */
const ONE_LINE = new Set(["url", "subject"]);
/** Fields holding an email's HTML: shown rendered under the editor. */
const HTML_TEXT = new Set(["html"]);

type FieldProps = {
  name: string;
  schema: JsonSchema;
  root: JsonSchema;
  value: unknown;
  required?: boolean;
  onChange: (value: unknown) => void;
};

export function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let s = schema;
  for (let i = 0; i < 10 && s.$ref; i++) {
    const name = s.$ref.split("/").pop() ?? "";
    const target = root.$defs?.[name] ?? {};
    const { $ref: _ignored, ...rest } = s;
    void _ignored;
    s = { ...target, ...rest };
  }
  if (s.allOf && s.allOf.length === 1) {
    const { allOf, ...rest } = s;
    s = { ...resolve(allOf[0], root), ...rest };
  }
  if (s.anyOf) {
    const nonNull = s.anyOf.filter((v) => v.type !== "null");
    if (nonNull.length === 1) {
      const { anyOf: _a, ...rest } = s;
      void _a;
      s = { ...resolve(nonNull[0], root), ...rest };
    }
  }
  return s;
}

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
  if (s.type) return s.type;
  if (s.properties) return "object";
  if (s.enum) return typeof s.enum[0] === "number" ? "number" : "string";
  return undefined;
}

export function labelOf(name: string, s: JsonSchema): string {
  if (s.title) return s.title;
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A fresh value for a new array item or a switched union variant. */
export function initial(schema: JsonSchema, root: JsonSchema): unknown {
  const s = resolve(schema, root);
  const variants = s.oneOf ?? s.anyOf;
  if (variants && variants.length > 1) return initial(variants[0], root);
  if (s.default !== undefined) return structuredClone(s.default);
  const t = typeOf(s);
  if (t === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const r = resolve(p, root);
      if (r.const !== undefined) out[k] = r.const;
    }
    return out;
  }
  if (t === "array") return [];
  if (t === "boolean") return false;
  if (s.enum) return s.enum[0];
  return t === "string" ? "" : null;
}

/** A free value (a field's value): numbers and true/false as such, else text. */
function parseLoose(text: string): unknown {
  const t = text.trim();
  if (t === "") return null;
  if (t === "true") return true;
  if (t === "false") return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return text;
}

export function SchemaObject({
  schema,
  root,
  value,
  onChange,
  skip,
}: {
  schema: JsonSchema;
  root: JsonSchema;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  skip?: string;
}) {
  const s = resolve(schema, root);
  const required = new Set(s.required ?? []);
  return (
    <>
      {Object.entries(s.properties ?? {}).map(([key, prop]) =>
        key === skip ? null : (
          <SchemaField
            key={key}
            name={key}
            schema={prop}
            root={root}
            value={value[key]}
            required={required.has(key)}
            onChange={(v) => {
              const next = { ...value };
              if (v === undefined) delete next[key];
              else next[key] = v;
              onChange(next);
            }}
          />
        ),
      )}
    </>
  );
}

export function SchemaField({ name, schema, root, value, required, onChange }: FieldProps) {
  const id = useId();
  const s = resolve(schema, root);
  // A $ref'd definition's title names the type ("SubscriptionStatus"), not the field.
  const label = labelOf(name, schema);
  if (s.const !== undefined) return null;

  const variants = s.oneOf ?? (s.anyOf && s.anyOf.length > 1 ? s.anyOf : undefined);
  if (variants) return <UnionField name={name} schema={s} variants={variants} root={root} value={value} onChange={onChange} />;

  const t = typeOf(s);
  const mark = required ? <span className="ed-required" aria-hidden="true">*</span> : null;
  const hint = s.description ? <small className="ed-hint">{s.description}</small> : null;

  if (s.enum) {
    const current = value ?? s.default ?? "";
    return (
      <div className="ed-field">
        <span className="ed-field-head">
          <label htmlFor={id}>{label}</label>
          {mark}
        </span>
        <select
          id={id}
          value={String(current)}
          onChange={(e) => {
            const chosen = s.enum!.find((v) => String(v) === e.target.value);
            onChange(e.target.value === "" ? undefined : chosen);
          }}
        >
          {current === "" && <option value="">—</option>}
          {s.enum.map((v) => (
            <option key={String(v)} value={String(v)}>
              {String(v)}
            </option>
          ))}
        </select>
        {hint}
      </div>
    );
  }
  if (t === "boolean") {
    return (
      <div className="ed-field ed-check">
        <label>
          <input
            type="checkbox"
            checked={Boolean(value ?? s.default ?? false)}
            onChange={(e) => onChange(e.target.checked)}
          />
          {label}
        </label>
        {hint}
      </div>
    );
  }
  if (t === "integer" || t === "number") {
    const shown = value ?? s.default;
    return (
      <div className="ed-field">
        <span className="ed-field-head">
          <label htmlFor={id}>{label}</label>
          {mark}
        </span>
        <input
          id={id}
          type="number"
          step={t === "integer" ? 1 : "any"}
          min={s.minimum}
          max={s.maximum}
          value={shown === undefined || shown === null ? "" : String(shown)}
          onChange={(e) => {
            if (e.target.value === "") onChange(undefined);
            else {
              const n = Number(e.target.value);
              if (!Number.isNaN(n)) onChange(t === "integer" ? Math.trunc(n) : n);
            }
          }}
        />
        {hint}
      </div>
    );
  }
  if (t === "string" && NODE_REFERENCES[name]) {
    return <NodeSelect id={id} label={label} kinds={NODE_REFERENCES[name]} value={value} onChange={onChange} />;
  }
  if (t === "string") {
    const shown = (value ?? s.default ?? "") as string;
    const long = LONG_TEXT.has(name) || ((s.maxLength ?? 0) > 300 && !ONE_LINE.has(name));
    const set = (text: string) => onChange(text === "" && !required ? undefined : text);
    return (
      <div className="ed-field">
        <span className="ed-field-head">
          <label htmlFor={id}>{label}</label>
          {mark}
        </span>
        {long ? (
          <textarea id={id} rows={name === "html" || name === "body" ? 6 : 3} value={shown} onChange={(e) => set(e.target.value)} />
        ) : (
          <input
            id={id}
            type="text"
            value={shown}
            list={FIELD_NAMES.has(name) ? FIELDS_LIST : undefined}
            onChange={(e) => set(e.target.value)}
          />
        )}
        {hint}
        {HTML_TEXT.has(name) && shown.trim() !== "" && <HtmlPreview html={shown} />}
      </div>
    );
  }
  if (t === "array") {
    return (
      <ArrayField name={name} label={label} hint={s.description} schema={s} root={root} value={value} onChange={onChange} />
    );
  }
  if (t === "object" && s.properties) {
    const obj = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
    return (
      <fieldset className="ed-fieldset">
        <legend>{label}</legend>
        <SchemaObject schema={s} root={root} value={obj} onChange={onChange} />
      </fieldset>
    );
  }
  if (t === "object") {
    return <MapField label={label} hint={s.description} value={value} onChange={onChange} />;
  }
  // No type: any JSON value (a field's value) — numbers and booleans are kept as such.
  const shown = value === undefined || value === null ? "" : String(value);
  return (
    <div className="ed-field">
      <label htmlFor={id}>
        {label}
        {mark}
      </label>
      <input id={id} type="text" value={shown} onChange={(e) => onChange(parseLoose(e.target.value))} />
      {hint}
    </div>
  );
}

function UnionField({
  name,
  schema,
  variants,
  root,
  value,
  onChange,
}: {
  name: string;
  schema: JsonSchema;
  variants: JsonSchema[];
  root: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const id = useId();
  const resolved = variants.map((v) => resolve(v, root));
  const prop = schema.discriminator?.propertyName;
  const obj = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
  const tagOf = (v: JsonSchema, i: number): string => {
    const c = prop ? resolve(v.properties?.[prop] ?? {}, root) : undefined;
    if (c && c.const !== undefined) return String(c.const);
    if (c && c.default !== undefined) return String(c.default);
    return v.title ?? String(i);
  };
  const tags = resolved.map(tagOf);
  let index = prop ? tags.indexOf(String(obj[prop] ?? "")) : -1;
  if (index < 0) index = 0;
  const chosen = resolved[index];
  return (
    <fieldset className="ed-fieldset ed-union">
      <div className="ed-field">
        <label htmlFor={id}>{labelOf(prop ?? name, prop ? {} : schema)}</label>
        <select
          id={id}
          value={tags[index]}
          onChange={(e) => onChange(initial(resolved[tags.indexOf(e.target.value)], root))}
        >
          {tags.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      {typeOf(chosen) === "object" ? (
        <SchemaObject schema={chosen} root={root} value={obj} onChange={onChange} skip={prop} />
      ) : (
        <SchemaField name={name} schema={chosen} root={root} value={value} onChange={onChange} />
      )}
    </fieldset>
  );
}

function ArrayField({
  name,
  label,
  hint,
  schema,
  root,
  value,
  onChange,
}: {
  name: string;
  label: string;
  hint?: string;
  schema: JsonSchema;
  root: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const items = Array.isArray(value) ? value : [];
  const itemSchema = schema.items ?? {};
  const singular = label.replace(/s$/, "").toLowerCase();
  return (
    <fieldset className="ed-fieldset ed-array" aria-label={label}>
      <legend>
        {label}
        {schema.minItems ? <span className="ed-required">*</span> : null}
      </legend>
      {hint && <small className="ed-hint">{hint}</small>}
      {items.map((item, i) => (
        <div className="ed-array-item" key={i}>
          <SchemaField
            name={`${name}[${i}]`}
            schema={{ ...itemSchema, title: `${label} ${i + 1}` }}
            root={root}
            value={item}
            onChange={(v) => {
              const next = [...items];
              next[i] = v === undefined ? initial(itemSchema, root) : v;
              onChange(next);
            }}
          />
          <button
            type="button"
            className="ed-small"
            aria-label={`Remove ${singular} ${i + 1}`}
            onClick={() => {
              const next = items.filter((_, j) => j !== i);
              onChange(next.length ? next : undefined);
            }}
          >
            Remove
          </button>
        </div>
      ))}
      <button type="button" className="ed-small" onClick={() => onChange([...items, initial(itemSchema, root)])}>
        + Add {singular}
      </button>
    </fieldset>
  );
}

/** A name → value map (HTTP headers): one row of two inputs per entry. */
function MapField({
  label,
  hint,
  value,
  onChange,
}: {
  label: string;
  hint?: string;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const entries = Object.entries((value && typeof value === "object" ? value : {}) as Record<string, unknown>);
  const set = (next: [string, unknown][]) => onChange(next.length ? Object.fromEntries(next) : undefined);
  return (
    <fieldset className="ed-fieldset ed-map" aria-label={label}>
      <legend>{label}</legend>
      {hint && <small className="ed-hint">{hint}</small>}
      {entries.length > 0 && (
        <div className="ed-map-row ed-map-head" aria-hidden="true">
          <span>Name</span>
          <span>Value</span>
        </div>
      )}
      {entries.map(([k, v], i) => (
        <div className="ed-map-row" key={i} data-testid="map-row">
          <input
            aria-label={`${label} name ${i + 1}`}
            value={k}
            title={k}
            onChange={(e) => set(entries.map((p, j) => (j === i ? [e.target.value, p[1]] : p)))}
          />
          <input
            aria-label={`${label} value ${i + 1}`}
            value={String(v ?? "")}
            title={String(v ?? "")}
            onChange={(e) => set(entries.map((p, j) => (j === i ? [p[0], e.target.value] : p)))}
          />
          <button type="button" className="icon" aria-label={`Remove ${label} ${i + 1}`} onClick={() => set(entries.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button
        type="button"
        className="ed-small"
        onClick={() => {
          let key = "Name";
          for (let n = 2; entries.some(([k]) => k === key); n++) key = `Name${n}`;
          set([...entries, [key, ""]]);
        }}
      >
        + Add
      </button>
    </fieldset>
  );
}

/** The email as it will look: a sandboxed frame (no scripts, no forms, no same-origin
 * access), so a template's HTML cannot run anything in the editor. */
function HtmlPreview({ html }: { html: string }) {
  return (
    <details className="ed-preview" open>
      <summary>Preview (template variables as written)</summary>
      <iframe title="HTML preview" sandbox="" srcDoc={html} referrerPolicy="no-referrer" />
    </details>
  );
}

function NodeSelect({
  id,
  label,
  kinds,
  value,
  onChange,
}: {
  id: string;
  label: string;
  kinds: string[];
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const choices = useContext(NodeChoices).filter((c) => kinds.includes(c.kind));
  const current = typeof value === "string" ? value : "";
  return (
    <div className="ed-field">
      <span className="ed-field-head">
        <label htmlFor={id}>{label}</label>
        <span className="ed-required" aria-hidden="true">
          *
        </span>
      </span>
      <select id={id} value={current} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">— choose an element —</option>
        {current && !choices.some((c) => c.id === current) && <option value={current}>{current} (missing)</option>}
        {choices.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name || c.id} ({c.id})
          </option>
        ))}
      </select>
    </div>
  );
}
