/**
 * Power: start (with QEMU's start-time checks), stop, shutdown, reboot, and
 * status/current as the provider polls it.
 */
import { parseDrive, parseNet, parseProps, parseSize } from "../property-string";

import type { PveCluster } from "./cluster";
import { DISK_BUS_KEY, HOSTPCI_KEY, NET_KEY, isTrue, parseAgent } from "./config-keys";
import { fail } from "./errors";
import { haStatus, isManaged, requestHaState } from "./ha";
import type { Params, Vm } from "./types";

/** Checks made when QEMU starts: bridges, PCI passthrough, EFI vars. Returns warnings. */
export function startChecks(c: PveCluster, vm: Vm): string[] {
  const node = c.node(vm.node);
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
        const entry = c.pciMappings.get(mapping)?.map.find((e) => e.node === vm.node);
        if (!entry) throw new Error(`PCI device mapping not found for '${mapping}'`);
        const holder = [...c.vms.values()].find(
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

export function powerOn(c: PveCluster, vm: Vm): string[] {
  const warnings = startChecks(c, vm);
  vm.status = "running";
  vm.startedAt = Date.now();
  vm.agentReadyAt = vm.startedAt + c.timing.agentDelayMs;
  vm.pid = c.runner.nextPid();
  return warnings;
}

export function powerOff(vm: Vm): void {
  vm.status = "stopped";
  vm.startedAt = undefined;
  vm.agentReadyAt = undefined;
  vm.pid = undefined;
}

export function start(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  if (isManaged(c, vmid)) return requestHaState(c, node, vmid, true);
  const skiplock = isTrue(params.skiplock);
  // Everything is checked by vm_start in the worker: the task fails, the request does not.
  return c.runner.start({
    node,
    type: "qmstart",
    id: vmid,
    work: () => {
      if (c.isTemplate(vm)) throw new Error("you can't start a vm if it's a template");
      c.assertUnlocked(vm, skiplock);
      if (vm.status === "running") throw new Error(`VM ${vmid} already running`);
      return powerOn(c, vm);
    },
  });
}

export function stop(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  if (isManaged(c, vmid)) return requestHaState(c, node, vmid, false);
  c.assertUnlocked(vm, isTrue(params.skipLock ?? params.skiplock));
  return c.runner.start({ node, type: "qmstop", id: vmid, work: () => powerOff(vm) });
}

export function shutdown(c: PveCluster, node: string, vmid: number, params: Params): string {
  const vm = c.vmOn(node, vmid);
  if (isManaged(c, vmid)) return requestHaState(c, node, vmid, false);
  c.assertUnlocked(vm, isTrue(params.skipLock ?? params.skiplock));
  if (vm.status !== "running") throw fail(`VM ${vmid} not running`);
  return c.runner.start({ node, type: "qmshutdown", id: vmid, work: () => powerOff(vm) });
}

export function reboot(c: PveCluster, node: string, vmid: number): string {
  const vm = c.vmOn(node, vmid);
  c.assertUnlocked(vm);
  if (vm.status !== "running") throw fail(`VM ${vmid} not running`);
  return c.runner.start({
    node,
    type: "qmreboot",
    id: vmid,
    work: () => {
      powerOff(vm);
      return powerOn(c, vm);
    },
  });
}

export function statusCurrent(c: PveCluster, node: string, vmid: number): Record<string, unknown> {
  const vm = c.vmOn(node, vmid);
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
    maxdisk: bootDiskSize(vm),
    disk: 0,
    cpu: running ? 0.02 : 0,
    uptime: running && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
    ha: haStatus(c, vmid),
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
  if (c.isTemplate(vm)) out.template = 1;
  return out;
}

export function bootDiskSize(vm: Vm): number {
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
