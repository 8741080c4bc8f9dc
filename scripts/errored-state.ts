/**
 * `node --import tsx scripts/errored-state.ts before|after`: scripts/cdktf.sh runs it
 * before a deploy or destroy (`before`) and after one that failed (`after`); npm run diff
 * asks `erroredStateError` itself before it plans. For each stack whose directory holds an
 * `errored.tfstate` (lib/errored-state.ts) it prints one line, `<file>: problem; fix`, and
 * exits 2: after the failure, what OpenTofu could not save where and how to push it;
 * before, that nothing runs until it is pushed (every stack is looked at, whichever are
 * named: a stack reads the outputs of those it depends on from their state). Nothing to
 * say: exit 0.
 */
import { loadClusterConfig } from "../config/load";
import type { ClusterConfig } from "../config/schema";
import { runMain, UserError } from "../errors/user-error";
import { definitionFile } from "../lib/environment";
import type { StateDatabase } from "../lib/errored-state";
import { erroredStates, leftBefore, leftByThisApply } from "../lib/errored-state";
import { checkPgConnection, describeDatabase } from "../lib/pg-connection";
import { STACK_NAMES } from "../lib/stacks";

import { outdirFromEnvironment } from "./processes";

/** How long the check of the database may take (a host that drops packets never answers). */
const CHECK_MS = 10_000;

/** Where a pg state goes, and (after a failure) whether it answers now. */
async function stateDatabase(
  config: ClusterConfig,
  when: "before" | "after",
): Promise<StateDatabase> {
  if (config.state.backend !== "pg") return { at: undefined, now: undefined };
  const at = await describeDatabase();
  if (when === "before") return { at, now: undefined };
  const timeout = new Promise<string>((resolve) => {
    setTimeout(() => resolve(`no answer within ${CHECK_MS / 1000} s`), CHECK_MS).unref();
  });
  const now = await Promise.race([checkPgConnection().then((f) => f?.problem), timeout]);
  // The line names the database once.
  return { at, now: at && now?.startsWith(`${at}: `) ? now.slice(at.length + 2) : now };
}

/**
 * The lines about each stack's errored.tfstate in `outdir`, as a UserError; undefined when
 * there is none. `before`: what a command that would run on the states says (scripts/cdktf.sh
 * and npm run diff stop on it); `after`: what a failed deploy or destroy says.
 */
export async function erroredStateError(
  when: "before" | "after",
  config: ClusterConfig,
  outdir: string,
): Promise<UserError | undefined> {
  const found = erroredStates(outdir, STACK_NAMES);
  if (found.length === 0) return undefined;
  const db = await stateDatabase(config, when);
  const line = when === "after" ? leftByThisApply : leftBefore;
  return new UserError(found.map(({ stack, file }) => line(stack, file, db)));
}

async function main(): Promise<number> {
  const [when] = process.argv.slice(2);
  if (when !== "before" && when !== "after")
    throw UserError.at(
      "scripts/errored-state.ts",
      `unknown step ${when}`,
      "run it as scripts/errored-state.ts before|after",
    );
  const { config } = loadClusterConfig(definitionFile());
  const error = await erroredStateError(when, config, outdirFromEnvironment());
  if (error) throw error;
  return 0;
}

if (require.main === module) void runMain(main);
