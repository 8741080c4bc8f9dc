/**
 * The one rule of whether Proxmox can snapshot a VM: by storage type and format, templates,
 * and RAM with a PCI device; and the subject read from a VM's config.
 */
import {
  snapshotBlockers,
  storageCanSnapshot,
  subjectFromConfig,
  volumeFormat,
} from "../../../lib/proxmox/snapshot-support";

describe("storageCanSnapshot", () => {
  it.each([
    ["lvmthin", "raw", true],
    ["zfspool", "raw", true],
    ["rbd", "raw", true],
    ["btrfs", "raw", true],
    ["dir", "qcow2", true],
    ["nfs", "qcow2", true],
    ["cifs", "qcow2", true],
    ["lvm", "qcow2", true],
    ["dir", "raw", false],
    ["nfs", "raw", false],
    ["dir", "vmdk", false],
    ["lvm", "raw", false],
    ["iscsi", "raw", false],
    ["unknown", "raw", false],
  ])("%s with %s: %s", (type, format, can) => {
    expect(storageCanSnapshot(type, format)).toBe(can);
  });
});

describe("volumeFormat", () => {
  it.each([
    ["local:1001/vm-1001-disk-0.qcow2", "dir", "qcow2"],
    ["local:1001/vm-1001-disk-0.raw", "dir", "raw"],
    ["local-lvm:vm-1001-disk-0", "lvmthin", "raw"],
    ["thick:vm-1001-disk-0.qcow2", "lvm", "qcow2"],
    ["ceph:vm-1001-disk-0", "rbd", "raw"],
  ])("%s on %s is %s", (volid, type, format) => {
    expect(volumeFormat(volid, type)).toBe(format);
  });
});

const TYPES = new Map([
  ["local-lvm", "lvmthin"],
  ["local", "dir"],
  ["thick", "lvm"],
]);

describe("subjectFromConfig and snapshotBlockers", () => {
  it("counts the disks and the EFI disk, not the cloud-init drive or a CD-ROM", () => {
    const vm = subjectFromConfig(
      "k8s-gpu-1",
      {
        scsi0: "local-lvm:vm-1001-disk-0,iothread=1,size=40G",
        efidisk0: "local:1001/vm-1001-disk-1.raw,efitype=4m,size=528K",
        ide2: "local:1001/vm-1001-cloudinit.raw,media=cdrom",
        ide0: "none,media=cdrom",
        hostpci0: "mapping=gpu,pcie=1",
        memory: "8192",
      },
      TYPES,
    );
    expect(vm.disks.map((d) => d.key).sort()).toEqual(["efidisk0", "scsi0"]);
    expect(vm.pciDevices).toEqual(["hostpci0"]);
    expect(snapshotBlockers(vm)).toEqual([
      {
        kind: "storage",
        disk: "efidisk0",
        message:
          "k8s-gpu-1's disk efidisk0 (local:1001/vm-1001-disk-1.raw) is raw on dir storage, which cannot be snapshotted",
      },
    ]);
  });

  it("lets a running GPU VM on LVM-thin be snapshotted without its RAM, not with it", () => {
    const vm = subjectFromConfig(
      "k8s-gpu-1",
      { scsi0: "local-lvm:vm-1001-disk-0,size=40G", hostpci0: "mapping=gpu" },
      TYPES,
      true,
    );
    expect(snapshotBlockers(vm)).toEqual([]);
    expect(snapshotBlockers(vm, true)).toEqual([
      {
        kind: "ram",
        message:
          "k8s-gpu-1's RAM cannot be saved with hostpci0 (PCI passthrough); take a disk-only snapshot",
      },
    ]);
  });

  it("refuses raw disks on thick LVM, a storage the node does not have, and templates", () => {
    const thick = subjectFromConfig("a", { scsi0: "thick:vm-1-disk-0,size=8G" }, TYPES);
    expect(snapshotBlockers(thick).map((b) => b.kind)).toEqual(["storage"]);
    const gone = subjectFromConfig("b", { scsi0: "nas:1/vm-1-disk-0.qcow2" }, TYPES);
    expect(snapshotBlockers(gone)[0].message).toContain("on unknown storage");
    const template = subjectFromConfig(
      "c",
      { template: 1, scsi0: "local-lvm:base-9000-disk-0" },
      TYPES,
    );
    expect(snapshotBlockers(template).map((b) => b.kind)).toEqual(["template"]);
  });
});
