/**
 * Whether the add-ons fit the cluster, before anything is installed: the pods every
 * release of the addons stack will run, read from its rendered chart (workloads.ts),
 * placed on the Nodes Kubespray will register for the definition (nodes.ts) as the
 * scheduler would place them (placement.ts). What does not fit is named with its release,
 * workload, pool, numbers, and the fix. `npm run preflight` asks this (preflight/capacity.ts).
 *
 * What it does not count: Kubespray's own pods (CNI, DNS, kube-proxy, metrics-server)
 * and the pods an operator makes that no manifest describes (listed as `uncounted`).
 */
import { parseAllDocuments } from "yaml";

import type { ClusterConfig } from "../../config/schema";
import { formatCpu, formatMemory } from "../quantity";

import type { ClusterNodeModel } from "./nodes";
import { clusterNodes } from "./nodes";
import type { Placement, Shortage, Unplaced } from "./placement";
import { mayRunOn, place, untoleratedTaints } from "./placement";
import type { Requests, Uncounted, Workload } from "./workloads";
import { releaseWorkloads } from "./workloads";

/** One release as helm renders it. */
export interface RenderedRelease {
  readonly name: string;
  readonly namespace: string;
  /** Every object of the release (hooks included), as YAML documents. */
  readonly manifest: string;
}

/** A reason the add-ons do not fit, in preflight's form (`what: problem; fix`). */
export interface CapacityProblem {
  readonly what: string;
  readonly problem: string;
  readonly fix: string;
}

export interface CapacityReport {
  readonly nodes: readonly ClusterNodeModel[];
  readonly workloads: readonly Workload[];
  readonly uncounted: readonly Uncounted[];
  readonly placement: Placement;
  readonly problems: readonly CapacityProblem[];
}

/** The release's objects, from its manifest. */
export function manifestObjects(manifest: string): unknown[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as unknown)
    .filter((o) => o !== null && typeof o === "object");
}

/**
 * The definition field that turns a release off: the releases of the addons stack
 * (stacks/addons-stack.ts), each named after what the definition calls it.
 */
export function addonSwitch(config: ClusterConfig, release: string): string {
  const backends = config.addons.storage?.democraticCsi ?? [];
  const backend = backends.findIndex((b) => b.name === release);
  if (backend >= 0) return `addons.storage.democraticCsi[${backend}]`;
  const switches: Record<string, string> = {
    metallb: "addons.metallb",
    "metallb-pools": "addons.metallb",
    traefik: "addons.ingress",
    "ingress-nginx": "addons.ingress",
    "cert-manager": "addons.certManager",
    "cluster-issuers": "addons.certManager.clusterIssuers",
    "snapshot-controller": "addons.storage.democraticCsi",
    argocd: "addons.argocd",
    "argocd-bootstrap": "addons.argocd.bootstrap",
    "gpu-operator": "addons.gpuOperator.enabled",
    "external-secrets": "addons.vault.externalSecrets",
    "cluster-secret-store": "addons.vault.externalSecrets",
    "kube-prometheus-stack": "addons.monitoring.kubePrometheusStack",
  };
  return switches[release] ?? "addons";
}

const show = (r: Requests) => `${formatCpu(r.milliCpu)} CPU, ${formatMemory(r.memoryBytes)} memory`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `worker: 3 nodes of 8 cores / 16Gi (7400m CPU, 14.6Gi memory for pods each)`. */
function describePool(pool: readonly ClusterNodeModel[]): string {
  const n = pool[0];
  return (
    `pool ${n.pool}: ${plural(pool.length, "node")} of ${plural(n.cores, "core")} / ` +
    `${formatMemory(n.memoryMiB * 2 ** 20)}, each ${show(n.allocatable)} for pods after ` +
    "Kubespray's kubelet reservations"
  );
}

function byPool(nodes: readonly ClusterNodeModel[]): ClusterNodeModel[][] {
  const pools = new Map<string, ClusterNodeModel[]>();
  for (const n of nodes) pools.set(n.pool, [...(pools.get(n.pool) ?? []), n]);
  return [...pools.values()];
}

/** Why the pod may run on none of the nodes, pool by pool. */
function whyNowhere(w: Workload, nodes: readonly ClusterNodeModel[]): string {
  return byPool(nodes)
    .map((pool) => {
      const n = pool[0];
      const taints = untoleratedTaints(w.pod, n);
      const reason =
        taints.length > 0
          ? `taint ${taints.map((t) => `${t.key}${t.value === undefined ? "" : `=${t.value}`}:${t.effect}`).join(", ")} not tolerated`
          : "its node selector or affinity does not match";
      return `pool ${n.pool}: ${reason}`;
    })
    .join("; ");
}

