/**
 * When OpenTofu cannot save a stack's state at the end of an apply (with `state.backend:
 * pg`: the database went away meanwhile), it writes that state to `errored.tfstate` in the
 * stack's directory, encrypted as the backend's would be, and says `Failed to save state`.
 * That file is then the only record of what the apply did; the database still holds the
 * state from before it, so a deploy of the stack before the file is pushed would plan again
 * what the apply already did (OpenTofu calls it "a forked state"). These are the lines
 * scripts/errored-state.ts prints about each such file: after the deploy that left it, and
 * before any later deploy, destroy or npm run diff, which it stops.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";

/** The file OpenTofu writes in a stack's directory when it cannot save the state. */
export const ERRORED_STATE = "errored.tfstate";

/** The runbook section that shows the push. */
const RUNBOOK = 'docs/operations.md, "When the database goes away during a deploy"';

/** Each of `stacks` that has an `errored.tfstate` in `<outdir>/stacks/<stack>`, with it. */
export function erroredStates(
  outdir: string,
  stacks: readonly string[],
): { stack: string; file: string }[] {
  return stacks
    .map((stack) => ({ stack, file: join(outdir, "stacks", stack, ERRORED_STATE) }))
    .filter(({ file }) => existsSync(file));
}

/** Where the state was to go, and what the database answers now (undefined: it answers). */
export interface StateDatabase {
  /** `PostgreSQL at host:port/database as user <user>`; undefined for a local state. */
  readonly at: string | undefined;
  /** Why it cannot be reached now, when it cannot. */
  readonly now: string | undefined;
}

function push(stack: string): string {
  return `once the database answers, push this file before anything else deploys the ${stack} stack, as ${RUNBOOK} shows; then npm run diff shows no change for ${stack}`;
}

/** Said after the deploy (or destroy) that left the file. */
export function leftByThisApply(stack: string, file: string, db: StateDatabase): Issue {
  const where = db.at === undefined ? "" : ` in ${db.at}`;
  const now = db.now === undefined ? "" : ` (now: ${db.now})`;
  return issue(
    file,
    `OpenTofu could not save the ${stack} stack's state${where} at the end of this apply${now}, and wrote it to this file, encrypted like the state: it holds what the apply did, the database the state from before`,
    push(stack),
  );
}

/** Said before a deploy, destroy or review, which does not start while the file is there. */
export function leftBefore(stack: string, file: string, db: StateDatabase): Issue {
  const where = db.at === undefined ? "its backend" : db.at;
  return issue(
    file,
    `an earlier apply of the ${stack} stack could not save its state in ${where} and left it here, while ${where} still holds the state from before that apply: a deploy or destroy now would do again what that apply did`,
    push(stack),
  );
}
