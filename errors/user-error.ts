/**
 * The one place that owns the error types a user can see. A `UserError` is a mistake the
 * user fixes (a missing Kubespray checkout, an unreachable node); entry points print its
 * lines without a stack trace. A `ConfigError` is the kind about the cluster definition: it
 * carries every problem found at once, each naming the field it is about.
 */

/** One problem in a cluster definition, tied to the field it is about. */
export interface ConfigIssue {
  /** Field path in the definition, e.g. `nodePools[0].count`; empty for the whole file. */
  readonly path: string;
  /** What is wrong (with the value received) and how to fix it. */
  readonly message: string;
  /** 1-based line in the YAML file, when the definition was read from one. */
  readonly line?: number;
}

/** Formats a field path the way users write it: `nodePools[0].gpu.mapping`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Renders one issue as the single line users see: `[file:line: ]path: message`. */
export function formatIssue(issue: ConfigIssue, file?: string): string {
  const where = file ? `${file}${issue.line ? `:${issue.line}` : ""}: ` : "";
  const path = issue.path === "" ? "" : `${issue.path}: `;
  return `${where}${path}${issue.message}`;
}

/** A mistake the user fixes: printed as its lines, never with a stack trace. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }

  /** The lines to print. */
  lines(): string[] {
    return this.message.split("\n");
  }
}

/** Thrown when a cluster definition has one or more problems. */
export class ConfigError extends UserError {
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly file?: string,
  ) {
    super(issues.map((i) => formatIssue(i, file)).join("\n"));
    this.name = "ConfigError";
  }

  /** One problem with one field, e.g. a change the Kubespray planner refuses. */
  static at(path: string, message: string): ConfigError {
    return new ConfigError([{ path, message }]);
  }

  /** The lines to print, one per problem. */
  override lines(): string[] {
    return this.issues.map((i) => formatIssue(i, this.file));
  }
}

/** Exit code for a definition that is invalid: distinct from crashes (1). */
export const EXIT_INVALID_CONFIG = 2;

/** Quotes a received value for a message, short enough to stay on one line. */
export function show(value: unknown): string {
  const text =
    typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
