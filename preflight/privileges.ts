import type { ClusterConfig } from "../config/schema";

/**
 * The privileges a deploy's token needs on `/` (the role docs/proxmox.md has users create;
 * a test keeps the two equal): cloning, configuring, starting, migrating and deleting VMs,
 * reading guest agents, allocating disks on the datastores, reading the nodes, using the
 * bridges (SDN) and the PCI mappings of GPU pools; with `proxmox.template.image` also
 * downloading the image and deleting it again (IMAGE_PRIVILEGES); with snapshots, taking,
 * rolling back and deleting them (SNAPSHOT_PRIVILEGES); with `proxmox.ha`, the HA
 * resources and rules (HA_PRIVILEGES).
 */
export const REQUIRED_PRIVILEGES: readonly string[] = [
  "VM.Allocate",
  "VM.Clone",
  "VM.Audit",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.GuestAgent.Audit",
  "Datastore.AllocateSpace",
  "Datastore.Audit",
  "Sys.Audit",
  "SDN.Use",
  "Mapping.Use",
  "Pool.Audit",
  "Datastore.AllocateTemplate",
  "Datastore.Allocate",
  "Sys.AccessNetwork",
  "VM.Snapshot",
  "Sys.Console",
];

/**
 * What `proxmox.snapshots` needs: qemu-server asks for VM.Snapshot to take and delete a
 * snapshot, and for VM.Snapshot or VM.Snapshot.Rollback to roll back, so VM.Snapshot alone
 * covers the three (a rollback that starts the VM also needs VM.PowerMgmt, held already).
 */
export const SNAPSHOT_PRIVILEGES: readonly string[] = ["VM.Snapshot"];

/**
 * What `proxmox.ha` needs: pve-ha-manager asks for Sys.Console on `/` to create, change and
 * delete HA resources and rules (Sys.Audit, held already, to read them and the manager's
 * status).
 */
export const HA_PRIVILEGES: readonly string[] = ["Sys.Console"];

/** The privileges a deploy of `config` needs: those of the features it does not use left out. */
export function privilegesFor(config: ClusterConfig): string[] {
  const unused = new Set([
    ...(config.proxmox.template.image === undefined ? IMAGE_PRIVILEGES : []),
    ...(config.proxmox.snapshots.enabled ? [] : SNAPSHOT_PRIVILEGES),
    ...(config.proxmox.ha.enabled ? [] : HA_PRIVILEGES),
  ]);
  return REQUIRED_PRIVILEGES.filter((p) => !unused.has(p));
}

/**
 * The privileges only a template made from `proxmox.template.image` needs: download-url
 * (Datastore.AllocateTemplate on the storage, Sys.AccessNetwork on the node) and deleting
 * the downloaded file on destroy (Datastore.Allocate, as pve-storage asks for any volume
 * that is not a backup).
 */
export const IMAGE_PRIVILEGES: readonly string[] = [
  "Datastore.AllocateTemplate",
  "Datastore.Allocate",
  "Sys.AccessNetwork",
];
