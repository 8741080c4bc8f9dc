/**
 * VM snapshots as qemu-server takes them (`PVE/API2/Qemu.pm` snapshot/rollback/delsnapshot,
 * `PVE/QemuConfig.pm`, pve-guest-common's `PVE/AbstractConfig.pm`) on storages as
 * pve-storage's plugins allow (`volume_has_feature`, `volume_rollback_is_possible`).
 *
 * What the request itself refuses (a reserved name, RAM state with a non-migratable
 * device, a VM that does not exist) is its HTTP error; everything else is checked in the
 * worker, as in qemu-server: the request returns a UPID and the task fails with the
 * message. The worker's first steps (checks, the lock, the stopped VM of a rollback) happen
 * at once, the rest when the task ends, so a VM is seen locked `snapshot`,
 * `snapshot-delete` or `rollback` while its task runs.
 *
 * A snapshot section is a copy of the config when taken (without `lock`, `description`,
 * `unused*`), plus `snaptime`, `description`, `vmstate`, `parent`, and `snapstate` while
 * it is being made or deleted; the current config gets `parent: <newest snapshot taken or
 * rolled back to>`. Each snapshotted volume records the snapshot (name, size), so the
 * ZFS rule (only the most recent snapshot can be rolled back to) and a rollback's size
 * and content (the volume's `dataId` as it was) hold.
 */
import { randomUUID } from "node:crypto";

import { parseDrive, parseProps } from "../property-string";
import type { SeedStorage } from "../seed";

import type { PveCluster } from "./cluster";
import {
  BOOL_KEYS,
  DRIVE_KEY,
  HOSTPCI_KEY,
  INT_KEYS,
  NUMBER_KEYS,
  UNUSED_KEY,
  isTrue,
  parseAgent,
} from "./config-keys";
import { fail } from "./errors";
import { powerOff, powerOn } from "./power";
import type { Params, Vm, Volume } from "./types";
import { nextUnusedKey } from "./vm-config";
import { VolumeStore } from "./volumes";

/** Keys `__snapshot_copy_config` leaves out of a snapshot (and out of a rollback's copy). */
const NOT_COPIED = new Set(["snapstate", "snaptime", "vmstate", "lock", "digest", "description"]);

const snapshotsOf = (vm: Vm): Map<string, Map<string, string>> => {
  vm.snapshots ??= new Map();
  return vm.snapshots;
};

/** The drive keys of a config whose volume is not a CD-ROM (`drive_is_cdrom`). */
function diskDrives(config: ReadonlyMap<string, string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of config) {
    if (!DRIVE_KEY.test(k)) continue;
    const props = parseDrive(v);
    if (props.get("media") === "cdrom") continue;
    out.push([k, props.get("file") ?? ""]);
  }
  return out;
}

/**
 * pve-storage's `volume_has_feature(snapshot)` for a volume on `def`: LVM-thin, ZFS and
 * RBD can; a directory-like storage (dir, NFS, CIFS, CephFS) only for qcow2 files; thick
 * LVM only for qcow2 volumes (which the double never makes: it keeps raw ones there); a
 * template's base volume on LVM-thin cannot.
 */
export function storageCanSnapshot(def: SeedStorage, vol: Volume): boolean {
  const base = /(^|\/)base-\d+-disk-\d+(\.\w+)?$/.test(vol.name);
  switch (def.type) {
    case "lvmthin":
      return !base;
    case "zfspool":
    case "rbd":
      return true;
    case "lvm":
      return vol.format === "qcow2";
    default:
      return vol.format === "qcow2";
  }
}

/** `has_feature('snapshot', $conf)`: every disk's volume on a storage that can. */
function hasSnapshotFeature(c: PveCluster, vm: Vm): boolean {
  return diskDrives(vm.config).every(([, file]) => {
    const vol = c.store.get(vm.node, file);
    const def = vol && c.storages.get(vol.storage);
    return vol !== undefined && def !== undefined && storageCanSnapshot(def, vol);
  });
}

