/**
 * The one error type for everything a user can cause: a mistake in the cluster definition or
 * a file it names, a construct given props it cannot work with, something the environment
 * lacks (a variable, a Kubespray checkout, a host that answers), a change the Kubespray
 * planner refuses. Each problem is one `Issue`, printed as one line `path: problem; fix`;
 * every entry point prints those lines and exits with `EXIT_USER_ERROR` (2), never with a
 * stack trace (`runMain`). Anything else that is thrown is a bug: its stack trace, exit 1.
 *
 * It lives apart from config/ so that the runner, the record store and the scripts use it
 * without depending on the definition's modules.
 */

/** One problem, tied to what it is about. */
export interface Issue {
  /**
   * What is at fault: a field of the definition (`nodePools[0].count`), an environment
   * variable (`PG_CONN_STR`), a file, a construct's prop; empty for a whole file.
   */
  readonly path: string;
  /** What is wrong (with the value received), then `; ` and what to do about it. */
  readonly message: string;
  /** The file `path` is in (the definition), when it came from one. */
  readonly file?: string;
  /** 1-based line of `path` in `file`. */
  readonly line?: number;
  /** Worth knowing, but no reason to stop. @default false */
  readonly warning?: boolean;
}

/** An issue from its parts: the one place that joins a problem and its fix. */
export function issue(path: string, problem: string, fix: string): Issue {
  return { path, message: `${problem}; ${fix}` };
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

/** The line users see: `[warning: ][file[:line]: ]path: message`. */
export function formatIssue(issue: Issue): string {
  const where = issue.file ? `${issue.file}${issue.line ? `:${issue.line}` : ""}: ` : "";
  const path = issue.path === "" ? "" : `${issue.path}: `;
  return `${issue.warning ? "warning: " : ""}${where}${path}${issue.message}`;
}

/** A mistake the user fixes: printed as its lines, never with a stack trace. */
export class UserError extends Error {
  readonly issues: readonly Issue[];

  /** The problems, each printed as one line (`UserError.at` for a single one). */
  constructor(issues: readonly Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.issues = issues;
    this.name = "UserError";
  }

  /** One problem: `path: problem; fix`. */
  static at(path: string, problem: string, fix: string): UserError {
    return new UserError([issue(path, problem, fix)]);
  }

  /**
   * A prop a construct cannot work with, checked in its constructor (as aws-cdk's do), on
   * `<construct path>.<prop>`; `message` is `problem; fix`.
   */
  static prop(
    construct: { readonly node: { readonly path: string } },
    prop: string,
    message: string,
  ): UserError {
    return new UserError([{ path: `${construct.node.path}.${prop}`, message }]);
  }

  /** The lines to print, one per problem. */
  lines(): string[] {
    return this.issues.map(formatIssue);
  }

  /**
   * The same problems, those about a field of the definition in `file` tied to it and to
   * the field's line (`locate` finds it, or says it is not in the file); the others, and
   * those tied to a file already, as they are.
   */
  locatedIn(file: string, locate: (path: string) => number | undefined): UserError {
    return new UserError(
      this.issues.map((i) => {
        const line = i.file === undefined && i.path !== "" ? locate(i.path) : undefined;
        return line === undefined ? i : { ...i, file, line };
      }),
    );
  }
}

/** Exit code of every entry point for a UserError. */
export const EXIT_USER_ERROR = 2;
/** Exit code for a bug: anything else that is thrown, shown with its stack trace. */
export const EXIT_BUG = 1;

/**
 * Runs an entry point's `main` and exits with the code it returns (0 when none). A
 * `UserError` prints its lines to stderr, each after `prefix`, and exits with
 * `EXIT_USER_ERROR`; anything else is a bug: its stack trace, `EXIT_BUG`.
 */
export function runMain(
  main: () => Promise<number | void> | number | void,
  prefix = "",
): Promise<never> {
  return (async () => main())().then(
    (code) => process.exit(code ?? 0),
    (e: unknown) => {
      if (e instanceof UserError) {
        for (const line of e.lines()) process.stderr.write(`${prefix}${line}\n`);
        return process.exit(EXIT_USER_ERROR);
      }
      process.stderr.write(`${prefix}unexpected error (a bug): ${String(e)}\n`);
      if (e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
      return process.exit(EXIT_BUG);
    },
  );
}

/** Quotes a received value for a message, short enough to stay on one line. */
export function show(value: unknown): string {
  const text =
    typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
