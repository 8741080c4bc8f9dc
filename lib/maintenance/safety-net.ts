/**
 * The snapshots before a risky Kubespray step: every VM the step writes to gets a disk-only
 * snapshot (no RAM) of one name, after the step and the time, whose description says which
 * change it was taken before; beside them, what a rollback needs (lib/kubespray/saved-steps.ts).
 * Then only the newest `keep` of ours are kept on each VM. A VM Proxmox cannot snapshot, or
 * a snapshot that fails, stops the step before anything runs: never a silent skip.
 */
import type { NodeRole } from "../../config/schema";
import { issue, UserError } from "../../errors/user-error";
import { readRecord } from "../kubespray/record";
import type { RiskyChange } from "../kubespray/risky-steps";
import type { SavedStep, SavedVm } from "../kubespray/saved-steps";
import { dropStep, readStep, saveStep } from "../kubespray/saved-steps";
import { SNAPSHOT_CAPABLE, snapshotBlockers } from "../proxmox/snapshot-support";
import type { ProxmoxClient, SnapshotInfo } from "../proxmox/snapshots";
import { isTimestamped, snapshotName, VmSnapshots } from "../proxmox/snapshots";
import type { NodeVm } from "../proxmox/vms";
import { clusterVms, locateNodeVms } from "../proxmox/vms";

/** How our snapshots' descriptions start: what tells them from an operator's own. */
export const SNAPSHOT_MARKER = "proxmox-kubespray-cdktf:";

/** Whether a snapshot is one this tool took (its name and its description). */
export const isOurs = (s: SnapshotInfo): boolean =>
  isTimestamped(s.name) && s.description.startsWith(SNAPSHOT_MARKER);

/** Where to read what to do when a VM cannot be snapshotted. */
const RUNBOOK = 'docs/operations.md, "Snapshots and rollback"';

export interface SafetyNetOptions {
  readonly api: ProxmoxClient;
  readonly stateDir: string;
  readonly clusterName: string;
  /** Every node's VM by node name (runner.json's `proxmox.vms`). */
  readonly vms: Readonly<Record<string, { readonly vmId: number; readonly role: NodeRole }>>;
  /** How many of ours to keep per VM (`proxmox.snapshots.keep`). */
  readonly keep: number;
  readonly log: (line: string) => void;
  /** @default now */
  readonly now?: Date;
  /** How long one snapshot task may run. @default 15 minutes */
  readonly taskTimeoutMs?: number;
}

/** The snapshots' description: which change, on which cluster, and how to roll back. */
export function snapshotDescription(clusterName: string, risky: RiskyChange, name: string): string {
  return `${SNAPSHOT_MARKER} before ${risky.change} on cluster ${clusterName}; roll back with: npm run rollback -- ${name}`;
}

/** The node VMs of `risky`, where Proxmox has them; every problem at once as a UserError. */
async function locate(opts: SafetyNetOptions, risky: RiskyChange): Promise<NodeVm[]> {
  const unknown = risky.nodes.filter((n) => opts.vms[n] === undefined);
  const wanted = new Map(
    risky.nodes.filter((n) => opts.vms[n] !== undefined).map((n) => [n, opts.vms[n].vmId]),
  );
  const { found, missing } = await locateNodeVms(opts.api, wanted);
  const problems = [
    ...unknown.map((node) => ({ node, problem: "runner.json names no VM for it" })),
    ...missing,
  ].map((m) =>
    issue(
      m.node,
      `${m.problem}, so it cannot be snapshotted before ${risky.change}`,
      "deploy the vms stack first",
    ),
  );
  if (problems.length > 0) throw new UserError(problems);
  return found;
}

/**
 * Takes the snapshots before `risky`, saves what a rollback needs, prunes to `keep`.
 * Refuses (a UserError naming each VM and the fix) when a VM cannot be snapshotted or a
 * snapshot fails; the snapshots this call made are deleted again then.
 */
