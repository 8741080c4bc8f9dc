/**
 * The in-memory Proxmox VE cluster behind the double: nodes, storages and their volumes,
 * VMs with their qemu-server config, worker tasks with UPIDs, pools, DHCP leases and PCI
 * mappings. Every operation validates and fails the way qemu-server does (same status
 * codes, same kinds of messages) and long operations run as tasks that finish later.
 *
 * This class holds the state, the lookups every operation shares, seeding and persistence;
 * the operations live in a module per concern and are reached through its methods.
 */
import { randomUUID } from "node:crypto";

import {
  formatSize,
  parseDrive,
  parseNet,
  parseSize,
  printDrive,
  printNet,
  randomMac,
} from "../property-string";
import { SeedError } from "../seed";
import type { Seed, SeedNode, SeedPciMapping, SeedStorage } from "../seed";

import * as agent from "./agent";
import { DRIVE_KEY, NET_KEY, UNUSED_KEY, isConfigKey, vmidArg } from "./config-keys";
import * as disks from "./disks";
import { fail, paramError } from "./errors";
import { HaState } from "./ha";
import * as lifecycle from "./lifecycle";
import * as migration from "./migration";
import * as power from "./power";
import * as snapshots from "./snapshots";
import * as storageContent from "./storage-content";
import { TaskRunner } from "./tasks";
import type { Faults, Params, PersistedCluster, Task, Timing, Vm, VmView, Volume } from "./types";
import * as vmConfig from "./vm-config";
import { VolumeStore } from "./volumes";

export class PveCluster {
  readonly nodes: ReadonlyMap<string, SeedNode>;
  readonly storages: ReadonlyMap<string, SeedStorage>;
  readonly pciMappings: ReadonlyMap<string, SeedPciMapping>;
  readonly vms = new Map<number, Vm>();
  readonly store: VolumeStore;
  readonly runner: TaskRunner;
  readonly pools = new Map<string, { comment?: string; members: Set<number> }>();
  /** DHCP leases by MAC (upper case). */
  readonly leases = new Map<string, string>();
  /** HA resources, rules and the HA manager (`ha.ts`). */
  readonly ha: HaState;
  faults: Faults;
  private cloneCount = 0;
  private readonly bootTime = Math.floor(Date.now() / 1000) - 86_400;

  constructor(
    readonly seed: Seed,
    readonly timing: Timing,
    faults: Faults,
    /** The authenticated user (`root@pam!double`), written into UPIDs. */
    readonly user: string,
  ) {
    this.faults = faults;
    this.runner = new TaskRunner(timing, () => this.faults, user);
    this.nodes = new Map(seed.nodes.map((n) => [n.name, n]));
    this.storages = new Map(seed.storages.map((s) => [s.id, s]));
    this.store = new VolumeStore(this.storages);
    this.pciMappings = new Map(seed.pciMappings.map((m) => [m.id, m]));
    this.ha = new HaState(seed.haManagerActive, [...this.nodes.keys()]);
    for (const p of seed.pools) this.pools.set(p.id, { comment: p.comment, members: new Set() });
    for (const v of seed.vms) {
      try {
        this.seedVm(v);
      } catch (e) {
        throw new SeedError(`vms.${v.vmid}.config: ${(e as Error).message}`);
      }
    }
  }

  /** Volumes by `scope/storage:name`. */
  get volumes(): Map<string, Volume> {
    return this.store.all;
  }

  /** Tasks by UPID. */
  get tasks(): Map<string, Task> {
    return this.runner.tasks;
  }

  /** Cancels pending task completions (the double is shutting down). */
  dispose(): void {
    this.runner.dispose();
  }

  /**
   * What survives a restart of the double, as JSON: the VMs with their configs (a lock of
   * a task cut off stays, as on a rebooted Proxmox host), the volumes, pools and leases.
   * Tasks do not survive.
   */
  snapshot(): PersistedCluster {
    return {
      vms: [...this.vms.values()].map((v) => ({
        vmid: v.vmid,
        node: v.node,
        status: v.status,
        config: [...v.config],
        snapshots: [...(v.snapshots ?? [])].map(([name, conf]) => [name, [...conf]]),
      })),
      volumes: [...this.volumes.entries()],
      pools: [...this.pools].map(([id, p]) => ({
        id,
        comment: p.comment,
        members: [...p.members],
      })),
      leases: [...this.leases],
      cloneCount: this.cloneCount,
      ha: this.ha.persist(),
    };
  }

