/**
 * `npm run rollback [-- SNAPSHOT]`: without a snapshot, the steps the runner snapshotted
 * the VMs before (newest last) and how to roll one back; with one, rolls the VMs that step
 * touched back to it (stopped first, the control plane started together) and writes back
 * the record from before the step (runner/rollback.ts). Runbook: docs/operations.md,
 * "Snapshots and rollback".
 *
 * Environment: CLUSTER_CONFIG and STATE_DIR as for `npm run deploy`; PROXMOX_VE_API_TOKEN
 * (the deploy's token) to roll back; PG_CONN_STR with `state.backend: pg`.
 */
import { resolve } from "node:path";

import { runMain } from "../errors/user-error";
import { loadFromEnvironment, stateDirFromEnvironment } from "../lib/environment";
import { statePaths } from "../lib/kubespray/record";
import { withRecordStore } from "../lib/kubespray/record-store";
import { readSettings, runnerEnv } from "../runner/env";
import { withStateLock } from "../runner/lock";
import { listing, rollback } from "../runner/rollback";

void runMain(async () => {
  const { config } = loadFromEnvironment();
  const stateDir = stateDirFromEnvironment(config);
  const snapshot = process.argv[2];
  if (snapshot === undefined) {
    process.stdout.write(listing(stateDir));
    return;
  }
  const env = runnerEnv(process.env, resolve(__dirname, "..", "dist", "runner", "cli.js"));
  const store = readSettings(statePaths(stateDir).settingsFile).recordStore;
  await withRecordStore(store, stateDir, () =>
    withStateLock(stateDir, env, () => rollback(stateDir, snapshot, env)),
  );
});
