/**
 * The desired cluster in the planner's terms, built either from the definition (at synth
 * time, addresses possibly unknown) or from the rendered inventory files (in the runner),
 * so both sides feed the same planner the same state.
 */
import type { KubesprayHost } from "../../kubespray-vars/host-fields";

import type { ParsedInventory } from "./inventory";
import { controlPlaneOrder } from "./inventory";
import type { ClusterState } from "./playbooks";

/**
 * The desired state from inventory hosts; `knownAddress` says which addresses are
 * literals (tokens are left out of the comparison).
 */
export function desiredState(
  hosts: readonly KubesprayHost[],
  vars: Readonly<Record<string, unknown>>,
  kubesprayVersion: string,
  previousControlPlaneOrder: readonly string[] | undefined,
  knownAddress: (address: string) => boolean = () => true,
): ClusterState {
  return {
    kubesprayVersion,
    hosts: hosts.map((h) => ({
      ...h,
      address: h.address !== undefined && knownAddress(h.address) ? h.address : undefined,
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