function fixFor(
  config: ClusterConfig,
  w: Workload,
  pools: readonly ClusterNodeModel[],
  lacking: ReadonlySet<Shortage>,
): string {
  const grow = pools.map((n) => {
    const at = `nodePools[${n.poolIndex}]`;
    const bigger = [
      ...(lacking.has("Insufficient cpu") ? [`${at}.cores`] : []),
      ...(lacking.has("Insufficient memory") ? [`${at}.memoryMiB`] : []),
    ];
    // More nodes help only a pod that fits an empty node, and never a DaemonSet's pod.
    const fitsEmpty =
      w.pod.requests.milliCpu <= n.allocatable.milliCpu &&
      w.pod.requests.memoryBytes <= n.allocatable.memoryBytes;
    const more = w.pods === "per-node" || !fitsEmpty ? [] : [`${at}.count`];
    const fields = [...bigger, ...more];
    return `pool ${n.pool} ${fields.length > 1 ? `(${fields.join(" or ")})` : fields[0]}`;
  });
  return `give ${grow.join(" or ")} more room, or turn ${w.release} off (${addonSwitch(config, w.release)})`;
}

function problemsOf(
  config: ClusterConfig,
  nodes: readonly ClusterNodeModel[],
  placement: Placement,
): CapacityProblem[] {
  const groups = new Map<Workload, Unplaced[]>();
  for (const u of placement.unplaced)
    groups.set(u.workload, [...(groups.get(u.workload) ?? []), u]);
  return [...groups].map(([w, misses]): CapacityProblem => {
    const who = `${w.release}'s ${w.kind} ${w.name}`;
    const pods = plural(misses.length, "pod");
    const candidates = [
      ...new Map(misses.flatMap((m) => m.candidates).map((n) => [n.name, n])).values(),
    ];
    if (candidates.length === 0) {
      return {
        what: addonSwitch(config, w.release),
        problem: `${who} (${pods}) may run on no node of the cluster: ${whyNowhere(w, nodes)}`,
        fix: "give a pool the labels it selects and no taint it does not tolerate, or turn it off",
      };
    }
    const pools = byPool(candidates).map((p) => p[0]);
    const lacking = new Set(misses.flatMap((m) => [...m.shortages.values()].flat()));
    const others = pools.map((p) => {
      const members = nodes.filter((n) => n.pool === p.pool);
      const used = members
        .map((n) => placement.requested.get(n.name)!)
        .reduce(
          (a, b) => ({
            milliCpu: a.milliCpu + b.milliCpu,
            memoryBytes: a.memoryBytes + b.memoryBytes,
          }),
          { milliCpu: 0, memoryBytes: 0 },
        );
      return `${describePool(members)}, of which the add-ons' pods placed there request ${show(used)} in all`;
    });
    const when = w.transient ? " while it runs" : "";
    // The field that gives the pod room: the node size it lacks, else more nodes.
    const fields = pools.flatMap((p) => {
      const at = `nodePools[${p.poolIndex}]`;
      const sized = [
        ...(lacking.has("Insufficient cpu") ? [`${at}.cores`] : []),
        ...(lacking.has("Insufficient memory") ? [`${at}.memoryMiB`] : []),
      ];
      return sized.length > 0 ? sized : [`${at}.count`];
    });
    return {
      what: fields.join(", "),
      problem:
        `the add-ons do not fit pool ${pools.map((p) => p.pool).join(", ")}: ` +
        `${pods} of ${who} (${show(w.pod.requests)} each) would stay ` +
        `Pending${when} (${[...lacking].join(", ")}); ${others.join("; ")}`,
      fix: fixFor(config, w, pools, lacking),
    };
  });
}

/** The capacity check of the add-ons, from every release's rendered manifest. */
export function addonsCapacity(
  config: ClusterConfig,
  releases: readonly RenderedRelease[],
): CapacityReport {
  const nodes = clusterNodes(config);
  const read = releases.map((r) =>
    releaseWorkloads(r.name, r.namespace, manifestObjects(r.manifest)),
  );
  const workloads = read.flatMap((r) => r.workloads);
  const placement = place(nodes, workloads);
  return {
    nodes,
    workloads,
    uncounted: read.flatMap((r) => r.uncounted),
    placement,
    problems: problemsOf(config, nodes, placement),
  };
}

/** How many pods of a workload run on the definition's nodes. */
export function podCount(w: Workload, nodes: readonly ClusterNodeModel[]): number {
  return w.pods === "per-node" ? nodes.filter((n) => mayRunOn(w.pod, n)).length : w.pods;
}
