/**
 * What a definition's node pools imply by themselves, used by the rules here and by the node
 * model (lib/topology.ts): node names, each pool's block of VM IDs, the pools with a GPU.
 */
import type { ClusterConfig, NodePool } from "./schema";

/** `<cluster>-<pool>-<n>` (1-based): the VM name and the Kubernetes node name. */
export function nodeName(clusterName: string, poolName: string, index: number): string {
  return `${clusterName}-${poolName}-${index}`;
}

/** First VM ID of a pool's block. */
export function poolVmIdBase(config: ClusterConfig, poolIndex: number): number {
  return config.proxmox.vmIdStart + poolIndex * config.proxmox.vmIdsPerPool;
}

/** The pools that pass a GPU through and have nodes. */
export function gpuPools(config: ClusterConfig): NodePool[] {
  return config.nodePools.filter((p) => p.gpu !== undefined && p.count > 0);
}
