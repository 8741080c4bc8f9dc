/** Disk operations on an existing VM: resize (grow only) and move to another storage. */
import { formatSize, parseDrive, parseSize, printDrive } from "../property-string";

import type { PveCluster } from "./cluster";
import { DISK_BUS_KEY, isTrue } from "./config-keys";
import { fail, paramError } from "./errors";
import { volumeHasSnapshots } from "./snapshots";
import type { Params } from "./types";
import { nextUnusedKey } from "./vm-config";
import { BLOCK_STORAGES, VolumeStore } from "./volumes";

export function resize(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  const disk = params.disk;
  if (disk === undefined) throw paramError({ disk: "property is missing and it is not optional" });
  if (params.size === undefined)
    throw paramError({ size: "property is missing and it is not optional" });
  const m = /^(\+)?(\d+(?:\.\d+)?[KMGT]?)$/i.exec(params.size);
  if (!m) throw paramError({ size: `value does not match the regex pattern` });
  const skiplock = isTrue(params.skiplock);
  // qemu-server checks all of this in the worker: the task fails, the request does not.
  return c.runner.start({
    node,
    type: "resize",
    id: vmid,
    work: () => {
      c.assertUnlocked(vm, skiplock);
      const current = vm.config.get(disk);
      if (!DISK_BUS_KEY.test(disk) || current === undefined)
        throw new Error(`disk '${disk}' does not exist`);
      const props = parseDrive(current);
      const vol = c.store.get(vm.node, props.get("file") ?? "");
      if (!vol || props.get("media") === "cdrom") throw new Error(`you can't resize a cdrom`);
      const delta = parseSize(m[2]);
      const newSize = m[1] ? vol.size + delta : delta;
      if (newSize < vol.size) throw new Error("shrinking disks is not supported");
      const noSpace = c.store.noSpaceFor(vm.node, vol.storage, newSize - vol.size);
      if (noSpace !== undefined) throw new Error(noSpace);
      vol.size = newSize;
      const now = vm.config.get(disk);
      if (now === undefined) throw new Error(`disk '${disk}' was removed`);
      const p = parseDrive(now);
      p.set("size", formatSize(newSize));
      vm.config.set(disk, printDrive(p));
      return [`  Size of logical volume pve/${vol.name} changed to ${formatSize(newSize)}.`];
    },
  });
}

export function moveDisk(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  const disk = params.disk;
  const storage = params.storage;
  if (disk === undefined || storage === undefined) {
    throw paramError({
      [disk === undefined ? "disk" : "storage"]: "property is missing and it is not optional",
    });
  }
  c.assertUnlocked(vm);
  const current = vm.config.get(disk);
  if (current === undefined) throw fail(`disk '${disk}' does not exist`);
  const props = parseDrive(current);
  const vol = c.store.get(vm.node, props.get("file") ?? "");
  if (!vol) throw fail(`disk '${disk}' has no volume to move`);
  const def = c.store.storageOn(vm.node, storage);
  const format = params.format ?? (BLOCK_STORAGES.has(def.type) ? "raw" : vol.format);
  if (vol.storage === storage && vol.format === format) {
    throw fail("you can't move to the same storage with same format");
  }
  if (isTrue(params.delete) && volumeHasSnapshots(vm, VolumeStore.volid(vol)))
    throw fail("you can't move a disk with snapshots and delete the source");
  vm.config.set("lock", "move");
  return c.runner.start({
    node,
    type: "qmmove",
    id: vmid,
    work: () => {
      // A copy of the data: the same content under a new volume.
      const copy = c.store.allocate(vm.node, storage, vmid, "disk", vol.size, format, vol.dataId);
      props.set("file", VolumeStore.volid(copy));
      vm.config.set(disk, printDrive(props));
      if (isTrue(params.delete)) c.store.free(vol);
      else vm.config.set(nextUnusedKey(vm), VolumeStore.volid(vol));
      vm.config.delete("lock");
      return [`moving disk '${disk}' to '${VolumeStore.volid(copy)}'`];
    },
    onFail: () => vm.config.delete("lock"),
  });
}
