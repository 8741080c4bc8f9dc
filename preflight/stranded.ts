/**
 * VMs a deploy made but never recorded: a deploy killed (or interrupted) while Proxmox
 * cloned leaves VMs with our IDs and names that the vms stack's state does not hold, and
 * the next deploy would fail on every one of them ("VM ... already exists"). Such a VM is
 * adopted in place with `tofu import`, never destroyed and made again.
 *
 * Ours means: one of the cluster's VM IDs and the VM name we gave it (the clone request
 * carries the name; our tags come only with a later update, so a stranded VM may lack them).
 */
export interface SynthesizedVm {
  /** `proxmox_virtual_environment_vm.<id>` in the synthesized vms stack. */
  readonly address: string;
  readonly name: string;
  readonly vmId: number;
}

export interface ExistingVm {
  readonly vmid: number;
  readonly node: string;
  readonly name?: string;
}

export interface Adoption {
  readonly address: string;
  /** What `tofu import` takes for a bpg VM: `<node>/<vmid>`. */
  readonly importId: string;
  readonly name: string;
}

/** The VMs of the synthesized vms stack (`cdk.tf.json`). */
export function synthesizedVms(stack: {
  resource?: Record<string, Record<string, { name?: string; vm_id?: number }>>;
}): SynthesizedVm[] {
  const vms = stack.resource?.proxmox_virtual_environment_vm ?? {};
  return Object.entries(vms).flatMap(([id, vm]) =>
    vm.name !== undefined && typeof vm.vm_id === "number"
      ? [{ address: `proxmox_virtual_environment_vm.${id}`, name: vm.name, vmId: vm.vm_id }]
      : [],
  );
}

/** The VMs to import: ours by ID and name, present in Proxmox, absent from state. */
export function strandedVms(
  wanted: readonly SynthesizedVm[],
  inState: ReadonlySet<string>,
  existing: readonly ExistingVm[],
): Adoption[] {
  const byId = new Map(existing.map((v) => [v.vmid, v]));
  return wanted.flatMap((w): Adoption[] => {
    const vm = byId.get(w.vmId);
    if (inState.has(w.address) || vm === undefined || vm.name !== w.name) return [];
    return [{ address: w.address, importId: `${vm.node}/${vm.vmid}`, name: w.name }];
  });
}
