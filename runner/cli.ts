/**
 * The cluster stack's runner (compiled to dist/runner/cli.js, called by local-exec):
 *   cli.js apply SETTINGS [--action TEXT]    plan against the record and run Kubespray
 *   cli.js record SETTINGS [--action TEXT]   mark a printed run as done
 *   cli.js remove-node STATE_DIR NODE        take a node out before its VM is deleted
 *   cli.js forget-node STATE_DIR NODE        the node was removed by hand (print mode)
 *   cli.js teardown STATE_DIR                the cluster stack is being destroyed
 *   cli.js snapshot SETTINGS --playbook P --nodes A,B --change TEXT
 *                                            snapshot before a step (print mode's script)
 *   cli.js rollback STATE_DIR [SNAPSHOT]     list the saved steps, or roll one back
 * Environment (tests): KSPRAY_SSH_PORT, KSPRAY_SSH_HOST (every SSH check goes there),
 * KSPRAY_SSH_TIMEOUT_SECONDS, KSPRAY_EXTRA_INVENTORY (colon-separated extra inventories),
 * KSPRAY_NODE_PREP_PLAYBOOK (instead of ansible/node-prep.yml), KSPRAY_CONTAINER_ENGINE,
 * KSPRAY_VIP_SERVER (the kubeconfig's server in place of the VIP's, e.g. a test cluster's),
 * KSPRAY_PROGRESS_SECONDS (without a terminal, the interval of progress lines; default 30).
 * With `state.backend: pg` (runner.json's recordStore), PG_CONN_STR: the record is read
 * from and written back to PostgreSQL around each command.
 */
import { existsSync } from "node:fs";

import { runMain, UserError } from "../errors/user-error";
import { statePaths } from "../lib/kubespray/record";
import type { RecordStore } from "../lib/kubespray/record-store";
import { withRecordStore } from "../lib/kubespray/record-store";

import { apply, markDone } from "./apply";
import { LOG_PREFIX, readSettings, runnerEnv } from "./env";
import { withStateLock } from "./lock";
import { forgetRemovedNode, removeNode, teardown } from "./remove-node";
import { listing, rollback } from "./rollback";
import { changeFromArgs, snapshotBefore } from "./safety-net";

const USAGE = `usage: cli.js apply|record SETTINGS [--action TEXT]
       cli.js remove-node|forget-node STATE_DIR NODE
       cli.js teardown STATE_DIR
       cli.js snapshot SETTINGS --playbook P --nodes A,B --change TEXT
       cli.js rollback STATE_DIR [SNAPSHOT]`;

const COMMANDS = [
  "apply",
  "record",
  "remove-node",
  "forget-node",
  "teardown",
  "snapshot",
  "rollback",
];

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The record store named in the state directory's runner.json (pg backend). */
function storeOf(stateDir: string): RecordStore | undefined {
  const file = statePaths(stateDir).settingsFile;
  return existsSync(file) ? readSettings(file).recordStore : undefined;
}

/** Arguments that are not a command of the runner's, or a command without its operands. */
const usage = (args: readonly string[]) =>
  UserError.at(
    "cli.js",
    COMMANDS.includes(args[0])
      ? `${args[0]} without the operands it needs: ${args.join(" ")}`
      : `not a runner command: ${args.join(" ") || "(none)"}`,
    USAGE,
  );

async function main(args: string[]): Promise<void> {
  const env = runnerEnv(process.env, __filename);
  const [command, first, second] = args;
  switch (command) {
    case "apply":
    case "record": {
      if (!first) throw usage(args);
      const settings = readSettings(first, env);
      const action = option(args, "--action");
      return withRecordStore(settings.recordStore, settings.stateDir, () =>
        withStateLock(settings.stateDir, env, () =>
          command === "apply"
            ? apply(settings, env, { action })
            : markDone(settings, env, { action }),
        ),
      );
    }
    case "remove-node":
      if (!first || !second) throw usage(args);
      // Nothing was ever deployed there: nothing to remove, and no directory to create.
      if (!existsSync(first)) return removeNode(first, second, env);
      return withRecordStore(storeOf(first), first, () =>
        withStateLock(first, env, () => removeNode(first, second, env)),
      );
    case "forget-node":
      if (!first || !second) throw usage(args);
      return withRecordStore(storeOf(first), first, () =>
        withStateLock(first, env, () => forgetRemovedNode(first, second, env)),
      );
    case "teardown":
      if (!first) throw usage(args);
      return teardown(first, env);
    case "snapshot": {
      if (!first) throw usage(args);
      const settings = readSettings(first, env);
      return withRecordStore(settings.recordStore, settings.stateDir, () =>
        withStateLock(settings.stateDir, env, () =>
          snapshotBefore(settings, env, changeFromArgs(args)),
        ),
      );
    }
    case "rollback":
      if (!first) throw usage(args);
      if (!second) {
        process.stdout.write(listing(first));
        return;
      }
      return withRecordStore(storeOf(first), first, () =>
        withStateLock(first, env, () => rollback(first, second, env)),
      );
    default:
      throw usage(args);
  }
}

// A user's mistake (a missing Kubespray, an unreachable node, a failed playbook): its lines
// and exit code 2, as every entry point; anything else is a bug, with its stack trace.
void runMain(() => main(process.argv.slice(2)), `${LOG_PREFIX}error: `);
