/**
 * Reads a cluster definition: YAML (syntax errors with their line), secrets refused,
 * schema (types, required fields, unknown keys), then the cross-field rules. Every
 * problem is collected and thrown at once as a `UserError`, each tied to the file and the
 * line of its field.
 */
import { readFileSync } from "node:fs";

import type { Document } from "yaml";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

import type { Issue } from "../errors/user-error";
import { formatPath, show, UserError } from "../errors/user-error";

import { projectPath } from "./project-root";
import { ClusterConfigSchema, parseForCrossFieldRules } from "./schema";
import type { ClusterConfig, ClusterConfigInput } from "./schema";
import { findSecrets, secretHint } from "./secrets";
import { validateConfig } from "./validate";

/** The definition used when `CLUSTER_CONFIG` is not set. */
export const BUNDLED_EXAMPLE = projectPath("examples", "homelab.yaml");

export interface LoadedConfig {
  readonly config: ClusterConfig;
  /** Risky or deprecated choices that are allowed. */
  readonly warnings: readonly Issue[];
  /** The file it came from, when it came from one. */
  readonly file?: string;
  /**
   * The line of a field in that file (`kubernetes.version`), or undefined where the file
   * does not write it: for the problems found later, e.g. a change no Kubespray playbook can make.
   */
  readonly locate?: (path: string) => number | undefined;
}

/** Small edit distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(
        row[j] + 1,
        row[j - 1] + 1,
        prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length];
}

// zod 4 keeps the definition on `_zod.def`; only the node kinds the schema uses are handled.
type Def = {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  element?: unknown;
  in?: unknown;
};
const def = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;
/** Strips optional/default/pipe wrappers down to the node that holds the shape. */
const unwrap = (s: unknown): unknown => {
  let cur = s;
  for (;;) {
    const d = def(cur);
    if (d.innerType !== undefined) cur = d.innerType;
    else if (d.type === "pipe" && d.in !== undefined) cur = d.in;
    else return cur;
  }
};

/** The schema of the field at `path` (with its optional/default wrapper), if it exists. */
function fieldAt(path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = ClusterConfigSchema;
  for (const part of path) {
    const d = def(unwrap(cur));
    if (d.type === "array" && typeof part === "number") cur = d.element;
    else if (d.type === "object" && d.shape && typeof part === "string" && part in d.shape)
      cur = d.shape[part];
    else return undefined;
  }
  return cur;
}

/** The keys an object schema accepts at `path`. */
function keysAt(path: ReadonlyArray<PropertyKey>): string[] {
  const field = fieldAt(path);
  const d = field === undefined ? undefined : def(unwrap(field));
  return d?.type === "object" && d.shape ? Object.keys(d.shape) : [];
}

/** True when the field at `path` may be absent and has no default. */
function isOptional(path: ReadonlyArray<PropertyKey>): boolean {
  const field = fieldAt(path);
  return field !== undefined && def(field).type === "optional";
}

/** True when the field at `path` has a default (absent, the default applies). */
function hasDefault(path: ReadonlyArray<PropertyKey>): boolean {
  const field = fieldAt(path);
  return field !== undefined && def(field).type === "default";
}

const TYPE_NAMES: Record<string, string> = {
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
};

function typeName(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  return TYPE_NAMES[typeof value] ?? typeof value;
}

/** Turns one schema issue into the lines users see. */
function describe(issue: z.core.$ZodIssue): Issue[] {
  const path = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = keysAt(issue.path);
        const best = known
          .map((k) => [k, distance(key, k)] as const)
          .sort((a, b) => a[1] - b[1])[0];
        const hint =
          best && best[1] <= Math.max(2, Math.floor(key.length / 3))
            ? `did you mean ${JSON.stringify(best[0])}?`
            : `known keys: ${known.join(", ")}`;
        return { path: formatPath([...issue.path, key]), message: `unknown key; ${hint}` };
      });
    case "invalid_type":
      if (input === undefined)
        return [
          {
            path,
            message: `required field is missing; add it (${TYPE_NAMES[issue.expected] ?? issue.expected})`,
          },
        ];
      return [
        {
          path,
          message: `expected ${TYPE_NAMES[issue.expected] ?? (issue.expected === "int" ? "a whole number" : issue.expected)}, got ${typeName(input)} (${show(input)})`,
        },
      ];
    case "invalid_value":
      if (!issue.message.startsWith("Invalid")) return [{ path, message: issue.message }];
      return [
        {
          path,
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")} (got ${show(input)})`,
        },
      ];
    case "too_small":
      if (issue.origin === "array")
        return [
          {
            path,
            message: issue.message.startsWith("Too small")
              ? `needs at least ${issue.minimum} entr${issue.minimum === 1 ? "y" : "ies"}`
              : issue.message,
          },
        ];
      if (issue.origin === "string") return [{ path, message: `must not be empty` }];
      return [
        {
          path,
          message: issue.message.startsWith("Too small")
            ? `${show(input)} is below the minimum of ${issue.minimum}`
            : issue.message,
        },
      ];
    case "too_big":
      return [
        {
          path,
          message: issue.message.startsWith("Too big")
            ? `${show(input)} is above the maximum of ${issue.maximum}`
            : issue.message,
        },
      ];
    case "invalid_format":
      return [
        {
          path,
          message: issue.message.startsWith("Invalid")
            ? `not a valid ${issue.format} (${show(input)})`
            : issue.message,
        },
      ];
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * Finds the line of a field path in the YAML document: of the deepest node of it that
 * exists, or, `exact`, of the field itself (undefined where the document lacks it).
 */
