/**
 * The deliberate replacement of nodes' VMs (`npm run replace -- NODE...`,
 * scripts/replace.ts): a node moves to the current template image, a changed disk layout,
 * or out of a broken VM, one node at a time, workers first, and the control plane never
 * more than one member short. For each node, in that order:
 *
 * 1. the cluster must be able to spare it now (availability.ts: etcd quorum, the add-ons'
 *    last nodes, counting nodes that are not Ready or missing, such as the last one
 *    replaced if it did not come back);
 * 2. it is cordoned and drained (host.ts's drainNodes: PodDisruptionBudgets honoured);
 * 3. the runner's `remove-node` runs `remove-node.yml` for it, and it leaves the record;
 * 4. the deploy (scripts/cdktf.sh, vms and cluster) makes its VM anew from the current
 *    template: this module's file gives the node a new replacement trigger, which the vms
 *    stack turns into the VM's `replace_triggered_by`, with `prevent_destroy` lifted for
 *    that node alone (`DESTROYABLE_NODES`); the cluster stack then joins it again
 *    (`scale.yml` for a worker, `cluster.yml` for a control-plane node);
 * 5. the next node waits until this one is Ready in Kubernetes.
 *
 * The trigger exists only while its node is under way (its creation is what replaces the
 * VM); the next node's deploy takes it away, and after the last node a deploy of the vms
 * stack alone.
 *
 * `<state>/replacement.json` says where the replacement is, so that the same command run
 * again after a failure goes on with the node it stopped at and never redoes one it
 * finished. The runner is in `replaceNodes`, its steps given by the caller.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { CoreV1Api } from "@kubernetes/client-node";

import type { NodeSpec } from "../../config/nodes";
import type { Issue } from "../../errors/user-error";
import { issue, UserError } from "../../errors/user-error";
import { checkRemovable } from "../kubespray/playbooks";

/** The runbook section that covers it. */
export const REPLACEMENT_RUNBOOK = 'docs/operations.md, "Replacing nodes"';

/** The node whose VM is being made anew, and the value its replacement trigger takes. */
export interface ReplacementTrigger {
  readonly node: string;
  /** Never a value the node's trigger had before: the time its replacement started. */
  readonly trigger: string;
}

/** Where a replacement is (`<state>/replacement.json`). */
export interface ReplacementProgress {
  /** Every node the command named, in the order they are replaced. */
  readonly order: readonly string[];
  /** The nodes replaced, Ready again. */
  readonly done: readonly string[];
  /**
   * The node under way; once it is out of the cluster (`removed`), the run never drains or
   * removes it again, and its VM's vmgenid from before it was made anew.
   */
  readonly current?: ReplacementTrigger & { readonly removed?: boolean; readonly vmgenid?: string };
  readonly startedAt: string;
}

export function replacementFile(stateDir: string): string {
  return join(stateDir, "replacement.json");
}

/** The replacement under way, if any. */
export function replacementUnderWay(stateDir: string): ReplacementProgress | undefined {
  const file = replacementFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const p = JSON.parse(readFileSync(file, "utf8")) as ReplacementProgress;
    if (Array.isArray(p.order) && Array.isArray(p.done)) return p;
  } catch {
    // not JSON: said below
  }
  throw UserError.at(
    file,
    "is not the record of a node replacement that npm run replace writes",
    "restore it from a backup, or delete it once no replacement is under way (npm run status shows the nodes)",
  );
}