/** `check_non_migratable_resources` with state: what a RAM snapshot cannot be taken with. */
function stateBlockers(vm: Vm): string[] {
  const blockers: string[] = [];
  if (vm.config.has("amd-sev")) blockers.push("amd-sev");
  if (vm.config.has("intel-tdx")) blockers.push("intel-tdx");
  if ([...vm.config.keys()].some((k) => /^virtiofs\d$/.test(k))) blockers.push("virtiofs");
  return blockers;
}

/**
 * The migration blocker QEMU raises for a passed-through PCI device whose driver cannot
 * migrate (pve-qemu's savevm-async consults migration blockers since 2025): the first
 * `hostpciN`'s address, as vfio-pci names it.
 */
function vfioBlocker(c: PveCluster, vm: Vm): string | undefined {
  for (const [k, v] of vm.config) {
    if (!HOSTPCI_KEY.test(k)) continue;
    const props = parseProps(v, "host");
    const mapping = props.get("mapping");
    const path =
      mapping !== undefined
        ? c.pciMappings.get(mapping)?.map.find((e) => e.node === vm.node)?.path
        : props.get("host");
    const address = (path ?? "").split(";")[0];
    const full = /^[0-9a-f]{4}:/i.test(address) ? address : `0000:${address}`;
    return `${full}: VFIO migration is not supported in kernel`;
  }
  return undefined;
}

/** The storage a RAM state goes to (`find_vmstate_storage`): `vmstatestorage`, else the first disk's. */
function vmstateStorage(c: PveCluster, vm: Vm): string {
  const configured = vm.config.get("vmstatestorage");
  if (configured !== undefined) return configured;
  for (const [, file] of diskDrives(vm.config)) {
    const vol = c.store.get(vm.node, file);
    if (vol) return vol.storage;
  }
  throw new Error("unable to find a storage for the VM state");
}

function freeVolid(c: PveCluster, vm: Vm, volid: string | undefined): void {
  if (volid === undefined) return;
  const vol = c.store.get(vm.node, volid);
  if (vol) c.store.free(vol);
}

/** Re-points `parent` references to a snapshot going away (`$unlink_parent`). */
function unlinkParent(vm: Vm, name: string, newParent: string | undefined): void {
  const relink = (conf: Map<string, string>): void => {
    if (conf.get("parent") !== name) return;
    if (newParent) conf.set("parent", newParent);
    else conf.delete("parent");
  };
  relink(vm.config);
  for (const [sn, conf] of snapshotsOf(vm)) if (sn !== name) relink(conf);
}

/** Drops a snapshot from the config and its volumes (`snapshot_delete`, forced). */
function dropSnapshot(c: PveCluster, vm: Vm, name: string): void {
  const snap = snapshotsOf(vm).get(name);
  if (!snap) return;
  freeVolid(c, vm, snap.get("vmstate"));
  for (const [, file] of diskDrives(snap)) {
    const vol = c.store.get(vm.node, file);
    if (vol?.snapshots) vol.snapshots = vol.snapshots.filter((s) => s.name !== name);
  }
  unlinkParent(vm, name, snap.get("parent"));
  snapshotsOf(vm).delete(name);
}

