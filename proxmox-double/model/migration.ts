/** Offline migration to another node, copying local disks (`targetstorage`). */
import { parseDrive, printDrive } from "../property-string";
import type { Props } from "../property-string";

import type { PveCluster } from "./cluster";
import { DRIVE_KEY, UNUSED_KEY, isTrue } from "./config-keys";
import { fail, paramError } from "./errors";
import { migrationBlocker } from "./snapshots";
import type { Params, Volume } from "./types";
import { VolumeStore } from "./volumes";

export function migrate(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  const target = params.target;
  if (target === undefined)
    throw paramError({ target: "property is missing and it is not optional" });
  if (target === node) throw paramError({ target: "target is local node." });
  if (!c.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
  c.assertUnlocked(vm);
  if (vm.status === "running" && !isTrue(params.online)) {
    throw fail("can't migrate running VM without --online");
  }
  const local: Array<[string, Props, Volume]> = [];
  for (const [k, v] of vm.config) {
    if (!DRIVE_KEY.test(k) && !UNUSED_KEY.test(k)) continue;
    const props = parseDrive(v);
    const vol = c.store.get(node, props.get("file") ?? "");
    if (vol && vol.scope !== "*") local.push([k, props, vol]);
  }
  // Offline, qemu-server copies local disks itself (`with-local-disks` is for online
  // migration); a disk whose storage the target lacks needs `targetstorage`.
  const targetStorage = (s: string): string => {
    const spec = params.targetstorage;
    if (spec === undefined || spec === "1") return s;
    for (const part of spec.split(",")) {
      const [a, b] = part.split(":");
      if (b === undefined) return a;
      if (a === s) return b;
    }
    return s;
  };
  for (const [, , vol] of local) {
    const dest = targetStorage(vol.storage);
    const def = c.storages.get(dest);
    if (!def || (def.nodes !== undefined && !def.nodes.includes(target)))
      throw fail(`storage '${dest}' is not available on node '${target}'`);
  }
  vm.config.set("lock", "migrate");
  // Found while the worker scans the volumes (the VM is locked meanwhile).
  const blocker = migrationBlocker(c, vm);
  return c.runner.start({
    node,
    type: "qmigrate",
    id: vmid,
    ...(blocker === undefined
      ? {}
      : {
          forceFail: "migration aborted",
          log: [
            `ERROR: migration aborted (duration 00:00:00): Problem found while scanning volumes - ${blocker}`,
          ],
        }),
    work: () => {
      const lines: string[] = [`starting migration of VM ${vmid} to node '${target}'`];
      for (const [k, props, vol] of local) {
        const dest = targetStorage(vol.storage);
        c.store.free(vol);
        const def = c.store.storageOn(target, dest);
        const copy: Volume = { ...vol, storage: dest, scope: def.shared ? "*" : target };
        c.store.put(copy);
        props.set("file", VolumeStore.volid(copy));
        vm.config.set(k, UNUSED_KEY.test(k) ? VolumeStore.volid(copy) : printDrive(props));
        lines.push(
          `copying local disk '${vol.storage}:${vol.name}' to '${VolumeStore.volid(copy)}'`,
        );
      }
      vm.node = target;
      vm.config.delete("lock");
      lines.push("migration finished successfully");
      return lines;
    },
    onFail: () => vm.config.delete("lock"),
  });
}
