/**
 * `apply` (plan against the record, prepare the nodes, run Kubespray, record, copy the
 * kubeconfig) and `record` (after running a printed script by hand).
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";

import { parse } from "yaml";

import type { RunnerSettings } from "../lib/kubespray/commands";
import { nodePrepStep, printScript, stepCommand } from "../lib/kubespray/commands";
import { clusterFromFiles } from "../lib/kubespray/desired-cluster";
import { parseInventory } from "../lib/kubespray/inventory";
import { pointAtVip } from "../lib/kubespray/kubeconfig";
import type { ClusterSpec, PlaybookStep, RunRecord } from "../lib/kubespray/playbooks";
import { playbooksFor, REMOVE_NODE } from "../lib/kubespray/playbooks";
import { completedRun, readRecord, statePaths, writeRecord } from "../lib/kubespray/record";
import { riskyChange } from "../lib/kubespray/risky-steps";

import type { RunnerEnv } from "./env";
import { sshAddress } from "./env";
import { execute, prepare, pruneRuns } from "./execute";
import { removeNodeWith } from "./remove-node";
import { snapshotBefore, snapshotCommands } from "./safety-net";
import { waitForSsh } from "./ssh";

/** The desired cluster from the files the cluster stack wrote. */
export function desiredFromFiles(settings: RunnerSettings): ClusterSpec {
  const paths = statePaths(settings.stateDir);
  const inventory = parseInventory(readFileSync(paths.hostsFile, "utf8"));
  const vars = (parse(readFileSync(paths.groupVarsFile, "utf8")) ?? {}) as Record<string, unknown>;
  return clusterFromFiles(inventory, vars, settings.kubesprayVersion);
}

/** Kubespray steps with our node preparation before the first one that installs. */
export function withNodePrep(
  settings: RunnerSettings,
  steps: readonly PlaybookStep[],
): PlaybookStep[] {
  const out: PlaybookStep[] = [];
  let prepared = false;
  for (const step of steps) {
    if (!prepared && step.playbook !== REMOVE_NODE && !step.playbook.startsWith("playbooks/")) {
      out.push(nodePrepStep(settings, step.limit));
      prepared = true;
    }
    out.push(step);
  }
  return out;
}

/**
 * Copies Kubespray's admin.conf to the state directory, mode 0600, server at the VIP (or at
 * `env.vipServer` in its place).
 */
export function copyKubeconfig(
  settings: RunnerSettings,
  env: Pick<RunnerEnv, "log" | "vipServer">,
): void {
  const paths = statePaths(settings.stateDir);
  if (!existsSync(paths.adminConf)) {
    env.log(`no ${paths.adminConf} yet; the kubeconfig is written after Kubespray's first run`);
    return;
  }
  const text = pointAtVip(
    readFileSync(paths.adminConf, "utf8"),
    settings.apiServerVip,
    settings.apiServerPort,
    env.vipServer,
  );
  writeFileSync(paths.kubeconfig, text, { mode: 0o600 });
  chmodSync(paths.kubeconfig, 0o600);
}

export interface ApplyOptions {
  /** The action shown in the trigger at synth time; recorded so a redeploy plans nothing. */
  readonly action?: string;
}

/** `apply`: what a change of the inventory or variables needs, and only that. */
export async function apply(
  settings: RunnerSettings,
  env: RunnerEnv,
  options: ApplyOptions = {},
): Promise<void> {
  const paths = statePaths(settings.stateDir);
  // A create after a destroy (a replacement) means the cluster stack is alive again.
  rmSync(paths.teardownMarker, { force: true });
  const desired = desiredFromFiles(settings);
  const record = readRecord(settings.stateDir);
  const playbooks = playbooksFor(desired, record);
  const action = options.action ?? playbooks.description;
  if (playbooks.steps.length === 0) {
    env.log("nothing changed since the last successful run; no playbook to run");
    // The cluster is as the last runs left it: the record keeps pointing at them.
    writeRecord(
      settings.stateDir,
      completedRun(desired, record?.action ?? action, record?.runs),
      paths.inventoryDir,
    );
    copyKubeconfig(settings, env);
    return;
  }
  env.log(`planned: ${playbooks.description}`);
  const ctx = prepare(settings, env, paths.hostsFile);
  const steps = withNodePrep(settings, playbooks.steps);
  const removing = new Set(playbooks.removed);
  const risky = riskyChange(playbooks, record, desired);

  if (settings.mode === "print") {
    const commands = [
      ...snapshotCommands(settings, env, risky),
      ...steps.map((s) => stepCommand(s, ctx)),
    ];
    const after = [process.execPath, env.self, "record", paths.settingsFile, "--action", action];
    writeFileSync(paths.printScript, printScript(commands, after), { mode: 0o700 });
    env.log(`print mode: wrote ${paths.printScript}; run it where Kubespray runs`);
    return;
  }

  const remaining = desired.hosts.filter((h) => !removing.has(h.name));
  await waitForSsh(
    remaining.map((h) => ({ name: h.name, address: sshAddress(env, h.address) ?? "" })),
    env.sshPort,
    env.sshTimeoutMs,
    env.log,
  );
  await snapshotBefore(settings, env, risky);
  const runs: string[] = [];
  try {
    for (const step of steps) {
      if (step.playbook === REMOVE_NODE) {
        // Removed nodes are still in the record's copy of the inventory.
        const node = step.extraVars?.node ?? "";
        runs.push(await removeNodeWith(settings, env, node, record as RunRecord));
        continue;
      }
      runs.push((await execute(step, ctx, env)).name);
    }
    writeRecord(settings.stateDir, completedRun(desired, action, runs), paths.inventoryDir);
  } finally {
    pruneRuns(settings);
  }
  copyKubeconfig(settings, env);
  env.log(`done: ${playbooks.description}`);
}

/** `record`: marks the planned run as done (after running a printed script by hand). */
export function markDone(
  settings: RunnerSettings,
  env: RunnerEnv,
  options: ApplyOptions = {},
): void {
  const paths = statePaths(settings.stateDir);
  const desired = desiredFromFiles(settings);
  const playbooks = playbooksFor(desired, readRecord(settings.stateDir));
  writeRecord(
    settings.stateDir,
    completedRun(desired, options.action ?? playbooks.description),
    paths.inventoryDir,
  );
  copyKubeconfig(settings, env);
}
