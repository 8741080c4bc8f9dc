/**
 * Rolling the VMs a risky step touched back to the snapshots taken before it
 * (`npm run rollback -- <snapshot>`), then writing back the record saved with them:
 *
 * 1. every VM of the step is found where Proxmox has it now, and must still hold the
 *    snapshot (one pruned or deleted by hand leaves a step that cannot be rolled back
 *    whole: nothing is done);
 * 2. all of them are stopped, together: a control plane half on the old etcd data and half
 *    on the new would not agree. An HA-managed VM is stopped through its HA resource
 *    (qemu-server turns the stop into a request for state `stopped`), else the HA manager
 *    would start it again under the rollback;
 * 3. each is rolled back (disk only: the snapshots hold no RAM);
 * 4. the control-plane VMs are started together, then the others (HA-managed ones by
 *    requesting state `started` again);
 * 5. the record of the last successful Kubespray run becomes the one saved before the step,
 *    so it no longer claims what the rollback undid, and the planner plans the step again.
 */
import { issue, UserError } from "../../errors/user-error";
import type { RunRecord } from "../kubespray/playbooks";
import type { SavedStep } from "../kubespray/saved-steps";
import { listSteps, readStep, restoreSavedRecord } from "../kubespray/saved-steps";
import type { ProxmoxClient } from "../proxmox/snapshots";
import { VmSnapshots } from "../proxmox/snapshots";
import type { NodeVm, PowerOptions } from "../proxmox/vms";
import { isHaManaged, locateNodeVms, startVm, stopVm } from "../proxmox/vms";

export interface RollbackOptions extends PowerOptions {
  readonly api: ProxmoxClient;
  readonly stateDir: string;
  readonly log: (line: string) => void;
  /** @default now */
  readonly now?: Date;
}

/** The step saved as `snapshot`, or a UserError listing the ones there are. */
export function stepNamed(stateDir: string, snapshot: string): SavedStep {
  const step = readStep(stateDir, snapshot);
  if (step !== undefined) return step;
  const names = listSteps(stateDir).map((s) => s.snapshot);
  throw UserError.at(
    snapshot,
    `no such saved step in ${stateDir}`,
    names.length > 0
      ? `the steps that can be rolled back are ${names.join(", ")} (npm run rollback lists them)`
      : "no risky step has been snapshotted there yet, so there is nothing to roll back to",
  );
}

/** The step's VMs where Proxmox has them, each holding the snapshot; else a UserError. */
export async function stepVms(api: ProxmoxClient, step: SavedStep): Promise<NodeVm[]> {
  const { found, missing } = await locateNodeVms(
    api,
    new Map(step.vms.map((v) => [v.name, v.vmid])),
  );
  const snapshots = new VmSnapshots(api);
  for (const vm of found) {
    const names = (await snapshots.list(vm)).map((s) => s.name);
    if (!names.includes(step.snapshot))
      missing.push({
        node: vm.name,
        problem: `VM ${vm.node}/${vm.vmid} no longer holds snapshot ${step.snapshot}`,
      });
  }
  if (missing.length > 0)
    throw new UserError(
      missing.map((m) =>
        issue(
          m.node,
          m.problem,
          "the step cannot be rolled back as a whole, so nothing was changed (a newer step may have pruned it: proxmox.snapshots.keep)",
        ),
      ),
    );
  return found;
}

/** Steps 2 to 4 above: stop all, roll back all, start the control plane, then the rest. */
export async function rollbackVms(
  opts: RollbackOptions,
  step: SavedStep,
  vms: readonly NodeVm[],
): Promise<void> {
  const { api, log } = opts;
  const snapshots = new VmSnapshots(api);
  const managed = new Set<string>();
  for (const vm of vms) if (await isHaManaged(api, vm)) managed.add(vm.name);
  const names = (list: readonly NodeVm[]) =>
    list.map((v) => `${v.name}${managed.has(v.name) ? " (HA)" : ""}`).join(", ");
  log(`stopping ${names(vms)}`);
  await Promise.all(vms.map((vm) => stopVm(api, vm, opts)));
  log(`rolling back ${vms.map((v) => v.name).join(", ")} to ${step.snapshot}`);
  await Promise.all(vms.map((vm) => snapshots.rollback(vm, step.snapshot)));
  const role = new Map(step.vms.map((v) => [v.name, v.role]));
  const controlPlane = vms.filter((v) => role.get(v.name) === "control-plane");
  const others = vms.filter((v) => role.get(v.name) !== "control-plane");
  for (const group of [controlPlane, others]) {
    if (group.length === 0) continue;
    log(`starting ${names(group)}`);
    await Promise.all(group.map((vm) => startVm(api, vm, opts)));
  }
}

/**
 * Each VM's `vmgenid`, by name (undefined for a VM without one). qemu-server's rollback
 * gives a VM that has one a new one (the guest is told it is another generation), so a
 * VM still holding the one read before was not rolled back.
 */
export async function vmGenerations(
  api: ProxmoxClient,
  vms: readonly NodeVm[],
): Promise<Map<string, string | undefined>> {
  const generations = new Map<string, string | undefined>();
  for (const vm of vms) {
    const path = `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/config`;
    generations.set(vm.name, (await api.get<{ vmgenid?: string }>(path)).vmgenid);
  }
  return generations;
}

/**
 * The whole rollback of the step saved as `snapshot`: its VMs, then the record. Returns
 * the step, its VMs, their `vmgenid`s before the rollback and the record written back.
 */
export async function rollbackStep(
  opts: RollbackOptions,
  snapshot: string,
): Promise<{
  step: SavedStep;
  vms: NodeVm[];
  generations: Map<string, string | undefined>;
  record: RunRecord;
}> {
  const step = stepNamed(opts.stateDir, snapshot);
  const vms = await stepVms(opts.api, step);
  const generations = await vmGenerations(opts.api, vms);
  await rollbackVms(opts, step, vms);
  const record = restoreSavedRecord(opts.stateDir, snapshot, opts.now ?? new Date());
  opts.log(
    `the record of the last Kubespray run is the one from before ${step.change} again (${record.action}, Kubernetes ${String(record.vars.kube_version ?? "")})`,
  );
  return { step, vms, generations, record };
}
