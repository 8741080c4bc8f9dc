/**
 * The desired cluster in the planner's terms, built either from the definition (at synth
 * time, addresses possibly unknown) or from the rendered inventory files (in the runner),
 * so both sides feed the same planner the same state.
 */
import type { ClusterNode } from "../topology";

import type { InventoryHost, ParsedInventory } from "./inventory";
import { controlPlaneOrder } from "./inventory";
import type { ClusterState, HostState } from "./planner";

/** The inventory's hosts: the nodes with their addresses. */
export function inventoryHosts(nodes: readonly ClusterNode[]): InventoryHost[] {
  return nodes.map((n) => ({
    name: n.name,
    role: n.role,
    address: n.ipv4,
    labels: n.labels,
    taints: n.taints,
    gpu: n.gpuMapping !== undefined,
  }));
}

/**
 * The desired state from inventory hosts; `knownAddress` says which addresses are
 * literals (tokens are left out of the comparison).
 */
export function desiredState(
  hosts: readonly InventoryHost[],
  vars: Readonly<Record<string, unknown>>,
  kubesprayVersion: string,
  previousControlPlaneOrder: readonly string[] | undefined,
  knownAddress: (address: string) => boolean = () => true,
): ClusterState {
  return {
    kubesprayVersion,
    hosts: hosts.map((h): HostState => ({
      name: h.name,
      role: h.role,
      address: knownAddress(h.address) ? h.address : undefined,
      labels: h.labels,
      taints: h.taints,
      gpu: h.gpu,
    })),
    controlPlaneOrder: controlPlaneOrder(
      hosts.filter((h) => h.role === "control-plane").map((h) => h.name),
      previousControlPlaneOrder,
    ),
    vars,
  };
}

/** The desired state from the files the cluster stack wrote. */
export function stateFromFiles(
  inventory: ParsedInventory,
  vars: Readonly<Record<string, unknown>>,
  kubesprayVersion: string,
): ClusterState {
  return {
    kubesprayVersion,
    hosts: inventory.hosts.map((h) => ({ ...h })),
    controlPlaneOrder: inventory.controlPlaneOrder,
    vars,
  };
}
