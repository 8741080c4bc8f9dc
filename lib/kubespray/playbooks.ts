/**
 * Decides which Kubespray playbooks a change needs, by comparing the desired cluster with
 * the record of the last successful run. Pure: the cluster stack calls it at synth time
 * (to show the action in `cdktf diff`) and the runner at apply time (to run it).
 * Playbooks and their order follow Kubespray v2.31.0's docs/operations/nodes.md and
 * docs/operations/upgrades.md.
 */
import { isDeepStrictEqual } from "node:util";

import lt from "semver/functions/lt";
import parse from "semver/functions/parse";

import { UserError } from "../../errors/user-error";
import type { KubesprayHost } from "../../kubespray-vars/host-fields";
import { changesNeedingPlaybook } from "../../kubespray-vars/host-fields";

/** The runbook that users are pointed to when a change cannot be done automatically. */
export const RUNBOOK = "docs/operations.md";

/** What Kubespray is asked to build: the desired cluster, or the one a run built. */
export interface ClusterSpec {
  readonly kubesprayVersion: string;
  /** In inventory order; an undefined address (a DHCP one at synth time) is not compared. */
  readonly hosts: readonly KubesprayHost[];
  readonly controlPlaneOrder: readonly string[];
  /** The group_vars (Kubespray variables), `kube_version` included. */
  readonly vars: Readonly<Record<string, unknown>>;
}

/** The cluster as the last successful run left it, and what that run did. */
export interface RunRecord extends ClusterSpec {
  /** Description of the playbooks of the last run that changed something. */
  readonly action: string;
  readonly completedAt: string;
  /**
   * A control-plane order for the next run, set by hand to move the first control-plane
   * node away (docs/operations.md, "Replacing the first control-plane node").
   */
  readonly nextControlPlaneOrder?: readonly string[];
  /**
   * The runs that produced this state: names of their summaries and logs under
   * `<state>/runs/` (none for a run made by hand from print mode's script).
   */
  readonly runs?: readonly string[];
  /**
   * Set by `npm run rollback`: this record was written back from before a step whose
   * snapshots the VMs were rolled back to (lib/kubespray/saved-steps.ts).
   */
  readonly rolledBack?: { readonly snapshot: string; readonly at: string };
}

/** The control-plane order the next inventory starts from. */
export function previousControlPlaneOrder(
  record: RunRecord | undefined,
): readonly string[] | undefined {
  return record?.nextControlPlaneOrder ?? record?.controlPlaneOrder;
}

export interface PlaybookStep {
  /** Path relative to the Kubespray directory. */
  readonly playbook: string;
  readonly limit?: readonly string[];
  readonly extraVars?: Readonly<Record<string, string>>;
}

