/**
 * The QEMU guest agent: answers only after `agentDelayMs` past start, and reports `lo`
 * plus one `ens18+N` per NIC with the cloud-init static address or a DHCP lease from the
 * seed's pool for the NIC's bridge (stable per MAC), and an IPv6 link-local address.
 */
import { linkLocalOf, parseNet, parseProps } from "../property-string";
import type { Props } from "../property-string";

import type { PveCluster } from "./cluster";
import { NET_KEY, parseAgent } from "./config-keys";
import { fail } from "./errors";
import type { Vm } from "./types";

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export function agentReady(c: PveCluster, node: string, vmid: number): Vm {
  const vm = c.vmOn(node, vmid);
  if (!parseAgent(vm.config.get("agent")).enabled) throw fail("No QEMU guest agent configured");
  if (vm.status !== "running") throw fail(`VM ${vmid} is not running`);
  if (vm.agentReadyAt === undefined || Date.now() < vm.agentReadyAt) {
    throw fail("QEMU guest agent is not running");
  }
  return vm;
}

export function agentPing(c: PveCluster, node: string, vmid: number): Record<string, unknown> {
  agentReady(c, node, vmid);
  return { result: {} };
}

export function agentInterfaces(
  c: PveCluster,
  node: string,
  vmid: number,
): Record<string, unknown> {
  const vm = agentReady(c, node, vmid);
  const noAddress =
    c.faults.agentNoAddress === true ||
    (Array.isArray(c.faults.agentNoAddress) && c.faults.agentNoAddress.includes(vmid));
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
      const v4 = noAddress ? undefined : guestIpv4(c, vm, idx, net);
      if (v4) addresses.push({ "ip-address-type": "ipv4", "ip-address": v4.ip, prefix: v4.prefix });
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
export function guestIpv4(
  c: PveCluster,
  vm: Vm,
  idx: number,
  net: Props,
): { ip: string; prefix: number } | undefined {
  const ipconfig = vm.config.get(`ipconfig${idx}`);
  const ip = ipconfig ? parseProps(ipconfig).get("ip") : undefined;
  if (ip !== undefined && ip !== "dhcp") {
    const [addr, prefix] = ip.split("/");
    return { ip: addr, prefix: Number(prefix) };
  }
  const mac = (net.get("macaddr") ?? "").toUpperCase();
  const pool = c.seed.dhcp.find((d) => d.bridge === net.get("bridge"));
  if (!pool) return undefined;
  let lease = c.leases.get(mac);
  if (lease === undefined) {
    const [first, last] = pool.range.split("-").map(ipToInt);
    const used = new Set(c.leases.values());
    for (let n = first; n <= last; n++) {
      if (!used.has(intToIp(n))) {
        lease = intToIp(n);
        break;
      }
    }
    if (lease === undefined) return undefined; // pool exhausted: no lease
    c.leases.set(mac, lease);
  }
  return { ip: lease, prefix: pool.prefix };
}
