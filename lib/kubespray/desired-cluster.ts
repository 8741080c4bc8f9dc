/**
 * The desired cluster (a `ClusterSpec`), built either from the definition (at synth time,
 * addresses possibly unknown) or from the rendered inventory files (in the runner), so both
 * sides choose the playbooks from the same cluster.
 */
import type { KubesprayHost } from "../../kubespray-vars/host-fields";

import type { ParsedInventory } from "./inventory";
import { controlPlaneOrder } from "./inventory";
import type { ClusterSpec } from "./playbooks";

/**
 * The desired cluster from inventory hosts; `knownAddress` says which addresses are
 * literals (tokens are left out of the comparison).
 */
export function desiredCluster(
  hosts: readonly KubesprayHost[],
  vars: Readonly<Record<string, unknown>>,
  kubesprayVersion: string,
  previousControlPlaneOrder: readonly string[] | undefined,
  knownAddress: (address: string) => boolean = () => true,
): ClusterSpec {
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

/** The desired cluster from the files the cluster stack wrote. */
export function clusterFromFiles(
  inventory: ParsedInventory,
  vars: Readonly<Record<string, unknown>>,
  kubesprayVersion: string,
): ClusterSpec {
  return {
    kubesprayVersion,
    hosts: inventory.hosts.map((h) => ({ ...h })),
    controlPlaneOrder: inventory.controlPlaneOrder,
    vars,
  };
}