/** POST /nodes/{node}/qemu/{vmid}/snapshot: a `qmsnapshot` task. */
export function createSnapshot(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  const name = params.snapname;
  if (name === "current") throw fail("unable to use snapshot name 'current' (reserved name)");
  if (name.toLowerCase() === "pending")
    throw fail("unable to use snapshot name 'pending' (reserved name)");
  const wantState = isTrue(params.vmstate);
  const blockers = wantState ? stateBlockers(vm) : [];
  if (blockers.length > 0)
    throw fail(
      `Cannot live-migrate, snapshot (with RAM), or hibernate a VM with: ${blockers.join(", ")}`,
    );

  // The worker's __snapshot_prepare, at once.
  const refused = ((): string | undefined => {
    if (c.isTemplate(vm)) return "you can't take a snapshot if it's a template";
    const lock = vm.config.get("lock");
    if (lock) return `VM is locked (${lock})`;
    if (snapshotsOf(vm).has(name)) return `snapshot name '${name}' already used`;
    if (!hasSnapshotFeature(c, vm)) return "snapshot feature is not available";
    return undefined;
  })();
  if (refused !== undefined)
    return c.runner.start({ node, type: "qmsnapshot", id: vmid, forceFail: refused, work: noop });

  const log: string[] = [];
  for (const [sn, conf] of snapshotsOf(vm)) {
    if (conf.get("parent") === name) {
      log.push(`deleting parent '${name}' reference from '${sn}' to avoid bogus snapshot cycle.`);
      conf.delete("parent");
    }
  }
  vm.config.set("lock", "snapshot");
  const snap = new Map<string, string>();
  for (const [k, v] of vm.config) if (!NOT_COPIED.has(k) && !UNUSED_KEY.test(k)) snap.set(k, v);
  snap.set("snapstate", "prepare");
  snap.set("snaptime", String(Math.floor(Date.now() / 1000)));
  if (params.description) snap.set("description", params.description);
  const running = vm.status === "running";
  if (wantState && running) {
    const storage = vmstateStorage(c, vm);
    const memMiB = Number((vm.config.get("memory") ?? "512").replace("current=", ""));
    const state = c.store.allocate(
      vm.node,
      storage,
      vmid,
      "disk",
      (memMiB * 2 + 500) * 1024 ** 2,
      "raw",
    );
    // qemu-server names it after the snapshot; the store's name is the next free disk.
    c.store.free(state);
    state.name = state.name.replace(/vm-\d+-disk-\d+/, `vm-${vmid}-state-${name}`);
    c.store.put(state);
    snap.set("vmstate", VolumeStore.volid(state));
  }
  snapshotsOf(vm).set(name, snap);

  const cleanup = (): void => {
    dropSnapshot(c, vm, name);
    vm.config.delete("lock");
  };
  return c.runner.start({
    node,
    type: "qmsnapshot",
    id: vmid,
    log,
    work: () => {
      const lines: string[] = [];
      if (running && snap.has("vmstate")) {
        const blocker = vfioBlocker(c, vm);
        if (blocker !== undefined) {
          cleanup();
          throw new Error(`VM ${vmid} qmp command 'savevm-start' failed - ${blocker}`);
        }
        lines.push(`saving VM state and RAM using storage '${snap.get("vmstate")?.split(":")[0]}'`);
      } else if (running && parseAgent(vm.config.get("agent")).enabled) {
        lines.push("issuing guest-agent 'fs-freeze' command");
      }
      for (const [k, file] of diskDrives(snap)) {
        const vol = c.store.get(vm.node, file);
        if (!vol) continue;
        lines.push(`snapshotting 'drive-${k}' (${file})`);
        vol.snapshots = [...(vol.snapshots ?? []), { name, size: vol.size, dataId: vol.dataId }];
      }
      if (running && !snap.has("vmstate") && parseAgent(vm.config.get("agent")).enabled)
        lines.push("issuing guest-agent 'fs-thaw' command");
      snap.delete("snapstate");
      vm.config.delete("lock");
      vm.config.set("parent", name);
      return lines;
    },
    onFail: cleanup,
  });
}

const noop = (): void => undefined;

/** GET /nodes/{node}/qemu/{vmid}/snapshot: every snapshot, then `current`. */
export function listSnapshots(c: PveCluster, node: string, vmid: number): object[] {
  const vm = c.vmOn(node, vmid);
  const out: object[] = [...snapshotsOf(vm)].map(([name, snap]) => ({
    name,
    snaptime: Number(snap.get("snaptime") ?? 0),
    vmstate: snap.has("vmstate") ? 1 : 0,
    description: snap.get("description") ?? "",
    ...(snap.has("parent") ? { parent: snap.get("parent") } : {}),
    ...(snap.has("snapstate") ? { snapstate: snap.get("snapstate") } : {}),
  }));
  out.push({
    name: "current",
    digest: c.digest(vm),
    running: vm.status === "running" ? 1 : 0,
    description: "You are here!",
    ...(vm.config.has("parent") ? { parent: vm.config.get("parent") } : {}),
  });
  return out;
}

