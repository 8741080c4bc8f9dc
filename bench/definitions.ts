/**
 * Cluster definitions of a chosen size for the synth benchmark, derived from the bundled
 * example so that they exercise every stack (static addresses, all add-ons).
 */
import { readFileSync } from "node:fs";

import { parse } from "yaml";

import { BUNDLED_EXAMPLE } from "../config/load";
import type { ClusterConfigInput } from "../config/schema";

/** A valid definition with 3 control-plane nodes and `nodes - 3` workers. */
export function definitionWithNodes(nodes: number): ClusterConfigInput {
  const base = parse(readFileSync(BUNDLED_EXAMPLE, "utf8")) as ClusterConfigInput;
  if (nodes <= 6) return base;
  const workers = nodes - 3;
  return {
    ...base,
    proxmox: { ...base.proxmox, vmIdsPerPool: Math.max(100, workers) },
    network: {
      ...base.network,
      cidr: "10.20.0.0/16",
      gateway: "10.20.0.1",
      dnsServers: ["10.20.0.1"],
    },
    nodePools: [
      { ...base.nodePools[0], firstIp: "10.20.1.1" },
      { ...base.nodePools[1], count: workers, firstIp: "10.20.2.1" },
    ],
    kubernetes: {
      ...base.kubernetes,
      apiServerVip: "10.20.0.20",
      podCidr: "10.240.0.0/14",
    },
    addons: {
      ...base.addons,
      metallb: { addressPools: [{ name: "default", addresses: ["10.20.200.1-10.20.200.50"] }] },
      ingress: { controller: "traefik", loadBalancerIp: "10.20.200.1" },
    },
    coexistence: { existingClusters: [] },
  };
}
