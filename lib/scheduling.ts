/**
 * Kubernetes scheduling values derived from node pools: tolerations for a pool's taints and
 * node affinity onto a set of pools. Used by add-ons that must run on particular pools
 * (the GPU Operator on the GPU pools) or on every node of some kind (a CSI node plugin on
 * every worker, the node exporter on every node).
 */
import type { Taint } from "../config/kubernetes-names";
import { splitTaint } from "../config/kubernetes-names";
import { expandNodes, gpuPools } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";

export interface Toleration {
  readonly key: string;
  readonly operator: "Equal" | "Exists";
  readonly value?: string;
  readonly effect: string;
}

/** Parses `key=value:Effect` or `key:Effect` (already checked by the schema). */
export function parseTaint(text: string): Taint {
  const taint = splitTaint(text);
  if (!taint)
    throw new Error(`taint ${JSON.stringify(text)} is not key=value:Effect or key:Effect`);
  return taint;
}

/** The toleration that matches exactly one taint. */
export function tolerationFor(taint: Taint): Toleration {
  return taint.value === undefined
    ? { key: taint.key, operator: "Exists", effect: taint.effect }
    : { key: taint.key, operator: "Equal", value: taint.value, effect: taint.effect };
}

/** A group of nodes (one pool) that an add-on is placed on. */
export interface NodeGroup {
  /** Labels every node of the group carries. */
  readonly labels: Readonly<Record<string, string>>;
  /** Taints every node of the group carries (`key=value:Effect` or `key:Effect`). */
  readonly taints: readonly string[];
  /** The group's node names, for a group without labels. */
  readonly nodeNames: readonly string[];
}

/**
 * The taint kubeadm gives a control-plane node that is not also a worker, as Kubespray's
 * control-plane nodes are here.
 */
export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";

type Pool = ClusterConfig["nodePools"][number];

function nodeGroups(config: ClusterConfig, pools: readonly Pool[]): NodeGroup[] {
  const nodes = expandNodes(config);
  return pools.map((pool) => ({
    labels: pool.labels,
    taints: pool.role === "control-plane" ? [CONTROL_PLANE_TAINT, ...pool.taints] : pool.taints,
    nodeNames: nodes.filter((n) => n.pool === pool.name).map((n) => n.name),
  }));
}

/** The node groups of the pools that pass a GPU through. */
export function gpuNodeGroups(config: ClusterConfig): NodeGroup[] {
  return nodeGroups(config, gpuPools(config));
}

/** The node groups of the worker pools: where workloads run (and mount volumes). */
export function workerNodeGroups(config: ClusterConfig): NodeGroup[] {
  return nodeGroups(
    config,
    config.nodePools.filter((p) => p.role === "worker"),
  );
}

/** The node groups of every pool, the control plane's with kubeadm's taint. */
export function allNodeGroups(config: ClusterConfig): NodeGroup[] {
  return nodeGroups(config, config.nodePools);
}

/** Tolerations for exactly the taints the groups carry, each once, in group order. */
export function tolerationsForPools(pools: readonly Pick<NodeGroup, "taints">[]): Toleration[] {
  const seen = new Set<string>();
  const out: Toleration[] = [];
  for (const pool of pools) {
    for (const text of pool.taints) {
      const toleration = tolerationFor(parseTaint(text));
      const id = JSON.stringify(toleration);
      if (!seen.has(id)) {
        seen.add(id);
        out.push(toleration);
      }
    }
  }
  return out;
}

export interface NodeSelectorTerm {
  readonly matchExpressions: readonly {
    readonly key: string;
    readonly operator: "In";
    readonly values: readonly string[];
  }[];
}

/**
 * A required node affinity onto the given groups: one term per group (terms are ORed). A
 * group with labels is matched by all of its labels (stays true as the pool grows); a group
 * without labels by the host names of its nodes.
 */
export function poolAffinity(pools: readonly NodeGroup[]) {
  const terms: NodeSelectorTerm[] = pools.map((pool) => {
    const labels = Object.entries(pool.labels);
    if (labels.length > 0) {
      return {
        matchExpressions: labels.map(([key, value]) => ({
          key,
          operator: "In" as const,
          values: [value],
        })),
      };
    }
    return {
      matchExpressions: [
        { key: "kubernetes.io/hostname", operator: "In" as const, values: [...pool.nodeNames] },
      ],
    };
  });
  return {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  };
}
