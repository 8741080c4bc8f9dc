/**
 * `remove-node` (before a VM is deleted) and `teardown` (the cluster stack is destroyed,
 * so later node removals only forget their node).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

import { UserError } from "../errors/user-error";
import type { RunnerSettings } from "../lib/kubespray/commands";
import { printScript, stepCommand } from "../lib/kubespray/commands";
import { parseInventory } from "../lib/kubespray/inventory";
import type { PlaybookStep, RunRecord } from "../lib/kubespray/playbooks";
import {
  checkRemovable,
  describeStep,
  REMOVE_NODE,
  removeNodeStep,
} from "../lib/kubespray/playbooks";
import { forgetNode, readRecord, statePaths } from "../lib/kubespray/record";
import { removalChange } from "../lib/kubespray/risky-steps";

import type { RunnerEnv } from "./env";
import { readSettings, sshAddress } from "./env";
import { execute, prepare, pruneRuns } from "./execute";
import { snapshotBefore, snapshotCommands } from "./safety-net";
import { canConnect } from "./ssh";

/** Runs remove-node.yml for `node`; returns the name of its run (`<state>/runs/`). */
export async function removeNodeWith(
  settings: RunnerSettings,
  env: RunnerEnv,
  node: string,
  record: RunRecord,
): Promise<string> {
  const paths = statePaths(settings.stateDir);
  const hostsFile = existsSync(paths.recordHostsFile) ? paths.recordHostsFile : paths.hostsFile;
  const address = sshAddress(
    env,
    parseInventory(readFileSync(hostsFile, "utf8")).hosts.find((h) => h.name === node)?.address,
  );
  const reachable = address !== undefined && (await canConnect(address, env.sshPort, 5000));
  const extraVars: Record<string, string> = { node, skip_confirmation: "true" };
  if (!reachable) {
    env.log(`${node} does not answer on SSH: removing it without draining or resetting it`);
    extraVars.reset_nodes = "false";
    extraVars.allow_ungraceful_removal = "true";
  }
  const ctx = prepare(settings, env, hostsFile);
  const step: PlaybookStep = { playbook: REMOVE_NODE, extraVars };
  if (settings.mode === "print") {
    // The script ends by taking the node out of the record, so the next deploy goes on.
    const forget = [process.execPath, env.self, "forget-node", settings.stateDir, node];
    const commands = [
      ...snapshotCommands(settings, env, removalChange(record, node)),
      stepCommand(step, ctx),
    ];
    writeFileSync(paths.printScript, printScript(commands, forget), { mode: 0o700 });
    // The deploy stops here, before the VM is deleted: the steps to go on, as the runbook
    // ("Removing nodes" in docs/operations.md) gives them.
    throw UserError.at(
      node,
      "kubespray.mode is print, so nothing here removes it from the cluster and the deploy stops before deleting its VM",
      `1. run ${paths.printScript} where Kubespray runs (remove-node.yml -e node=${node}, then forget-node takes it out of the record), ` +
        `2. run the same deploy again: it deletes the VM`,
    );
  }
  const run = await execute(step, ctx, env);
  forgetNode(settings.stateDir, record, node, describeStep(removeNodeStep(node)), [run.name]);
  return run.name;
}

/**
 * `remove-node`: takes a node out of the cluster before its VM is deleted. Nothing to do
 * when the cluster was never built, the node never joined, or the whole cluster is being
 * torn down (then the node is only forgotten).
 */
export async function removeNode(stateDir: string, node: string, env: RunnerEnv): Promise<void> {
  const paths = statePaths(stateDir);
  const record = readRecord(stateDir);
  if (record === undefined || !record.hosts.some((h) => h.name === node)) {
    env.log(`${node} is not part of the recorded cluster; nothing to remove`);
    return;
  }
  if (existsSync(paths.teardownMarker)) {
    env.log(`the cluster is being torn down; not removing ${node} on its own`);
    forgetNode(stateDir, record, node, record.action);
    return;
  }
  checkRemovable(node, record.controlPlaneOrder);
  const settings = readSettings(paths.settingsFile, env);
  if (settings.mode !== "print") await snapshotBefore(settings, env, removalChange(record, node));
  try {
    await removeNodeWith(settings, env, node, record);
  } finally {
    pruneRuns(settings);
  }
}

/** `forget-node`: a node removed by hand (print mode's script) leaves the record. */
export function forgetRemovedNode(stateDir: string, node: string, env: RunnerEnv): void {
  const record = readRecord(stateDir);
  if (record === undefined || !record.hosts.some((h) => h.name === node)) {
    env.log(`${node} is not part of the recorded cluster; nothing to forget`);
    return;
  }
  forgetNode(stateDir, record, node, describeStep(removeNodeStep(node)));
  env.log(`${node} is no longer part of the recorded cluster`);
}

/** `teardown`: the cluster stack is being destroyed; later node removals are no-ops. */
export function teardown(stateDir: string, env: RunnerEnv): void {
  const paths = statePaths(stateDir);
  if (existsSync(stateDir)) {
    writeFileSync(paths.teardownMarker, `${new Date().toISOString()}\n`);
    env.log(`marked ${stateDir} as torn down: nodes are not removed one by one`);
  }
}