/** Writes (0600, whole or not at all) or, with undefined, deletes the progress file. */
export function saveReplacement(stateDir: string, progress: ReplacementProgress | undefined): void {
  const file = replacementFile(stateDir);
  if (progress === undefined) {
    rmSync(file, { force: true });
    return;
  }
  writeFileSync(`${file}.tmp`, `${JSON.stringify(progress, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The cluster the order is chosen in: the definition's nodes and Kubespray's record. */
export interface ReplacementCluster {
  /** The definition's nodes, in its order. */
  readonly nodes: readonly Pick<NodeSpec, "name" | "role">[];
  /** The nodes Kubespray's record holds. */
  readonly inCluster: ReadonlySet<string>;
  /** The record's control-plane order: its first node cannot be removed. */
  readonly controlPlaneOrder: readonly string[];
}

/** `npm run replace -- a b c` */
export const replaceCommand = (nodes: readonly string[]) => `npm run replace -- ${nodes.join(" ")}`;

/**
 * The order the nodes `requested` are replaced in: workers first, then control-plane nodes,
 * each in the definition's order; one at a time, so never two control-plane nodes at
 * once. A replacement under way keeps its order, and is the only one that may run until it
 * is finished. Refused, each on its node: a node the definition does not have, one that
 * is not part of the cluster Kubespray built (nothing to drain or remove; a deploy makes
 * it anew), the first control-plane node (Kubespray cannot remove it).
 */
export function replacementOrder(
  requested: readonly string[],
  cluster: ReplacementCluster,
  underWay?: ReplacementProgress,
): string[] {
  const wanted = [...new Set(requested)];
  if (wanted.length === 0)
    throw UserError.at(
      "npm run replace",
      "no node named",
      "name the nodes whose VMs to make anew: npm run replace -- NODE... (--dry-run shows the order)",
    );
  if (underWay !== undefined) {
    const same =
      wanted.length === underWay.order.length && wanted.every((n) => underWay.order.includes(n));
    if (!same)
      throw UserError.at(
        "npm run replace",
        `a replacement of ${underWay.order.join(", ")} is under way (replaced: ${underWay.done.join(", ") || "none"}${underWay.current ? `; at ${underWay.current.node}` : ""})`,
        `finish it first: ${replaceCommand(underWay.order)}`,
      );
    return [...underWay.order];
  }
  const byName = new Map(cluster.nodes.map((n) => [n.name, n]));
  const problems: Issue[] = [];
  for (const name of wanted) {
    if (!byName.has(name)) {
      problems.push(
        issue(
          name,
          "is not a node of the definition",
          `name nodes it has: ${cluster.nodes.map((n) => n.name).join(", ")}`,
        ),
      );
      continue;
    }
    if (!cluster.inCluster.has(name)) {
      problems.push(
        issue(
          name,
          "is not part of the cluster Kubespray built, so there is nothing to drain or remove",
          `let a deploy make its VM anew: DESTROYABLE_NODES=${name} npm run deploy -- vms cluster`,
        ),
      );
      continue;
    }
    try {
      checkRemovable(name, cluster.controlPlaneOrder);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      problems.push(...e.issues.map((i) => ({ ...i, path: name })));
    }
  }
  if (problems.length > 0) throw new UserError(problems);
  const rank = (role: string) => (role === "worker" ? 0 : 1);
  return cluster.nodes
    .filter((n) => wanted.includes(n.name))
    .sort((a, b) => rank(a.role) - rank(b.role))
    .map((n) => n.name);
}

/** One line per node of the order: what happens to it, or that it is done or under way. */
export function describeOrder(
  order: readonly string[],
  nodes: readonly Pick<NodeSpec, "name" | "role">[],
  underWay?: ReplacementProgress,
): string[] {
  return order.map((name, i) => {
    const role = nodes.find((n) => n.name === name)?.role ?? "worker";
    const join = role === "worker" ? `scale.yml --limit=${name}` : "cluster.yml";
    const state = underWay?.done.includes(name)
      ? " (replaced)"
      : underWay?.current?.node === name
        ? " (under way: goes on where it stopped)"
        : "";
    return `${i + 1}. ${name} (${role}): drain, remove-node.yml, its VM cloned anew from the current template, ${join}, until Ready${state}`;
  });
}

/** What `replaceNodes` does to a node, each step given by the caller. */
export interface ReplacementSteps {
  /** Whether Kubespray's record still holds the node (it has not been removed). */
  inCluster(node: string): Promise<boolean>;
  /** Why the cluster cannot spare the node now; empty when it can. */
  spare(node: string): Promise<Issue[]>;
  drain(node: string): Promise<void>;
  /** The runner's `remove-node`: remove-node.yml; the node leaves the record. */
  remove(node: string): Promise<void>;
  /** The VM's vmgenid now (undefined when there is no VM). */
  vmgenid(node: string): Promise<string | undefined>;
  /** The deploy that makes its VM anew and joins it again. */
  rebuild(node: string): Promise<void>;
  /** Until Kubernetes has the node Ready, or a UserError at the deadline. */
  ready(node: string): Promise<void>;
  /** The deploy of the vms stack that takes the last node's replacement trigger away. */
  cleanup(): Promise<void>;
  log(line: string): void;
}

/** Where the progress is kept. */
export interface ProgressStore {
  read(): ReplacementProgress | undefined;
  write(progress: ReplacementProgress | undefined): void;
}

/** The store in `<state>/replacement.json`. */
export function progressFile(stateDir: string): ProgressStore {
  return {
    read: () => replacementUnderWay(stateDir),
    write: (p) => saveReplacement(stateDir, p),
  };
}

/** Where a node is when the step named fails, as the error says it. */
const WHERE: Record<string, string> = {
  "checking it can be spared": "still in the cluster, nothing changed",
  draining: "cordoned, still in the cluster",
  "removing it (remove-node.yml)": "drained; its removal did not finish",
  "making its VM anew and joining it (deploy of vms and cluster)":
    "out of the cluster (removed); its VM not yet made anew or not yet joined",
  "checking its VM is new": "out of the cluster; the deploy left its VM as it was",
  "checking it joined again": "out of the cluster with a new VM, not joined again",
  "waiting until it is Ready": "joined again with a new VM, not Ready yet",
  "taking its replacement trigger away":
    "replaced, as every node named; only the vms stack's trigger is left",
};

/**
 * Replaces the nodes of `order` one at a time (see the module's comment). A step that
 * fails stops the run with its own lines and one more that says which node is where and
 * how to go on: the same command, which skips the nodes done and continues the one under
 * way (a node already removed is not drained or removed again).
 */
export async function replaceNodes(
  order: readonly string[],
  steps: ReplacementSteps,
  store: ProgressStore,
  now: () => Date = () => new Date(),
): Promise<void> {
  let progress: ReplacementProgress = store.read() ?? {
    order,
    done: [],
    startedAt: now().toISOString(),
  };
  for (const [i, node] of order.entries()) {
    if (progress.done.includes(node)) {
      steps.log(`${node}: replaced already`);
      continue;
    }
    const current =
      progress.current?.node === node
        ? progress.current
        : { node, trigger: `replaced ${now().toISOString()}` };
    progress = { ...progress, current };
    store.write(progress);
    let step = "checking it can be spared";
    try {
      if (progress.current?.removed !== true && (await steps.inCluster(node))) {
        const problems = await steps.spare(node);
        if (problems.length > 0) throw new UserError(problems);
        step = "draining";
        steps.log(`${node} (${i + 1} of ${order.length}): draining`);
        await steps.drain(node);
        step = "removing it (remove-node.yml)";
        steps.log(`${node}: removing it from the cluster (remove-node.yml)`);
        await steps.remove(node);
      } else {
        steps.log(`${node}: out of the cluster already; going on with its VM`);
      }
      step = "making its VM anew and joining it (deploy of vms and cluster)";
      if (progress.current?.removed !== true) {
        const vmgenid = await steps.vmgenid(node);
        progress = { ...progress, current: { ...current, removed: true, vmgenid } };
        store.write(progress);
      }
      steps.log(`${node}: making its VM anew from the current template and joining it again`);
      await steps.rebuild(node);
      step = "checking its VM is new";
      const before = progress.current?.vmgenid;
      if (before !== undefined && (await steps.vmgenid(node)) === before) {
        // An earlier deploy made the trigger but stopped before it replaced the VM: a new
        // value replaces it now.
        steps.log(`${node}: its VM is still the old one; deploying again with a new trigger`);
        progress = {
          ...progress,
          current: {
            ...progress.current!,
            trigger: `${progress.current!.trigger}, again ${now().toISOString()}`,
          },
        };
        store.write(progress);
        step = "making its VM anew and joining it (deploy of vms and cluster)";
        await steps.rebuild(node);
        step = "checking its VM is new";
        if ((await steps.vmgenid(node)) === before)
          throw UserError.at(
            node,
            `the deploy left its VM as it was (vmgenid ${before}), so it was not made anew`,
            "check that npm run diff -- vms plans its replacement (-/+) while it is under way; this is a bug if it does not",
          );
      }
      step = "checking it joined again";
      if (!(await steps.inCluster(node)))
        throw UserError.at(
          node,
          "the deploy made its VM anew but did not join it again: Kubespray's record does not hold it",
          "npm run diff -- cluster shows what the cluster stack would run; this is a bug if it plans nothing",
        );
      step = "waiting until it is Ready";
      steps.log(`${node}: waiting until Kubernetes has it Ready`);
      await steps.ready(node);
    } catch (e) {
      throw stopped(e, node, step, progress);
    }
    progress = { ...progress, done: [...progress.done, node], current: undefined };
    store.write(progress);
    steps.log(`${node}: replaced (${progress.done.length} of ${order.length})`);
  }
  try {
    steps.log("taking the last replacement trigger away (deploy of vms)");
    await steps.cleanup();
  } catch (e) {
    throw stopped(e, order[order.length - 1], "taking its replacement trigger away", progress);
  }
  store.write(undefined);
}

/** The failure of a step, with the line that says where things are and how to go on. */
function stopped(e: unknown, node: string, step: string, progress: ReplacementProgress): UserError {
  const own =
    e instanceof UserError
      ? e.issues
      : [issue(node, `${step} failed: ${e instanceof Error ? e.message : String(e)}`, "see above")];
  const done = progress.done.length > 0 ? progress.done.join(", ") : "none";
  return new UserError([
    ...own,
    issue(
      "npm run replace",
      `stopped at ${node} while ${step}: it is ${WHERE[step] ?? step}; replaced so far: ${done}`,
      `fix what the line above says, then run the same command again (${replaceCommand(progress.order)}): it goes on with ${node} and does not redo the nodes replaced (${REPLACEMENT_RUNBOOK})`,
    ),
  ]);
}

/** Waits until the node is Ready in Kubernetes, polling; a UserError at the deadline. */
export async function waitReady(
  core: Pick<CoreV1Api, "readNode">,
  node: string,
  opts: { readonly timeoutMs: number; readonly intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: string;
  for (;;) {
    try {
      const n = await core.readNode({ name: node });
      const ready = (n.status?.conditions ?? []).find((c) => c.type === "Ready");
      if (ready?.status === "True") return;
      last = ready
        ? `Ready is ${ready.status}${ready.reason ? ` (${ready.reason})` : ""}`
        : "no Ready condition yet";
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      last = "not registered";
    }
    if (Date.now() > deadline)
      throw UserError.at(
        node,
        `not Ready in Kubernetes ${Math.round(opts.timeoutMs / 1000)} s after it joined again (${last})`,
        "look at its kubelet (journalctl -u kubelet on the node) and kubectl describe node, or wait longer with --ready-timeout",
      );
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  }
}