/** A snapshot section as JSON, typed like GET config (`snaptime` an integer). */
export function snapshotJson(vm: Vm, name: string): Record<string, unknown> {
  const snap = snapshotsOf(vm).get(name);
  if (!snap) throw fail(`snapshot '${name}' does not exist`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of snap) {
    out[k] =
      BOOL_KEYS.has(k) || INT_KEYS.has(k) || NUMBER_KEYS.has(k) || k === "snaptime" ? Number(v) : v;
  }
  return out;
}

/** PUT .../snapshot/{snapname}/config: the description only. */
export function updateSnapshotConfig(
  c: PveCluster,
  node: string,
  vmid: number,
  name: string,
  params: Params,
): null {
  const vm = c.vmOn(node, vmid);
  if (params.description === undefined) return null;
  c.assertUnlocked(vm);
  const snap = snapshotsOf(vm).get(name);
  if (!snap) throw fail(`snapshot '${name}' does not exist`);
  snap.set("description", params.description);
  return null;
}

/** DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}: a `qmdelsnapshot` task. */
export function deleteSnapshot(c: PveCluster, node: string, vmid: number, name: string): string {
  const vm = c.vmOn(node, vmid);
  const snap = snapshotsOf(vm).get(name);
  const lock = vm.config.get("lock");
  const refused = !snap
    ? `snapshot '${name}' does not exist`
    : lock
      ? `VM is locked (${lock})`
      : undefined;
  if (refused !== undefined || !snap)
    return c.runner.start({
      node,
      type: "qmdelsnapshot",
      id: vmid,
      forceFail: refused,
      work: noop,
    });
  vm.config.set("lock", "snapshot-delete");
  if (c.isTemplate(vm)) {
    // pve-guest-common dies after taking the lock, and leaves it.
    return c.runner.start({
      node,
      type: "qmdelsnapshot",
      id: vmid,
      forceFail: "you can't delete a snapshot if vm is a template",
      work: noop,
    });
  }
  // `force` only matters when a storage fails to delete a snapshot, which none here does.
  snap.set("snapstate", "delete");
  return c.runner.start({
    node,
    type: "qmdelsnapshot",
    id: vmid,
    work: () => {
      dropSnapshot(c, vm, name);
      vm.config.delete("lock");
    },
    onFail: () => {
      snap.delete("snapstate");
      vm.config.delete("lock");
    },
  });
}

/**
 * POST .../snapshot/{snapname}/rollback: a `qmrollback` task. A running VM is stopped
 * first (qemu-server stops it, it does not refuse); `start=1`, or a snapshot with RAM
 * state, starts it again. The config becomes the snapshot's (keeping `description` and
 * `unused*`, disks added since then becoming `unusedN`) with a new `vmgenid`, `parent` the
 * snapshot; each volume gets its size of then back.
 */
export function rollback(
  c: PveCluster,
  node: string,
  vmid: number,
  name: string,
  params: Params,
): string {
  const vm = c.vmOn(node, vmid);
  const snap = snapshotsOf(vm).get(name);
  const volumes = snap ? diskDrives(snap).map(([, file]) => file) : [];
  const refused = ((): string | undefined => {
    if (c.isTemplate(vm)) return "you can't rollback if vm is a template";
    if (!snap) return `snapshot '${name}' does not exist`;
    for (const volid of volumes) {
      const vol = c.store.get(vm.node, volid);
      const list = vol?.snapshots ?? [];
      const at = list.findIndex((s) => s.name === name);
      if (at < 0) return `can't rollback, snapshot '${name}' does not exist on '${volid}'`;
      const def = c.storages.get(vol?.storage ?? "");
      if (def?.type === "zfspool" && at < list.length - 1)
        return `can't rollback, '${name}' is not most recent snapshot on '${volid}'`;
    }
    if (snap.has("snapstate"))
      return `unable to rollback to incomplete snapshot (snapstate = ${snap.get("snapstate")})`;
    const lock = vm.config.get("lock");
    if (lock) return `VM is locked (${lock})`;
    return undefined;
  })();
  if (refused !== undefined || !snap)
    return c.runner.start({ node, type: "qmrollback", id: vmid, forceFail: refused, work: noop });

  const log: string[] = [];
  if (vm.status === "running") {
    powerOff(vm);
    log.push(`stopping VM ${vmid} (timeout = 5 seconds)`);
  }
  vm.config.set("lock", "rollback");
  const start = isTrue(params.start) || snap.has("vmstate");
  return c.runner.start({
    node,
    type: "qmrollback",
    id: vmid,
    log,
    work: () => {
      for (const volid of volumes) {
        const vol = c.store.get(vm.node, volid);
        const taken = vol?.snapshots?.find((s) => s.name === name);
        if (vol && taken) {
          vol.size = taken.size;
          vol.dataId = taken.dataId;
        }
      }
      applySnapshot(vm, name, snap);
      if (start && vm.status !== "running") return powerOn(c, vm);
      return undefined;
    },
    onFail: () => vm.config.delete("lock"),
  });
}

