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
  /** Where each of its disks goes: `scsi0` or `efidisk0` to a storage ID. */
  readonly diskStorages?: Readonly<Record<string, string>>;
  /** The Proxmox node it runs on. @default - not known */
  readonly host?: string;
  /** Its clone block's target storage, where the clone is made on the template's node. */
  readonly cloneStorage?: string;
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
interface SynthesizedVmResource {
  name?: string;
  vm_id?: number;
  node_name?: string;
  clone?: { datastore_id?: string };
  disk?: { interface?: string; datastore_id?: string }[];
  efi_disk?: { datastore_id?: string };
}

export function synthesizedVms(stack: {
  resource?: Record<string, Record<string, SynthesizedVmResource>>;
}): SynthesizedVm[] {
  const vms = stack.resource?.proxmox_virtual_environment_vm ?? {};
  return Object.entries(vms).flatMap(([id, vm]) => {
    if (vm.name === undefined || typeof vm.vm_id !== "number") return [];
    const disks: [string, string][] = (vm.disk ?? []).flatMap((d) =>
      d.interface && d.datastore_id ? [[d.interface, d.datastore_id] as [string, string]] : [],
    );
    if (vm.efi_disk?.datastore_id) disks.push(["efidisk0", vm.efi_disk.datastore_id]);
    return [
      {
        address: `proxmox_virtual_environment_vm.${id}`,
        name: vm.name,
        vmId: vm.vm_id,
        ...(disks.length > 0 ? { diskStorages: Object.fromEntries(disks) } : {}),
        ...(vm.node_name ? { host: vm.node_name } : {}),
        ...(vm.clone?.datastore_id ? { cloneStorage: vm.clone.datastore_id } : {}),
      },
    ];
  });
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

/** What this module reads and writes of an OpenTofu state (`tofu state pull`). */
export interface TofuState {
  readonly serial: number;
  readonly resources?: readonly {
    readonly mode: string;
    readonly type: string;
    readonly name: string;
    readonly instances: readonly { readonly attributes: Record<string, unknown> }[];
  }[];
}

/**
 * The state with each adopted VM recorded as a deploy that made it records it, and its
 * serial one higher. `planned` holds, by address, the object OpenTofu planned to create
 * for it (`tofu show -json`'s `change.after`, made before the import).
 *
 * `tofu import` records no `clone` block, and bpg/proxmox reads a VM without one as a VM
 * made from scratch: every device it has. A clone's blocks (the serial console, the VGA,
 * PCI devices...) are read only where the state already holds one, which after a create
 * means where the configuration sets one. So an imported VM would plan the removal of
 * what it got from its template (`serial0`), and every clone attribute as a replacement.
 * Here it gets the planned clone block, and the blocks the plan leaves empty are emptied:
 * the next plan reads it as it reads the VMs the deploy finished, and updates in place
 * what the interrupted deploy had not set yet.
 */
export function withAdoptedAsCreated(
  state: TofuState,
  planned: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
): TofuState {
  return {
    ...state,
    serial: state.serial + 1,
    resources: (state.resources ?? []).map((r) => {
      const after = r.mode === "managed" ? planned.get(`${r.type}.${r.name}`) : undefined;
      if (!after) return r;
      const unset = Object.keys(after).filter(
        (k) => Array.isArray(after[k]) && (after[k] as unknown[]).length === 0,
      );
      return {
        ...r,
        instances: r.instances.map((i) => ({
          ...i,
          attributes: {
            ...i.attributes,
            ...Object.fromEntries(unset.map((k) => [k, []])),
            clone: after.clone,
          },
        })),
      };
    }),
  };
}

/** A disk to move to the storage the definition puts it on (`move_disk`). */
export interface DiskMove {
  readonly disk: string;
  readonly storage: string;
}

/**
 * The disks of a stranded VM (its Proxmox config) that are not yet on their storage: a
 * clone to another host from a template on shared storage lands on the template's storage,
 * and a deploy moves each disk to `proxmox.datastore` right after the clone, which a
 * deploy cut off there never did. The provider would make this move as an update of the
 * adopted VM, together with the resize, and then send the disk's old volume again, which
 * Proxmox refuses ("volume ... does not exist"): the adoption moves them first.
 */
export function pendingDiskMoves(
  config: Readonly<Record<string, unknown>>,
  vm: SynthesizedVm,
): DiskMove[] {
  return Object.entries(vm.diskStorages ?? {}).flatMap(([disk, storage]) => {
    const value = config[disk];
    const volume = typeof value === "string" ? value.split(",")[0] : undefined;
    const current = volume?.split(":")[0];
    return current !== undefined && current !== storage ? [{ disk, storage }] : [];
  });
}

/** A stranded VM's migration to its host (`POST .../migrate`), as the deploy makes it. */
export interface PendingMigration {
  readonly target: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Where a stranded VM still has to go: with `template.storage: local` a deploy clones each
 * VM on the template's node and migrates it to its host after the clone, with its local
 * disks, onto the clone's storage; a deploy cut off in between leaves it on the template's
 * node, which the provider can only fix by making the VM anew (`node_name` forces a
 * replacement). The adoption migrates it first.
 */
export function pendingMigration(node: string, vm: SynthesizedVm): PendingMigration | undefined {
  if (vm.host === undefined || vm.host === node) return undefined;
  return {
    target: vm.host,
    params: {
      target: vm.host,
      "with-local-disks": "1",
      ...(vm.cloneStorage ? { targetstorage: vm.cloneStorage } : {}),
    },
  };
}
