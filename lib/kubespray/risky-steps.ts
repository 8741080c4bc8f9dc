/**
 * Which Kubespray steps change nodes that already run, and which nodes: what the runner
 * snapshots before it runs them (runner/safety-net.ts). Pure, beside the planner that
 * makes the steps.
 *
 * - `upgrade-cluster.yml` and `cluster.yml` on a cluster that exists write to every node
 *   that stays (binaries, configuration, etcd, certificates);
 * - `remove-node.yml` changes the control plane (the node leaves etcd and the API, whose
 *   data lives on the control-plane nodes); the removed node's VM is deleted after it, so
 *   there is nothing of it to keep;
 * - `playbooks/facts.yml` reads, and `scale.yml --limit=<new nodes>` touches only the new
 *   nodes: no snapshot.
 */
import type { ClusterSpec, Playbooks, RunRecord } from "./playbooks";
import { CLUSTER, REMOVE_NODE, UPGRADE } from "./playbooks";

/** A change that writes to nodes that already run: what the snapshots before it cover. */
export interface RiskyChange {
  /** The playbook the snapshots are named after (`upgrade-cluster.yml`, `cluster.yml`...). */
  readonly playbook: string;
  /** The nodes whose VMs it writes to, in the inventory's order. */
  readonly nodes: readonly string[];
  /** What it does, for the snapshots' description: `upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)`. */
  readonly change: string;
}

/** The playbooks the snapshots are named after, the most telling first. */
const NAMED_AFTER = [UPGRADE, CLUSTER, REMOVE_NODE] as const;

/** What a run of `plan` changes on nodes that already run; undefined when nothing. */
export function riskyChange(
  plan: Playbooks,
  record: RunRecord | undefined,
  desired: ClusterSpec,
): RiskyChange | undefined {
  if (record === undefined) return undefined;
  const staying = new Set(desired.hosts.map((h) => h.name));
  const existing = record.hosts.filter((h) => staying.has(h.name));
  const touched = new Set<string>();
  for (const step of plan.steps) {
    if (step.playbook === UPGRADE || step.playbook === CLUSTER)
      for (const h of existing) touched.add(h.name);
    else if (step.playbook === REMOVE_NODE)
      for (const h of existing) if (h.role === "control-plane") touched.add(h.name);
  }
  if (touched.size === 0) return undefined;
  const playbooks = plan.steps.map((s) => s.playbook);
  const playbook = NAMED_AFTER.find((p) => playbooks.includes(p)) ?? REMOVE_NODE;
  return {
    playbook,
    nodes: existing.map((h) => h.name).filter((n) => touched.has(n)),
    change: `${plan.description}${versions(record, desired)}`,
  };
}

/** `(Kubernetes 1.34.7 to 1.35.4)` for a version change, else nothing. */
function versions(record: ClusterSpec, desired: ClusterSpec): string {
  const from = String(record.vars.kube_version ?? "");
  const to = String(desired.vars.kube_version ?? "");
  if (from !== to) return ` (Kubernetes ${from} to ${to})`;
  if (record.kubesprayVersion !== desired.kubesprayVersion)
    return ` (Kubespray ${record.kubesprayVersion} to ${desired.kubesprayVersion})`;
  return "";
}

/** `remove-node.yml` of one node on its own (a node leaving the definition): the control plane. */
export function removalChange(record: RunRecord, node: string): RiskyChange | undefined {
  const nodes = record.hosts
    .filter((h) => h.role === "control-plane" && h.name !== node)
    .map((h) => h.name);
  if (nodes.length === 0) return undefined;
  return { playbook: REMOVE_NODE, nodes, change: `${REMOVE_NODE} -e node=${node}` };
}
