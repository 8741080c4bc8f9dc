/**
 * The privileges a deploy's token needs on `/` (the role docs/proxmox.md has users create;
 * a test keeps the two equal): cloning, configuring, starting, migrating and deleting VMs,
 * reading guest agents, allocating disks on the datastores, reading the nodes, using the
 * bridges (SDN) and the PCI mappings of GPU pools.
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
];