export interface Playbooks {
  /** Playbooks in order; empty when nothing changed. */
  readonly steps: readonly PlaybookStep[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Human-readable form of `steps`, e.g. `playbooks/facts.yml; scale.yml --limit=w-4`. */
  readonly description: string;
}

export const CLUSTER = "cluster.yml";
export const SCALE = "scale.yml";
export const FACTS = "playbooks/facts.yml";
export const UPGRADE = "upgrade-cluster.yml";
export const REMOVE_NODE = "remove-node.yml";
/** The description used when there is nothing to do and no earlier run to name. */
export const NOTHING = "nothing";

/** The `--limit=a,b` option of a step, or nothing: the one place that writes it. */
export function limitOption(step: PlaybookStep): string[] {
  return step.limit && step.limit.length > 0 ? [`--limit=${step.limit.join(",")}`] : [];
}

/** A step with its limit, e.g. `scale.yml --limit=w-4`, for logs. */
export function describeLimited(step: PlaybookStep, playbook = step.playbook): string {
  return [playbook, ...limitOption(step)].join(" ");
}

export function describeStep(step: PlaybookStep): string {
  const parts = [describeLimited(step)];
  for (const [k, v] of Object.entries(step.extraVars ?? {})) parts.push(`-e ${k}=${v}`);
  return parts.join(" ");
}

export function describeSteps(steps: readonly PlaybookStep[]): string {
  return steps.length === 0 ? NOTHING : steps.map(describeStep).join("; ");
}

/** The step that removes one node (still in the inventory) from the cluster. */
export function removeNodeStep(node: string): PlaybookStep {
  return { playbook: REMOVE_NODE, extraVars: { node } };
}

/**
 * Refuses to remove the first control-plane node, which Kubespray cannot remove.
 * `order` is the control-plane order of the last successful run.
 */
export function checkRemovable(node: string, order: readonly string[]): void {
  if (order[0] === node)
    throw UserError.at(
      "nodePools",
      `${node} is the first control-plane node, which Kubespray cannot remove`,
      `follow "Replacing the first control-plane node" in ${RUNBOOK}`,
    );
}

/** Checks a Kubernetes version change: no downgrade, no skipped minor. */
export function checkUpgrade(from: string, to: string): void {
  const a = parse(from);
  const b = parse(to);
  if (!a || !b) return;
  if (lt(b, a))
    throw UserError.at(
      "kubernetes.version",
      `Kubernetes ${to} is older than the running ${from}, and Kubespray cannot downgrade`,
      `set kubernetes.version back to ${from} (or a newer version)`,
    );
  if (b.major !== a.major || b.minor > a.minor + 1)
    throw UserError.at(
      "kubernetes.version",
      `Kubernetes ${from} to ${to} skips a minor version`,
      `upgrade one minor at a time: first to ${a.major}.${a.minor + 1}.x, deploy, then to ${to}`,
    );
}

const withoutVersion = (vars: Readonly<Record<string, unknown>>) => {
  const rest: Record<string, unknown> = { ...vars };
  delete rest.kube_version;
  return rest;
};

/**
 * The playbooks that take the cluster from `record` to `desired`:
 * - no record: `cluster.yml`;
 * - removed nodes: `remove-node.yml -e node=<name>` each, first (never the first
 *   control-plane node);
 * - only new workers: `playbooks/facts.yml`, then `scale.yml --limit=<new workers>`;
 * - new control-plane nodes, or any other change: `cluster.yml`;
 * - a new Kubernetes version: `upgrade-cluster.yml`, one minor at a time, alone;
 * - nothing changed: nothing.
 */
export function playbooksFor(desired: ClusterSpec, record: RunRecord | undefined): Playbooks {
  const names = desired.hosts.map((h) => h.name);
  if (record === undefined) {
    const steps = [{ playbook: CLUSTER }];
    return { steps, added: names, removed: [], description: describeSteps(steps) };
  }
  const before = new Map(record.hosts.map((h) => [h.name, h]));
  const removed = record.hosts.map((h) => h.name).filter((n) => !names.includes(n));
  const added = desired.hosts.filter((h) => !before.has(h.name));
  for (const node of removed) checkRemovable(node, record.controlPlaneOrder);

  const steps: PlaybookStep[] = removed.map(removeNodeStep);
  const fromVersion = String(record.vars.kube_version ?? "");
  const toVersion = String(desired.vars.kube_version ?? "");
  const kept = desired.hosts.filter((h) => before.has(h.name));
  const keptOrder = desired.controlPlaneOrder.filter((n) => before.has(n));
  const recordOrder = record.controlPlaneOrder.filter((n) => names.includes(n));
  const otherChange =
    !isDeepStrictEqual(withoutVersion(desired.vars), withoutVersion(record.vars)) ||
    kept.some((h) => changesNeedingPlaybook(before.get(h.name) as KubesprayHost, h).length > 0) ||
    !isDeepStrictEqual(keptOrder, recordOrder);

  if (fromVersion !== toVersion) {
    checkUpgrade(fromVersion, toVersion);
    if (added.length > 0 || otherChange)
      throw UserError.at(
        "kubernetes.version",
        `upgrading Kubernetes ${fromVersion} to ${toVersion} must be the only change of a deploy`,
        `deploy the version change first, then the other changes (${RUNBOOK}, "Upgrading Kubernetes")`,
      );
    steps.push({ playbook: UPGRADE });
  } else if (record.kubesprayVersion !== desired.kubesprayVersion) {
    // A new Kubespray release is rolled out with its upgrade playbook (docs/operations/upgrades.md).
    if (added.length > 0 || otherChange)
      throw UserError.at(
        "kubernetes.kubesprayVersion",
        `moving to Kubespray ${desired.kubesprayVersion} must be the only change of a deploy`,
        "deploy the new release first, then the other changes",
      );
    steps.push({ playbook: UPGRADE });
  } else if (otherChange || added.some((h) => h.role === "control-plane")) {
    steps.push({ playbook: CLUSTER });
  } else if (added.length > 0) {
    steps.push({ playbook: FACTS }, { playbook: SCALE, limit: added.map((h) => h.name) });
  }
  return {
    steps,
    added: added.map((h) => h.name),
    removed,
    description: describeSteps(steps),
  };
}

/**
 * The action shown in the runner's trigger: the planned playbooks, or, when nothing is
 * planned, the action of the last run, so that a redeploy without changes plans nothing.
 * After a rollback the same playbooks are planned as before the step that was undone, so
 * the trigger names the rollback too: otherwise it would equal the undone run's and
 * nothing would run again. So does the join of a node after its removal (`npm run replace`
 * removes a node without changing the inventory): the removal and its time.
 */
export function triggerAction(playbooks: Playbooks, record: RunRecord | undefined): string {
  if (playbooks.steps.length > 0 && record?.rolledBack)
    return `${playbooks.description} (after rollback to ${record.rolledBack.snapshot})`;
  // A node removed while it stays in the inventory (npm run replace) joins again with the
  // same inventory, so the trigger names the removal, which no earlier trigger did.
  if (playbooks.steps.length > 0 && record?.action.startsWith(`${REMOVE_NODE} `))
    return `${playbooks.description} (after ${record.action} at ${record.completedAt})`;
  if (playbooks.steps.length > 0) return playbooks.description;
  return record?.action ?? NOTHING;
}