  /** Replaces the seeded state with a snapshot; running VMs boot again. */
  restore(saved: PersistedCluster): void {
    this.vms.clear();
    for (const v of saved.vms) {
      const vm: Vm = { vmid: v.vmid, node: v.node, config: new Map(v.config), status: v.status };
      if (v.snapshots)
        vm.snapshots = new Map(v.snapshots.map(([name, conf]) => [name, new Map(conf)]));
      if (vm.status === "running") {
        vm.startedAt = Date.now();
        vm.agentReadyAt = Date.now() + this.timing.agentDelayMs;
        vm.pid = this.runner.nextPid();
      }
      this.vms.set(vm.vmid, vm);
    }
    this.volumes.clear();
    for (const [key, vol] of saved.volumes) this.volumes.set(key, vol);
    this.pools.clear();
    for (const p of saved.pools)
      this.pools.set(p.id, { comment: p.comment, members: new Set(p.members) });
    this.leases.clear();
    for (const [k, v] of saved.leases) this.leases.set(k, v);
    this.cloneCount = saved.cloneCount;
    this.ha.restore(saved.ha);
    if (this.ha.resources.size > 0) this.ha.schedule(this);
  }

  private seedVm(v: Seed["vms"][number]): void {
    const config = new Map<string, string>();
    for (const [k, raw] of Object.entries(v.config)) {
      if (!isConfigKey(k)) {
        throw new Error(`'${k}' is not a qemu-server config key`);
      }
      const value = typeof raw === "boolean" ? (raw ? "1" : "0") : String(raw);
      if (DRIVE_KEY.test(k) || UNUSED_KEY.test(k)) {
        const props = parseDrive(value);
        const file = props.get("file") ?? "";
        const m = /^([^:/]+):(.+)$/.exec(file);
        if (m && !(props.get("media") === "cdrom" && !/cloudinit/.test(m[2]))) {
          const def = this.store.storageOn(v.node, m[1]);
          const fallback = /cloudinit/.test(m[2]) ? 4 * 1024 ** 2 : 2 * 1024 ** 3;
          const size = props.has("size") ? parseSize(props.get("size") ?? "0") : fallback;
          this.volumes.set(this.store.keyOn(def, v.node, m[2]), {
            storage: def.id,
            scope: def.shared ? "*" : v.node,
            name: m[2],
            vmid: v.vmid,
            size,
            format: VolumeStore.formatOf(def, m[2]),
            content: "images",
            ctime: this.bootTime,
            dataId: randomUUID(),
          });
          props.set("size", formatSize(size));
        }
        config.set(k, printDrive(props));
      } else if (NET_KEY.test(k)) {
        const props = parseNet(value);
        if (!props.has("macaddr")) props.set("macaddr", randomMac());
        config.set(k, printNet(props));
      } else {
        config.set(k, value);
      }
    }
    if (!config.has("vmgenid")) config.set("vmgenid", randomUUID());
    if (!config.has("smbios1")) config.set("smbios1", `uuid=${randomUUID()}`);
    const vm: Vm = { vmid: v.vmid, node: v.node, config, status: v.status };
    if (v.status === "running") {
      vm.startedAt = Date.now() - 3_600_000;
      vm.agentReadyAt = vm.startedAt;
      vm.pid = this.runner.nextPid();
    }
    this.vms.set(v.vmid, vm);
  }

  // Lookups every operation shares.

  node(name: string): SeedNode {
    const n = this.nodes.get(name);
    if (!n) {
      throw fail(
        `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`,
      );
    }
    return n;
  }

  /** The VM `vmid` as seen from node `node` (its config lives under that node). */
  vmOn(node: string, vmid: number): Vm {
    this.node(node);
    const vm = this.vms.get(vmid);
    if (!vm || vm.node !== node) {
      throw fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    }
    return vm;
  }

  storageOn(node: string, id: string): SeedStorage {
    return this.store.storageOn(node, id);
  }

  volume(node: string, volid: string): Volume | undefined {
    return this.store.get(node, volid);
  }

  isTemplate(vm: Vm): boolean {
    return vm.config.get("template") === "1";
  }

  assertUnlocked(vm: Vm, skiplock = false): void {
    const lock = vm.config.get("lock");
    if (lock && !skiplock) throw fail(`VM is locked (${lock})`);
  }

  /** The ordinal of a new clone request (1-based, since start), for `faults.failClones`. */
  countClone(): number {
    return ++this.cloneCount;
  }

  task(node: string, upid: string): Task {
    this.node(node);
    const task = this.tasks.get(upid);
    if (!task || task.node !== node) throw fail(`no such task`);
    return task;
  }

  nextId(vmid?: string): string {
    if (vmid !== undefined && vmid !== "") {
      const id = vmidArg(vmid);
      if (this.vms.has(id)) throw paramError({ vmid: `VM ${id} already exists` });
      return String(id);
    }
    let id = this.seed.nextIdLower;
    while (this.vms.has(id)) id++;
    return String(id);
  }

