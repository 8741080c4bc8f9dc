/**
 * Whether Proxmox VE can snapshot a VM: the one home of that rule. Preflight asks it for
 * every node VM before a deploy, the runner before it snapshots a VM it is about to change.
 *
 * The rule is Proxmox's own (qemu-server's `snapshot_create`, pve-storage's
 * `volume_has_feature('snapshot')` per storage plugin, pve-qemu's migration blockers):
 *
 * - Every disk (not the CD-ROMs, not the cloud-init drive) must be on a storage that can
 *   snapshot it: LVM-thin, ZFS (local or over iSCSI), Ceph RBD and BTRFS can; a
 *   directory-like storage (dir, NFS, CIFS, CephFS, GlusterFS) only for qcow2 files; thick
 *   LVM only for qcow2 volumes (Proxmox VE 9's snapshots as volume chains), not for the raw
 *   ones it makes by default; plain iSCSI LUNs cannot. Otherwise qemu-server fails with
 *   "snapshot feature is not available". An EFI disk counts: the bpg provider makes it
 *   raw, so a GPU node (OVMF) on a directory storage cannot be snapshotted.
 * - A template cannot be snapshotted.
 * - With RAM (`vmstate`), a running VM with a passed-through PCI device cannot (QEMU's
 *   migration blocker: "VFIO migration is not supported in kernel"), nor one with AMD SEV,
 *   Intel TDX or virtiofs. A disk-only snapshot, the kind the runner takes, is not
 *   affected: GPU VMs on a storage that can snapshot are fine.
 */

/** A disk of a VM as the rule needs it. */
export interface SnapshotDisk {
  /** Config key: `scsi0`, `efidisk0`... */
  readonly key: string;
  /** `local-lvm:vm-1001-disk-0`. */
  readonly volid: string;
  /** Proxmox storage type of its storage (`lvmthin`, `dir`, `nfs`...). */
  readonly storageType: string;
  /** `raw`, `qcow2`, `vmdk` or `subvol`. */
  readonly format: string;
}

/** A VM as the rule needs it: its disks, and what matters for a snapshot with RAM. */
export interface SnapshotSubject {
  /** For messages: the node name, or the VM ID. */
  readonly name: string;
  readonly disks: readonly SnapshotDisk[];
  /** Its `hostpciN` keys (passed-through PCI devices). */
  readonly pciDevices: readonly string[];
  /** AMD SEV, Intel TDX or virtiofs: what QEMU cannot save the RAM of. @default none */
  readonly nonMigratable?: readonly string[];
  /** @default false */
  readonly template?: boolean;
  /** Whether the VM runs (RAM is only saved for a running VM). @default false */
  readonly running?: boolean;
}

export type SnapshotBlockerKind = "storage" | "template" | "ram";

/** Why Proxmox would refuse a snapshot, with the disk at fault where one is. */
export interface SnapshotBlocker {
  readonly kind: SnapshotBlockerKind;
  readonly disk?: string;
  readonly message: string;
}

/** Storage types whose every volume can be snapshotted. */
const BLOCK_SNAPSHOT_TYPES: ReadonlySet<string> = new Set([
  "lvmthin",
  "zfspool",
  "zfs",
  "rbd",
  "btrfs",
]);
/** Storage types that keep disks as files: a snapshot needs qcow2. */
const FILE_TYPES: ReadonlySet<string> = new Set(["dir", "nfs", "cifs", "cephfs", "glusterfs"]);

/** Storage types whose volumes are raw block devices (the format of a volume there). */
export const BLOCK_STORAGE_TYPES: ReadonlySet<string> = new Set([
  "lvmthin",
  "lvm",
  "zfspool",
  "zfs",
  "rbd",
  "iscsi",
  "iscsidirect",
]);

/** pve-storage's `volume_has_feature(snapshot)` by storage type and volume format. */
export function storageCanSnapshot(storageType: string, format: string): boolean {
  if (BLOCK_SNAPSHOT_TYPES.has(storageType)) return true;
  if (FILE_TYPES.has(storageType) || storageType === "lvm") return format === "qcow2";
  return false;
}

/**
 * The format of a volume, as pve-storage reads it from the name: a file's extension, raw
 * on a block storage (thick LVM's qcow2 volumes are named `.qcow2` too).
 */
export function volumeFormat(volid: string, storageType: string): string {
  const ext = /\.(qcow2|raw|vmdk)$/.exec(volid)?.[1];
  if (ext !== undefined) return ext;
  if (storageType === "btrfs" && /subvol-/.test(volid)) return "subvol";
  return "raw";
}

const DISK_KEY = /^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$/;
const PCI_KEY = /^hostpci\d+$/;

/**
 * A VM's subject from its config as `GET /nodes/{node}/qemu/{vmid}/config` returns it and
 * the types of the storages its node has (`GET /nodes/{node}/storage`): a storage the node
 * does not list gets the type `unknown`, which cannot be snapshotted.
 */
export function subjectFromConfig(
  name: string,
  config: Readonly<Record<string, string | number>>,
  storageTypes: ReadonlyMap<string, string>,
  running = false,
): SnapshotSubject {
  const disks: SnapshotDisk[] = [];
  for (const [key, raw] of Object.entries(config)) {
    if (!DISK_KEY.test(key)) continue;
    const value = String(raw);
    const volid = value.split(",")[0];
    if (/(^|,)media=cdrom(,|$)/.test(value) || volid === "none" || volid === "cdrom") continue;
    const storage = /^([^:]+):/.exec(volid)?.[1];
    const storageType = (storage && storageTypes.get(storage)) ?? "unknown";
    disks.push({ key, volid, storageType, format: volumeFormat(volid, storageType) });
  }
  const nonMigratable = ["amd-sev", "intel-tdx"].filter((k) => config[k] !== undefined);
  if (Object.keys(config).some((k) => /^virtiofs\d$/.test(k))) nonMigratable.push("virtiofs");
  return {
    name,
    disks,
    pciDevices: Object.keys(config)
      .filter((k) => PCI_KEY.test(k))
      .sort(),
    nonMigratable,
    template: Number(config.template ?? 0) === 1,
    running,
  };
}

/** Every reason Proxmox would refuse to snapshot `vm`; none when it can. */
export function snapshotBlockers(vm: SnapshotSubject, withRam = false): SnapshotBlocker[] {
  const out: SnapshotBlocker[] = [];
  if (vm.template) out.push({ kind: "template", message: `${vm.name} is a template` });
  for (const d of vm.disks) {
    if (storageCanSnapshot(d.storageType, d.format)) continue;
    out.push({
      kind: "storage",
      disk: d.key,
      message: `${vm.name}'s disk ${d.key} (${d.volid}) is ${d.format} on ${d.storageType} storage, which cannot be snapshotted`,
    });
  }
  if (withRam && vm.running) {
    const blockers = [
      ...vm.pciDevices.map((k) => `${k} (PCI passthrough)`),
      ...(vm.nonMigratable ?? []),
    ];
    if (blockers.length > 0)
      out.push({
        kind: "ram",
        message: `${vm.name}'s RAM cannot be saved with ${blockers.join(", ")}; take a disk-only snapshot`,
      });
  }
  return out;
}

/** The storage types and formats that can snapshot, for messages and docs. */
export const SNAPSHOT_CAPABLE =
  "LVM-thin, ZFS, Ceph RBD, BTRFS, or qcow2 on a directory, NFS, CIFS or CephFS storage";
