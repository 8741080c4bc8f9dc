/**
 * The privileges a deploy's token needs on `/` (the role docs/proxmox.md has users create;
 * a test keeps the two equal): cloning, configuring, starting, migrating and deleting VMs,
 * reading guest agents, allocating disks on the datastores, reading the nodes, using the
 * bridges (SDN) and the PCI mappings of GPU pools; with `proxmox.template.image` also
 * downloading the image and deleting it again (IMAGE_PRIVILEGES).
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
];

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