export async function snapshotBeforeStep(
  opts: SafetyNetOptions,
  risky: RiskyChange,
): Promise<SavedStep> {
  const snapshots = new VmSnapshots(opts.api, { taskTimeoutMs: opts.taskTimeoutMs });
  const vms = await locate(opts, risky);
  const blockers = (
    await Promise.all(vms.map(async (vm) => snapshotBlockers(await snapshots.subject(vm, vm.name))))
  ).flat();
  if (blockers.length > 0)
    throw new UserError(
      blockers.map((b) =>
        issue(
          "proxmox.snapshots",
          `${b.message}, so ${risky.change} cannot be snapshotted first`,
          `put the VM's disks on storage that can (${SNAPSHOT_CAPABLE}), or set proxmox.snapshots.enabled: false to run it without a way back (${RUNBOOK})`,
        ),
      ),
    );

  const at = opts.now ?? new Date();
  const name = snapshotName(risky.playbook, at);
  const description = snapshotDescription(opts.clusterName, risky, name);
  opts.log(`snapshotting ${vms.map((v) => v.name).join(", ")} as ${name} before ${risky.change}`);
  const results = await Promise.allSettled(
    vms.map((vm) => snapshots.create(vm, name, description)),
  );
  const failed = results.flatMap((r, i) =>
    r.status === "rejected"
      ? [`${vms[i].name} (VM ${vms[i].node}/${vms[i].vmid}): ${(r.reason as Error).message}`]
      : [],
  );
  if (failed.length > 0) {
    // Half a set cannot be rolled back to: the ones made go again.
    for (const [i, r] of results.entries())
      if (r.status === "fulfilled") await snapshots.remove(vms[i], name).catch(() => undefined);
    throw new UserError(
      failed.map((f) =>
        issue(
          "proxmox.snapshots",
          `${f} (nothing ran and the record is unchanged)`,
          `fix it and deploy again, or set proxmox.snapshots.enabled: false (${RUNBOOK})`,
        ),
      ),
    );
  }
  const record = readRecord(opts.stateDir);
  const step: SavedStep = {
    snapshot: name,
    playbook: risky.playbook,
    change: risky.change,
    description,
    takenAt: at.toISOString(),
    vms: vms.map((vm): SavedVm => ({
      name: vm.name,
      vmid: vm.vmid,
      node: vm.node,
      role: opts.vms[vm.name].role,
    })),
    before:
      record === undefined
        ? undefined
        : {
            action: record.action,
            kubeVersion: String(record.vars.kube_version ?? ""),
            completedAt: record.completedAt,
          },
  };
  saveStep(opts.stateDir, step);
  await prune(opts, snapshots, vms);
  return step;
}

/**
 * Keeps the newest `keep` of our snapshots on each VM of this step. A step whose snapshot
 * leaves one of its VMs can no longer be rolled back as a whole: its snapshots leave its
 * other VMs too (wherever Proxmox has them now), and its saved record goes.
 */
async function prune(
  opts: SafetyNetOptions,
  snapshots: VmSnapshots,
  vms: readonly NodeVm[],
): Promise<void> {
  const stale = new Set<string>();
  for (const vm of vms) {
    const ours = (await snapshots.list(vm)).filter(isOurs);
    for (const s of ours.slice(0, Math.max(0, ours.length - opts.keep))) stale.add(s.name);
  }
  if (stale.size === 0) return;
  const where = await clusterVms(opts.api);
  for (const name of stale) {
    const holders = readStep(opts.stateDir, name)?.vms ?? vms;
    for (const held of holders) {
      const now = where.get(held.vmid);
      if (now === undefined) continue;
      const vm: NodeVm = { name: held.name, vmid: held.vmid, node: now.node };
      if ((await snapshots.list(vm)).some((s) => s.name === name)) await snapshots.remove(vm, name);
    }
    dropStep(opts.stateDir, name);
    opts.log(`deleted snapshot ${name} (proxmox.snapshots.keep is ${opts.keep})`);
  }
}
