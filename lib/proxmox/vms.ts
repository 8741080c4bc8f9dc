/**
 * The cluster's VMs where Proxmox really has them, and their power: found by VM ID in
 * `/cluster/resources` (HA or an operator may have moved a VM off the host the definition
 * names), stopped and started through qemu-server's own calls. For a VM that is an HA
 * resource, qemu-server turns a stop into `hastop` and a start into `hastart`, which set
 * the resource's requested state (`stopped`, `started`): the HA manager then stops or starts
 * it and, unlike after a plain stop, does not start it again behind the caller's back (it
 * does so after a snapshot rollback, which stops the VM itself). So both wait for the VM
 * itself, not for the task.
 */
import type { ProxmoxClient } from "./snapshots";

/** A VM as `/cluster/resources?type=vm` lists it. */
export interface ClusterVm {
  readonly vmid: number;
  readonly node: string;
  readonly name?: string;
  readonly status: string;
  readonly template?: number;
  readonly lock?: string;
}

/** Every VM of the Proxmox cluster, by VM ID. */
export async function clusterVms(api: Pick<ProxmoxClient, "get">): Promise<Map<number, ClusterVm>> {
  const vms = await api.get<ClusterVm[]>("/cluster/resources", { type: "vm" });
  return new Map(vms.map((v) => [Number(v.vmid), { ...v, vmid: Number(v.vmid) }]));
}

/** A node's VM: its name (= the Kubernetes node), its ID, and where Proxmox has it. */
export interface NodeVm {
  readonly name: string;
  readonly vmid: number;
  readonly node: string;
}

/** A node whose VM is not where it should be: the node, and what Proxmox has instead. */
export interface VmNotFound {
  readonly node: string;
  readonly problem: string;
}

/**
 * The VMs of `wanted` (node name → VM ID) where Proxmox has them, and the nodes whose VM is
 * not there: a VM ID that no VM holds, or one that another VM (another name) holds. The
 * callers add the fix, which depends on what they were about to do.
 */
export async function locateNodeVms(
  api: Pick<ProxmoxClient, "get">,
  wanted: ReadonlyMap<string, number>,
): Promise<{ found: NodeVm[]; missing: VmNotFound[] }> {
  const all = await clusterVms(api);
  const found: NodeVm[] = [];
  const missing: VmNotFound[] = [];
  for (const [name, vmid] of wanted) {
    const vm = all.get(vmid);
    if (vm === undefined)
      missing.push({ node: name, problem: `no VM ${vmid} in the Proxmox cluster` });
    else if (vm.name !== undefined && vm.name !== name)
      missing.push({
        node: name,
        problem: `VM ${vmid} on ${vm.node} is named ${vm.name}, not ${name}`,
      });
    else found.push({ name, vmid, node: vm.node });
  }
  return { found, missing };
}

export interface PowerOptions {
  /** How long to wait for the VM to reach the state. @default 10 minutes */
  readonly timeoutMs?: number;
  /** @default 1000 */
  readonly intervalMs?: number;
}

async function vmStatus(api: Pick<ProxmoxClient, "get">, vm: NodeVm): Promise<string> {
  const s = await api.get<{ status: string }>(
    `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/status/current`,
  );
  return s.status;
}

/** Whether Proxmox's HA manager manages the VM (status/current's `ha.managed`). */
export async function isHaManaged(api: Pick<ProxmoxClient, "get">, vm: NodeVm): Promise<boolean> {
  const s = await api.get<{ ha?: { managed?: number } }>(
    `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/status/current`,
  );
  return s.ha?.managed === 1;
}

async function power(
  api: ProxmoxClient,
  vm: NodeVm,
  want: "running" | "stopped",
  opts: PowerOptions,
): Promise<void> {
  if ((await vmStatus(api, vm)) === want) return;
  const action = want === "running" ? "start" : "stop";
  const upid = await api.post<string>(
    `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/status/${action}`,
    {},
  );
  await api.waitForTask(vm.node, upid, opts.timeoutMs);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await vmStatus(api, vm);
    if (status === want) return;
    if (Date.now() > deadline)
      throw new Error(
        `${vm.name} (VM ${vm.node}/${vm.vmid}) is still ${status} ${Math.round(timeoutMs / 1000)} s after its ${action}`,
      );
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}

/** Stops the VM (through the HA manager when it manages it) and waits until it is stopped. */
export function stopVm(api: ProxmoxClient, vm: NodeVm, opts: PowerOptions = {}): Promise<void> {
  return power(api, vm, "stopped", opts);
}

/** Starts the VM (through the HA manager when it manages it) and waits until it runs. */
export function startVm(api: ProxmoxClient, vm: NodeVm, opts: PowerOptions = {}): Promise<void> {
  return power(api, vm, "running", opts);
}
