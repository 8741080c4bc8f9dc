/**
 * The in-memory Proxmox VE cluster behind the double: nodes, storages and their volumes,
 * VMs with their qemu-server config, worker tasks with UPIDs, pools, DHCP leases and PCI
 * mappings. Every operation validates and fails the way qemu-server does (same status
 * codes, same kinds of messages) and long operations run as tasks that finish later.
 */
import { createHash, randomUUID } from "node:crypto";

import {
  formatSize,
  linkLocalOf,
  parseDrive,
  parseNet,
  parseProps,
  parseSize,
  printDrive,
  printNet,
  randomMac,
} from "./property-string";
import type { Props } from "./property-string";
import { SeedError } from "./seed";
import type { Seed, SeedNode, SeedPciMapping, SeedStorage } from "./seed";

/** An API error: HTTP status, the message PVE puts in the status line, per-parameter errors. */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = "PveError";
  }
}

const fail = (message: string): PveError => new PveError(500, message);
const paramError = (errors: Record<string, string>): PveError =>
  new PveError(400, "Parameter verification failed.", errors);

/** Request parameters (query string and form body merged), all strings like on the wire. */
export type Params = Record<string, string>;

/** Faults a test can inject; all can be changed while the double runs. */
export interface Faults {
  /** 1-based ordinals of clone requests (counted since start) whose clone task fails. */
  readonly failClones?: readonly number[];
  /** Task types (`qmclone`, `qmstart`, `resize`, `qmdestroy`...) whose tasks end in error. */
  readonly failTasks?: readonly string[];
  /** VM IDs whose guest agent never reports a routable address (`true`: every VM). */
  readonly agentNoAddress?: boolean | readonly number[];
}

export interface Timing {
  /** How long a clone task runs (the new VM is locked `clone` meanwhile). @default 300 */
  readonly cloneDurationMs: number;
  /** How long other tasks (start, stop, resize, destroy...) run. @default 100 */
  readonly taskDurationMs: number;
  /** How long after a VM starts its guest agent begins to answer. @default 1500 */
  readonly agentDelayMs: number;
}

export interface Task {
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  readonly user: string;
  readonly pid: number;
  readonly pstart: number;
  readonly starttime: number;
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
  readonly log: string[];
}

export interface Volume {
  readonly storage: string;
  /** Node name, or `*` for a shared storage. */
  readonly scope: string;
  name: string;
  readonly vmid: number;
  size: number;
  readonly format: string;
  readonly content: string;
  readonly ctime: number;
}

/** PveCluster.snapshot(): plain JSON. */
export interface PersistedCluster {
  readonly vms: {
    vmid: number;
    node: string;
    status: "running" | "stopped";
    config: [string, string][];
  }[];
  readonly volumes: [string, Volume][];
  readonly pools: { id: string; comment?: string; members: number[] }[];
  readonly leases: [string, string][];
  readonly cloneCount: number;
}

export interface Vm {
  readonly vmid: number;
  node: string;
  /** qemu-server config, values as in the .conf file (`lock` included). */
  readonly config: Map<string, string>;
  status: "running" | "stopped";
  startedAt?: number;
  agentReadyAt?: number;
  pid?: number;
}

/** A VM as tests and `/_double/state` see it. */
export interface VmView {
  readonly vmid: number;
  readonly node: string;
  readonly status: "running" | "stopped";
  readonly lock?: string;
  readonly config: Record<string, string>;
}

const DRIVE_KEY =
  /^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0)$/;
const DISK_BUS_KEY = /^(ide|sata|scsi|virtio)\d+$/;
const UNUSED_KEY = /^unused\d+$/;
const NET_KEY = /^net([0-9]|[12][0-9]|3[01])$/;
const IPCONFIG_KEY = /^ipconfig([0-9]|[12][0-9]|3[01])$/;
const HOSTPCI_KEY = /^hostpci([0-9]|1[0-5])$/;
const CONFIG_KEY_PATTERNS: readonly RegExp[] = [
  DRIVE_KEY,
  UNUSED_KEY,
  NET_KEY,
  IPCONFIG_KEY,
  HOSTPCI_KEY,
  /^numa[0-7]$/,
  /^serial[0-3]$/,
  /^parallel[0-2]$/,
  /^usb([0-9]|1[0-3])$/,
  /^virtiofs\d$/,
];
/** Options of `qm set` (qemu-server 8.x), besides the numbered devices above. */
const CONFIG_KEYS: ReadonlySet<string> = new Set([
  "acpi",
  "affinity",
  "agent",
  "amd-sev",
  "arch",
  "args",
  "audio0",
  "autostart",
  "balloon",
  "bios",
  "boot",
  "bootdisk",
  "cdrom",
  "cicustom",
  "cipassword",
  "citype",
  "ciupgrade",
  "ciuser",
  "cores",
  "cpu",
  "cpulimit",
  "cpuunits",
  "description",
  "freeze",
  "hookscript",
  "hotplug",
  "hugepages",
  "ivshmem",
  "keephugepages",
  "keyboard",
  "kvm",
  "localtime",
  "lock",
  "machine",
  "memory",
  "meta",
  "migrate_downtime",
  "migrate_speed",
  "name",
  "nameserver",
  "numa",
  "onboot",
  "ostype",
  "protection",
  "reboot",
  "rng0",
  "scsihw",
  "searchdomain",
  "shares",
  "smbios1",
  "smp",
  "sockets",
  "spice_enhancements",
  "sshkeys",
  "startdate",
  "startup",
  "tablet",
  "tags",
  "tdf",
  "template",
  "vcpus",
  "vga",
  "vmgenid",
  "vmstatestorage",
  "watchdog",
]);
/** Config keys returned as JSON numbers (booleans are 0/1, like PVE). */
const BOOL_KEYS: ReadonlySet<string> = new Set([
  "acpi",
  "autostart",
  "ciupgrade",
  "freeze",
  "keephugepages",
  "kvm",
  "localtime",
  "numa",
  "onboot",
  "protection",
  "reboot",
  "tablet",
  "tdf",
  "template",
]);
const INT_KEYS: ReadonlySet<string> = new Set([
  "balloon",
  "cores",
  "cpuunits",
  "migrate_speed",
  "shares",
  "sockets",
  "vcpus",
]);
const NUMBER_KEYS: ReadonlySet<string> = new Set(["cpulimit", "migrate_downtime"]);
/** Parameters of PUT/POST config that are not config keys. */
export const UPDATE_CONTROL_PARAMS: ReadonlySet<string> = new Set([
  "delete",
  "digest",
  "skiplock",
  "force",
  "revert",
  "background_delay",
]);
export const CREATE_CONTROL_PARAMS: ReadonlySet<string> = new Set([
  "vmid",
  "pool",
  "start",
  "storage",
  "unique",
  "archive",
  "force",
  "bwlimit",
  "live-restore",
]);
const BLOCK_STORAGES: ReadonlySet<string> = new Set(["lvmthin", "lvm", "zfspool", "rbd"]);
const DNS_NAME =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "on", "yes"].includes(v.toLowerCase());
}