  /** The guests of running VMs write to their disks (`snapshots.guestWrites`). */
  guestWrites(vms: readonly (string | number)[]): string[] {
    return snapshots.guestWrites(this, vms);
  }

  vmView(vm: Vm): VmView {
    return {
      vmid: vm.vmid,
      node: vm.node,
      status: vm.status,
      lock: vm.config.get("lock"),
      config: Object.fromEntries(vm.config),
      snapshots: snapshots.snapshotViews(vm),
    };
  }

  // Operations, one module per concern.

  digest(vm: Vm): string {
    return vmConfig.digest(vm);
  }
  configJson(vm: Vm): Record<string, string | number> {
    return vmConfig.configJson(vm);
  }
  updateConfig(node: string, vmid: number, params: Params, async: boolean): string | null {
    return vmConfig.updateConfig(this, node, vmid, params, async);
  }
  createVm(node: string, params: Params): string {
    return lifecycle.createVm(this, node, params);
  }
  clone(node: string, vmid: number, params: Params): string {
    return lifecycle.clone(this, node, vmid, params);
  }
  convertToTemplate(node: string, vmid: number): string {
    return lifecycle.convertToTemplate(this, node, vmid);
  }
  destroy(node: string, vmid: number, params: Params): string {
    return lifecycle.destroy(this, node, vmid, params);
  }
  resize(node: string, vmid: number, params: Params): string {
    return disks.resize(this, node, vmid, params);
  }
  moveDisk(node: string, vmid: number, params: Params): string {
    return disks.moveDisk(this, node, vmid, params);
  }
  start(node: string, vmid: number, params: Params): string {
    return power.start(this, node, vmid, params);
  }
  stop(node: string, vmid: number, params: Params): string {
    return power.stop(this, node, vmid, params);
  }
  shutdown(node: string, vmid: number, params: Params): string {
    return power.shutdown(this, node, vmid, params);
  }
  reboot(node: string, vmid: number): string {
    return power.reboot(this, node, vmid);
  }
  statusCurrent(node: string, vmid: number): Record<string, unknown> {
    return power.statusCurrent(this, node, vmid);
  }
  migrate(node: string, vmid: number, params: Params): string {
    return migration.migrate(this, node, vmid, params);
  }
  agentPing(node: string, vmid: number): Record<string, unknown> {
    return agent.agentPing(this, node, vmid);
  }
  agentInterfaces(node: string, vmid: number): Record<string, unknown> {
    return agent.agentInterfaces(this, node, vmid);
  }
  queryUrlMetadata(node: string, params: Params): Promise<Record<string, unknown>> {
    return storageContent.queryUrlMetadata(this, node, params);
  }
  downloadUrl(node: string, storage: string, params: Params): string {
    return storageContent.downloadUrl(this, node, storage, params);
  }
  deleteVolume(
    node: string,
    storage: string | undefined,
    volume: string,
    delay?: number,
  ): Promise<string | null> {
    return storageContent.deleteVolume(this, node, storage, volume, delay);
  }
  createSnapshot(node: string, vmid: number, params: Params): string {
    return snapshots.createSnapshot(this, node, vmid, params);
  }
  listSnapshots(node: string, vmid: number): object[] {
    return snapshots.listSnapshots(this, node, vmid);
  }
  snapshotConfig(node: string, vmid: number, name: string): Record<string, unknown> {
    return snapshots.snapshotJson(this.vmOn(node, vmid), name);
  }
  updateSnapshotConfig(node: string, vmid: number, name: string, params: Params): null {
    return snapshots.updateSnapshotConfig(this, node, vmid, name, params);
  }
  deleteSnapshot(node: string, vmid: number, name: string): string {
    return snapshots.deleteSnapshot(this, node, vmid, name);
  }
  rollback(node: string, vmid: number, name: string, params: Params): string {
    return snapshots.rollback(this, node, vmid, name, params);
  }
  stopTask(node: string, upid: string): void {
    this.runner.stop(this.task(node, upid));
  }
  storageContent(node: string, storage: string): Array<Record<string, unknown>> {
    return this.store.content(node, storage);
  }
  volumeInfo(node: string, storage: string, volid: string): Record<string, unknown> {
    return this.store.info(node, storage, volid);
  }
  storageStatus(node: string, storage: string): Record<string, unknown> {
    return this.store.status(node, storage);
  }
  storagesOf(node: string): Array<Record<string, unknown>> {
    return this.store.storagesOf(node);
  }
}
