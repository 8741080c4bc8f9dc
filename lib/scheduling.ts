/**
 * Kubernetes scheduling values derived from node pools: tolerations for a pool's taints and
 * node affinity onto a set of pools. Used by add-ons that must run on particular pools
 * (the GPU Operator on the GPU pools).
 */
import type { Taint } from "../config/kubernetes-names";
import { splitTaint } from "../config/kubernetes-names";
import { nodeName } from "../config/pools";
import type { NodePool } from "../config/schema";

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

/** Tolerations for exactly the taints the pools carry, each once, in pool order. */
export function tolerationsForPools(pools: readonly Pick<NodePool, "taints">[]): Toleration[] {
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
 * A required node affinity onto the given pools: one term per pool (terms are ORed). A pool
 * with labels is matched by all of its labels (stays true as the pool grows); a pool without
 * labels by the host names of its nodes (`<cluster>-<pool>-<n>`, the node names).
 */
export function poolAffinity(clusterName: string, pools: readonly NodePool[]) {
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
    const names = Array.from({ length: pool.count }, (_, i) =>
      nodeName(clusterName, pool.name, i + 1),
    );
    return {
      matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In" as const, values: names }],
    };
  });
  return {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  };
}
