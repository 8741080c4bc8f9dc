/** One runner at a time per state directory. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { lock } from "proper-lockfile";

import { UserError } from "../errors/user-error";

import type { RunnerEnv } from "./env";

/** How long a runner waits for another one on the same state directory. @default 2 h */
const LOCK_WAIT_SECONDS = 7200;

/**
 * Runs `fn` holding the state directory's lock. Terraform destroys the instances of the
 * vms stack's node removal in parallel (a teardown, or several nodes removed at once), and
 * each runner reads and rewrites the record: one at a time, or the record is lost. It
 * also keeps two Kubespray runs off the same cluster.
 */
export async function withStateLock<T>(
  stateDir: string,
  env: RunnerEnv,
  fn: () => Promise<T> | T,
): Promise<T> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const lockfilePath = join(stateDir, "runner.lock");
  const options = {
    realpath: false,
    lockfilePath,
    // A holder refreshes the lock every few seconds; one not refreshed for 30 s is dead.
    stale: 30_000,
    onCompromised: (e: Error) => {
      throw UserError.at(
        lockfilePath,
        `this runner lost its lock (${e.message}): another runner may now work on the same cluster`,
        "let the other runner finish, then deploy again; remove the lock only when no runner runs (ps -C node)",
      );
    },
  };
  const release = await lock(stateDir, options).catch(async (e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
    env.log(`waiting for another runner holding ${lockfilePath}`);
    return lock(stateDir, {
      ...options,
      retries: { retries: LOCK_WAIT_SECONDS, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
    }).catch((e2: unknown) => {
      throw UserError.at(
        lockfilePath,
        `another runner still holds it after ${LOCK_WAIT_SECONDS} s (${(e2 as Error).message})`,
        "let that deploy finish and run this one again; a lock no runner refreshes for 30 s is taken over by itself",
      );
    });
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