/** `__snapshot_apply_config` and the rollback hook: the current config becomes the snapshot's. */
function applySnapshot(vm: Vm, name: string, snap: ReadonlyMap<string, string>): void {
  const inSnapshot = new Set(diskDrives(snap).map(([, file]) => file));
  const unused = diskDrives(vm.config)
    .map(([, file]) => file)
    .filter((file) => !inSnapshot.has(file));
  const kept = [...vm.config].filter(([k]) => UNUSED_KEY.test(k) || k === "description");
  vm.config.clear();
  for (const [k, v] of kept) vm.config.set(k, v);
  for (const volid of unused) vm.config.set(nextUnusedKey(vm), volid);
  for (const [k, v] of snap) if (!NOT_COPIED.has(k) && !UNUSED_KEY.test(k)) vm.config.set(k, v);
  vm.config.set("parent", name);
  // The guest is told it is another generation (qemu-server's rollback hook).
  if (vm.config.has("vmgenid")) vm.config.set("vmgenid", randomUUID());
}

/**
 * The guest of each running VM in `vms` (VM IDs or names) writes to its disks, as a
 * Kubespray playbook does to a node's: each disk's volume gets new content (a new
 * `dataId`), which its snapshots do not share. A test hook (`POST /_double/guest-writes`),
 * not an API call. Returns the volumes written, as `node/volid`; a stopped VM writes nothing.
 */
export function guestWrites(c: PveCluster, vms: readonly (string | number)[]): string[] {
  const written: string[] = [];
  for (const vm of c.vms.values()) {
    const named = vms.some(
      (v) => v === vm.vmid || String(v) === String(vm.vmid) || v === vm.config.get("name"),
    );
    if (!named || vm.status !== "running") continue;
    for (const [, file] of diskDrives(vm.config)) {
      const vol = c.store.get(vm.node, file);
      if (!vol || vol.content !== "images" || /cloudinit/.test(vol.name)) continue;
      vol.dataId = randomUUID();
      written.push(`${vm.node}/${file}`);
    }
  }
  return written;
}

/** Whether a volume of `vm` has snapshots (`is_volume_in_use` for snapshots only). */
export function volumeHasSnapshots(vm: Vm, volid: string): boolean {
  return [...snapshotsOf(vm).values()].some((snap) =>
    diskDrives(snap).some(([, file]) => file === volid),
  );
}

/**
 * qemu-server's migration scan: a local volume with snapshots migrates only on ZFS or as
 * qcow2 (the snapshots are inside the file); undefined when nothing blocks.
 */
export function migrationBlocker(c: PveCluster, vm: Vm): string | undefined {
  for (const [k, v] of vm.config) {
    if (!DRIVE_KEY.test(k) && !UNUSED_KEY.test(k)) continue;
    const vol = c.store.get(vm.node, parseDrive(v).get("file") ?? "");
    if (!vol || vol.scope === "*" || (vol.snapshots?.length ?? 0) === 0) continue;
    const def = c.storages.get(vol.storage);
    if (def?.type === "zfspool" || vol.format === "qcow2") continue;
    return "non-migratable snapshot exists";
  }
  return undefined;
}

/** The VM's snapshots as plain objects (tests, `/_double/state`). */
export function snapshotViews(vm: Vm): Record<string, Record<string, string>> {
  return Object.fromEntries(
    [...(vm.snapshots ?? new Map<string, Map<string, string>>())].map(([n, s]) => [
      n,
      Object.fromEntries(s),
    ]),
  );
}
