/**
 * Proxmox HA for the node VMs (`proxmox.ha`): which VMs become HA resources and which
 * groups of them Proxmox keeps on different hosts (negative resource affinity rules). The
 * one home of that plan: validation checks it, the vms stack makes it, preflight reads it.
 */
import type { NodeSpec } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";

/** A group of node VMs that Proxmox keeps on different hosts. */
export interface HaAffinityGroup {
  /** The HA rule's ID, a Proxmox config ID (`k8s-control-plane-apart`, `k8s-pool-ingress-apart`). */
  readonly ruleId: string;
  /** For messages: `control-plane nodes`, `pool ingress`. */
  readonly what: string;
  /** The definition's field that asks for it. */
  readonly path: string;
  readonly nodes: readonly NodeSpec[];
}

/** The HA resource ID of a VM. */
export const haResourceId = (vmId: number): string => `vm:${vmId}`;

/**
 * The groups kept apart: every control-plane node together, then each pool of
 * `proxmox.ha.keepApart` in its order. A group of fewer than two nodes gets no rule
 * (Proxmox refuses one as ineffective). None without `proxmox.ha.enabled`.
 */
export function haAffinityGroups(
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
): HaAffinityGroup[] {
  const { ha } = config.proxmox;
  if (!ha.enabled) return [];
  const groups: HaAffinityGroup[] = [
    {
      ruleId: `${config.name}-control-plane-apart`,
      what: "control-plane nodes",
      path: "proxmox.ha.enabled",
      nodes: nodes.filter((n) => n.role === "control-plane"),
    },
    ...ha.keepApart.map((pool, i) => ({
      ruleId: `${config.name}-pool-${pool}-apart`,
      what: `pool ${pool}`,
      path: `proxmox.ha.keepApart[${i}]`,
      nodes: nodes.filter((n) => n.pool === pool && n.role !== "control-plane"),
    })),
  ];
  return groups.filter((g) => g.nodes.length >= 2);
}

/** The nodes of a group that share a host with another of the group, by host. */
export function sharedHosts(group: HaAffinityGroup): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  for (const n of group.nodes) byHost.set(n.host, [...(byHost.get(n.host) ?? []), n.name]);
  return new Map([...byHost].filter(([, names]) => names.length > 1));
}
