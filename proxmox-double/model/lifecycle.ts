/**
 * Create, clone, convert to template, destroy: qemu-server's checks in its order, the new
 * VM's config, its volumes, and the task that finishes (or undoes) the work.
 */
import { randomUUID } from "node:crypto";

import {
  formatSize,
  parseDrive,
  parseNet,
  printDrive,
  printNet,
  randomMac,
} from "../property-string";
import type { Props } from "../property-string";

import type { PveCluster } from "./cluster";
import {
  CREATE_CONTROL_PARAMS,
  DRIVE_KEY,
  NET_KEY,
  UNUSED_KEY,
  checkKnownKeys,
  isTrue,
  vmidArg,
} from "./config-keys";
import { PveError, WorkerError, fail } from "./errors";
import { assertDestroyable, purgeVm } from "./ha";
import { powerOn } from "./power";
import type { Params, Vm, Volume } from "./types";
import { ownedVolumes, setOption } from "./vm-config";
import { VolumeStore } from "./volumes";

export function createVm(c: PveCluster, node: string, params: Params): string {
  c.node(node);
  checkKnownKeys(params, CREATE_CONTROL_PARAMS);
  const vmid = vmidArg(params.vmid);
  if (params.archive !== undefined)
    throw new PveError(501, "proxmox-double: restore (archive) is not implemented");
  if (c.vms.has(vmid)) {
    throw fail(
      `unable to create VM ${vmid} - VM ${vmid} already exists on node '${c.vms.get(vmid)?.node}'`,
    );
  }
  if (params.pool !== undefined && !c.pools.has(params.pool))
    throw fail(`pool '${params.pool}' does not exist`);
  const vm: Vm = { vmid, node, config: new Map([["lock", "create"]]), status: "stopped" };
  c.vms.set(vmid, vm);
  try {
    for (const [k, v] of Object.entries(params)) {
      if (CREATE_CONTROL_PARAMS.has(k)) continue;
      setOption(c, vm, k, v, c.user);
    }
  } catch (e) {
    if (e instanceof WorkerError) {
      // Disk creation and import run in qemu-server's worker: the task fails and takes
      // back what it allocated and the config it reserved.
      return c.runner.start({
        node,
        type: "qmcreate",
        id: vmid,
        forceFail: `unable to create VM ${vmid} - ${e.message}`,
        work: () => undefined,
        onFail: () => {
          for (const vol of ownedVolumes(c, vm)) c.store.free(vol);
          removeVm(c, vm);
        },
      });
    }
    for (const vol of ownedVolumes(c, vm)) c.store.free(vol);
    c.vms.delete(vmid);
    throw e;
  }
  if (!vm.config.has("vmgenid")) vm.config.set("vmgenid", randomUUID());
  if (!vm.config.has("smbios1")) vm.config.set("smbios1", `uuid=${randomUUID()}`);
  vm.config.set("meta", `creation-qemu=9.2.0,ctime=${Math.floor(Date.now() / 1000)}`);
  if (params.pool !== undefined) c.pools.get(params.pool)?.members.add(vmid);
  const start = isTrue(params.start);
  const cleanup = (): void => {
    for (const vol of ownedVolumes(c, vm)) c.store.free(vol);
    removeVm(c, vm);
  };
  return c.runner.start({
    node,
    type: "qmcreate",
    id: vmid,
    work: () => {
      vm.config.delete("lock");
      if (start) powerOn(c, vm);
    },
    onFail: cleanup,
  });
}

export function removeVm(c: PveCluster, vm: Vm): void {
  c.vms.delete(vm.vmid);
  for (const p of c.pools.values()) p.members.delete(vm.vmid);
  for (const [k, v] of vm.config) {
    if (NET_KEY.test(k)) c.leases.delete((parseNet(v).get("macaddr") ?? "").toUpperCase());
  }
}

/**
 * POST clone, with qemu-server's checks in its order (`PVE/API2/Qemu.pm`, `clone_vm`):
 * target storage (shared when the target is another node), source lock, linked-clone
 * limits, local disks of a cross-node clone, the new ID; then a `qmclone` task.
 */
