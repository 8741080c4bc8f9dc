/**
 * Where the scheduler may put a pod, and whether the add-ons' pods fit the nodes: the
 * default scheduler's filters that decide it here (NodeResourcesFit for CPU, memory and
 * the pod count; NodeAffinity for `nodeSelector` and required node affinity;
 * TaintToleration for NoSchedule and NoExecute taints), and a placement like the
 * scheduler's: a DaemonSet's pod on each node it may run on, then the other pods, largest
 * first, each on the node it may run on with the most room left. Pods that run to
 * completion (Jobs, hooks) need room only while they run, so each is checked alone on
 * top of what keeps running.
 */
import type { Taint } from "../../config/kubernetes-names";
import type { NodeResources } from "../../kubespray-vars/kubelet";

import type { ClusterNodeModel } from "./nodes";
import type {
  NodeSelectorRequirement,
  PodPlacement,
  PodToleration,
  Requests,
  Workload,
} from "./workloads";

function tolerates(t: PodToleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if ((t.operator ?? "Equal") === "Exists") return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
}

/** The node's taints a pod does not tolerate and the scheduler does not ignore. */
export function untoleratedTaints(pod: PodPlacement, node: ClusterNodeModel): Taint[] {
  return node.taints.filter(
    (taint) =>
      (taint.effect === "NoSchedule" || taint.effect === "NoExecute") &&
      !pod.tolerations.some((t) => tolerates(t, taint)),
  );
}

function requirementHolds(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const n = Number.parseInt(value ?? "", 10);
      const bound = Number.parseInt(values[0] ?? "", 10);
      if (Number.isNaN(n) || Number.isNaN(bound)) return false;
      return r.operator === "Gt" ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

/** Whether `nodeSelector` and the required node affinity let the pod onto the node. */
export function affinityAllows(pod: PodPlacement, node: ClusterNodeModel): boolean {
  const selected = Object.entries(pod.nodeSelector).every(([k, v]) => node.labels[k] === v);
  if (!selected) return false;
  if (pod.requiredTerms === undefined) return true;
  // Terms are ORed, a term's requirements ANDed; a term without any matches no node.
  return pod.requiredTerms.some((term) => {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (expressions.length === 0 && fields.length === 0) return false;
    return (
      expressions.every((r) => requirementHolds(r, node.labels[r.key])) &&
      fields.every((r) => requirementHolds(r, r.key === "metadata.name" ? node.name : undefined))
    );
  });
}

/** Whether the scheduler may put the pod on the node at all, room aside. */
export function mayRunOn(pod: PodPlacement, node: ClusterNodeModel): boolean {
  return affinityAllows(pod, node) && untoleratedTaints(pod, node).length === 0;
}

/** What is left of a node. */
interface Room {
  milliCpu: number;
  memoryBytes: number;
  pods: number;
}

/** Why a pod does not fit a node, in the scheduler's words. */
export type Shortage = "Insufficient cpu" | "Insufficient memory" | "Too many pods";

function shortages(room: Room, r: Requests): Shortage[] {
  const out: Shortage[] = [];
  if (r.milliCpu > room.milliCpu) out.push("Insufficient cpu");
  if (r.memoryBytes > room.memoryBytes) out.push("Insufficient memory");
  if (room.pods < 1) out.push("Too many pods");
  return out;
}

/** One pod that found no node. */
export interface Unplaced {
  readonly workload: Workload;
  /** The nodes it may run on (none: no node's labels and taints let it on). */
  readonly candidates: readonly ClusterNodeModel[];
  /** For each candidate, what it lacked. */
  readonly shortages: ReadonlyMap<string, readonly Shortage[]>;
}

export interface Placement {
  /** The pods placed on each node, by node name. */
  readonly placed: ReadonlyMap<string, readonly Workload[]>;
  /** What the pods that keep running request on each node, by node name. */
  readonly requested: ReadonlyMap<string, NodeResources>;
  /** Pods (one entry per pod) that found no node. */
  readonly unplaced: readonly Unplaced[];
}

/** Places the workloads' pods on the nodes (see the module's comment). */
export function place(
  nodes: readonly ClusterNodeModel[],
  workloads: readonly Workload[],
): Placement {
  const room = new Map<string, Room>(nodes.map((n) => [n.name, { ...n.allocatable }]));
  const placed = new Map<string, Workload[]>(nodes.map((n) => [n.name, []]));
  const unplaced: Unplaced[] = [];

  const take = (node: ClusterNodeModel, w: Workload) => {
    const r = room.get(node.name)!;
    r.milliCpu -= w.pod.requests.milliCpu;
    r.memoryBytes -= w.pod.requests.memoryBytes;
    r.pods -= 1;
    placed.get(node.name)!.push(w);
  };
  const miss = (w: Workload, candidates: readonly ClusterNodeModel[]) =>
    unplaced.push({
      workload: w,
      candidates,
      shortages: new Map(
        candidates.map((n) => [n.name, shortages(room.get(n.name)!, w.pod.requests)]),
      ),
    });

  const steady = workloads.filter((w) => !w.transient);
  // A DaemonSet's pod belongs to its node: it fits there or nowhere.
  for (const w of steady.filter((x) => x.pods === "per-node")) {
    for (const node of nodes.filter((n) => mayRunOn(w.pod, n))) {
      if (shortages(room.get(node.name)!, w.pod.requests).length === 0) take(node, w);
      else miss(w, [node]);
    }
  }
  const size = (r: Requests) => r.memoryBytes / 2 ** 20 + r.milliCpu;
  const pods = steady
    .filter((w) => w.pods !== "per-node")
    .flatMap((w) => Array.from({ length: w.pods as number }, () => w))
    .sort((a, b) => size(b.pod.requests) - size(a.pod.requests));
  const free = (n: ClusterNodeModel) => {
    const r = room.get(n.name)!;
    const share = (left: number, all: number) => (all > 0 ? left / all : 0);
    return (
      share(r.milliCpu, n.allocatable.milliCpu) + share(r.memoryBytes, n.allocatable.memoryBytes)
    );
  };
  for (const w of pods) {
    const candidates = nodes.filter((n) => mayRunOn(w.pod, n));
    const fitting = candidates
      .filter((n) => shortages(room.get(n.name)!, w.pod.requests).length === 0)
      .sort((a, b) => free(b) - free(a));
    if (fitting.length > 0) take(fitting[0], w);
    else miss(w, candidates);
  }

  const requested = new Map<string, NodeResources>(
    nodes.map((n) => {
      const r = room.get(n.name)!;
      return [
        n.name,
        {
          milliCpu: n.allocatable.milliCpu - r.milliCpu,
          memoryBytes: n.allocatable.memoryBytes - r.memoryBytes,
          pods: n.allocatable.pods - r.pods,
        },
      ];
    }),
  );

  // Each pod that runs to completion, alone on top of what keeps running.
  for (const w of workloads.filter((x) => x.transient)) {
    const candidates = nodes.filter((n) => mayRunOn(w.pod, n));
    const perPod = w.pods === "per-node" ? 1 : w.pods;
    for (let i = 0; i < perPod; i++) {
      const fits = candidates.some(
        (n) => shortages(room.get(n.name)!, w.pod.requests).length === 0,
      );
      if (!fits) miss(w, candidates);
    }
  }
  return { placed, requested, unplaced };
}