function lineOf(
  doc: Document,
  counter: LineCounter,
  path: string,
  exact = false,
): number | undefined {
  const parts = path.match(/[^.[\]]+/g) ?? [];
  let node: unknown = doc.contents;
  let line: number | undefined;
  const position = (n: unknown) => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range ? counter.linePos(range[0]).line : undefined;
  };
  line = position(node);
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === part);
      if (!pair) return exact ? undefined : line;
      line = position(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(part)) {
      node = node.items[Number(part)];
      if (!node) return exact ? undefined : line;
      line = position(node) ?? line;
    } else return exact ? undefined : line;
  }
  return line;
}

/**
 * Parses and validates a definition given as a plain object (TypeScript users can build
 * one in code). Throws a `UserError` with every problem.
 */
export function parseClusterConfig(
  input: ClusterConfigInput | unknown,
  locate?: (path: string) => number | undefined,
): LoadedConfig {
  return check(input, locate);
}

/** Parses and validates; the problems name `file` (and their line) when given. */
function check(
  input: unknown,
  locate?: (path: string) => number | undefined,
  file?: string,
): LoadedConfig {
  const located = (issues: Issue[]) =>
    issues.map((i): Issue => ({ ...i, file, line: locate?.(i.path) }));
  const secrets = findSecrets(input).map(({ path, what }) => ({
    path,
    message: `${what}: secrets are never read from the definition; ${secretHint(path)}`,
  }));
  const parsed = ClusterConfigSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    // A secret-looking key is also an unknown key: say it once, the clearer way.
    const reported = new Set(secrets.map((s) => s.path));
    const issues = parsed.error.issues.flatMap(describe).filter((i) => !reported.has(i.path));
    // Drop unknown keys and bad optional values (absent, they only turn checks off), let a
    // default stand in for an unknown choice, turn off the checks the rules can do without
    // and, when the rest parses, still run the cross-field rules, so that the user sees
    // every problem in one go. A bad required field leaves nothing sound to check against.
    const retry = parseForCrossFieldRules(withoutRejected(input, parsed.error.issues));
    const said = new Set(issues.map((i) => i.path));
    const crossField = retry.success
      ? validateConfig(retry.data).errors.filter((i) => !said.has(i.path))
      : [];
    throw new UserError(located([...secrets, ...issues, ...crossField]));
  }
  const { errors, warnings } = validateConfig(parsed.data);
  if (secrets.length > 0 || errors.length > 0)
    throw new UserError(located([...secrets, ...errors]));
  return {
    config: parsed.data,
    warnings: located(warnings).map((w) => ({ ...w, warning: true })),
    file,
  };
}

/**
 * A deep copy of `input` without its unknown keys, its rejected optional values and any
 * unknown choice where a default can stand in.
 */
function withoutRejected(input: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(input);
  const parentOf = (path: readonly PropertyKey[]) => {
    let node: unknown = copy;
    for (const part of path) {
      if (node === null || typeof node !== "object") return undefined;
      node = (node as Record<PropertyKey, unknown>)[part];
    }
    return node !== null && typeof node === "object"
      ? (node as Record<PropertyKey, unknown>)
      : undefined;
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const node = parentOf(issue.path);
      for (const key of issue.keys) if (node) delete node[key];
    } else if (
      issue.path.length > 0 &&
      (isOptional(issue.path) || (issue.code === "invalid_value" && hasDefault(issue.path)))
    ) {
      const node = parentOf(issue.path.slice(0, -1));
      if (node && !Array.isArray(node)) delete node[issue.path[issue.path.length - 1]];
    }
  }
  return copy;
}

/** Reads, parses and validates a definition file. Throws a `UserError` naming the file. */
export function loadClusterConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError([
      {
        file,
        path: "",
        message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)}); check the path, a relative one starts in the folder the command was run in`,
      },
    ]);
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // After the first structural error (a tab, a bad indent) the parser's later complaints
    // follow from it: one line for it. Duplicate keys are independent: each is shown.
    const structural = doc.errors.find((e) => e.code !== "DUPLICATE_KEY");
    const shown = doc.errors.filter((e) => e.code === "DUPLICATE_KEY" || e === structural);
    throw new UserError(
      shown.map((e) => ({
        file,
        path: "",
        line: e.linePos?.[0].line,
        message: `YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
      })),
    );
  }
  const loaded = check(doc.toJS(), (path) => lineOf(doc, counter, path), file);
  return { ...loaded, locate: (path) => lineOf(doc, counter, path, true) };
}