function hex(n: number, width = 8): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export class PveCluster {
  readonly nodes: ReadonlyMap<string, SeedNode>;
  readonly storages: ReadonlyMap<string, SeedStorage>;
  readonly pciMappings: ReadonlyMap<string, SeedPciMapping>;
  readonly vms = new Map<number, Vm>();
  readonly volumes = new Map<string, Volume>();
  readonly tasks = new Map<string, Task>();
  readonly pools = new Map<string, { comment?: string; members: Set<number> }>();
  /** DHCP leases by MAC (upper case). */
  readonly leases = new Map<string, string>();
  faults: Faults;
  private cloneCount = 0;
  private nextPid = 4000;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly bootTime = Math.floor(Date.now() / 1000) - 86_400;

  constructor(
    readonly seed: Seed,
    readonly timing: Timing,
    faults: Faults,
    /** The authenticated user (`root@pam!double`), written into UPIDs. */
    readonly user: string,
  ) {
    this.faults = faults;
    this.nodes = new Map(seed.nodes.map((n) => [n.name, n]));
    this.storages = new Map(seed.storages.map((s) => [s.id, s]));
    this.pciMappings = new Map(seed.pciMappings.map((m) => [m.id, m]));
    for (const p of seed.pools) this.pools.set(p.id, { comment: p.comment, members: new Set() });
    for (const v of seed.vms) {
      try {
        this.seedVm(v);
      } catch (e) {
        throw new SeedError(`vms.${v.vmid}.config: ${(e as Error).message}`);
      }
    }
  }

  /** Cancels pending task completions (the double is shutting down). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
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
      })),
      volumes: [...this.volumes.entries()],
      pools: [...this.pools].map(([id, p]) => ({
        id,
        comment: p.comment,
        members: [...p.members],
      })),
      leases: [...this.leases],
      cloneCount: this.cloneCount,
    };
  }

  /** Replaces the seeded state with a snapshot; running VMs boot again. */
  restore(saved: PersistedCluster): void {
    this.vms.clear();
    for (const v of saved.vms) {
      const vm: Vm = { vmid: v.vmid, node: v.node, config: new Map(v.config), status: v.status };
      if (vm.status === "running") {
        vm.startedAt = Date.now();
        vm.agentReadyAt = Date.now() + this.timing.agentDelayMs;
        vm.pid = this.nextPid++;
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
  }

  // ---------------------------------------------------------------------------
  // Seeding
  // ---------------------------------------------------------------------------

  private seedVm(v: Seed["vms"][number]): void {
    const config = new Map<string, string>();
    for (const [k, raw] of Object.entries(v.config)) {
      if (!CONFIG_KEYS.has(k) && !CONFIG_KEY_PATTERNS.some((p) => p.test(k))) {
        throw new Error(`'${k}' is not a qemu-server config key`);
      }
      const value = typeof raw === "boolean" ? (raw ? "1" : "0") : String(raw);
      if (DRIVE_KEY.test(k) || UNUSED_KEY.test(k)) {
        const props = parseDrive(value);
        const file = props.get("file") ?? "";
        const m = /^([^:/]+):(.+)$/.exec(file);
        if (m && !(props.get("media") === "cdrom" && !/cloudinit/.test(m[2]))) {
          const def = this.storageOn(v.node, m[1]);
          const fallback = /cloudinit/.test(m[2]) ? 4 * 1024 ** 2 : 2 * 1024 ** 3;
          const size = props.has("size") ? parseSize(props.get("size") ?? "0") : fallback;
          this.volumes.set(this.volumeKey(def, v.node, m[2]), {
            storage: def.id,
            scope: def.shared ? "*" : v.node,
            name: m[2],
            vmid: v.vmid,
            size,
            format: this.formatOf(def, m[2]),
            content: "images",
            ctime: this.bootTime,
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
      vm.pid = this.nextPid++;
    }
    this.vms.set(v.vmid, vm);
  }

  // ---------------------------------------------------------------------------
  // Lookups
  // ---------------------------------------------------------------------------

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
    const def = this.storages.get(id);
    if (!def || (def.nodes !== undefined && !def.nodes.includes(node))) {
      throw fail(`storage '${id}' does not exist on node '${node}'`);
    }
    return def;
  }

  /** Volumes are keyed by where they live: a node, or `*` for a shared storage. */
  private static key(scope: string, storage: string, name: string): string {
    return `${scope}/${storage}:${name}`;
  }

  private volumeKey(def: SeedStorage, node: string, name: string): string {
    return PveCluster.key(def.shared ? "*" : node, def.id, name);
  }

  /** Stores a volume under its (possibly new) name. */
  private putVolume(vol: Volume): void {
    this.volumes.set(PveCluster.key(vol.scope, vol.storage, vol.name), vol);
  }

  volume(node: string, volid: string): Volume | undefined {
    const m = /^([^:]+):(.+)$/.exec(volid);
    if (!m) return undefined;
    const def = this.storages.get(m[1]);
    if (!def) return undefined;
    return this.volumes.get(this.volumeKey(def, node, m[2]));
  }

  private formatOf(def: SeedStorage, name: string): string {
    if (BLOCK_STORAGES.has(def.type)) return "raw";
    const ext = /\.(raw|qcow2|vmdk)$/.exec(name);
    return ext ? ext[1] : "raw";
  }

  private static vmidArg(value: string | undefined, key = "vmid"): number {
    const n = Number(value);
    if (value === undefined || value === "") {
      throw paramError({ [key]: "property is missing and it is not optional" });
    }
    if (!Number.isInteger(n) || n < 100 || n > 999_999_999) {
      throw paramError({ [key]: `invalid format - value does not look like a valid VM ID` });
    }
    return n;
  }

  isTemplate(vm: Vm): boolean {
    return vm.config.get("template") === "1";
  }

  private assertUnlocked(vm: Vm, skiplock = false): void {
    const lock = vm.config.get("lock");
    if (lock && !skiplock) throw fail(`VM is locked (${lock})`);
  }

  // ---------------------------------------------------------------------------
  // Tasks
  // ---------------------------------------------------------------------------

  private schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /**
   * Starts a worker task. After `durationMs` it runs `work` (its lines go to the task log)
   * and ends `OK`, `WARNINGS: n`, or with the error `work` throws. A task whose type is
   * in `faults.failTasks`, or that is forced to fail, runs `onFail` instead.
   */
  startTask(opts: {
    node: string;
    type: string;
    id: string | number;
    durationMs?: number;
    log?: string[];
    work: () => string[] | void;
    onFail?: (error: string) => void;
    forceFail?: string;
  }): string {
    const now = Math.floor(Date.now() / 1000);
    const pid = this.nextPid++;
    const pstart = Math.floor(process.uptime() * 100) + 1_000_000;
    const id = String(opts.id);
    const upid = `UPID:${opts.node}:${hex(pid)}:${hex(pstart)}:${hex(now)}:${opts.type}:${id}:${this.user}:`;
    const task: Task = {
      upid,
      node: opts.node,
      type: opts.type,
      id,
      user: this.user,
      pid,
      pstart,
      starttime: now,
      status: "running",
      log: [...(opts.log ?? [])],
    };
    this.tasks.set(upid, task);
    const injected =
      opts.forceFail ??
      (this.faults.failTasks?.includes(opts.type)
        ? `${opts.type} failed: injected fault (proxmox-double failTasks)`
        : undefined);
    this.schedule(opts.durationMs ?? this.timing.taskDurationMs, () => {
      let error = injected;
      if (error === undefined) {
        try {
          task.log.push(...(opts.work() ?? []));
        } catch (e) {
          error = (e as Error).message;
        }
      } else {
        opts.onFail?.(error);
      }
      task.status = "stopped";
      task.endtime = Math.floor(Date.now() / 1000);
      if (error !== undefined) {
        task.log.push(`TASK ERROR: ${error}`);
        task.exitstatus = error;
        return;
      }
      const warnings = task.log.filter((l) => l.startsWith("WARN:")).length;
      if (warnings > 0) {
        task.log.push(`TASK WARNINGS: ${warnings}`);
        task.exitstatus = `WARNINGS: ${warnings}`;
      } else {
        task.log.push("TASK OK");
        task.exitstatus = "OK";
      }
    });
    return upid;
  }

  task(node: string, upid: string): Task {
    this.node(node);
    const task = this.tasks.get(upid);
    if (!task || task.node !== node) throw fail(`no such task`);
    return task;
  }

  // ---------------------------------------------------------------------------
  // Cluster-wide
  // ---------------------------------------------------------------------------

  nextId(vmid?: string): string {
    if (vmid !== undefined && vmid !== "") {
      const id = PveCluster.vmidArg(vmid);
      if (this.vms.has(id)) throw paramError({ vmid: `VM ${id} already exists` });
      return String(id);
    }
    let id = this.seed.nextIdLower;
    while (this.vms.has(id)) id++;
    return String(id);
  }

  // ---------------------------------------------------------------------------
  // Volumes
  // ---------------------------------------------------------------------------

  private allocate(
    node: string,
    storage: string,
    vmid: number,
    kind: "disk" | "cloudinit",
    size: number,
    format?: string,
  ): Volume {
    const def = this.storageOn(node, storage);
    if (!def.content.includes("images")) {
      throw fail(`storage '${storage}' does not support vm images`);
    }
    const block = BLOCK_STORAGES.has(def.type);
    const fmt = block ? "raw" : (format ?? "qcow2");
    const scope = def.shared ? "*" : node;
    let name: string;
    if (kind === "cloudinit") {
      name = block ? `vm-${vmid}-cloudinit` : `${vmid}/vm-${vmid}-cloudinit.${fmt}`;
      if (this.volumes.has(PveCluster.key(scope, storage, name))) {
        throw fail(`volume '${storage}:${name}' already exists`);
      }
    } else {
      let n = 0;
      const taken = (i: number): boolean =>
        [`vm-${vmid}-disk-${i}`, `base-${vmid}-disk-${i}`].some((b) =>
          block
            ? this.volumes.has(PveCluster.key(scope, storage, b))
            : [...this.volumes.values()].some(
                (v) =>
                  v.scope === scope && v.storage === storage && v.name.startsWith(`${vmid}/${b}.`),
              ),
        );
      while (taken(n)) n++;
      name = block ? `vm-${vmid}-disk-${n}` : `${vmid}/vm-${vmid}-disk-${n}.${fmt}`;
    }
    const vol: Volume = {
      storage,
      scope,
      name,
      vmid,
      size,
      format: fmt,
      content: "images",
      ctime: Math.floor(Date.now() / 1000),
    };
    this.putVolume(vol);
    return vol;
  }

  /**
   * Why `size` more bytes do not fit on `storage` as seen from `node` (what `lvcreate` or
   * `qemu-img` would fail with), or undefined when they fit.
   */
  private noSpaceFor(node: string, storage: string, size: number): string | undefined {
    const status = this.storageStatus(node, storage);
    const avail = Number(status.avail);
    if (size <= avail) return undefined;
    return `unable to allocate ${formatSize(size)} on storage '${storage}' (node '${node}'): only ${formatSize(avail)} free`;
  }

  private freeVolume(vol: Volume): void {
    this.volumes.delete(PveCluster.key(vol.scope, vol.storage, vol.name));
  }

  private volid(vol: Volume): string {
    return `${vol.storage}:${vol.name}`;
  }

  private static efiSize(def: SeedStorage, efitype: string | undefined): number {
    if (def.type === "lvmthin" || def.type === "lvm" || def.type === "rbd") return 4 * 1024 ** 2;
    if (def.type === "zfspool") return 1024 ** 2;
    return efitype === "4m" ? 540_672 : 131_072;
  }

  /** Volumes the VM owns through its drives and unused entries (not ISOs). */
  private ownedVolumes(vm: Vm): Volume[] {
    const out: Volume[] = [];
    for (const [k, v] of vm.config) {
      if (!DRIVE_KEY.test(k) && !UNUSED_KEY.test(k)) continue;
      const vol = this.volume(vm.node, parseDrive(v).get("file") ?? "");
      if (vol && vol.vmid === vm.vmid) out.push(vol);
    }
    return out;
  }

  private nextUnusedKey(vm: Vm): string {
    let i = 0;
    while (vm.config.has(`unused${i}`)) i++;
    return `unused${i}`;
  }

  // ---------------------------------------------------------------------------
  // Config
  // ---------------------------------------------------------------------------

  digest(vm: Vm): string {
    const text = [...vm.config].map(([k, v]) => `${k}: ${v}`).join("\n");
    return createHash("sha1").update(text).digest("hex");
  }

  /** GET config: values typed like PVE's JSON (numbers for ints and booleans). */
  configJson(vm: Vm): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (const [k, v] of vm.config) {
      if (BOOL_KEYS.has(k) || INT_KEYS.has(k) || NUMBER_KEYS.has(k)) out[k] = Number(v);
      else out[k] = v;
    }
    out.digest = this.digest(vm);
    return out;
  }

  private static checkKnownKeys(params: Params, control: ReadonlySet<string>): void {
    const errors: Record<string, string> = {};
    for (const k of Object.keys(params)) {
      if (control.has(k) || CONFIG_KEYS.has(k) || CONFIG_KEY_PATTERNS.some((p) => p.test(k)))
        continue;
      errors[k] =
        "property is not defined in schema and the schema does not allow additional properties";
    }
    if (Object.keys(errors).length > 0) throw paramError(errors);
  }

  /** Type checks of plain options (the device options are checked where they are parsed). */
  private static checkValue(key: string, value: string): void {
    if (BOOL_KEYS.has(key) && !/^(0|1|true|false|on|off|yes|no)$/i.test(value)) {
      throw paramError({ [key]: `type check ('boolean') failed - got '${value}'` });
    }
    if (INT_KEYS.has(key) && !/^-?\d+$/.test(value)) {
      throw paramError({ [key]: `type check ('integer') failed - got '${value}'` });
    }
    if (NUMBER_KEYS.has(key) && !/^-?\d+(\.\d+)?$/.test(value)) {
      throw paramError({ [key]: `type check ('number') failed - got '${value}'` });
    }
    if (key === "memory" && !/^(current=)?\d+$/.test(value)) {
      throw paramError({ [key]: `value does not match the regex pattern` });
    }
    if (key === "name" && !DNS_NAME.test(value)) {
      throw paramError({ name: "invalid format - value does not look like a valid DNS name" });
    }
    if (key === "description" && value.length > 8192) {
      throw paramError({ description: "value may only be 8192 characters long" });
    }
  }

  private static normalizeBool(v: string): string {
    return isTrue(v) ? "1" : "0";
  }

  private static normalizeTags(value: string): string {
    // qemu-server lower-cases tags (case-insensitive tag style, the default).
    const tags = [
      ...new Set(
        value
          .toLowerCase()
          .split(/[;,\s]+/)
          .filter((t) => t !== ""),
      ),
    ];
    for (const t of tags) {
      if (!TAG.test(t)) throw paramError({ tags: `invalid format - invalid tag '${t}'` });
    }
    return tags.sort().join(";");
  }

  /** Removes a config key like `qm set --delete` does (disks become `unusedN`). */
  private deleteOption(vm: Vm, key: string): void {
    const current = vm.config.get(key);
    if (current === undefined) return; // PVE only warns: "cannot delete 'x' - not set in current configuration!"
    vm.config.delete(key);
    if (UNUSED_KEY.test(key)) {
      const vol = this.volume(vm.node, parseDrive(current).get("file") ?? "");
      if (vol) this.freeVolume(vol);
      return;
    }
    if (!DRIVE_KEY.test(key)) return;
    const props = parseDrive(current);
    const vol = this.volume(vm.node, props.get("file") ?? "");
    if (!vol || vol.vmid !== vm.vmid) return;
    if (/cloudinit/.test(vol.name) || key === "efidisk0" || key === "tpmstate0") {
      this.freeVolume(vol);
    } else {
      vm.config.set(this.nextUnusedKey(vm), this.volid(vol));
    }
  }

  /** Sets one config option, allocating volumes and normalizing like qemu-server. */
  private setOption(vm: Vm, key: string, value: string, user: string): void {
    PveCluster.checkValue(key, value);
    if (DRIVE_KEY.test(key)) {
      this.setDrive(vm, key, value);
    } else if (NET_KEY.test(key)) {
      this.setNet(vm, key, value);
    } else if (IPCONFIG_KEY.test(key)) {
      const props = parseProps(value);
      for (const k of props.keys()) {
        if (!["ip", "gw", "ip6", "gw6"].includes(k)) {
          throw paramError({
            [key]: `invalid format - format error ${key}.${k}: property is not defined in schema`,
          });
        }
      }
      const ip = props.get("ip");
      if (ip !== undefined && ip !== "dhcp" && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(ip)) {
        throw paramError({
          [key]: `invalid format - format error ${key}.ip: invalid format - value does not look like a valid CIDR network`,
        });
      }
      vm.config.set(key, value);
    } else if (HOSTPCI_KEY.test(key)) {
      const props = parseProps(value, "host");
      const mapping = props.get("mapping");
      if (mapping === undefined && props.get("host") === undefined) {
        throw paramError({ [key]: "either 'host' or 'mapping' must be set." });
      }
      if (mapping === undefined && user !== "root@pam") {
        throw fail(`only root can set '${key}' config for non-mapped devices`);
      }
      vm.config.set(key, value);
    } else if (key === "tags") {
      vm.config.set(key, PveCluster.normalizeTags(value));
    } else if (BOOL_KEYS.has(key)) {
      vm.config.set(key, PveCluster.normalizeBool(value));
    } else if (key === "arch" && user !== "root@pam") {
      throw fail("only root can set 'arch' config");
    } else {
      vm.config.set(key, value);
    }
  }

  private setNet(vm: Vm, key: string, value: string): void {
    const props = parseNet(value);
    if (!props.has("model"))
      throw paramError({ [key]: "invalid format - format error: missing model" });
    if (!props.has("macaddr")) {
      const old = vm.config.get(key);
      const oldMac = old ? parseNet(old).get("macaddr") : undefined;
      props.set("macaddr", oldMac ?? randomMac());
    }
    const tag = props.get("tag");
    if (tag !== undefined && !(Number(tag) >= 1 && Number(tag) <= 4094)) {
      throw paramError({
        [key]: `invalid format - format error ${key}.tag: value must have a minimum value of 1`,
      });
    }
    vm.config.set(key, printNet(props));
  }

  private setDrive(vm: Vm, key: string, value: string): void {
    const props = parseDrive(value);
    const file = props.get("file");
    if (file === undefined || file === "") {
      throw paramError({ [key]: "invalid format - missing 'file'" });
    }
    const previous = vm.config.get(key);
    const previousVol = previous
      ? this.volume(vm.node, parseDrive(previous).get("file") ?? "")
      : undefined;

    const cloudinit = /^([^:]+):cloudinit$/.exec(file);
    const alloc = /^([^:]+):(\d+(\.\d+)?)$/.exec(file);
    let vol: Volume | undefined;
    if (file === "none" || file === "cdrom") {
      props.set("media", "cdrom");
    } else if (cloudinit) {
      if (
        previousVol &&
        /cloudinit/.test(previousVol.name) &&
        previousVol.storage === cloudinit[1]
      ) {
        vol = previousVol;
      } else {
        vol = this.allocate(
          vm.node,
          cloudinit[1],
          vm.vmid,
          "cloudinit",
          4 * 1024 ** 2,
          props.get("format"),
        );
      }
      props.set("media", "cdrom");
      props.delete("format");
    } else if (alloc) {
      const def = this.storageOn(vm.node, alloc[1]);
      let size = Number(alloc[2]) * 1024 ** 3;
      const importFrom = props.get("import-from");
      if (importFrom !== undefined) {
        const src = this.volume(vm.node, importFrom);
        if (!src) throw fail(`volume '${importFrom}' does not exist`);
        size = src.size;
      } else if (key === "efidisk0") {
        size = PveCluster.efiSize(def, props.get("efitype"));
      } else if (key === "tpmstate0") {
        size = 4 * 1024 ** 2;
      } else if (size <= 0) {
        throw paramError({ [key]: "invalid format - size must be greater than 0" });
      }
      vol = this.allocate(vm.node, alloc[1], vm.vmid, "disk", size, props.get("format"));
      props.delete("format"); // qemu-server drops it once the volume exists
      props.delete("import-from");
    } else if (/^[^:/]+:/.test(file)) {
      vol = this.volume(vm.node, file);
      if (!vol) throw fail(`volume '${file}' does not exist`);
    }
    if (vol) {
      props.set("file", this.volid(vol));
      if (props.get("media") !== "cdrom" || /cloudinit/.test(vol.name))
        props.set("size", formatSize(vol.size));
    }
    if (previousVol && previousVol !== vol && previousVol.vmid === vm.vmid) {
      if (/cloudinit/.test(previousVol.name)) this.freeVolume(previousVol);
      else vm.config.set(this.nextUnusedKey(vm), this.volid(previousVol));
    }
    // A volume listed as unused that is attached again is no longer unused.
    if (vol) {
      for (const [k, v] of vm.config) {
        if (UNUSED_KEY.test(k) && v === this.volid(vol)) vm.config.delete(k);
      }
    }
    vm.config.set(key, printDrive(props));
  }

  /** PUT (sync) or POST (async, returns a UPID) /nodes/{node}/qemu/{vmid}/config. */
  updateConfig(node: string, vmid: number, params: Params, async: boolean): string | null {
    const vm = this.vmOn(node, vmid);
    PveCluster.checkKnownKeys(params, UPDATE_CONTROL_PARAMS);
    this.assertUnlocked(vm, isTrue(params.skiplock));
    if (params.digest && params.digest !== this.digest(vm)) {
      throw fail("detected modified configuration - file changed by other user? Try again.");
    }
    const deletes = (params.delete ?? "").split(/[,;\s]+/).filter((k) => k !== "");
    const setKeys = Object.keys(params).filter((k) => !UPDATE_CONTROL_PARAMS.has(k));
    for (const k of deletes) {
      if (setKeys.includes(k))
        throw paramError({ delete: `cannot set and delete '${k}' at the same time` });
      if (!CONFIG_KEYS.has(k) && !CONFIG_KEY_PATTERNS.some((p) => p.test(k))) {
        throw paramError({ delete: `invalid format - '${k}' is not a valid config key` });
      }
    }
    if (setKeys.length === 0 && deletes.length === 0) throw fail("no options specified");
    const apply = (): void => {
      for (const k of deletes) this.deleteOption(vm, k);
      for (const k of setKeys) this.setOption(vm, k, params[k], this.user);
    };
    if (!async) {
      apply();
      return null;
    }
    return this.startTask({ node, type: "qmconfig", id: vmid, work: apply });
  }

  // ---------------------------------------------------------------------------
  // Create / clone / template / destroy
  // ---------------------------------------------------------------------------

  createVm(node: string, params: Params): string {
    this.node(node);
    PveCluster.checkKnownKeys(params, CREATE_CONTROL_PARAMS);
    const vmid = PveCluster.vmidArg(params.vmid);
    if (params.archive !== undefined)
      throw new PveError(501, "proxmox-double: restore (archive) is not implemented");
    if (this.vms.has(vmid)) {
      throw fail(
        `unable to create VM ${vmid} - VM ${vmid} already exists on node '${this.vms.get(vmid)?.node}'`,
      );
    }
    if (params.pool !== undefined && !this.pools.has(params.pool))
      throw fail(`pool '${params.pool}' does not exist`);
    const vm: Vm = { vmid, node, config: new Map([["lock", "create"]]), status: "stopped" };
    this.vms.set(vmid, vm);
    try {
      for (const [k, v] of Object.entries(params)) {
        if (CREATE_CONTROL_PARAMS.has(k)) continue;
        this.setOption(vm, k, v, this.user);
      }
    } catch (e) {
      for (const vol of this.ownedVolumes(vm)) this.freeVolume(vol);
      this.vms.delete(vmid);
      throw e;
    }
    if (!vm.config.has("vmgenid")) vm.config.set("vmgenid", randomUUID());
    if (!vm.config.has("smbios1")) vm.config.set("smbios1", `uuid=${randomUUID()}`);
    vm.config.set("meta", `creation-qemu=9.2.0,ctime=${Math.floor(Date.now() / 1000)}`);
    if (params.pool !== undefined) this.pools.get(params.pool)?.members.add(vmid);
    const start = isTrue(params.start);
    const cleanup = (): void => {
      for (const vol of this.ownedVolumes(vm)) this.freeVolume(vol);
      this.removeVm(vm);
    };
    return this.startTask({
      node,
      type: "qmcreate",
      id: vmid,
      work: () => {
        vm.config.delete("lock");
        if (start) this.powerOn(vm);
      },
      onFail: cleanup,
    });
  }

  private removeVm(vm: Vm): void {
    this.vms.delete(vm.vmid);
    for (const p of this.pools.values()) p.members.delete(vm.vmid);
    for (const [k, v] of vm.config) {
      if (NET_KEY.test(k)) this.leases.delete((parseNet(v).get("macaddr") ?? "").toUpperCase());
    }
  }

  /**
   * POST clone, with qemu-server's checks in its order (`PVE/API2/Qemu.pm`, `clone_vm`):
   * target storage (shared when the target is another node), source lock, linked-clone
   * limits, local disks of a cross-node clone, the new ID; then a `qmclone` task.
   */
  clone(node: string, vmid: number, params: Params): string {
    const src = this.vmOn(node, vmid);
    const newid = PveCluster.vmidArg(params.newid, "newid");
    const target = params.target === undefined || params.target === node ? node : params.target;
    if (!this.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
    if (params.storage !== undefined) {
      const def = this.storageOn(target, params.storage);
      if (target !== node && !def.shared) {
        throw fail(`can't clone to non-shared storage '${params.storage}'`);
      }
    }
    this.assertUnlocked(src);
    const template = this.isTemplate(src);
    const full = params.full !== undefined ? isTrue(params.full) : !template;
    if (!full && params.storage !== undefined)
      throw fail("parameter 'storage' not allowed for linked clones");
    if (!full && params.format !== undefined)
      throw fail("parameter 'format' not allowed for linked clones");
    if (params.pool !== undefined && !this.pools.has(params.pool))
      throw fail(`pool '${params.pool}' does not exist`);

    const drives = [...src.config].filter(([k]) => DRIVE_KEY.test(k));
    for (const [k, v] of drives) {
      const props = parseDrive(v);
      const vol = this.volume(node, props.get("file") ?? "");
      if (!vol) continue;
      if (target !== node && vol.scope !== "*" && props.get("media") !== "cdrom")
        throw fail(`can't clone VM to node '${target}' (VM uses local storage)`);
      // Linked clones need a base volume (a template's) on a storage that can clone.
      if (!full && !/cloudinit/.test(vol.name) && (!template || !vol.name.includes("base-")))
        throw fail(`Linked clone feature is not supported for drive '${k}'`);
    }
    if (this.vms.has(newid)) throw fail(`unable to create VM ${newid}: config file already exists`);

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
    this.vms.set(newid, vm);
    if (params.pool !== undefined) this.pools.get(params.pool)?.members.add(newid);

    // Allocate the copies now (they show up in the storage while the clone runs).
    const log: string[] = [];
    const copied: string[] = [];
    const newDrives: Array<[string, Props]> = [];
    const allocated: Volume[] = [];
    let noSpace: string | undefined;
    try {
      for (const [k, v] of drives) {
        const props = parseDrive(v);
        const srcVol = this.volume(node, props.get("file") ?? "");
        if (!srcVol) {
          newDrives.push([k, props]); // cdrom / iso / passthrough: referenced as is
          continue;
        }
        const storage = full ? (params.storage ?? srcVol.storage) : srcVol.storage;
        let vol: Volume;
        if (/cloudinit/.test(srcVol.name)) {
          vol = this.allocate(target, storage, newid, "cloudinit", srcVol.size, params.format);
        } else if (full) {
          log.push(`create full clone of drive ${k} (${this.volid(srcVol)})`);
          noSpace ??= this.noSpaceFor(target, storage, srcVol.size);
          vol = this.allocate(
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
          log.push(`create linked clone of drive ${k} (${this.volid(srcVol)})`);
          vol = this.allocate(target, storage, newid, "disk", srcVol.size);
          this.freeVolume(vol);
          vol.name = `${srcVol.name}/${vol.name}`;
          this.putVolume(vol);
        }
        allocated.push(vol);
        props.set("file", this.volid(vol));
        props.set("size", formatSize(vol.size));
        newDrives.push([k, props]);
      }
    } catch (e) {
      for (const vol of allocated) this.freeVolume(vol);
      this.removeVm(vm);
      throw e;
    }

    this.cloneCount++;
    const ordinal = this.cloneCount;
    const forced = this.faults.failClones?.includes(ordinal)
      ? `clone failed: injected fault (proxmox-double failClones: clone #${ordinal})`
      : noSpace;
    return this.startTask({
      node,
      type: "qmclone",
      id: vmid,
      durationMs: this.timing.cloneDurationMs,
      log,
      forceFail: forced,
      work: () => {
        for (const [k, props] of newDrives) vm.config.set(k, printDrive(props));
        vm.config.delete("lock");
        return copied;
      },
      onFail: () => {
        // qemu-server removes what it allocated and the half-made config.
        for (const vol of allocated) this.freeVolume(vol);
        this.removeVm(vm);
      },
    });
  }

  convertToTemplate(node: string, vmid: number): string {
    const vm = this.vmOn(node, vmid);
    this.assertUnlocked(vm);
    if (vm.status === "running") throw fail("you can't convert a VM to template if VM is running");
    if (this.isTemplate(vm)) throw fail("you can't convert a template to a template");
    vm.config.set("lock", "template");
    return this.startTask({
      node,
      type: "qmtemplate",
      id: vmid,
      work: () => {
        for (const [k, v] of vm.config) {
          if (!DRIVE_KEY.test(k)) continue;
          const props = parseDrive(v);
          const vol = this.volume(vm.node, props.get("file") ?? "");
          if (!vol || /cloudinit/.test(vol.name) || vol.vmid !== vmid) continue;
          this.freeVolume(vol);
          vol.name = vol.name.replace(`vm-${vmid}-disk-`, `base-${vmid}-disk-`);
          this.putVolume(vol);
          props.set("file", this.volid(vol));
          vm.config.set(k, printDrive(props));
        }
        vm.config.set("template", "1");
        vm.config.delete("lock");
      },
      onFail: () => vm.config.delete("lock"),
    });
  }

  destroy(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    if (vm.config.get("protection") === "1")
      throw fail(`can't remove VM ${vmid} - protection mode enabled`);
    const unreferenced = isTrue(params["destroy-unreferenced-disks"]);
    const skiplock = isTrue(params.skiplock);
    return this.startTask({
      node,
      type: "qmdestroy",
      id: vmid,
      work: () => {
        // Checked in the worker, under the config lock, like qemu-server.
        this.assertUnlocked(vm, skiplock);
        if (vm.status === "running") throw new Error(`VM ${vmid} is running - destroy failed`);
        const lines: string[] = [];
        for (const vol of this.ownedVolumes(vm)) {
          lines.push(`  Logical volume "${vol.name}" successfully removed.`);
          this.freeVolume(vol);
        }
        if (unreferenced) {
          for (const [key, vol] of this.volumes) {
            if (vol.vmid === vmid && (vol.scope === "*" || vol.scope === vm.node)) {
              this.volumes.delete(key);
            }
          }
        }
        this.removeVm(vm);
        return lines;
      },
    });
  }

  // ---------------------------------------------------------------------------
  // Disks
  // ---------------------------------------------------------------------------

  resize(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    const disk = params.disk;
    if (disk === undefined)
      throw paramError({ disk: "property is missing and it is not optional" });
    if (params.size === undefined)
      throw paramError({ size: "property is missing and it is not optional" });
    const m = /^(\+)?(\d+(?:\.\d+)?[KMGT]?)$/i.exec(params.size);
    if (!m) throw paramError({ size: `value does not match the regex pattern` });
    const skiplock = isTrue(params.skiplock);
    // qemu-server checks all of this in the worker: the task fails, the request does not.
    return this.startTask({
      node,
      type: "resize",
      id: vmid,
      work: () => {
        this.assertUnlocked(vm, skiplock);
        const current = vm.config.get(disk);
        if (!DISK_BUS_KEY.test(disk) || current === undefined)
          throw new Error(`disk '${disk}' does not exist`);
        const props = parseDrive(current);
        const vol = this.volume(vm.node, props.get("file") ?? "");
        if (!vol || props.get("media") === "cdrom") throw new Error(`you can't resize a cdrom`);
        const delta = parseSize(m[2]);
        const newSize = m[1] ? vol.size + delta : delta;
        if (newSize < vol.size) throw new Error("shrinking disks is not supported");
        const noSpace = this.noSpaceFor(vm.node, vol.storage, newSize - vol.size);
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

  moveDisk(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    const disk = params.disk;
    const storage = params.storage;
    if (disk === undefined || storage === undefined) {
      throw paramError({
        [disk === undefined ? "disk" : "storage"]: "property is missing and it is not optional",
      });
    }
    this.assertUnlocked(vm);
    const current = vm.config.get(disk);
    if (current === undefined) throw fail(`disk '${disk}' does not exist`);
    const props = parseDrive(current);
    const vol = this.volume(vm.node, props.get("file") ?? "");
    if (!vol) throw fail(`disk '${disk}' has no volume to move`);
    const def = this.storageOn(vm.node, storage);
    const format = params.format ?? (BLOCK_STORAGES.has(def.type) ? "raw" : vol.format);
    if (vol.storage === storage && vol.format === format) {
      throw fail("you can't move to the same storage with same format");
    }
    vm.config.set("lock", "move");
    return this.startTask({
      node,
      type: "qmmove",
      id: vmid,
      work: () => {
        const copy = this.allocate(vm.node, storage, vmid, "disk", vol.size, format);
        props.set("file", this.volid(copy));
        vm.config.set(disk, printDrive(props));
        if (isTrue(params.delete)) this.freeVolume(vol);
        else vm.config.set(this.nextUnusedKey(vm), this.volid(vol));
        vm.config.delete("lock");
        return [`moving disk '${disk}' to '${this.volid(copy)}'`];
      },
      onFail: () => vm.config.delete("lock"),
    });
  }

  // ---------------------------------------------------------------------------
  // Power
  // ---------------------------------------------------------------------------

  /** Checks made when QEMU starts: bridges, PCI passthrough, EFI vars. Returns warnings. */
  private startChecks(vm: Vm): string[] {
    const node = this.node(vm.node);
    const warnings: string[] = [];
    const vcpus = Number(vm.config.get("cores") ?? 1) * Number(vm.config.get("sockets") ?? 1);
    if (vcpus > node.cpus) throw new Error(`MAX ${node.cpus} vcpus allowed per VM on this node`);
    for (const [k, v] of vm.config) {
      if (NET_KEY.test(k)) {
        const bridge = parseNet(v).get("bridge");
        if (bridge !== undefined && !node.bridges.includes(bridge)) {
          throw new Error(`bridge '${bridge}' does not exist`);
        }
      }
      if (HOSTPCI_KEY.test(k)) {
        const props = parseProps(v, "host");
        if (props.get("pcie") === "1" && !/q35/.test(vm.config.get("machine") ?? "")) {
          throw new Error("q35 machine model is not enabled");
        }
        const mapping = props.get("mapping");
        if (mapping !== undefined) {
          const entry = this.pciMappings.get(mapping)?.map.find((e) => e.node === vm.node);
          if (!entry) throw new Error(`PCI device mapping not found for '${mapping}'`);
          const holder = [...this.vms.values()].find(
            (o) =>
              o !== vm &&
              o.status === "running" &&
              o.node === vm.node &&
              [...o.config].some(
                ([ok, ov]) =>
                  HOSTPCI_KEY.test(ok) && parseProps(ov, "host").get("mapping") === mapping,
              ),
          );
          if (holder)
            throw new Error(`PCI device '${entry.path}' already in use by VMID '${holder.vmid}'`);
        }
      }
    }
    if (vm.config.get("bios") === "ovmf" && !vm.config.has("efidisk0")) {
      warnings.push("WARN: no efidisk configured! Using temporary efivars disk.");
    }
    return warnings;
  }

  private powerOn(vm: Vm): string[] {
    const warnings = this.startChecks(vm);
    vm.status = "running";
    vm.startedAt = Date.now();
    vm.agentReadyAt = vm.startedAt + this.timing.agentDelayMs;
    vm.pid = this.nextPid++;
    return warnings;
  }

  private powerOff(vm: Vm): void {
    vm.status = "stopped";
    vm.startedAt = undefined;
    vm.agentReadyAt = undefined;
    vm.pid = undefined;
  }

  start(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    const skiplock = isTrue(params.skiplock);
    // Everything is checked by vm_start in the worker: the task fails, the request does not.
    return this.startTask({
      node,
      type: "qmstart",
      id: vmid,
      work: () => {
        if (this.isTemplate(vm)) throw new Error("you can't start a vm if it's a template");
        this.assertUnlocked(vm, skiplock);
        if (vm.status === "running") throw new Error(`VM ${vmid} already running`);
        return this.powerOn(vm);
      },
    });
  }

  stop(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    this.assertUnlocked(vm, isTrue(params.skipLock ?? params.skiplock));
    return this.startTask({ node, type: "qmstop", id: vmid, work: () => this.powerOff(vm) });
  }

  shutdown(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    this.assertUnlocked(vm, isTrue(params.skipLock ?? params.skiplock));
    if (vm.status !== "running") throw fail(`VM ${vmid} not running`);
    return this.startTask({ node, type: "qmshutdown", id: vmid, work: () => this.powerOff(vm) });
  }

  reboot(node: string, vmid: number): string {
    const vm = this.vmOn(node, vmid);
    this.assertUnlocked(vm);
    if (vm.status !== "running") throw fail(`VM ${vmid} not running`);
    return this.startTask({
      node,
      type: "qmreboot",
      id: vmid,
      work: () => {
        this.powerOff(vm);
        return this.powerOn(vm);
      },
    });
  }

  statusCurrent(node: string, vmid: number): Record<string, unknown> {
    const vm = this.vmOn(node, vmid);
    const cfg = vm.config;
    const cores = Number(cfg.get("cores") ?? 1) * Number(cfg.get("sockets") ?? 1);
    const memMiB = Number((cfg.get("memory") ?? "512").replace("current=", ""));
    const running = vm.status === "running";
    const out: Record<string, unknown> = {
      vmid,
      name: cfg.get("name") ?? `VM ${vmid}`,
      status: vm.status,
      qmpstatus: vm.status,
      cpus: Number(cfg.get("vcpus") ?? cores),
      maxmem: memMiB * 1024 ** 2,
      mem: running ? Math.floor(memMiB * 1024 ** 2 * 0.3) : 0,
      maxdisk: this.bootDiskSize(vm),
      disk: 0,
      cpu: running ? 0.02 : 0,
      uptime: running && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
      ha: { managed: 0 },
    };
    if (running) {
      out.pid = vm.pid;
      out["running-machine"] = cfg.get("machine")?.includes("q35")
        ? "pc-q35-9.2+pve1"
        : "pc-i440fx-9.2+pve1";
      out["running-qemu"] = "9.2.0";
    }
    if (parseAgent(cfg.get("agent")).enabled) out.agent = 1;
    if (cfg.has("lock")) out.lock = cfg.get("lock");
    if (cfg.has("tags")) out.tags = cfg.get("tags");
    if (this.isTemplate(vm)) out.template = 1;
    return out;
  }

  private bootDiskSize(vm: Vm): number {
    const order = /order=([^,]+)/.exec(vm.config.get("boot") ?? "")?.[1]?.split(";") ?? [];
    const keys = [...order, ...[...vm.config.keys()].filter((k) => DISK_BUS_KEY.test(k))];
    for (const k of keys) {
      const v = vm.config.get(k);
      if (v === undefined || !DISK_BUS_KEY.test(k)) continue;
      const props = parseDrive(v);
      if (props.get("media") === "cdrom") continue;
      return props.has("size") ? parseSize(props.get("size") ?? "0") : 0;
    }
    return 0;
  }

  // ---------------------------------------------------------------------------
  // Migration
  // ---------------------------------------------------------------------------

  migrate(node: string, vmid: number, params: Params): string {
    const vm = this.vmOn(node, vmid);
    const target = params.target;
    if (target === undefined)
      throw paramError({ target: "property is missing and it is not optional" });
    if (target === node) throw paramError({ target: "target is local node." });
    if (!this.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
    this.assertUnlocked(vm);
    if (vm.status === "running" && !isTrue(params.online)) {
      throw fail("can't migrate running VM without --online");
    }
    const local: Array<[string, Props, Volume]> = [];
    for (const [k, v] of vm.config) {
      if (!DRIVE_KEY.test(k) && !UNUSED_KEY.test(k)) continue;
      const props = parseDrive(v);
      const vol = this.volume(node, props.get("file") ?? "");
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
      const def = this.storages.get(dest);
      if (!def || (def.nodes !== undefined && !def.nodes.includes(target)))
        throw fail(`storage '${dest}' is not available on node '${target}'`);
    }
    vm.config.set("lock", "migrate");
    return this.startTask({
      node,
      type: "qmigrate",
      id: vmid,
      work: () => {
        const lines: string[] = [`starting migration of VM ${vmid} to node '${target}'`];
        for (const [k, props, vol] of local) {
          const dest = targetStorage(vol.storage);
          this.freeVolume(vol);
          const def = this.storageOn(target, dest);
          const copy: Volume = { ...vol, storage: dest, scope: def.shared ? "*" : target };
          this.putVolume(copy);
          props.set("file", this.volid(copy));
          vm.config.set(k, UNUSED_KEY.test(k) ? this.volid(copy) : printDrive(props));
          lines.push(`copying local disk '${vol.storage}:${vol.name}' to '${this.volid(copy)}'`);
        }
        vm.node = target;
        vm.config.delete("lock");
        lines.push("migration finished successfully");
        return lines;
      },
      onFail: () => vm.config.delete("lock"),
    });
  }

  // ---------------------------------------------------------------------------
  // Guest agent
  // ---------------------------------------------------------------------------

  private agentReady(node: string, vmid: number): Vm {
    const vm = this.vmOn(node, vmid);
    if (!parseAgent(vm.config.get("agent")).enabled) throw fail("No QEMU guest agent configured");
    if (vm.status !== "running") throw fail(`VM ${vmid} is not running`);
    if (vm.agentReadyAt === undefined || Date.now() < vm.agentReadyAt) {
      throw fail("QEMU guest agent is not running");
    }
    return vm;
  }

  agentPing(node: string, vmid: number): Record<string, unknown> {
    this.agentReady(node, vmid);
    return { result: {} };
  }

  agentInterfaces(node: string, vmid: number): Record<string, unknown> {
    const vm = this.agentReady(node, vmid);
    const noAddress =
      this.faults.agentNoAddress === true ||
      (Array.isArray(this.faults.agentNoAddress) && this.faults.agentNoAddress.includes(vmid));
    const stats = {
      "rx-bytes": 0,
      "rx-dropped": 0,
      "rx-errs": 0,
      "rx-packets": 0,
      "tx-bytes": 0,
      "tx-dropped": 0,
      "tx-errs": 0,
      "tx-packets": 0,
    };
    const result: Array<Record<string, unknown>> = [
      {
        name: "lo",
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [
          { "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 },
          { "ip-address-type": "ipv6", "ip-address": "::1", prefix: 128 },
        ],
        statistics: stats,
      },
    ];
    const nets = [...vm.config.keys()]
      .filter((k) => NET_KEY.test(k))
      .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    for (const k of nets) {
      const idx = Number(k.slice(3));
      const net = parseNet(vm.config.get(k) ?? "");
      const mac = net.get("macaddr") ?? "";
      const addresses: Array<Record<string, unknown>> = [];
      if (net.get("link_down") !== "1") {
        const v4 = noAddress ? undefined : this.guestIpv4(vm, idx, net);
        if (v4)
          addresses.push({ "ip-address-type": "ipv4", "ip-address": v4.ip, prefix: v4.prefix });
        addresses.push({ "ip-address-type": "ipv6", "ip-address": linkLocalOf(mac), prefix: 64 });
      }
      result.push({
        name: `ens${18 + idx}`,
        "hardware-address": mac.toLowerCase(),
        "ip-addresses": addresses,
        statistics: stats,
      });
    }
    return { result };
  }

  /** The guest's IPv4 on NIC `idx`: cloud-init static config, else a DHCP lease. */
  private guestIpv4(vm: Vm, idx: number, net: Props): { ip: string; prefix: number } | undefined {
    const ipconfig = vm.config.get(`ipconfig${idx}`);
    const ip = ipconfig ? parseProps(ipconfig).get("ip") : undefined;
    if (ip !== undefined && ip !== "dhcp") {
      const [addr, prefix] = ip.split("/");
      return { ip: addr, prefix: Number(prefix) };
    }
    const mac = (net.get("macaddr") ?? "").toUpperCase();
    const pool = this.seed.dhcp.find((d) => d.bridge === net.get("bridge"));
    if (!pool) return undefined;
    let lease = this.leases.get(mac);
    if (lease === undefined) {
      const [first, last] = pool.range.split("-").map(ipToInt);
      const used = new Set(this.leases.values());
      for (let n = first; n <= last; n++) {
        if (!used.has(intToIp(n))) {
          lease = intToIp(n);
          break;
        }
      }
      if (lease === undefined) return undefined; // pool exhausted: no lease
      this.leases.set(mac, lease);
    }
    return { ip: lease, prefix: pool.prefix };
  }

  // ---------------------------------------------------------------------------
  // Views
  // ---------------------------------------------------------------------------

  vmView(vm: Vm): VmView {
    return {
      vmid: vm.vmid,
      node: vm.node,
      status: vm.status,
      lock: vm.config.get("lock"),
      config: Object.fromEntries(vm.config),
    };
  }

  storageContent(node: string, storage: string): Array<Record<string, unknown>> {
    const def = this.storageOn(node, storage);
    return [...this.volumes.values()]
      .filter((v) => v.storage === storage && (def.shared || v.scope === node))
      .map((v) => ({
        volid: `${v.storage}:${v.name}`,
        format: v.format,
        size: v.size,
        used: v.size,
        vmid: v.vmid,
        content: v.content,
        ctime: v.ctime,
        ...(v.name.includes("/vm-") && v.name.startsWith("base-")
          ? { parent: `${v.storage}:${v.name.split("/")[0]}` }
          : {}),
      }));
  }

  volumeInfo(node: string, storage: string, volid: string): Record<string, unknown> {
    const def = this.storageOn(node, storage);
    const full = volid.includes(":") ? volid : `${storage}:${volid}`;
    const vol = this.volume(node, full);
    if (!vol || vol.storage !== storage) throw fail(`volume '${full}' does not exist`);
    const path =
      def.type === "lvmthin" || def.type === "lvm"
        ? `/dev/pve/${vol.name}`
        : def.type === "zfspool"
          ? `/dev/zvol/rpool/data/${vol.name}`
          : def.type === "rbd"
            ? `rbd:${def.id}/${vol.name}`
            : def.type === "dir"
              ? `/var/lib/vz/images/${vol.name}`
              : `/mnt/pve/${def.id}/images/${vol.name}`;
    return { path, size: vol.size, used: vol.size, format: vol.format };
  }

  storageStatus(node: string, storage: string): Record<string, unknown> {
    const def = this.storageOn(node, storage);
    const total = def.sizeGiB * 1024 ** 3;
    const used = [...this.volumes.values()]
      .filter((v) => v.storage === storage && (def.shared || v.scope === node))
      .reduce((a, v) => a + v.size, 0);
    return {
      storage: def.id,
      type: def.type,
      content: def.content.join(","),
      active: 1,
      enabled: 1,
      shared: def.shared ? 1 : 0,
      total,
      used,
      avail: Math.max(total - used, 0),
    };
  }

  storagesOf(node: string): Array<Record<string, unknown>> {
    return [...this.storages.values()]
      .filter((s) => s.nodes === undefined || s.nodes.includes(node))
      .map((s) => this.storageStatus(node, s.id));
  }
}

/** The `agent` option: `1`, `enabled=1,fstrim_cloned_disks=0,type=virtio`... */
export function parseAgent(value: string | undefined): { enabled: boolean } {
  if (value === undefined) return { enabled: false };
  const props = parseProps(value, "enabled");
  return { enabled: isTrue(props.get("enabled")) };
}
