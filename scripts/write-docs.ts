/**
 * Renders the field reference of `docs/configuration.md` from the JSON Schema (itself
 * generated from config/schema.ts), so that every field, its default and its meaning are
 * documented from the one definition. `npm run schema` writes it between the markers;
 * the rest of the page is written by hand.
 */
import { join } from "node:path";

export const DOCS_FILE = join(__dirname, "..", "docs", "configuration.md");
export const BEGIN_MARKER =
  "<!-- BEGIN FIELD REFERENCE: generated from config/schema.ts by `npm run schema`; do not edit by hand -->";
export const END_MARKER = "<!-- END FIELD REFERENCE -->";

/** The parts of a JSON Schema (draft 2020-12, as zod writes it) that the reference shows. */
export interface JsonSchema {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
}

/** zod writes this for "no upper bound" on integers. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

interface Section {
  readonly title: string;
  readonly schema: JsonSchema;
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (value: unknown) => `\`${JSON.stringify(value)}\``;

/** Splits `what it is. @default what happens` into its two parts. */
function splitDescription(description = ""): { text: string; default?: string } {
  const at = description.indexOf("@default");
  if (at < 0) return { text: description.trim() };
  return {
    text: description.slice(0, at).trim(),
    default: description.slice(at + "@default".length).trim(),
  };
}

/** Sub-objects get a section of their own; returns its title, or undefined for a leaf. */
function nestedObject(schema: JsonSchema): JsonSchema | undefined {
  if (schema.properties) return schema;
  if (schema.type === "array" && schema.items?.properties) return schema.items;
  return undefined;
}

function typeOf(schema: JsonSchema, path: string, queue: Section[]): string {
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(s, path, queue)).join(" or ");
  if (schema.enum) return schema.enum.map(code).join(" or ");
  switch (schema.type) {
    case "string":
      if (schema.format === "uri") return "URL";
      if (schema.format === "email") return "e-mail address";
      return "string";
    case "integer": {
      const low = schema.minimum !== undefined && schema.minimum > -UNBOUNDED;
      const high = schema.maximum !== undefined && schema.maximum < UNBOUNDED;
      if (low && high) return `integer, ${schema.minimum} to ${schema.maximum}`;
      if (low) return `integer ≥ ${schema.minimum}`;
      if (high) return `integer ≤ ${schema.maximum}`;
      return "integer";
    }
    case "boolean":
      return "boolean";
    case "array": {
      const items = schema.items ?? {};
      if (items.properties) {
        const title = `${path}[]`;
        queue.push({ title, schema: items });
        return `list of [objects](#${anchor(title)})`;
      }
      const min = schema.minItems ? ` (at least ${schema.minItems})` : "";
      return `list of ${typeOf(items, `${path}[]`, queue)}${min}`;
    }
    case "object":
      if (schema.properties) {
        queue.push({ title: path, schema });
        return `[object](#${anchor(path)})`;
      }
      if (typeof schema.additionalProperties === "object") {
        const values = schema.additionalProperties;
        const type =
          values.type === undefined && !values.anyOf
            ? "any value"
            : typeOf(values, `${path}.<name>`, queue);
        return `map of string to ${type}`;
      }
      return "object";
    default:
      return "any value";
  }
}

function defaultOf(schema: JsonSchema, required: boolean): string {
  const { default: written } = splitDescription(schema.description);
  if (schema.default !== undefined) {
    // An object's default is its fields' defaults, shown in its own table.
    if (schema.properties) return "each field's default";
    return code(schema.default);
  }
  if (written !== undefined) return written;
  return required ? "**required**" : "absent";
}

/** One object's table; the objects inside it are added to `children`. */
function renderSection(section: Section, children: Section[]): string {
  const { title, schema } = section;
  const lines = [`### \`${title}\``, ""];
  const { text } = splitDescription(schema.description);
  if (text) lines.push(text, "");
  lines.push("| Field | Type | Default | Meaning |", "| --- | --- | --- | --- |");
  const required = new Set(schema.required ?? []);
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = title === "(top level)" ? name : `${title}.${name}`;
    const type = typeOf(field, path, children);
    const meaning = splitDescription(field.description ?? nestedObject(field)?.description).text;
    lines.push(
      `| \`${name}\` | ${cell(type)} | ${cell(defaultOf(field, required.has(name)))} | ${cell(meaning)} |`,
    );
  }
  return lines.join("\n");
}

/** The field reference: one table per object of the definition, each followed by its parts. */
export function renderFieldReference(schema: JsonSchema): string {
  const render = (section: Section): string[] => {
    const children: Section[] = [];
    const text = renderSection(section, children);
    return [text, ...children.flatMap(render)];
  };
  return render({ title: "(top level)", schema }).join("\n\n");
}

/**
 * `current` (the page) with the text between the markers replaced by the reference.
 * `npm run schema` then formats the page with prettier, like every other file.
 */
export function renderDocs(current: string, schema: JsonSchema): string {
  const begin = current.indexOf(BEGIN_MARKER);
  const end = current.indexOf(END_MARKER);
  if (begin < 0 || end < begin) {
    throw new Error(`${DOCS_FILE} lacks the markers ${BEGIN_MARKER} ... ${END_MARKER}`);
  }
  return `${current.slice(0, begin + BEGIN_MARKER.length)}\n\n${renderFieldReference(schema)}\n\n${current.slice(end)}`;
}