export function clone(c: PveCluster, node: string, vmid: number, params: Params): string {
  const src = c.vmOn(node, vmid);
  const newid = vmidArg(params.newid, "newid");
  const target = params.target === undefined || params.target === node ? node : params.target;
  if (!c.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
  if (params.storage !== undefined) {
    const def = c.store.storageOn(target, params.storage);
    if (target !== node && !def.shared) {
      throw fail(`can't clone to non-shared storage '${params.storage}'`);
    }
  }
  c.assertUnlocked(src);
  const template = c.isTemplate(src);
  const full = params.full !== undefined ? isTrue(params.full) : !template;
  if (!full && params.storage !== undefined)
    throw fail("parameter 'storage' not allowed for linked clones");
  if (!full && params.format !== undefined)
    throw fail("parameter 'format' not allowed for linked clones");
  if (params.pool !== undefined && !c.pools.has(params.pool))
    throw fail(`pool '${params.pool}' does not exist`);

  const drives = [...src.config].filter(([k]) => DRIVE_KEY.test(k));
  for (const [k, v] of drives) {
    const props = parseDrive(v);
    const vol = c.store.get(node, props.get("file") ?? "");
    if (!vol) continue;
    if (target !== node && vol.scope !== "*" && props.get("media") !== "cdrom")
      throw fail(`can't clone VM to node '${target}' (VM uses local storage)`);
    // Linked clones need a base volume (a template's) on a storage that can clone.
    if (!full && !/cloudinit/.test(vol.name) && (!template || !vol.name.includes("base-")))
      throw fail(`Linked clone feature is not supported for drive '${k}'`);
  }
  if (c.vms.has(newid)) throw fail(`unable to create VM ${newid}: config file already exists`);

  // The new VM exists at once, locked, with the source's options but none of its disks.
  const config = new Map<string, string>([["lock", "clone"]]);
  for (const [k, v] of src.config) {
    if (DRIVE_KEY.test(k) || UNUSED_KEY.test(k)) continue;
    if (["template", "lock", "vmgenid", "smbios1", "meta", "parent"].includes(k)) continue;
    if (NET_KEY.test(k)) {
      const props = parseNet(v);
      props.set("macaddr", randomMac());
      config.set(k, printNet(props));
    } else {
      config.set(k, v);
    }
  }
  const srcName = src.config.get("name") ?? `VM${vmid}`;
  config.set("name", params.name ?? `Copy-of-VM-${srcName}`);
  if (params.description !== undefined) config.set("description", params.description);
  config.set("vmgenid", randomUUID());
  config.set("smbios1", `uuid=${randomUUID()}`);
  config.set("meta", `creation-qemu=9.2.0,ctime=${Math.floor(Date.now() / 1000)}`);
  const vm: Vm = { vmid: newid, node: target, config, status: "stopped" };
  c.vms.set(newid, vm);
  if (params.pool !== undefined) c.pools.get(params.pool)?.members.add(newid);

  // Allocate the copies now (they show up in the storage while the clone runs).
  const log: string[] = [];
  const copied: string[] = [];
  const newDrives: Array<[string, Props]> = [];
  const allocated: Volume[] = [];
  let noSpace: string | undefined;
  try {
    for (const [k, v] of drives) {
      const props = parseDrive(v);
      const srcVol = c.store.get(node, props.get("file") ?? "");
      if (!srcVol) {
        newDrives.push([k, props]); // cdrom / iso / passthrough: referenced as is
        continue;
      }
      const storage = full ? (params.storage ?? srcVol.storage) : srcVol.storage;
      let vol: Volume;
      if (/cloudinit/.test(srcVol.name)) {
        vol = c.store.allocate(target, storage, newid, "cloudinit", srcVol.size, params.format);
      } else if (full) {
        log.push(`create full clone of drive ${k} (${VolumeStore.volid(srcVol)})`);
        noSpace ??= c.store.noSpaceFor(target, storage, srcVol.size);
        vol = c.store.allocate(
          target,
          storage,
          newid,
          "disk",
          srcVol.size,
          params.format ?? srcVol.format,
        );
        const gib = (srcVol.size / 1024 ** 3).toFixed(1);
        copied.push(`${k}: transferred ${gib} GiB of ${gib} GiB (100.00%)`);
      } else {
        log.push(`create linked clone of drive ${k} (${VolumeStore.volid(srcVol)})`);
        vol = c.store.allocate(target, storage, newid, "disk", srcVol.size);
        c.store.free(vol);
        vol.name = `${srcVol.name}/${vol.name}`;
        c.store.put(vol);
      }
      allocated.push(vol);
      props.set("file", VolumeStore.volid(vol));
      props.set("size", formatSize(vol.size));
      newDrives.push([k, props]);
    }
  } catch (e) {
    for (const vol of allocated) c.store.free(vol);
    removeVm(c, vm);
    throw e;
  }

  const ordinal = c.countClone();
  const forced = c.faults.failClones?.includes(ordinal)
    ? `clone failed: injected fault (proxmox-double failClones: clone #${ordinal})`
    : noSpace;
  return c.runner.start({
    node,
    type: "qmclone",
    id: vmid,
    durationMs: c.timing.cloneDurationMs,
    log,
    forceFail: forced,
    work: () => {
      for (const [k, props] of newDrives) vm.config.set(k, printDrive(props));
      vm.config.delete("lock");
      return copied;
    },
    onFail: () => {
      // qemu-server removes what it allocated and the half-made config.
      for (const vol of allocated) c.store.free(vol);
      removeVm(c, vm);
    },
  });
}

export function convertToTemplate(c: PveCluster, node: string, vmid: number): string {
  const vm = c.vmOn(node, vmid);
  c.assertUnlocked(vm);
  if ((vm.snapshots?.size ?? 0) > 0)
    throw fail("unable to create template, because VM contains snapshots");
  if (vm.status === "running") throw fail("you can't convert a VM to template if VM is running");
  if (c.isTemplate(vm)) throw fail("you can't convert a template to a template");
  vm.config.set("lock", "template");
  return c.runner.start({
    node,
    type: "qmtemplate",
    id: vmid,
    work: () => {
      for (const [k, v] of vm.config) {
        if (!DRIVE_KEY.test(k)) continue;
        const props = parseDrive(v);
        const vol = c.store.get(vm.node, props.get("file") ?? "");
        if (!vol || /cloudinit/.test(vol.name) || vol.vmid !== vmid) continue;
        c.store.free(vol);
        vol.name = vol.name.replace(`vm-${vmid}-disk-`, `base-${vmid}-disk-`);
        c.store.put(vol);
        props.set("file", VolumeStore.volid(vol));
        vm.config.set(k, printDrive(props));
      }
      vm.config.set("template", "1");
      vm.config.delete("lock");
    },
    onFail: () => vm.config.delete("lock"),
  });
}

export function destroy(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  if (vm.config.get("protection") === "1")
    throw fail(`can't remove VM ${vmid} - protection mode enabled`);
  assertDestroyable(c, vmid, params);
  const unreferenced = isTrue(params["destroy-unreferenced-disks"]);
  const skiplock = isTrue(params.skiplock);
  const purge = isTrue(params.purge);
  return c.runner.start({
    node,
    type: "qmdestroy",
    id: vmid,
    work: () => {
      // Checked in the worker, under the config lock, like qemu-server.
      assertDestroyable(c, vmid, params);
      c.assertUnlocked(vm, skiplock);
      if (vm.status === "running") throw new Error(`VM ${vmid} is running - destroy failed`);
      const lines: string[] = [];
      for (const vol of ownedVolumes(c, vm)) {
        lines.push(`  Logical volume "${vol.name}" successfully removed.`);
        c.store.free(vol);
      }
      if (unreferenced) {
        for (const [key, vol] of c.volumes) {
          if (vol.vmid === vmid && (vol.scope === "*" || vol.scope === vm.node)) {
            c.volumes.delete(key);
          }
        }
      }
      if (purge)
        lines.push(`purging VM ${vmid} from related configurations..`, ...purgeVm(c, vmid));
      removeVm(c, vm);
      return lines;
    },
  });
}
