/**
 * `cli.js rollback STATE_DIR [SNAPSHOT]` (`npm run rollback`, scripts/rollback.ts): without
 * a snapshot, lists the steps the runner snapshotted before (lib/kubespray/saved-steps.ts);
 * with one, rolls that step's VMs back to it and writes back the record from before it
 * (lib/maintenance/rollback.ts), through the Proxmox API with the deploy's token, then
 * checks that what runs is what the record says: every VM rolled back and running on the
 * snapshot, and the record's Kubernetes version the one from before the step.
 */
import { PROXMOX_ENV } from "../config/secrets";
import { issue, UserError } from "../errors/user-error";
import { playbooksFor } from "../lib/kubespray/playbooks";
import { statePaths } from "../lib/kubespray/record";
import type { SavedStep } from "../lib/kubespray/saved-steps";
import { listSteps } from "../lib/kubespray/saved-steps";
import { rollbackStep } from "../lib/maintenance/rollback";
import type { ProxmoxClient } from "../lib/proxmox/snapshots";
import type { NodeVm } from "../lib/proxmox/vms";
import { ProxmoxHttpsClient } from "../preflight/proxmox-api";

import { desiredFromFiles } from "./apply";
import type { RunnerEnv } from "./env";
import { readSettings } from "./env";

/** One saved step as `npm run rollback` lists it. */
export function describeStep(step: SavedStep): string {
  const before =
    step.before === undefined
      ? "no record before it"
      : `record before it: ${step.before.action}, Kubernetes ${step.before.kubeVersion}`;
  return [
    `${step.snapshot}  taken ${step.takenAt} before ${step.change}`,
    `    VMs: ${step.vms.map((v) => `${v.name} (${v.node}/${v.vmid})`).join(", ")}`,
    `    ${before}`,
  ].join("\n");
}

/** The listing: every saved step, oldest first, and how to roll one back. */
export function listing(stateDir: string): string {
  const steps = listSteps(stateDir);
  if (steps.length === 0)
    return `no saved step in ${stateDir}: the runner has not snapshotted a risky step there (or proxmox.snapshots.keep pruned them)\n`;
  return `${steps.map(describeStep).join("\n")}\nroll one back with: npm run rollback -- <snapshot>\n`;
}

/**
 * After the rollback: each VM runs, on the snapshot (its config's `parent`), and was rolled
 * back: a VM that had a `vmgenid` before has another one now (`parent` alone names the
 * snapshot from the moment it is taken). `generations`: each VM's `vmgenid` before the
 * rollback (lib/maintenance/rollback.ts's vmGenerations). Problems as lines.
 */
export async function checkVms(
  api: ProxmoxClient,
  step: SavedStep,
  vms: readonly NodeVm[],
  generations: ReadonlyMap<string, string | undefined>,
): Promise<string[]> {
  const problems: string[] = [];
  for (const vm of vms) {
    const base = `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}`;
    const at = `${vm.name}: VM ${vm.node}/${vm.vmid}`;
    const status = (await api.get<{ status: string }>(`${base}/status/current`)).status;
    const config = await api.get<{ parent?: string; vmgenid?: string }>(`${base}/config`);
    if (status !== "running") problems.push(`${at} is ${status}`);
    if (config.parent !== step.snapshot)
      problems.push(`${at} is on ${config.parent ?? "no snapshot"}, not ${step.snapshot}`);
    const before = generations.get(vm.name);
    if (before !== undefined && config.vmgenid === before)
      problems.push(
        `${at} was not rolled back: its vmgenid is the one from before the rollback (${before}), and a rollback gives it a new one`,
      );
  }
  return problems;
}

/** `rollback STATE_DIR SNAPSHOT`. */
export async function rollback(
  stateDir: string,
  snapshot: string,
  env: RunnerEnv,
  processEnv: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const settings = readSettings(statePaths(stateDir).settingsFile, env);
  const px = settings.proxmox;
  if (px === undefined)
    throw UserError.at(
      statePaths(stateDir).settingsFile,
      "written by a version without snapshots, so it names no Proxmox endpoint",
      "deploy the cluster stack first (npm run deploy -- cluster)",
    );
  const token = processEnv[PROXMOX_ENV.token];
  if (!token)
    throw UserError.at(
      PROXMOX_ENV.token,
      "not set, and a rollback stops, rolls back and starts VMs through the Proxmox API",
      "export the deploy's token",
    );
  const api = new ProxmoxHttpsClient({ endpoint: px.endpoint, token, insecure: px.insecure });
  const { step, vms, generations, record } = await rollbackStep(
    { api, stateDir, log: env.log },
    snapshot,
  );

  const problems = await checkVms(api, step, vms, generations);
  const kube = String(record.vars.kube_version ?? "");
  if (step.before !== undefined && kube !== step.before.kubeVersion)
    problems.push(
      `the record says Kubernetes ${kube}, the VMs were saved at ${step.before.kubeVersion}`,
    );
  if (problems.length > 0)
    throw new UserError(
      problems.map((p) => issue(`rollback to ${snapshot}`, p, "look at the VMs in Proxmox")),
    );
  const again = playbooksFor(desiredFromFiles(settings), record);
  env.log(
    `rolled back ${vms.map((v) => v.name).join(", ")} to ${snapshot}; each runs on it, and the record says Kubernetes ${kube} again`,
  );
  env.log(
    again.steps.length > 0
      ? `the next deploy of the cluster stack runs ${again.description} again: change the definition back first if the change itself was the problem`
      : "the definition matches the record: the next deploy runs nothing",
  );
}
